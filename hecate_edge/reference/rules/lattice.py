"""Lattice OSR (rule id 6): m unit-norm memory slots on the sphere (MATH §3.7).

Each slot takes a tangent write of strength beta sigmoid(<s, k>) towards v and
is renormalized (sphere retention); the read after the write is the softmax
attention of q over the slots.  State: S (m x d), rows unit norm.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import l2_normalize, sigmoid, softmax
from hecate_edge.reference.rules.mlp import unit_hash

RULE_ID = 6
NAME = "lattice"
# One gate: the write strength (Lattice has no forget rate; the sphere is its retention).
GATES = (("beta", "sigmoid"),)
DEFAULT_GATE_BIAS = ((-3.0,),)
# MATH §3.1 (A3): Lattice takes q and k unnormalized by default.
QK_NORM = False
# MATH §3.8: the slots live on the sphere, so the sphere projection is its only retention.
RETENTION, RETENTIONS = "sphere", ("sphere",)
PARAM_NAMES = ("m_slots",)
NORM_FLOOR = 1e-8


def default_params(d: int) -> tuple[float, ...]:
    """16 slots."""
    return (16.0,)


def check_params(d: int, params: tuple[float, ...]) -> None:
    m = params[0]
    if not (m == int(m) and 1 <= m <= 4096):
        raise ValueError(f"m_slots must be an integer in 1..4096, got {m}")


def init_state(d: int, hp: dict) -> np.ndarray:
    """MATH §3.7: S[i, j] = hash(i d + j) - 0.5, rows normalized."""
    m = int(hp["m_slots"])
    raw = unit_hash(m * d).reshape(m, d) - 0.5
    return np.array([l2_normalize(row) for row in raw])


def write_read(state, km, vm, qm, gates, hp, at=None):
    """Per slot: delta = beta sigmoid(<a, k>) v; s <- normalize(s + delta - <a, delta> a); y = read.
    a is the slot of `at`, the state the score and the orthogonal step are taken at
    (MATH §6.1 CMS: the block-start state; None: the state itself, a = s)."""
    at = state if at is None else at
    new = state.copy()
    for i, (s, a) in enumerate(zip(state, at)):
        delta = gates["beta"] * sigmoid(a @ km) * vm
        s_un = s + delta - (a @ delta) * a
        norm = float(np.sqrt(s_un @ s_un))
        if norm > NORM_FLOOR:
            new[i] = s_un / norm
    return new, read(new, qm, hp)


def read(state: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """y = softmax(S q) S."""
    return softmax(state @ qm) @ state
