"""Titans long-term memory (rule id 1): gradient descent with momentum on ||k M - v||^2 / 2.

Implements MATH §3.3 in row-vector form (read y = q M after the write); gates
alpha (forget), theta (step size) and eta (momentum decay) come from the front
end (MATH §3.1).  State: stack (M, Z) of two d x d matrices; momentum persists.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import matrix
from hecate_edge.reference.rules.matrix import (ELASTIC_LAMBDA_1, PARAM_NAMES, QK_NORM, RETENTION,  # noqa: F401
                                                RETENTIONS, check_params, default_params)

RULE_ID = 1
NAME = "titans"
GATES = (("alpha", "sigmoid"), ("theta", "softplus"), ("eta", "sigmoid"))
# MATH §3.1: per level, biases of (alpha, theta, eta): keep ~95%, theta ~ 0.01, eta ~ 0.82.
DEFAULT_GATE_BIAS = ((-7.0, -4.6, 1.5),)


def init_state(d: int, hp: dict | None = None) -> np.ndarray:
    """MATH §3.3: (M_0, Z_0) = (0, 0)."""
    return np.zeros((2, d, d), dtype=np.float64)


def write(state: np.ndarray, km: np.ndarray, vm: np.ndarray, gates: dict[str, float], at: np.ndarray) -> np.ndarray:
    """MATH §3.3: Z' = eta Z - theta km^T (km M - vm);  M' = (1 - alpha) M + Z', the
    error taken at `at`'s M (the state itself, or the CMS block-start state, MATH §6.1)."""
    m, z = state
    e = km @ at[0] - vm
    z_next = gates["eta"] * z - gates["theta"] * np.outer(km, e)
    return np.stack([(1.0 - gates["alpha"]) * m + z_next, z_next])


def read(state: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """MATH §3.3: y = qm M."""
    return qm @ state[0]


write_read = matrix.write_then_read(write, read, memory=lambda state: state[0])
