"""Lattice OSR as ONNX ops (MATH §3.7, sphere retention); mirrors hecate_edge/reference/rules/lattice.py."""
from __future__ import annotations

from hecate_edge.onnx.rules.base import RuleGraph
from hecate_edge.reference.rules.lattice import NORM_FLOOR


class Lattice(RuleGraph):
    """Every slot s (row of S, with a its row of `at`): delta = beta sigmoid(<a, km>) vm,
    s_un = s + delta - <a, delta> a, s' = s_un / ||s_un|| (s where ||s_un|| <= 1e-8);
    y = softmax(S' qm) S'."""

    def write(self, g, state, km, vm, gates, at, hp, extra):
        score = g.sigmoid(g.matmul(at, km))                                           # (m,)
        delta = g.mul(g.unsqueeze(g.mul(gates["beta"], score), [1]), g.unsqueeze(vm, [0]))
        along = g.reduce_sum(g.mul(at, delta), [1], keepdims=1)                       # (m, 1)
        s_un = g.sub(g.add(state, delta), g.mul(along, at))
        norm = g.op("Sqrt", g.reduce_sum(g.mul(s_un, s_un), [1], keepdims=1))
        return g.where(g.op("Greater", norm, g.const(NORM_FLOOR, "floor")), g.div(s_un, norm), state)

    def read(self, g, state, qm, hp):
        return g.matmul(g.op("Softmax", g.matmul(state, qm), axis=0), state)
