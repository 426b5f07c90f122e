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
_KEYS, _VALUES, _FILLER = (np.frombuffer(b, np.uint8) for b in (KEYS, VALUES, FILLER))
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
    # rng.integers(0, n, k) indexing is rng.choice(array, k) with replacement, draw for draw
    keys = rng.choice(_KEYS, n_pairs, replace=False)
    values = _VALUES[rng.integers(0, _VALUES.size, n_pairs)]
    order = rng.permutation(n_pairs)
    filler = _FILLER[rng.integers(0, _FILLER.size, gap)]
    first_query = 2 * n_pairs + gap + 1
    tokens = np.empty(first_query + 2 * n_pairs + 1, np.uint32)
    tokens[0 : 2 * n_pairs : 2], tokens[1 : 2 * n_pairs : 2] = keys, values
    tokens[2 * n_pairs : first_query - 1] = filler
    tokens[first_query - 1] = SEPARATOR
    tokens[first_query : -1 : 2], tokens[first_query + 1 : -1 : 2] = keys[order], values[order]
    tokens[-1] = END
    return Episode(tokens, first_query + 2 * np.arange(n_pairs), n_pairs, gap)


def training_corpus(seed: int, n_episodes: int, pair_counts=(4, 8, 16), max_gap: int = 32,
                    min_gap: int = 0) -> Corpus:
    """A stream of episodes with ``n_pairs`` drawn from ``pair_counts`` and
    gaps uniform in ``min_gap``..``max_gap``; ``starts`` are the episode starts (the
    trainer begins chunks there) and ``mask`` marks the recalled values."""
    rng = np.random.default_rng(seed)
    parts, masks, starts, at = [], [], [], 0
    for _ in range(n_episodes):
        n_pairs = int(pair_counts[rng.integers(0, len(pair_counts))])
        ep = episode(rng, n_pairs, int(rng.integers(min_gap, max_gap + 1)))
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
