"""What the matrix-memory rules share in the reference (MATH §3.2 ff.): the read
y = q S and the step "write, then read the new state"."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def read(s: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """y = qm S (after the write, or the current S when the memory is frozen)."""
    return qm @ s


def default_params(d: int) -> tuple[float, ...]:
    """The matrix rules take no hyper-parameters."""
    return ()


def check_params(d: int, params: tuple[float, ...]) -> None:
    """Nothing to check for a rule without hyper-parameters."""


def write_then_read(write: Callable, read_fn: Callable = read) -> Callable:
    """A rule's write_read(state, km, vm, qm, gates, hp) -> (new state, y read from it)."""
    def write_read(state, km, vm, qm, gates, hp=None):
        new_state = write(state, km, vm, gates)
        return new_state, read_fn(new_state, qm, hp)
    write_read.__doc__ = f"{write.__doc__} Then reads the new state: returns (state', y)."
    return write_read
