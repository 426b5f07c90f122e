"""YAAD (rule id 4): 2-layer MLP memory, Huber attentional bias, L2 retention (MATH §3.5).

Like MONETA with the Huber bias g = e inside |e| < delta, delta sign(e)
outside.  Local retention is the step size theta, global retention the forget
rate alpha plus lambda_2 (docs/DECISIONS.md: no call-boundary snapshot).
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import mlp
from hecate_edge.reference.rules.mlp import (DEFAULT_GATE_BIAS, ELASTIC_LAMBDA_1, GATES,  # noqa: F401
                                             RETENTION, RETENTIONS)

RULE_ID = 4
NAME = "yaad"
PARAM_NAMES = ("d_hidden", "delta", "lambda_2", "w1_scale", "grad_bound")
# what a config dict written before w1_scale / grad_bound existed means by omitting them
LEGACY_PARAMS = {"w1_scale": 0.0, "grad_bound": 0.0}
# DECISIONS D70: unit-norm q and k with a unit-variance W1 (mlp.unit_w1_scale) and
# the inner gradient bounded (mlp.GRAD_BOUND), so the memory speaks from its first
# write and the write cannot run away.
QK_NORM = True


def default_params(d: int) -> tuple[float, ...]:
    """d_hidden = d, delta = 1, lambda_2 = 0.01, w1_scale for a unit-variance W1
    (mlp.unit_w1_scale), grad_bound 10 (DECISIONS D70)."""
    return (float(d), 1.0, 0.01, mlp.unit_w1_scale(d), mlp.GRAD_BOUND)


def check_params(d: int, params: tuple[float, ...]) -> None:
    mlp.check_hidden(d, params)
    if not params[1] > 0:
        raise ValueError(f"delta must be > 0, got {params[1]}")
    if params[2] < 0:
        raise ValueError(f"lambda_2 must be >= 0, got {params[2]}")
    mlp.check_scales(params[3], params[4])


def huber_bias(e: np.ndarray, delta: float) -> np.ndarray:
    """MATH §3.5: e where |e| < delta, else delta sign(e) + (e - e): NaN for an
    infinite e (an overflowed input is refused, not clipped; D80)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(e) < delta, e, delta * np.sign(e) + (e - e))


def init_state(d: int, hp: dict) -> np.ndarray:
    return mlp.hash_init(d, hp)


# W' = W0 + (1 - alpha)(W - W0) - theta (G + 2 lambda_2 W) with G from this bias; y = M'(q)
write_read = mlp.l2_write_read(init_state, lambda e, hp: huber_bias(e, hp["delta"]))


read = mlp.read
