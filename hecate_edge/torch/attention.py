"""Streaming causal sliding-window attention on torch tensors (MATH §2), every
token of a call at once: the window cache (the last w tokens' keys and values,
E entries a token: MAC's two, MATH §4.4) is prepended, each token gathers its
own window and masks the slots before the stream's start.  Rotary positions
in their relative form: the query is turned by each slot's token offset."""
import functools
import math

import numpy as np
import torch

from hecate_edge.reference.attention import rope_frequencies


@functools.lru_cache(maxsize=64)
def _rope_table(n_slots: int, entries: int, head_dim: int):
    """cos and sin (n_slots, h/2) of offset(slot) theta_i, float64 (MATH §2), slot n_slots-1 the newest."""
    offsets = (n_slots - 1 - np.arange(n_slots)) // entries
    angles = np.outer(offsets, rope_frequencies(head_dim))
    return np.cos(angles), np.sin(angles)


def attend(attn, entries: list[torch.Tensor], cache_k: torch.Tensor, cache_v: torch.Tensor, window: int,
           n_heads: int, rope: bool):
    """a (B, T, d) and the cache after the call: each token's E entries (entries[e] (B, T, d),
    pushed in order) join the window; the query is entries[0] Wq.  cache_k/v: (B, m, d), m <= E w."""
    B, T, d = entries[0].shape
    E = len(entries)
    new_k = torch.stack([e @ attn.wk for e in entries], 2).reshape(B, T * E, d)
    new_v = torch.stack([e @ attn.wv for e in entries], 2).reshape(B, T * E, d)
    all_k, all_v = torch.cat([cache_k, new_k], 1), torch.cat([cache_v, new_v], 1)
    m, slots = cache_k.shape[1], window * E
    index = torch.arange(T, device=all_k.device)[:, None] * E + (m + E - slots) + \
        torch.arange(slots, device=all_k.device)[None, :]                       # (T, slots)
    valid = index >= 0
    index = index.clamp_min(0)
    hd = d // n_heads
    keys = all_k[:, index].reshape(B, T, slots, n_heads, hd)
    values = all_v[:, index].reshape(B, T, slots, n_heads, hd)
    q = (entries[0] @ attn.wq).reshape(B, T, 1, n_heads, hd)
    if rope:
        cos, sin = (torch.as_tensor(t, dtype=q.dtype, device=q.device)[None, None, :, None, :]
                    for t in _rope_table(slots, E, hd))
        qe, qo = q[..., 0::2], q[..., 1::2]
        scores = torch.sum((cos * qe - sin * qo) * keys[..., 0::2] + (sin * qe + cos * qo) * keys[..., 1::2], -1)
    else:
        scores = torch.sum(q * keys, -1)
    scores = (scores / math.sqrt(hd)).masked_fill(~valid[None, :, :, None], float("-inf"))
    p = torch.softmax(scores, dim=2)
    a = torch.sum(p[..., None] * values, 2).reshape(B, T, d)
    keep = min(slots, all_k.shape[1])
    return a, all_k[:, -keep:], all_v[:, -keep:]
