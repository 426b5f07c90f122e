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


# int8 weights with int16 activations (FORMAT.md dtype 3, MATH §1.1, DECISIONS D72): each
# input row of a product is quantized to int16 with one scale before the integer dot
W8A16_LEVELS = 32767
W8A16_RESCALE = 2.0**100  # a and m scaled by it where m / 32767 is subnormal (MATH §1.1)


def w8a16_allowed(name: str) -> bool:
    """True when tensor `name` may be stored with int16 activations: an int8 matrix
    that multiplies activations (not the embedding, which is looked up)."""
    return int8_allowed(name) and name != "emb"


def w8a16_product(x: np.ndarray, scales: np.ndarray, values: np.ndarray) -> np.ndarray:
    """MATH §1.1 in float64 for every row of x (..., din): a = x s, m = max |a|,
    A = floor(v + 32768.5) - 32768 with v = a c (32767 / (m c)) (c = 1, or 2^100 where
    m < 32767 times the smallest normal float64), y = (m c / 32767) (A @ q) / c with the
    integer sums exact; m = 0 gives 0, a non-finite a gives NaN."""
    x = np.asarray(x, np.float64)
    a = x * np.asarray(scales, np.float64)
    m = np.max(np.abs(a), axis=-1, keepdims=True)
    finite = np.all(np.isfinite(a), axis=-1, keepdims=True)
    live = finite & (m > 0)
    safe_m = np.where(live, m, 1.0)
    with np.errstate(invalid="ignore"):
        c = np.where(safe_m < W8A16_LEVELS * np.finfo(np.float64).tiny, W8A16_RESCALE, 1.0)
        v = np.where(live, a * c * (W8A16_LEVELS / (safe_m * c)), 0.0)
    levels = np.floor(v + (W8A16_LEVELS + 1.5)) - (W8A16_LEVELS + 1)
    sums = levels.astype(np.int64) @ np.asarray(values, np.int64)  # exact
    y = (safe_m * c / W8A16_LEVELS) * sums.astype(np.float64) * (1.0 / c)
    return np.where(finite, np.where(m > 0, y, 0.0), np.nan)


class W8A16Matrix:
    """An int8 matrix with int16 activations as the reference uses it: ``x @ W`` is
    :func:`w8a16_product`; ``np.asarray(W)`` is the exact dequantized float64 matrix."""

    __array_ufunc__ = None  # numpy defers x @ W to __rmatmul__

    def __init__(self, scales: np.ndarray, values: np.ndarray):
        self.scales = np.array(scales, np.float32)  # copies, read-only like dtype 2's arrays
        self.values = np.array(values, np.int8)
        self.scales.flags.writeable = self.values.flags.writeable = False
        self.shape = self.values.shape
        self.ndim = self.values.ndim

    def __rmatmul__(self, x) -> np.ndarray:
        return w8a16_product(x, self.scales, self.values)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = dequantize_rows(self.scales, self.values)
        return out if dtype is None else out.astype(dtype)
