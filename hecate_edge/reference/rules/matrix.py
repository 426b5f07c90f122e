"""What the matrix-memory rules share in the reference (MATH §3.2 ff.): the read
y = q S and the step "write, then read the new state"."""
from collections.abc import Callable

import numpy as np


def read(s: np.ndarray, qm: np.ndarray) -> np.ndarray:
    """y = qm S (after the write, or the current S when the memory is frozen)."""
    return qm @ s


def write_then_read(write: Callable, read_fn: Callable = read) -> Callable:
    """A rule's write_read(state, km, vm, qm, gates) -> (new state, y read from it)."""
    def write_read(state, km, vm, qm, gates):
        new_state = write(state, km, vm, gates)
        return new_state, read_fn(new_state, qm)
    write_read.__doc__ = f"{write.__doc__} Then reads the new state: returns (state', y)."
    return write_read
