"""Per-rule graph builders: the registry RULE_GRAPHS mirrors
hecate_edge/reference/rules/ (one entry per rule the exporter covers), each
entry building a rule's write and read (MATH §3.2-§3.10) from ONNX ops.

A builder's write(g, state, km, vm, gates, at, hp, tensors) returns the new
state's value name, the inner gradient taken at `at` (the state itself, or
the CMS block-start state, MATH §6.1); read(g, state, qm, hp) the output row.
States have the reference's shapes (rule.init_state). A rule missing here is
refused by name (errors.OnnxUnsupported).
"""
from __future__ import annotations

from hecate_edge.onnx.graph import GraphBuilder
from hecate_edge.reference.retention import elastic


def shrink(g: GraphBuilder, w: str, thr: str) -> str:
    """MATH §3.8 elastic net towards a zero prior: sign(w) max(|w| - thr, 0)."""
    below = g.op("Neg", thr)
    inner = g.where(g.op("Less", w, below), g.add(w, thr), g.mul(w, g.const(0.0, "zero")))
    return g.where(g.op("Greater", w, thr), g.sub(w, thr), inner)


def retain(g: GraphBuilder, memory: str, gates: dict, hp: dict) -> str:
    """MATH §3.8: the elastic net's shrink by lambda_1 theta (theta = 1 without a step
    gate) when hp asks for it; the memory unchanged otherwise."""
    lambda_1 = elastic(hp)
    if not lambda_1:
        return memory
    thr = g.const(lambda_1, "lambda_1")
    if "theta" in gates:
        thr = g.mul(thr, gates["theta"])
    return shrink(g, memory, thr)


class Delta:
    """MATH §3.2: S' = (1 - alpha) S - theta km^T (km S_at - vm); y = qm S'."""

    def write(self, g, state, km, vm, gates, at, hp, tensors):
        e = g.sub(g.matmul(km, at), vm)
        new = g.sub(g.mul(g.one_minus(gates["alpha"]), state), g.mul(gates["theta"], g.outer(km, e)))
        return retain(g, new, gates, hp)

    def read(self, g, state, qm, hp):
        return g.matmul(qm, state)


class Hebbian(Delta):
    """MATH §3.4: S' = (1 - alpha) S + km^T vm (no inner gradient: `at` unused)."""

    def write(self, g, state, km, vm, gates, at, hp, tensors):
        new = g.add(g.mul(g.one_minus(gates["alpha"]), state), g.outer(km, vm))
        return retain(g, new, gates, hp)


class Titans:
    """MATH §3.3: state (M, Z); Z' = eta Z - theta km^T (km M_at - vm), M' = (1 - alpha) M + Z';
    y = qm M'. The elastic net acts on M only."""

    def write(self, g, state, km, vm, gates, at, hp, tensors):
        m, z = g.pick(state, 0), g.pick(state, 1)
        e = g.sub(g.matmul(km, g.pick(at, 0)), vm)
        z_next = g.sub(g.mul(gates["eta"], z), g.mul(gates["theta"], g.outer(km, e)))
        m_next = retain(g, g.add(g.mul(g.one_minus(gates["alpha"]), m), z_next), gates, hp)
        return g.op("Concat", g.unsqueeze(m_next, [0]), g.unsqueeze(z_next, [0]), axis=0)

    def read(self, g, state, qm, hp):
        return g.matmul(qm, g.pick(state, 0))


class SelectiveSSM:
    """MATH §3.10: Delta = softplus(delta + dt_bias), h' = exp(Delta A) h + Delta B u
    (B = km[:N], u = vm, A = -exp(A_log)); y = h' C, C = qm[:N]."""

    def write(self, g, state, km, vm, gates, at, hp, tensors):
        n = int(hp["d_state"])
        dt = g.op("Softplus", g.add(gates["delta"], tensors["dt_bias"]))                 # (d,)
        rate = g.op("Neg", g.op("Exp", tensors["A_log"]))                               # A (d, N)
        decay = g.op("Exp", g.mul(g.unsqueeze(dt, [1]), rate))
        b = g.slice(km, 0, n, 0)
        return g.add(g.mul(decay, state), g.outer(g.mul(dt, vm), b))

    def read(self, g, state, qm, hp):
        return g.matmul(state, g.slice(qm, 0, int(hp["d_state"]), 0))


RULE_GRAPHS = {"delta": Delta(), "hebbian": Hebbian(), "titans": Titans(), "ssm": SelectiveSSM()}
