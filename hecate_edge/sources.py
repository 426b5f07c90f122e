"""Training data from the user's own files: paths, folders and globs read as bytes.

Owns turning ``--data`` / ``--val`` arguments into :class:`~hecate_edge.data.Corpus`
streams (tokens are bytes, vocab 256, MATH §1) and the held-out tail split.
Large files are memory-mapped, so their size does not matter; small ones are
read and joined into one stream, so a folder of thousands of files does not
hold thousands of open maps.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hecate_edge.data import Corpus

MAP_THRESHOLD = 1 << 20  # files of at least this many bytes are memory-mapped, smaller ones read


def expand_paths(patterns: Sequence[str | os.PathLike]) -> list[Path]:
    """The regular files named by ``patterns``, in order, each once.

    A pattern is a file, a folder (walked recursively, sorted; files and
    folders whose name starts with "." are skipped, so a ``.git`` inside
    stays out) or a glob (``*``, ``?``, ``[...]``; ``**`` spans folders).
    ValueError names a pattern that matches nothing.
    """
    files: list[Path] = []
    for pattern in patterns:
        text = os.fspath(pattern)
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
        elif path.is_file():
            found = [path]
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        else:
            raise ValueError(f"{text}: no such file or folder")
        if not found:
            raise ValueError(f"{text}: matches no file")
        files += found
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def load_files(patterns: Sequence[str | os.PathLike], name: str = "data") -> list[Corpus]:
    """Corpora of the files ``patterns`` name: one memory-mapped corpus per
    file of ``MAP_THRESHOLD`` bytes or more, and one in-memory corpus of every
    smaller file joined in order. Empty files are skipped; ValueError when no
    byte is left."""
    corpora: list[Corpus] = []
    small: list[bytes] = []
    for path in expand_paths(patterns):
        size = path.stat().st_size
        if size == 0:
            continue
        if size >= MAP_THRESHOLD:
            corpora.append(Corpus(name=str(path), tokens=np.memmap(path, dtype=np.uint8, mode="r")))
        else:
            small.append(path.read_bytes())
    if small:
        corpora.insert(0, Corpus(name=f"{name} ({len(small)} small files)",
                                 tokens=np.frombuffer(b"".join(small), dtype=np.uint8)))
    if not corpora:
        raise ValueError(f"{' '.join(map(os.fspath, patterns))}: every file is empty")
    return corpora


def split_tail(corpora: Sequence[Corpus], fraction: float) -> tuple[list[Corpus], list[Corpus]]:
    """``(train, held_out)``: the last ``fraction`` of every corpus's bytes is
    held out (views, nothing copied). ValueError when ``fraction`` is not in
    (0, 1)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    train, held = [], []
    for corpus in corpora:
        cut = len(corpus.tokens) - int(round(fraction * len(corpus.tokens)))
        train.append(Corpus(name=corpus.name, tokens=corpus.tokens[:cut]))
        held.append(Corpus(name=f"{corpus.name} (held-out tail)", tokens=corpus.tokens[cut:]))
    return train, held


def size_weights(corpora: Sequence[Corpus], chunk: int) -> list[float]:
    """Sampling weights proportional to the chunk starts each corpus offers,
    so every byte is equally likely to start a training chunk; a corpus too
    short for one chunk gets weight 0. ValueError when none is long enough."""
    weights = [float(max(len(c.tokens) - chunk, 0)) for c in corpora]
    if not any(weights):
        longest = max(len(c.tokens) for c in corpora)
        raise ValueError(f"the training data is too short for --chunk {chunk}: "
                         f"the longest stream has {longest} bytes, {chunk + 1} needed")
    return weights
