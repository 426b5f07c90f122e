"""Streaming causal sliding-window attention for one token as ONNX ops
(MATH §2), rotary positions in their relative form included.

The window state holds `entries * window` key and value rows oldest first
(docs/ONNX.md); a token shifts its entries in at the end, so row i is always
(rows - 1 - i) // entries tokens back, and rotary positions need only a
constant cos/sin table per row. Rows of tokens before position 0 are masked.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.onnx.state import window_entries
from hecate_edge.reference.attention import rope_frequencies


def rope_tables(cfg) -> tuple[np.ndarray, np.ndarray]:
    """MATH §2: cos and sin of (offset of row i) * theta_p, shape (rows, 1, h/2),
    computed in double and rounded once (as the C runtime's table)."""
    entries = window_entries(cfg)
    rows = entries * cfg.window
    offsets = (rows - 1 - np.arange(rows)) // entries
    angles = np.outer(offsets, rope_frequencies(cfg.head_dim))[:, None, :]
    return np.cos(angles), np.sin(angles)


def attend(body, layer: int, query_input: str, entry_inputs: list[str]) -> str:
    """MATH §2 (§4.4 for MAC): push each entry's key and value into block `layer`'s
    window, then attend with query_input's query; returns a (d,)."""
    g, cfg = body.g, body.cfg
    d, heads, h = cfg.d_model, cfg.n_heads, cfg.head_dim
    entries = window_entries(cfg)
    rows = entries * cfg.window
    weight = lambda name: body.weight(f"blk{layer}.attn.{name}")  # noqa: E731
    windows = {}
    for which, w in (("keys", "wk"), ("values", "wv")):
        new_rows = [g.unsqueeze(g.matmul(entry, weight(w)), [0]) for entry in entry_inputs]
        kept = g.slice(body.state(f"blk{layer}.attn.{which}"), entries, rows, 0)
        windows[which] = g.op("Concat", kept, *new_rows, axis=0)
        body.set_state(f"blk{layer}.attn.{which}", windows[which])
    q = g.reshape(g.matmul(query_input, weight("wq")), [heads, h])
    keys = g.reshape(windows["keys"], [rows, heads, h])
    if cfg.rope:
        cos, sin = rope_tables(cfg)
        qp, kp = g.reshape(q, [heads, h // 2, 2]), g.reshape(keys, [rows, heads, h // 2, 2])
        qe, qo, ke, ko = g.pick(qp, 0, 2), g.pick(qp, 1, 2), g.pick(kp, 0, 3), g.pick(kp, 1, 3)
        same = g.add(g.mul(qe, ke), g.mul(qo, ko))
        cross = g.sub(g.mul(qe, ko), g.mul(qo, ke))
        terms = g.add(g.mul(g.const(cos, "rope_cos"), same), g.mul(g.const(sin, "rope_sin"), cross))
    else:
        terms = g.mul(keys, q)
    scores = g.mul(g.reduce_sum(terms, [2]), g.const(1.0 / np.sqrt(h), "inv_sqrt_h"))   # (rows, heads)
    seen = g.op("Min", g.add(body.position, g.ints(1, "one")), g.ints(cfg.window, "window"))
    first = g.sub(g.ints(rows, "rows"), g.mul(seen, g.ints(entries, "entries")))
    valid = g.op("GreaterOrEqual", g.ints(np.arange(rows)[:, None], "row_index"), first)
    scores = g.where(valid, scores, g.const(-np.inf, "minus_inf"))
    weights = g.op("Softmax", scores, axis=0)
    values = g.reshape(windows["values"], [rows, heads, h])
    return g.reshape(g.reduce_sum(g.mul(g.unsqueeze(weights, [2]), values), [0]), [d])
