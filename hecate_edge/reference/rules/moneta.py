"""MONETA (rule id 3): 2-layer MLP memory, l_p attentional bias, L2 retention (MATH §3.5).

One inner gradient step per token on the l_p bias of e = M(k) - v, with the
forget rate alpha, step theta and global L2 penalty lambda_2; read after write.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import mlp
from hecate_edge.reference.rules.mlp import (DEFAULT_GATE_BIAS, ELASTIC_LAMBDA_1, GATES,  # noqa: F401
                                             RETENTION, RETENTIONS)

RULE_ID = 3
NAME = "moneta"
PARAM_NAMES = ("d_hidden", "p", "lambda_2", "w1_scale", "grad_bound")
# what a config dict written before w1_scale / grad_bound existed means by omitting them
LEGACY_PARAMS = {"w1_scale": 0.0, "grad_bound": 0.0}
# MATH §3.5: the sign of e is smoothed as tanh(a e), |e|^(p-1) as (e^2 + eps)^((p-1)/2).
SHARPNESS = 10.0
LP_EPS = 1e-6
# MATH §3.1 "Bounded inner steps": on by default since D52; with grad_bound, theta <= 1 makes
# one write move the memory by less than grad_bound beyond its retention
BOUNDED_STEP = True
# DECISIONS D70: unit-norm q and k, like YAAD's, with a unit-variance W1
QK_NORM = True


def default_params(d: int) -> tuple[float, ...]:
    """d_hidden = d, p = 3 (the MIRAS choice), lambda_2 = 0.01, w1_scale for a
    unit-variance W1 (mlp.unit_w1_scale) with unit keys, the inner gradient bounded
    at mlp.GRAD_BOUND = 10 (DECISIONS D70; unbounded, p = 3 diverged within
    ~50-800 training steps at the Xavier scale, D49, D51)."""
    return (float(d), 3.0, 0.01, mlp.unit_w1_scale(d), mlp.GRAD_BOUND)


def check_params(d: int, params: tuple[float, ...]) -> None:
    mlp.check_hidden(d, params)
    if not 1.0 <= params[1] <= 8.0:
        raise ValueError(f"p must be in [1, 8], got {params[1]}")
    if params[2] < 0:
        raise ValueError(f"lambda_2 must be >= 0, got {params[2]}")
    mlp.check_scales(params[3], params[4])


def lp_bias(e: np.ndarray, p: float) -> np.ndarray:
    """MATH §3.5: d/de of |e|^p: 2 e for p = 2, else p tanh(a e) (e^2 + eps)^((p-1)/2)."""
    if p == 2.0:
        return 2.0 * e
    return p * np.tanh(SHARPNESS * e) * (e * e + LP_EPS) ** ((p - 1.0) / 2.0)


def init_state(d: int, hp: dict) -> np.ndarray:
    return mlp.hash_init(d, hp)


# W' = W0 + (1 - alpha)(W - W0) - theta (G + 2 lambda_2 W) with G from this bias; y = M'(q)
write_read = mlp.l2_write_read(init_state, lambda e, hp: lp_bias(e, hp["p"]))


read = mlp.read
