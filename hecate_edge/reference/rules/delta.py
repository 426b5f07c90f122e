"""Delta-rule memory (rule id 0): one inner gradient step on ||k S - v||^2 / 2 per token.

Implements MATH §3.2 in row-vector form (read y = q S); the forget gate alpha and
step size theta come from the front end (MATH §3.1).  State: S, d x d, row-major.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import matrix
from hecate_edge.reference.rules.matrix import (ELASTIC_LAMBDA_1, PARAM_NAMES, QK_NORM, RETENTION,  # noqa: F401
                                                RETENTIONS, check_params, default_params)

RULE_ID = 0
NAME = "delta"
# MATH §3.1: gate name and activation, in gate_w / gate_b row order.
GATES = (("alpha", "sigmoid"), ("theta", "softplus"))
# MATH §3.1: per level, biases of (alpha, theta); level 0 keeps 99.9% per token (half-life ~760);
# theta ~ 0.05, titans' effective first step theta / (1 - eta) (DECISIONS D50).
DEFAULT_GATE_BIAS = ((-7.0, -2.9),)
# MATH §3.1 "Bounded inner steps": on by default, since with unit keys the bound makes every
# write non-expansive (for momentum and MLP rules it would cap theta without bounding the step)
BOUNDED_STEP = True


def init_state(d: int, hp: dict | None = None) -> np.ndarray:
    """MATH §3.2: S_0 = 0 (d x d)."""
    return np.zeros((d, d), dtype=np.float64)


def prediction_error(s: np.ndarray, km: np.ndarray, vm: np.ndarray) -> np.ndarray:
    """MATH §3.2: e_n = km_n S_n - vm_n."""
    return km @ s - vm


def write(s: np.ndarray, km: np.ndarray, vm: np.ndarray, gates: dict[str, float], at: np.ndarray) -> np.ndarray:
    """MATH §3.2: S_{n+1} = (1 - alpha_n) S_n - theta_n km_n^T e_n, e_n taken at `at`
    (S_n itself, or the CMS block-start state, MATH §6.1)."""
    e = prediction_error(at, km, vm)
    return (1.0 - gates["alpha"]) * s - gates["theta"] * np.outer(km, e)


read = matrix.read
write_read = matrix.write_then_read(write)
