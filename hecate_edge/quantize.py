"""Per-row symmetric int8 quantisation of weight matrices (docs/FORMAT.md
dtype 2, docs/DECISIONS.md D29): which tensors may be int8, the rounding, and
the exact float64 dequantisation the reference computes with.
"""
import re

import numpy as np

INT8_MAX = 127
# The matrices the C runtime reads through its int8 kernels (format.c `q8`):
# the embedding, the attention and memory projections and the LM head.
_INT8_TENSORS = re.compile(r"emb|head|blk\d+\.attn\.w[qkvo]|blk\d+\.mem\d+\.w[kvq]")


def int8_allowed(name: str) -> bool:
    """True when tensor `name` may be stored as int8 with row scales."""
    return _INT8_TENSORS.fullmatch(name) is not None


def quantize_rows(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scales float32 (rows,), values int8 (rows, cols)) with
    weights[r] ~ scales[r] * values[r]: scale = max |row| / 127 rounded to
    float32, values = round-half-even(row / scale).  An all-zero row gets
    scale 1 (scales must be > 0) and zero values."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise ValueError(f"int8 quantisation needs a finite 2-D array, got shape {w.shape}")
    peak = np.max(np.abs(w), axis=1)
    scales = np.where(peak > 0, peak / INT8_MAX, 1.0).astype(np.float32)
    values = np.clip(np.rint(w / scales.astype(np.float64)[:, None]), -INT8_MAX, INT8_MAX)
    return scales, values.astype(np.int8)


def dequantize_rows(scales: np.ndarray, values: np.ndarray) -> np.ndarray:
    """scales[r] * values[r, c] in float64: exact (an 8-bit integer times a
    float32 fits a double), so the reference sees the weights the runtime uses."""
    return np.asarray(scales, np.float64)[:, None] * np.asarray(values, np.float64)
