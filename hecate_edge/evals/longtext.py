"""Long-context text: bits/byte by position in long held-out files, to see
whether test-time memory helps further from the start than attention sees.

Owns the data split and the position-bucket scoring. Text is the Python
standard library's own source, found on every machine that runs this
package (no download): long modules (>= 32 KiB) chosen by a hash of their
path are held out, every other module is training data. The split is
deterministic for one Python version.
"""

from __future__ import annotations

import math
import sysconfig
import zlib
from pathlib import Path

import numpy as np

from hecate_edge.reference.mathfn import log_softmax

BUCKETS = (0, 16, 64, 256, 1024, 4096, 16384)  # bucket i holds positions [BUCKETS[i], BUCKETS[i+1])
_SKIP_PARTS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "encodings", "__pycache__"}
HELD_OUT_MIN_BYTES = 32768


def stdlib_split(root: str | Path | None = None) -> tuple[list[Path], list[Path]]:
    """``(train_files, held_out_files)`` of the standard library's .py
    sources under ``root`` (default: this interpreter's), sorted; held out:
    files of at least HELD_OUT_MIN_BYTES whose path's CRC32 is 0 mod 5."""
    root = Path(root or sysconfig.get_path("stdlib"))
    files = [p for p in sorted(root.rglob("*.py")) if not _SKIP_PARTS & set(p.relative_to(root).parts)]
    held = [p for p in files if p.stat().st_size >= HELD_OUT_MIN_BYTES
            and zlib.crc32(p.relative_to(root).as_posix().encode()) % 5 == 0]
    chosen = set(held)
    return [p for p in files if p not in chosen], held


def bits_by_position(model, files: list[Path], max_bytes: int = BUCKETS[-1], freeze_memory: bool = False):
    """``(bits per byte, bytes)`` per position bucket: each file's first
    ``max_bytes`` bytes streamed through a reset session (MATH §6), byte
    ``i + 1`` predicted from bytes ``0..i`` and counted in the bucket of ``i``."""
    total = np.zeros(len(BUCKETS) - 1)
    count = np.zeros(len(BUCKETS) - 1, np.int64)
    session = model.session(max_chunk=256, freeze_memory=freeze_memory)
    for path in files:
        tokens = np.frombuffer(path.read_bytes()[:max_bytes], np.uint8).astype(np.uint32)
        if tokens.size < 2:
            continue
        session.reset()
        logits = np.asarray(session.process(tokens[:-1]), np.float64)
        nll = -log_softmax(logits)[np.arange(tokens.size - 1), tokens[1:]] / math.log(2)
        positions = np.arange(tokens.size - 1)
        bucket = np.searchsorted(BUCKETS, positions, side="right") - 1
        np.add.at(total, bucket, nll)
        np.add.at(count, bucket, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count, count
