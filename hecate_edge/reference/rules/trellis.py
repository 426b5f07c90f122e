"""Trellis (rule id 7): two-pass compression of the level input x (MATH §3.9).

x is L2-normalized (so the inner steps are stable for theta < 2 at any input
scale, docs/DECISIONS.md).  Keys: S_K (d_k x d) learns to map x to the first
d_k entries of k; values: S_V (d x d_k) learns to map c = nsilu(S_K' x) to v; the read
y = S_V' nsilu(S_K' q) comes after both writes.  Each pass is one gradient
step with forget rate alpha, step theta and an L2 penalty (lambda_k,
lambda_v).  State: S_K then S_V, flattened, initially 0.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import L2_EPS, l2_normalize
from hecate_edge.reference.rules import matrix, mlp

RULE_ID = 7
NAME = "trellis"
GATES = (("alpha", "sigmoid"), ("theta", "softplus"))
DEFAULT_GATE_BIAS = ((-7.0, -4.6),)
# MATH §3.1 (A3): Trellis takes q and k unnormalized by default.
QK_NORM = False
PARAM_NAMES = ("d_k", "lambda_k", "lambda_v")
RETENTION, RETENTIONS, ELASTIC_LAMBDA_1 = matrix.RETENTION, matrix.RETENTIONS, matrix.ELASTIC_LAMBDA_1
# write_read also takes the level input x (MATH §3.9)
EXTRA_INPUTS = ("x",)
NORM_FLOOR = L2_EPS  # MATH §3.9: phi is 0 below this norm


def default_params(d: int) -> tuple[float, ...]:
    """d_k = d / 4 (at least 2: nsilu of one scalar is a constant sign), lambda_k = lambda_v = 0.01."""
    return (float(min(d, max(2, d // 4))), 0.01, 0.01)


def check_params(d: int, params: tuple[float, ...]) -> None:
    dk, lk, lv = params
    if not (dk == int(dk) and 1 <= dk <= d):
        raise ValueError(f"d_k must be an integer in 1..{d}, got {dk}")
    if lk < 0 or lv < 0:
        raise ValueError(f"lambda_k and lambda_v must be >= 0, got {lk}, {lv}")


def init_state(d: int, hp: dict) -> np.ndarray:
    """S_K = 0 (d_k x d), S_V = 0 (d x d_k), flattened."""
    return np.zeros(2 * int(hp["d_k"]) * d)


def _split(state: np.ndarray, d: int, dk: int):
    return state[:dk * d].reshape(dk, d), state[dk * d:].reshape(d, dk)


def nsilu(a: np.ndarray) -> np.ndarray:
    """MATH §3.9 feature map: silu(a) / ||silu(a)||, 0 when that norm is <= 1e-8."""
    s = mlp.silu(a)
    norm = np.linalg.norm(s)
    return s / norm if norm > NORM_FLOOR else np.zeros_like(a)


def write_read(state, km, vm, qm, gates, hp, at=None, x=None):
    """Pass 1 (keys) then pass 2 (values) on x (x = km when not given), then y = S_V' nsilu(S_K' q).
    Each pass's error is taken at the matrices of `at` (MATH §6.1 CMS: the block-start
    state; None: the state itself), its decay acts on the state's; pass 2's input c is
    the feature of the key memory just written."""
    x = km if x is None else x
    x = l2_normalize(x)  # MATH §3.9: the compression sees x normalized
    d, dk = len(km), int(hp["d_k"])
    sk, sv = _split(state, d, dk)
    ak, av = _split(state if at is None else at, d, dk)
    keep, theta = 1.0 - gates["alpha"], gates["theta"]
    e_k = ak @ x - km[:dk]
    sk_next = (keep - theta * hp["lambda_k"]) * sk - theta * np.outer(e_k, x)
    matrix.retain(sk_next, gates, hp)
    c = nsilu(sk_next @ x)
    e_v = av @ c - vm
    sv_next = (keep - theta * hp["lambda_v"]) * sv - theta * np.outer(e_v, c)
    matrix.retain(sv_next, gates, hp)
    new = np.concatenate([sk_next.ravel(), sv_next.ravel()])
    return new, read(new, qm, hp)


def read(state: np.ndarray, qm: np.ndarray, hp: dict) -> np.ndarray:
    """y = S_V nsilu(S_K q)."""
    sk, sv = _split(state, len(qm), int(hp["d_k"]))
    return sv @ nsilu(sk @ qm)
