"""Atlas' Omega rule (rule id 8): Titans' momentum on the inner loss over a sliding window (MATH §3.6).

The inner loss at token t is sum over the last c tokens (t included) of
||k_i M - v_i||^2 / 2, taken at the state before token t; momentum Z and the
forget rate alpha as in Titans.  State: M, Z (d x d) and the window of keys
and values (c x d each, oldest first, zero rows until filled), flattened.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import ns_iterate
from hecate_edge.reference.rules import matrix

RULE_ID = 8
NAME = "atlas"
GATES = (("alpha", "sigmoid"), ("theta", "softplus"), ("eta", "sigmoid"))
DEFAULT_GATE_BIAS = ((-7.0, -4.6, 1.5),)
# MATH §3.1 "Bounded inner steps": on by default. The Omega rule's step sums the gradients of a
# window of tokens, so an unbounded theta scales with it; measured (D37): MQAR recall 0.88-0.98
# with the bound, 0.17-0.20 without
BOUNDED_STEP = True
# MATH §3.1 (A3): Atlas is a matrix rule, q and k L2-normalized by default.
QK_NORM = True
PARAM_NAMES = ("window", "ns_steps")
MAX_NS_STEPS = 10
NS_EPS = 1e-7
MAX_WINDOW = 64
RETENTION, RETENTIONS, ELASTIC_LAMBDA_1 = matrix.RETENTION, matrix.RETENTIONS, matrix.ELASTIC_LAMBDA_1


def default_params(d: int) -> tuple[float, ...]:
    """A window of c = 4 tokens; plain momentum (no Newton-Schulz steps)."""
    return (4.0, 0.0)


def check_params(d: int, params: tuple[float, ...]) -> None:
    c = params[0]
    if not (c == int(c) and 1 <= c <= MAX_WINDOW):
        raise ValueError(f"window must be an integer in 1..{MAX_WINDOW}, got {c}")
    k = params[1]
    if not (k == int(k) and 0 <= k <= MAX_NS_STEPS):
        raise ValueError(f"ns_steps must be an integer in 0..{MAX_NS_STEPS}, got {k}")


def newton_schulz(z: np.ndarray, steps: int) -> np.ndarray:
    """MATH §3.6: X = Z / (||Z||_F + 1e-7), then `steps` times X <- a X + (b A + c A^2) X, A = X X^T."""
    return ns_iterate(z / (np.linalg.norm(z) + NS_EPS), steps)


def _split(state: np.ndarray, d: int, c: int):
    dd = d * d
    return (state[:dd].reshape(d, d), state[dd:2 * dd].reshape(d, d),
            state[2 * dd:2 * dd + c * d].reshape(c, d), state[2 * dd + c * d:].reshape(c, d))


def init_state(d: int, hp: dict) -> np.ndarray:
    """M = Z = 0, empty window: 2 d^2 + 2 c d zeros."""
    return np.zeros(2 * d * d + 2 * int(hp["window"]) * d)


def write_read(state, km, vm, qm, gates, hp, at=None):
    """Window <- last c (k, v); Z' = eta Z - theta K^T (K M - V); M' = (1 - alpha) M + Z'; y = q M'.
    With ns_steps = k > 0: Z' = eta Z + K^T (K M - V); M' = (1 - alpha) M - theta NS_k(Z').
    The errors K M - V take M of `at` (the state itself, or the CMS block-start
    state, MATH §6.1); the window is this state's."""
    d, c = len(km), int(hp["window"])
    m, z, keys, values = _split(state, d, c)
    m_at = m if at is None else _split(at, d, c)[0]
    keys = np.vstack([keys[1:], km])
    values = np.vstack([values[1:], vm])
    grad = keys.T @ (keys @ m_at - values)
    steps = int(hp.get("ns_steps", 0))
    if steps:  # Muon form: momentum of the raw gradient, orthogonalized, scaled by theta
        z_next = gates["eta"] * z + grad
        m_next = (1.0 - gates["alpha"]) * m - gates["theta"] * newton_schulz(z_next, steps)
    else:
        z_next = gates["eta"] * z - gates["theta"] * grad
        m_next = (1.0 - gates["alpha"]) * m + z_next
    matrix.retain(m_next, gates, hp)
    new = np.concatenate([m_next.ravel(), z_next.ravel(), keys.ravel(), values.ravel()])
    return new, qm @ m_next


def read(state: np.ndarray, qm: np.ndarray, hp: dict) -> np.ndarray:
    """y = q M of the current state (frozen)."""
    d = len(qm)
    return matrix.read(state[:d * d].reshape(d, d), qm)
