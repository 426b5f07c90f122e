"""Streaming causal sliding-window attention (MATH §2).

The keys and values of the last w tokens are session state (WindowCache), so a
token attends to the same window whether tokens arrive one by one or in chunks.
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


def attention_scores(q_head: np.ndarray, keys_head: np.ndarray) -> np.ndarray:
    """MATH §2: s_i = <q_n^j, k_i^j> / sqrt(h) for every cached i."""
    return keys_head @ q_head / np.sqrt(q_head.shape[0])


def attend(q: np.ndarray, keys: np.ndarray, values: np.ndarray, n_heads: int) -> np.ndarray:
    """MATH §2: a_n^j = sum_i softmax_i(s)_i v_i^j over the window, for every head j."""
    head_dim = q.shape[0] // n_heads
    a = np.empty_like(q)
    for j in range(n_heads):
        sl = head_slice(j, head_dim)
        p = softmax(attention_scores(q[sl], keys[:, sl]))
        a[sl] = p @ values[:, sl]
    return a
