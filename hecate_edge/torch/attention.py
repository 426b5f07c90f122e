"""Streaming causal sliding-window attention on torch tensors (MATH §2), every
token of a call at once: the window cache (the last w tokens' keys and values,
E entries a token: MAC's two, MATH §4.4) is prepended and each token's window
is a strided view of the result (the slots before the stream's start masked).

Rotary positions: the cache keeps unturned keys (the state of MATH §6), and
each call turns every query and key by its token's position relative to the
call's first token (cached tokens at -1, -2, ...), with cos and sin taken in
float64 and rounded once: <R(a) q, R(b) k> = <R(a - b) q, k>, MATH §2's
relative form, and no angle grows with the stream's absolute position."""
import functools
import math

import torch

from hecate_edge.reference.attention import rope_frequencies


@functools.lru_cache(maxsize=16)
def _frequencies(head_dim: int, device: torch.device) -> torch.Tensor:
    """theta_i of MATH §2 in float64 on `device`, copied there once."""
    return torch.as_tensor(rope_frequencies(head_dim), dtype=torch.float64, device=device)


def _turn(x: torch.Tensor, positions: torch.Tensor, n_heads: int) -> torch.Tensor:
    """R(p theta) x for rows x (B, L, d) at positions (L,) (float64), each head's pairs (2i, 2i+1)."""
    B, L, d = x.shape
    hd = d // n_heads
    angles = positions[:, None] * _frequencies(hd, x.device)[None, :]    # (L, h/2)
    cos, sin = (f(angles).to(x.dtype)[None, :, None, :] for f in (torch.cos, torch.sin))
    pairs = x.reshape(B, L, n_heads, hd // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    return torch.stack([cos * even - sin * odd, sin * even + cos * odd], -1).reshape(B, L, d)


def attend(attn, entries: list[torch.Tensor], cache_k: torch.Tensor, cache_v: torch.Tensor, window: int,
           n_heads: int, rope: bool):
    """a (B, T, d) and the cache after the call: each token's E entries (entries[e] (B, T, d),
    pushed in order) join the window; the query is entries[0] Wq.  cache_k/v: (B, m, d), m <= E w."""
    B, T, d = entries[0].shape
    E, slots, m = len(entries), window * len(entries), cache_k.shape[1]
    rows = entries[0] if E == 1 else torch.stack(entries, 2).reshape(B, T * E, d)
    new_k, new_v = rows @ attn.wk, rows @ attn.wv
    all_k, all_v = torch.cat([cache_k, new_k], 1), torch.cat([cache_v, new_v], 1)
    q = entries[0] @ attn.wq
    keys = all_k
    if rope:  # token positions relative to the call: entry i belongs to token floor((i - m) / E)
        device = q.device
        keys = _turn(all_k, torch.div(torch.arange(all_k.shape[1], device=device) - m, E, rounding_mode="floor")
                     .to(torch.float64), n_heads)
        q = _turn(q, torch.arange(T, device=device, dtype=torch.float64), n_heads)
    pad = slots - m   # zero rows in front, so token t's window is rows [tE + E, tE + E + slots) of the padded keys
    hd = d // n_heads

    def windows(rows):  # (B, T, H, hd, slots): a strided view, slot slots-1 the newest
        padded = torch.nn.functional.pad(rows, (0, 0, pad, 0))[:, E:]
        return padded.unfold(1, slots, E).reshape(B, T, n_heads, hd, slots)
    valid = (torch.arange(T, device=q.device)[:, None] * E + E +
             torch.arange(slots, device=q.device)[None, :]) >= pad          # (T, slots)
    scores = torch.einsum("bthx,bthxs->bths", q.reshape(B, T, n_heads, hd), windows(keys)) / math.sqrt(hd)
    p = torch.softmax(scores.masked_fill(~valid[None, :, None, :], float("-inf")), dim=-1)
    a = torch.einsum("bths,bthxs->bthx", p, windows(all_v)).reshape(B, T, d)
    keep = min(slots, all_k.shape[1])
    return a, all_k[:, -keep:], all_v[:, -keep:]
