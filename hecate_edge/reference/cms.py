"""One token of a CMS memory level (MATH §6.1): the rule's write every token
into the accumulated state, inner gradients at the block-start state, which
is what the level reads until its block ends and the accumulated state takes
its place."""
from __future__ import annotations

from types import ModuleType

import numpy as np


def fires(position: int, period: int) -> bool:
    """MATH §6.1: global token n ends a block of level period C when (n + 1) mod C == 0."""
    return (position + 1) % period == 0


def readable_before_write(state: np.ndarray, at: np.ndarray, position: int, period: int) -> np.ndarray:
    """MATH §6.1: the state a read sees before token `position`'s write: the block-start
    state, which is the state itself when a block starts there (period 1: always)."""
    return state if position % period == 0 else at


def level_token(rule: ModuleType, state: np.ndarray, at: np.ndarray, position: int, period: int, km, vm, qm,
                gates: dict, hp: dict, **extra) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state', at', y) of token `position` for a level of period C: state is the
    accumulated state, at the block-start state (equal at a block start; period 1:
    the same state, the plain per-token rule)."""
    at = readable_before_write(state, at, position, period)  # a block start: the state is its own
    new_state, y = rule.write_read(state, km, vm, qm, gates, hp, at=at, **extra)
    if fires(position, period):
        return new_state, new_state, y
    return new_state, at, rule.read(at, qm, hp)
