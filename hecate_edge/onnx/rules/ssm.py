"""The selective SSM as ONNX ops (MATH §3.10); mirrors hecate_edge/reference/rules/ssm.py."""
from __future__ import annotations

from hecate_edge.onnx.rules.base import RuleGraph


class SelectiveSSM(RuleGraph):
    """MATH §3.10: Delta = softplus(delta + dt_bias), h' = exp(Delta A) h + Delta B u
    (B = km[:N], u = vm, A = -exp(A_log)); y = h' C, C = qm[:N]."""

    def write(self, g, state, km, vm, gates, at, hp, extra):
        n = int(hp["d_state"])
        dt = g.op("Softplus", g.add(gates["delta"], extra["dt_bias"]))                   # (d,)
        rate = g.op("Neg", g.op("Exp", extra["A_log"]))                                 # A (d, N)
        decay = g.op("Exp", g.mul(g.unsqueeze(dt, [1]), rate))
        return g.add(g.mul(decay, state), g.outer(g.mul(dt, vm), g.slice(km, 0, n, 0)))

    def read(self, g, state, qm, hp):
        return g.matmul(state, g.slice(qm, 0, int(hp["d_state"]), 0))
