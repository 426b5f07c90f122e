"""The MLP memories as ONNX ops (MATH §3.5: MONETA, YAAD, MEMORA, with L2, the
elastic net and KL retention towards the init state); mirrors
hecate_edge/reference/rules/{mlp,moneta,yaad,memora}.py."""
from __future__ import annotations

from hecate_edge.onnx.graph import GraphBuilder
from hecate_edge.onnx.rules.base import RuleGraph
from hecate_edge.onnx.rules.matrix import retain
from hecate_edge.reference.rules import mlp, moneta


def silu_parts(g: GraphBuilder, z: str) -> tuple[str, str]:
    """(silu(z), silu'(z)) = (z s, s (1 + z (1 - s))), s = sigmoid(z)."""
    s = g.sigmoid(z)
    return g.mul(z, s), g.mul(s, g.add(g.const(1.0, "one"), g.mul(z, g.one_minus(s))))


class MlpMemory(RuleGraph):
    """State (W1, W2^T), both (h, d): M(x) = silu(W1 x) W2; one inner gradient step per
    token on the rule's attentional bias of e = M(k) - v at `at`; y = M'(q)."""

    def __init__(self, d: int, rule):
        super().__init__(d)
        self.rule = rule

    def bias(self, g, e, hp) -> str:
        return e

    def prior(self, g, hp) -> str:
        return g.const(self.rule.init_state(self.d, hp), "prior")

    def inner_grad(self, g, at, km, vm, hp) -> str:
        """MATH §3.5: (G1, G2^T) = (r km, hid g) with r = (W2^T g) silu'(z), stacked."""
        w1, w2t = g.pick(at, 0), g.pick(at, 1)
        z = g.matmul(w1, km)
        hid, slope = silu_parts(g, z)
        grad_e = self.bias(g, g.sub(g.matmul(hid, w2t), vm), hp)
        r = g.mul(g.matmul(w2t, grad_e), slope)
        return g.op("Concat", g.unsqueeze(g.outer(r, km), [0]), g.unsqueeze(g.outer(hid, grad_e), [0]), axis=0)

    def bound_grad(self, g, grad, hp) -> str:
        """MATH §3.5 (D51): G / sqrt(1 + ||G||^2 / c^2), ||G|| over G1 and G2; c = 0 (or none): G."""
        bound = float(hp.get("grad_bound", 0.0))
        if not bound:
            return grad
        norm2 = g.op("ReduceSumSquare", grad, keepdims=0)
        return g.div(grad, g.op("Sqrt", g.add(g.const(1.0, "one"), g.mul(norm2, g.const(1.0 / bound**2, "inv_c2")))))

    def write(self, g, state, km, vm, gates, at, hp, extra):
        grad = self.bound_grad(g, self.inner_grad(g, at, km, vm, hp), hp)
        prior = self.prior(g, hp)
        if hp.get("retention", self.rule.RETENTION) == "kl":
            return self._kl_step(g, state, grad, gates, prior)
        lambda_2 = float(hp.get("lambda_2", 0.0))
        keep = g.one_minus(gates["alpha"])
        if lambda_2:
            keep = g.sub(keep, g.mul(g.const(2.0 * lambda_2, "two_lambda_2"), gates["theta"]))
        new = g.sub(g.add(g.mul(keep, state), g.mul(gates["alpha"], prior)), g.mul(gates["theta"], grad))
        return retain(g, new, gates, hp, prior)

    def _kl_step(self, g, state, grad, gates, prior):
        """MATH §3.5 KL: each simplex vector w' = softmax((1 - alpha) log w + alpha log w0 - theta g)
        (logs of max(., 1e-8)); rows of W1, columns of the stored W2^T."""
        floor = g.const(mlp.LOG_FLOOR, "log_floor")
        log = lambda w: g.op("Log", g.op("Max", w, floor))  # noqa: E731
        pre = g.sub(g.add(g.mul(g.one_minus(gates["alpha"]), log(state)), g.mul(gates["alpha"], log(prior))),
                    g.mul(gates["theta"], grad))
        w1 = g.op("Softmax", g.pick(pre, 0), axis=1)
        w2t = g.op("Softmax", g.pick(pre, 1), axis=0)
        return g.op("Concat", g.unsqueeze(w1, [0]), g.unsqueeze(w2t, [0]), axis=0)

    def read(self, g, state, qm, hp):
        return g.matmul(silu_parts(g, g.matmul(g.pick(state, 0), qm))[0], g.pick(state, 1))


class Moneta(MlpMemory):
    """MATH §3.5: bias p tanh(10 e) (e^2 + 1e-6)^((p-1)/2), 2 e for p = 2."""

    def bias(self, g, e, hp):
        p = float(hp["p"])
        if p == 2.0:
            return g.mul(g.const(2.0, "two"), e)
        power = g.op("Pow", g.add(g.mul(e, e), g.const(moneta.LP_EPS, "lp_eps")), g.const((p - 1.0) / 2.0, "exp"))
        return g.mul(g.mul(g.const(p, "p"), g.op("Tanh", g.mul(g.const(moneta.SHARPNESS, "sharp"), e))), power)


class Yaad(MlpMemory):
    """MATH §3.5: Huber bias, e where |e| < delta, else delta sign(e) + (e - e) (NaN for an infinite e, D80)."""

    def bias(self, g, e, hp):
        delta = g.const(float(hp["delta"]), "delta")
        outside = g.add(g.mul(delta, g.op("Sign", e)), g.sub(e, e))
        return g.where(g.op("Less", g.op("Abs", e), delta), e, outside)
