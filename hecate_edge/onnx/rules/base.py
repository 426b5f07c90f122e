"""RuleGraph, the interface every per-rule graph builder implements (the
ONNX twin of a reference rule module's write_read and read, MATH §3).

write(g, state, km, vm, gates, at, hp, extra) returns the value name of the
state after the token's write, its inner gradient taken at `at` (the state
itself, or the CMS block-start state, MATH §6.1); `gates` maps gate names to
scalar values, hp is ModelConfig.memory_hp, `extra` holds the level input
"x" and the rule's own tensors by name. read(g, state, qm, hp) returns the
output row. States have the reference's shapes (rule.init_state).
"""
from __future__ import annotations


class RuleGraph:
    """Base of the builders: d is the model width."""

    def __init__(self, d: int):
        self.d = d

    def write(self, g, state, km, vm, gates, at, hp, extra) -> str:
        raise NotImplementedError

    def read(self, g, state, qm, hp) -> str:
        raise NotImplementedError
