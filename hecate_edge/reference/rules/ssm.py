"""Selective SSM (rule id 9): a Mamba-style diagonal state-space cell, the
classic recurrent baseline on the same runtime (MATH §3.10).

Channels u = v (d), input-dependent B = k[:N], C = q[:N] and step
Delta[c] = softplus(delta + dt_bias[c]); per channel c and state n:
h[c, n] <- exp(Delta[c] A[c, n]) h[c, n] + Delta[c] B[n] u[c], A = -exp(A_log);
read y[c] = sum_n C[n] h[c, n] after the update.  State h (d, N), initially 0.
Parameter tensors of its own: A_log (d, N), dt_bias (d).
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import softplus

RULE_ID = 9
NAME = "ssm"
# the gate is handed over before any activation: the rule applies softplus per channel
GATES = (("delta", "identity"),)
DEFAULT_GATE_BIAS = ((0.0,),)
QK_NORM = False
PARAM_NAMES = ("d_state",)
# its forgetting is the multiplicative decay exp(Delta A): an L2-type decay, the only one it takes
RETENTION, RETENTIONS = "l2", ("l2",)
# write_read also takes the rule's parameter tensors (tensors={name: array})
EXTRA_INPUTS = ("tensors",)
# MATH §3.10: dt_bias spreads the initial steps log-uniformly over [DT_MIN, DT_MAX]
DT_MIN, DT_MAX = 1e-3, 1e-1


def default_params(d: int) -> tuple[float, ...]:
    """N = min(d, 16)."""
    return (float(min(d, 16)),)


def check_params(d: int, params: tuple[float, ...]) -> None:
    n = params[0]
    if not (n == int(n) and 1 <= n <= d):
        raise ValueError(f"d_state must be an integer in 1..{d}, got {n}")


def tensor_specs(d: int, hp: dict) -> list[tuple[str, tuple[int, ...]]]:
    """The rule's own parameter tensors, in file order (after the level's gate_b)."""
    return [("A_log", (d, int(hp["d_state"]))), ("dt_bias", (d,))]


def init_tensors(d: int, hp: dict) -> dict[str, np.ndarray]:
    """MATH §3.10 (S4D-real / Mamba): A_log[c, n] = log(n + 1); dt_bias = softplus^-1(dt_c)
    with dt_c log-uniform over [1e-3, 1e-1] across the channels."""
    n = int(hp["d_state"])
    a_log = np.tile(np.log(np.arange(1, n + 1, dtype=np.float64)), (d, 1))
    dt = np.exp(np.linspace(np.log(DT_MIN), np.log(DT_MAX), d))
    return {"A_log": a_log, "dt_bias": dt + np.log(-np.expm1(-dt))}


def init_state(d: int, hp: dict) -> np.ndarray:
    """h = 0 (d x N)."""
    return np.zeros((d, int(hp["d_state"])))


def write_read(state, km, vm, qm, gates, hp, at=None, tensors=None):
    """h' = exp(Delta A) h + Delta (B u), then y = h' C.  `at` (MATH §6.1 CMS: the
    block-start state) is unused: the decay is the retention and the write Delta B u
    does not depend on the state (no inner gradient)."""
    tensors = init_tensors(len(km), hp) if tensors is None else tensors
    n = state.shape[1]
    dt = softplus(gates["delta"] + tensors["dt_bias"])
    decay = np.exp(-dt[:, None] * np.exp(tensors["A_log"]))
    new = decay * state + np.outer(dt * vm, km[:n])
    return new, read(new, qm, hp)


def read(state: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """y[c] = sum_n C[n] h[c, n] with C = q[:N]."""
    return state @ qm[:state.shape[1]]
