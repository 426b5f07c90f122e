"""A memory level over one call's tokens (MATH §3.1, §6.1, §6.2): the front end
for every token at once, then the rule's recurrence token by token with the
level's clock (block-start state, firing), the learned frequency gate with its
straight-through gradient, or a frozen read.  The torch twin of
hecate_edge/reference/cms.py and ReferenceSession.memory_step; the recurrence
takes the fast op (hecate_edge.torch.fast) where one runs this level."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from hecate_edge.reference.cms import fires
from hecate_edge.torch import fast, frontend


@dataclass
class LevelState:
    """MATH §6: a level's accumulated state, block-start state (`at`), gated input sum, conv rows."""
    memory: torch.Tensor
    at: torch.Tensor
    block_sum: torch.Tensor
    conv: torch.Tensor | None

    def detach(self) -> "LevelState":
        return LevelState(*(None if t is None else t.detach() for t in
                            (self.memory, self.at, self.block_sum, self.conv)))


@dataclass(frozen=True)
class LevelSpec:
    """What a level's computation reads from the model config."""
    rule_name: str
    rule: object            # the torch rule module
    gate_kinds: tuple
    qk_norm: bool
    bounded: bool
    period: int
    gated: bool
    hp: dict
    extra: tuple            # reference EXTRA_INPUTS: "x", "tensors"


def run_level(spec: LevelSpec, level, x: torch.Tensor, state: LevelState, position: int, freeze: bool,
              fixed_schedule: bool, use_fast: bool) -> tuple[torch.Tensor, LevelState]:
    """y (B, T, d) of the level for input rows x (B, T, d) from `position` on, and its state after."""
    km, vm, qm, conv = frontend.project(level, x, spec.qk_norm, state.conv)
    if freeze:  # MATH §3.2 ablation: read the block-start state, never write; the convolution advances
        y = torch.stack([spec.rule.read(state.at, qm[:, t], spec.hp) for t in range(x.shape[1])], 1)
        return y, LevelState(state.memory, state.at, state.block_sum, conv)
    gates = frontend.gates(level, km, vm, spec.gate_kinds, spec.bounded)
    tensors = {name: getattr(level, name) for name in ("A_log", "dt_bias")} if "tensors" in spec.extra else None
    xs = x if "x" in spec.extra else None
    if use_fast and not spec.gated and fast.runs(spec, x):
        y, memory, at = fast.recurrence(spec, km, vm, qm, gates, xs, state.memory, state.at, position)
        return y, LevelState(memory, at, state.block_sum, conv)
    block_sum = [state.block_sum]

    def gate(t: int, n: int):
        keep, block_sum[0] = _frequency_gate(level, block_sum[0], x[:, t], n, spec.period, fixed_schedule)
        return keep
    y, memory, at = recurrence(spec, km, vm, qm, gates, state.memory, state.at, position, xs, tensors,
                               gate if spec.gated else None)
    return y, LevelState(memory, at, block_sum[0], conv)


def recurrence(spec: LevelSpec, km, vm, qm, gates: dict, memory, at, position: int, xs=None, tensors=None,
               gate=None):
    """(y (B, T, d), memory', at') of the rule over a call's tokens on the level's clock (MATH §6.1)
    in torch ops.  gate(t, n), called at every token, gives the frequency gate's multiplier at a
    block end (MATH §6.2), None elsewhere and without a gate."""
    ys = []
    for t in range(km.shape[1]):
        n = position + t
        if n % spec.period == 0:  # a block starts: its start state is the state (period 1: always)
            at = memory
        g = {name: value[:, t] for name, value in gates.items()}
        new, y = spec.rule.write_read(memory, at, km[:, t], vm[:, t], qm[:, t], g, spec.hp,
                                      x=None if xs is None else xs[:, t], tensors=tensors)
        keep = None if gate is None else gate(t, n)
        if not fires(n, spec.period):
            memory, y = new, spec.rule.read(at, qm[:, t], spec.hp)
        elif keep is None:
            memory = at = new
        else:  # MATH §6.2: publish at + h (A' - at); h carries the straight-through gradient
            memory = at = at + keep.reshape((-1,) + (1,) * (new.dim() - 1)) * (new - at)
            y = spec.rule.read(memory, qm[:, t], spec.hp)
        ys.append(y)
    return torch.stack(ys, 1), memory, at


def pre_read(spec: LevelSpec, level, x: torch.Tensor, state: LevelState, position: int, freeze: bool):
    """MATH §4.4: the level's read before token `position`'s write with the query of x (B, 1, d)."""
    qm = frontend.query(level, x, spec.qk_norm, state.conv)[:, 0]
    at = state.at
    if not freeze and position % spec.period == 0:
        at = state.memory
    return spec.rule.read(at, qm, spec.hp)


def _frequency_gate(level, block_sum, x_t, n: int, period: int, fixed: bool):
    """MATH §6.2: (h or None inside a block, the block sum after token n).  At a block end
    h = 1 where <freq_w, sum>/C + freq_b > 0 (every h = 1 on the fixed schedule, no gradient),
    as h + g - stop_gradient(g) with g = sigmoid(pre): the straight-through estimator."""
    total = (torch.zeros_like(x_t) if n % period == 0 else block_sum) + x_t
    if not fires(n, period):
        return None, total
    cleared = torch.zeros_like(total)
    if fixed:
        return None, cleared
    pre = total @ level.freq_w / period + level.freq_b[0]
    g = torch.sigmoid(pre)
    h = (pre > 0).to(pre.dtype)
    return h + g - g.detach(), cleared
