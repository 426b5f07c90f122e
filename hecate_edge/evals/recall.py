"""Multi-query associative recall (MQAR) for byte models: does the memory
bring back a value stored further back than attention can see?

Owns the episode generator, its training corpus and the accuracy-by-gap
scoring. One episode (bytes)::

    AqBxCz...  0381950...  |BxCzAq...\\n
    N pairs    gap filler   the N keys again, each followed by its value

Keys are distinct uppercase letters, values lowercase letters (chance 1/26),
filler random digits. A query's value is scored by greedy accuracy of the
byte after its key; with a gap longer than the attention window (MATH §2)
only the memory (MATH §3) can carry the pair there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hecate_edge.data import Corpus

KEYS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
VALUES = b"abcdefghijklmnopqrstuvwxyz"
FILLER = b"0123456789"
SEPARATOR = ord("|")
END = ord("\n")
CHANCE = 1.0 / len(VALUES)


@dataclass(frozen=True)
class Episode:
    """One episode: ``tokens`` (uint32 bytes), the positions whose next byte
    is a recalled value (the query keys), and the gap it was made with."""

    tokens: np.ndarray
    query_positions: np.ndarray
    n_pairs: int
    gap: int


def episode(rng: np.random.Generator, n_pairs: int, gap: int) -> Episode:
    """A random episode of ``n_pairs`` pairs (1..26) and ``gap`` filler bytes."""
    if not 1 <= n_pairs <= len(KEYS) or gap < 0:
        raise ValueError(f"n_pairs must be in 1..{len(KEYS)} and gap >= 0")
    keys = rng.choice(np.frombuffer(KEYS, np.uint8), n_pairs, replace=False)
    values = rng.choice(np.frombuffer(VALUES, np.uint8), n_pairs)
    order = rng.permutation(n_pairs)
    pairs = np.stack([keys, values], axis=1).ravel()
    queries = np.stack([keys[order], values[order]], axis=1).ravel()
    filler = rng.choice(np.frombuffer(FILLER, np.uint8), gap)
    tokens = np.concatenate([pairs, filler, [SEPARATOR], queries, [END]]).astype(np.uint32)
    first_query = 2 * n_pairs + gap + 1
    return Episode(tokens, first_query + 2 * np.arange(n_pairs), n_pairs, gap)


def training_corpus(seed: int, n_episodes: int, pair_counts=(4, 8, 16), max_gap: int = 32,
                    min_gap: int = 0) -> Corpus:
    """A stream of episodes with ``n_pairs`` drawn from ``pair_counts`` and
    gaps uniform in ``min_gap``..``max_gap``; ``starts`` are the episode starts (the
    trainer begins chunks there) and ``mask`` marks the recalled values."""
    rng = np.random.default_rng(seed)
    parts, masks, starts, at = [], [], [], 0
    for _ in range(n_episodes):
        ep = episode(rng, int(rng.choice(pair_counts)), int(rng.integers(min_gap, max_gap + 1)))
        mask = np.zeros(ep.tokens.size, bool)
        mask[ep.query_positions + 1] = True
        parts.append(ep.tokens)
        masks.append(mask)
        starts.append(at)
        at += ep.tokens.size
    return Corpus("mqar", np.concatenate(parts), np.concatenate(masks), np.array(starts, np.int64))


def accuracy(model, episodes: list[Episode], freeze_memory: bool = False) -> float:
    """Greedy accuracy on the queried values, each episode from a reset session."""
    longest = max(ep.tokens.size for ep in episodes)
    session = model.session(max_chunk=min(longest, 256), freeze_memory=freeze_memory)
    correct = total = 0
    for ep in episodes:
        session.reset()
        logits = session.process(ep.tokens)
        guess = np.asarray(logits)[ep.query_positions].argmax(axis=1)
        correct += int((guess == ep.tokens[ep.query_positions + 1]).sum())
        total += ep.n_pairs
    return correct / total


def held_out_episodes(seed: int, n_pairs: int, gap: int, count: int) -> list[Episode]:
    """``count`` held-out episodes of one shape (a seed stream apart from training)."""
    rng = np.random.default_rng([seed, n_pairs, gap, 1])
    return [episode(rng, n_pairs, gap) for _ in range(count)]
