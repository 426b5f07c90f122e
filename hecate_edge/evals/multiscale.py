"""A synthetic stream with three time scales, for the CMS eval: do memory
levels of longer periods (MATH §6.1) help where evidence must be pooled over
hundreds of tokens?

Owns the stream and its entropy floor. Vocabulary 64: a slow state s (one of
4, redrawn every 512 tokens), a medium state m (one of 4, every 64 tokens)
and the phase p = position mod 8 pick a token from a fixed random table
T[s, m, p]; each token is that entry with probability ``signal``, else
uniform noise. The ideal predictor knows s, m and p; recovering s and m from
noisy tokens needs evidence from beyond the attention window.
"""

from __future__ import annotations

import math

import numpy as np

VOCAB = 64
SCALES = (8, 64, 512)  # phase, medium state, slow state (tokens)
SIGNAL = 0.5


def stream(n: int, seed: int, signal: float = SIGNAL) -> np.ndarray:
    """``n`` tokens (uint32); the table comes from seed 0, so streams of
    different seeds share it and differ in their states and noise."""
    table = np.random.default_rng(0).integers(0, VOCAB, size=(4, 4, SCALES[0]))
    rng = np.random.default_rng(seed)
    pos = np.arange(n)
    slow = rng.integers(0, 4, n // SCALES[2] + 1)[pos // SCALES[2]]
    medium = rng.integers(0, 4, n // SCALES[1] + 1)[pos // SCALES[1]]
    tokens = table[slow, medium, pos % SCALES[0]]
    noise = rng.random(n) >= signal
    tokens[noise] = rng.integers(0, VOCAB, int(noise.sum()))
    return tokens.astype(np.uint32)


def entropy_floor(signal: float = SIGNAL) -> float:
    """Bits per token of the ideal predictor that knows s, m and p."""
    hit = signal + (1 - signal) / VOCAB
    miss = (1 - signal) / VOCAB
    return -(hit * math.log2(hit) + (VOCAB - 1) * miss * math.log2(miss))
