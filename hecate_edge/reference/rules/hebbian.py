"""Hebbian memory (rule id 2): S <- (1 - alpha) S + k^T v, no error term, no step size.

Implements MATH §3.4 in row-vector form (read y = q S after the write); the
forget gate alpha comes from the front end (MATH §3.1).  State: S, d x d.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import matrix
from hecate_edge.reference.rules.matrix import (ELASTIC_LAMBDA_1, PARAM_NAMES, QK_NORM, RETENTION,  # noqa: F401
                                                RETENTIONS, check_params, default_params)

RULE_ID = 2
NAME = "hebbian"
# MATH §3.1: one gate, the forget rate.
GATES = (("alpha", "sigmoid"),)
# MATH §3.1: per level, the alpha bias (level 0 keeps 99.9% per token, half-life ~760).
DEFAULT_GATE_BIAS = ((-7.0,),)


def init_state(d: int, hp: dict | None = None) -> np.ndarray:
    """MATH §3.4: S_0 = 0 (d x d)."""
    return np.zeros((d, d), dtype=np.float64)


def write(s: np.ndarray, km: np.ndarray, vm: np.ndarray, gates: dict[str, float], at: np.ndarray) -> np.ndarray:
    """MATH §3.4: S_{n+1} = (1 - alpha_n) S_n + km_n^T vm_n (no inner gradient: `at`,
    the CMS block-start state, MATH §6.1, changes nothing)."""
    return (1.0 - gates["alpha"]) * s + np.outer(km, vm)


read = matrix.read
write_read = matrix.write_then_read(write)
