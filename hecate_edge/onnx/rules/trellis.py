"""Trellis as ONNX ops (MATH §3.9: two-pass compression of the level input);
mirrors hecate_edge/reference/rules/trellis.py."""
from __future__ import annotations

from hecate_edge.onnx.graph import GraphBuilder, l2_normalize
from hecate_edge.onnx.rules.base import RuleGraph
from hecate_edge.onnx.rules.matrix import retain
from hecate_edge.onnx.rules.mlp import silu_parts
from hecate_edge.reference.rules.trellis import NORM_FLOOR


def nsilu(g: GraphBuilder, a: str) -> str:
    """MATH §3.9: silu(a) / ||silu(a)||, 0 when that norm is <= 1e-8."""
    s = silu_parts(g, a)[0]
    norm = g.op("Sqrt", g.reduce_sum(g.mul(s, s), [0], keepdims=1))
    return g.where(g.op("Greater", norm, g.const(NORM_FLOOR, "floor")), g.div(s, norm),
                   g.mul(s, g.const(0.0, "zero")))


class Trellis(RuleGraph):
    """State S_K (d_k x d) then S_V (d x d_k), flat. With xh = x / ||x||:
    S_K' = (1 - alpha - theta lambda_k) S_K - theta (S_K,at xh - km[:d_k]) xh^T, c = nsilu(S_K' xh),
    S_V' = (1 - alpha - theta lambda_v) S_V - theta (S_V,at c - vm) c^T; y = S_V' nsilu(S_K' qm)."""

    def _split(self, g, state, hp):
        d, dk = self.d, int(hp["d_k"])
        return (g.reshape(g.slice(state, 0, dk * d, 0), [dk, d]),
                g.reshape(g.slice(state, dk * d, 2 * dk * d, 0), [d, dk]))

    def write(self, g, state, km, vm, gates, at, hp, extra):
        dk = int(hp["d_k"])
        x = l2_normalize(g, extra["x"])
        sk, sv = self._split(g, state, hp)
        ak, av = self._split(g, at, hp)
        keep = g.one_minus(gates["alpha"])
        decay = lambda lam: g.sub(keep, g.mul(gates["theta"], g.const(float(hp[lam]), lam)))  # noqa: E731
        e_k = g.sub(g.matmul(ak, x), g.slice(km, 0, dk, 0))
        sk_next = retain(g, g.sub(g.mul(decay("lambda_k"), sk), g.mul(gates["theta"], g.outer(e_k, x))), gates, hp)
        c = nsilu(g, g.matmul(sk_next, x))
        e_v = g.sub(g.matmul(av, c), vm)
        sv_next = retain(g, g.sub(g.mul(decay("lambda_v"), sv), g.mul(gates["theta"], g.outer(e_v, c))), gates, hp)
        return g.op("Concat", g.reshape(sk_next, [-1]), g.reshape(sv_next, [-1]), axis=0)

    def read(self, g, state, qm, hp):
        sk, sv = self._split(g, state, hp)
        return g.matmul(sv, nsilu(g, g.matmul(sk, qm)))
