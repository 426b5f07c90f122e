"""Streaming causal sliding-window attention (MATH §2).

The keys and values of the last w tokens are session state (WindowCache), so a
token attends to the same window whether tokens arrive one by one or in chunks.
Rotary positions (MATH §2, header flag bit 3) enter in their relative form:
the cache keeps keys unturned and the query is turned by each key's offset.
"""
from collections import deque

import numpy as np

from hecate_edge.reference.mathfn import softmax


class WindowCache:
    """MATH §2 / §6: the keys and values of the last `window` tokens, oldest first."""

    def __init__(self, window: int):
        self._keys = deque(maxlen=window)
        self._values = deque(maxlen=window)

    def push(self, k: np.ndarray, v: np.ndarray) -> None:
        """Add the current token's key and value, dropping the oldest beyond the window."""
        self._keys.append(k)
        self._values.append(v)

    def clear(self) -> None:
        """Empty window (after a reset)."""
        self._keys.clear()
        self._values.clear()

    def keys(self) -> np.ndarray:
        """(m, d) cached keys, oldest first, m <= window."""
        return np.array(self._keys)

    def values(self) -> np.ndarray:
        """(m, d) cached values, oldest first, m <= window."""
        return np.array(self._values)


def head_slice(j: int, head_dim: int) -> slice:
    """MATH §2: head j uses entries j*h .. (j+1)*h - 1."""
    return slice(j * head_dim, (j + 1) * head_dim)


ROPE_BASE = 10000.0  # MATH §2: pair i of a head turns by theta_i = ROPE_BASE^(-2i/h) per token


def rope_frequencies(head_dim: int) -> np.ndarray:
    """MATH §2: theta_i = 10000^(-2i/h) for the h/2 pairs (2i, 2i+1) of a head."""
    return ROPE_BASE ** (-np.arange(0, head_dim, 2) / head_dim)


def rotate(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """MATH §2: R(angles) x, each pair (x_2i, x_2i+1) of the last axis turned by angles[..., i]."""
    c, s = np.cos(angles), np.sin(angles)
    out = np.empty(np.broadcast_shapes(x.shape, c.shape[:-1] + (x.shape[-1],)))
    out[..., 0::2] = c * x[..., 0::2] - s * x[..., 1::2]
    out[..., 1::2] = s * x[..., 0::2] + c * x[..., 1::2]
    return out


def attention_scores(q_head: np.ndarray, keys_head: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """MATH §2: s_i = <q_n^j, k_i^j> / sqrt(h) for every cached i; with rotary
    positions s_i = <R(o_i theta) q_n^j, k_i^j> / sqrt(h), o_i = n - i the key's offset."""
    if offsets is not None:
        q_head = rotate(q_head, np.outer(offsets, rope_frequencies(q_head.shape[0])))  # (m, h)
        return np.sum(q_head * keys_head, axis=1) / np.sqrt(q_head.shape[1])
    return keys_head @ q_head / np.sqrt(q_head.shape[0])


def attend(q: np.ndarray, keys: np.ndarray, values: np.ndarray, n_heads: int,
           offsets: np.ndarray | None = None) -> np.ndarray:
    """MATH §2: a_n^j = sum_i softmax_i(s)_i v_i^j over the window, for every head j;
    offsets (m,): each cached entry's distance back from the query's token, for rotary positions."""
    head_dim = q.shape[0] // n_heads
    a = np.empty_like(q)
    for j in range(n_heads):
        sl = head_slice(j, head_dim)
        p = softmax(attention_scores(q[sl], keys[:, sl], offsets))
        a[sl] = p @ values[:, sl]
    return a
