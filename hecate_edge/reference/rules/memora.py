"""MEMORA (rule id 5): 2-layer MLP memory on the probability simplex, KL retention (MATH §3.5).

Every row of W1 and every row of W2 is a probability vector; one step per
token w' = softmax((1 - alpha) log w + alpha log w0 - theta g) of the L2 bias
gradient, w0 the init state (the prior forgetting returns to); read after
write (docs/DECISIONS.md).
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import softmax
from hecate_edge.reference.rules import mlp
from hecate_edge.reference.rules.mlp import DEFAULT_GATE_BIAS, GATES, QK_NORM  # noqa: F401

RULE_ID = 5
NAME = "memora"
PARAM_NAMES = ("d_hidden",)
# MATH §3.8: KL keeps the memory on the simplex; L2 / elastic net (toward the same prior) let it leave it.
RETENTION = "kl"
RETENTIONS = ("kl", *mlp.RETENTIONS)
# its simplex init (W2 = 1/d_hidden) moves ~10x more per token than MONETA's near-zero W2
ELASTIC_LAMBDA_1 = 1e-3


def default_params(d: int) -> tuple[float, ...]:
    """d_hidden = d."""
    return (float(d),)


def check_params(d: int, params: tuple[float, ...]) -> None:
    mlp.check_hidden(d, params)


def init_state(d: int, hp: dict) -> np.ndarray:
    """MATH §3.5: rows of W1 = softmax(0.1 (hash(i d + j) - 0.5)), W2 = 1/d_hidden everywhere."""
    h = mlp.hidden(hp)
    w1 = softmax(0.1 * (mlp.unit_hash(h * d).reshape(h, d) - 0.5))
    return np.stack([w1, np.full((h, d), 1.0 / h)])


def write_read(state, km, vm, qm, gates, hp, at=None):
    """KL step (or the chosen L2 / elastic-net step) on the L2 bias gradient (g = e)
    taken at `at` (None: the state itself; MATH §6.1), then y = M'(q)."""
    grad = mlp.inner_grad(state if at is None else at, km, vm, lambda e: e)
    prior = init_state(len(km), hp)
    if hp.get("retention", RETENTION) == "kl":
        new = mlp.kl_step(state, grad, gates, prior)
    else:
        new = mlp.l2_step(state, grad, gates, 0.0, prior, hp)
    return new, mlp.apply(new, qm)


read = mlp.read
