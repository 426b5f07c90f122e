"""The matrix memories as ONNX ops (MATH §3.2 delta, §3.3 titans, §3.4
hebbian, §3.6 atlas) and the elastic net they share (MATH §3.8); mirrors
hecate_edge/reference/rules/{matrix,delta,titans,hebbian,atlas}.py."""
from __future__ import annotations

from hecate_edge.onnx.graph import GraphBuilder
from hecate_edge.onnx.rules.base import RuleGraph
from hecate_edge.reference.mathfn import NS_COEFFS
from hecate_edge.reference.retention import elastic
from hecate_edge.reference.rules.atlas import NS_EPS


def shrink(g: GraphBuilder, w: str, thr: str, prior: str | None = None) -> str:
    """MATH §3.8 elastic net: prior + sign(w - prior) max(|w - prior| - thr, 0) (prior None: 0)."""
    x = w if prior is None else g.sub(w, prior)
    inner = g.where(g.op("Less", x, g.op("Neg", thr)), g.add(x, thr), g.mul(x, g.const(0.0, "zero")))
    out = g.where(g.op("Greater", x, thr), g.sub(x, thr), inner)
    return out if prior is None else g.add(prior, out)


def retain(g: GraphBuilder, memory: str, gates: dict, hp: dict, prior: str | None = None) -> str:
    """MATH §3.8: the elastic net's shrink by lambda_1 theta (theta = 1 without a step
    gate) when hp asks for it; the memory unchanged otherwise."""
    lambda_1 = elastic(hp)
    if not lambda_1:
        return memory
    thr = g.const(lambda_1, "lambda_1")
    if "theta" in gates:
        thr = g.mul(thr, gates["theta"])
    return shrink(g, memory, thr, prior)


class Delta(RuleGraph):
    """MATH §3.2: S' = (1 - alpha) S - theta km^T (km S_at - vm); y = qm S'."""

    def write(self, g, state, km, vm, gates, at, hp, extra):
        e = g.sub(g.matmul(km, at), vm)
        new = g.sub(g.mul(g.one_minus(gates["alpha"]), state), g.mul(gates["theta"], g.outer(km, e)))
        return retain(g, new, gates, hp)

    def read(self, g, state, qm, hp):
        return g.matmul(qm, state)


class Hebbian(Delta):
    """MATH §3.4: S' = (1 - alpha) S + km^T vm (no inner gradient: `at` unused)."""

    def write(self, g, state, km, vm, gates, at, hp, extra):
        new = g.add(g.mul(g.one_minus(gates["alpha"]), state), g.outer(km, vm))
        return retain(g, new, gates, hp)


class Titans(RuleGraph):
    """MATH §3.3: state (M, Z); Z' = eta Z - theta km^T (km M_at - vm), M' = (1 - alpha) M + Z';
    y = qm M'. The elastic net acts on M only."""

    def write(self, g, state, km, vm, gates, at, hp, extra):
        m, z = g.pick(state, 0), g.pick(state, 1)
        e = g.sub(g.matmul(km, g.pick(at, 0)), vm)
        z_next = g.sub(g.mul(gates["eta"], z), g.mul(gates["theta"], g.outer(km, e)))
        m_next = retain(g, g.add(g.mul(g.one_minus(gates["alpha"]), m), z_next), gates, hp)
        return g.op("Concat", g.unsqueeze(m_next, [0]), g.unsqueeze(z_next, [0]), axis=0)

    def read(self, g, state, qm, hp):
        return g.matmul(qm, g.pick(state, 0))


def newton_schulz(g: GraphBuilder, z: str, steps: int) -> str:
    """MATH §3.6: X = Z / (||Z||_F + 1e-7), then `steps` times X <- a X + (b A + c A^2) X, A = X X^T."""
    a, b, c = (g.const(v, "ns") for v in NS_COEFFS)
    x = g.div(z, g.add(g.op("ReduceL2", z, keepdims=0), g.const(NS_EPS, "ns_eps")))
    for _ in range(steps):
        gram = g.matmul(x, g.op("Transpose", x))
        x = g.add(g.mul(a, x), g.matmul(g.add(g.mul(b, gram), g.mul(c, g.matmul(gram, gram))), x))
    return x


class Atlas(RuleGraph):
    """MATH §3.6, the Omega rule: the window (K, V) of the last c keys and values takes
    the token's; Z' = eta Z - theta K^T (K M_at - V), M' = (1 - alpha) M + Z'; with
    Newton-Schulz steps Z' = eta Z + K^T (K M_at - V), M' = (1 - alpha) M - theta NS_k(Z').
    State flat: M, Z (d x d), K, V (c x d)."""

    def _split(self, g, state, hp):
        d, c = self.d, int(hp["window"])
        m = g.reshape(g.slice(state, 0, d * d, 0), [d, d])
        z = g.reshape(g.slice(state, d * d, 2 * d * d, 0), [d, d])
        keys = g.reshape(g.slice(state, 2 * d * d, 2 * d * d + c * d, 0), [c, d])
        values = g.reshape(g.slice(state, 2 * d * d + c * d, 2 * d * d + 2 * c * d, 0), [c, d])
        return m, z, keys, values

    def write(self, g, state, km, vm, gates, at, hp, extra):
        m, z, keys, values = self._split(g, state, hp)
        m_at = self._split(g, at, hp)[0]
        c = int(hp["window"])
        keys = g.op("Concat", g.slice(keys, 1, c, 0), g.unsqueeze(km, [0]), axis=0)
        values = g.op("Concat", g.slice(values, 1, c, 0), g.unsqueeze(vm, [0]), axis=0)
        grad = g.matmul(g.op("Transpose", keys), g.sub(g.matmul(keys, m_at), values))
        keep = g.mul(g.one_minus(gates["alpha"]), m)
        steps = int(hp.get("ns_steps", 0))
        if steps:
            z_next = g.add(g.mul(gates["eta"], z), grad)
            m_next = g.sub(keep, g.mul(gates["theta"], newton_schulz(g, z_next, steps)))
        else:
            z_next = g.sub(g.mul(gates["eta"], z), g.mul(gates["theta"], grad))
            m_next = g.add(keep, z_next)
        m_next = retain(g, m_next, gates, hp)
        flat = [g.reshape(t, [-1]) for t in (m_next, z_next, keys, values)]
        return g.op("Concat", *flat, axis=0)

    def read(self, g, state, qm, hp):
        d = self.d
        return g.matmul(qm, g.reshape(g.slice(state, 0, d * d, 0), [d, d]))
