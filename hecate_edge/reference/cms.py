"""One token of a CMS memory level (MATH §6.1): the rule's write every token
into the accumulated state, inner gradients at the block-start state, which
is what the level reads until its block ends and the accumulated state takes
its place; with a learned frequency gate (MATH §6.2) the block's end may
instead keep the block-start state."""
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
                gates: dict, hp: dict, keep: float = 1.0, **extra) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state', at', y) of token `position` for a level of period C: state is the
    accumulated state, at the block-start state (equal at a block start; period 1:
    the same state, the plain per-token rule).  keep: where the block ends, the
    multiplier h of its update (MATH §6.2): the level publishes at + h (state' - at),
    so 1 (no gate, or an open one) publishes state' and 0 (a shut gate) keeps at."""
    at = readable_before_write(state, at, position, period)  # a block start: the state is its own
    new_state, y = rule.write_read(state, km, vm, qm, gates, hp, at=at, **extra)
    if not fires(position, period):
        return new_state, at, rule.read(at, qm, hp)
    if keep == 1.0:
        return new_state, new_state, y
    published = at + keep * (new_state - at)
    return published, published, rule.read(published, qm, hp)


def add_block_input(block_sum: np.ndarray, x: np.ndarray, position: int, period: int) -> np.ndarray:
    """MATH §6.2: the level's input summed over its current block, token `position` included."""
    return (0.0 if position % period == 0 else block_sum) + x


def gate_pre(freq_w: np.ndarray, freq_b: np.ndarray, block_sum: np.ndarray, period: int) -> float:
    """MATH §6.2: <freq_w, xbar> + freq_b with xbar = block_sum / C; the gate is
    g = sigmoid(pre), open (h = 1) when g > 0.5, i.e. pre > 0."""
    return float(freq_w @ block_sum) / period + float(freq_b[0])
