"""What the matrix-memory rules share in the reference (MATH §3.2 ff.): the read
y = q S and the step "write, then read the new state"."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hecate_edge.reference.retention import elastic, shrink

# What a matrix rule declares unless it says otherwise (rules/__init__.py):
# MATH §3.1 (A3): q and k L2-normalized by default; no hyper-parameters.
QK_NORM = True
PARAM_NAMES = ()
# MATH §3.8: a matrix memory starting at 0 takes L2 decay or the elastic net.
RETENTION = "l2"
RETENTIONS = ("l2", "elastic_net")
# MATH §3.8: the elastic net's threshold is lambda_1 theta per token; 0.01 clips
# a modest share of a matrix memory's entries.
ELASTIC_LAMBDA_1 = 0.01


def read(s: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """y = qm S (after the write, or the current S when the memory is frozen)."""
    return qm @ s


def default_params(d: int) -> tuple[float, ...]:
    """The matrix rules take no hyper-parameters."""
    return ()


def check_params(d: int, params: tuple[float, ...]) -> None:
    """Nothing to check for a rule without hyper-parameters."""


def retain(memory: np.ndarray, gates: dict, hp: dict | None) -> None:
    """MATH §3.8 elastic net, in place on the d x d memory just written, when hp
    asks for it: memory = shrink(memory, lambda_1 theta) (theta = 1 for a rule
    without a step size)."""
    lambda_1 = elastic(hp)
    if lambda_1:
        memory[...] = shrink(memory, 0.0, lambda_1 * gates.get("theta", 1.0))


def write_then_read(write: Callable, read_fn: Callable = read, memory: Callable = lambda state: state) -> Callable:
    """A rule's write_read(state, km, vm, qm, gates, hp, at) -> (new state, y read from it);
    memory(state) is the view of the d x d matrix its retention acts on; `at` is the
    state the inner gradient is taken at (MATH §6.1 CMS: the block-start state; None:
    the state itself)."""
    def write_read(state, km, vm, qm, gates, hp=None, at=None):
        new_state = write(state, km, vm, gates, state if at is None else at)
        retain(memory(new_state), gates, hp)
        return new_state, read_fn(new_state, qm, hp)
    write_read.__doc__ = f"{write.__doc__} Then reads the new state: returns (state', y)."
    return write_read
