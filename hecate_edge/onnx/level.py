"""One memory level for one token as ONNX ops: the front end (MATH §3.1:
projections, short convolution, L2 normalization, gates), the CMS period
and frequency gate (MATH §6.1, §6.2) around the rule's write and read
(rules.RULE_GRAPHS), and MAC's read before the write (MATH §4.4)."""
from __future__ import annotations

import math

from hecate_edge.onnx.graph import GraphBuilder, l2_normalize
from hecate_edge.onnx.rules import rule_graph
from hecate_edge.onnx.state import has_block_start
from hecate_edge.reference.frontend import THETA_MAX
from hecate_edge.reference.rules import rule_by_name


def activate(g: GraphBuilder, kind: str, pre: str) -> str:
    """MATH §3.1 gate activations (bounded: THETA_MAX sigmoid)."""
    if kind == "sigmoid":
        return g.sigmoid(pre)
    if kind == "softplus":
        return g.op("Softplus", pre)
    if kind == "bounded":
        return g.mul(g.const(THETA_MAX, "theta_max"), g.sigmoid(pre))
    return pre  # identity: the rule applies its own activation


class Level:
    """Level `level` of block `layer`: builds its token step inside the loop body.

    body: the export's BodyContext (builder, config, weight values, state values)."""

    def __init__(self, body, layer: int, level: int):
        self.body, self.g, self.cfg = body, body.g, body.cfg
        self.level, self.period = level, body.cfg.periods[level]
        self.prefix = f"blk{layer}.mem{level}"
        self.rule = rule_graph(self.cfg.rule, self.cfg.d_model)
        self.gate_kinds = rule_by_name(self.cfg.rule).GATES

    def weight(self, name: str) -> str:
        return self.body.weight(f"{self.prefix}.{name}")

    def _position_is(self, offset: int) -> str:
        """Bool: (position + offset) mod period == 0 (MATH §6.1)."""
        g, pos = self.g, self.body.position
        shifted = g.add(pos, g.ints(offset, "off")) if offset else pos
        return g.op("Equal", g.op("Mod", shifted, g.ints(self.period, "period")), g.ints(0, "zero"))

    def _convolve(self, rows: str) -> str:
        """MATH §3.1: each stream's K taps over its K-1 stored rows then `rows`
        (3, d); the stored rows advance to the newest K-1."""
        g = self.g
        window = g.op("Concat", self.body.state(f"{self.prefix}.conv"), g.unsqueeze(rows, [1]), axis=1)
        self.body.set_state(f"{self.prefix}.conv", g.slice(window, 1, self.cfg.conv_kernel, 1))
        return g.reduce_sum(g.mul(window, self.body.weight(f"{self.prefix}.conv_taps")), [1])

    def front_end(self, x: str) -> tuple[str, str, str]:
        """MATH §3.1: (km, vm, qm) of input row x."""
        g, d = self.g, self.cfg.d_model
        rows = g.reshape(g.matmul(x, self.weight("wkvq")), [3, d])
        if self.cfg.conv_kernel:
            rows = self._convolve(rows)
        km, vm, qm = (g.pick(rows, i) for i in range(3))
        if self.cfg.qk_norm:
            km, qm = l2_normalize(g, km), l2_normalize(g, qm)
        return km, vm, qm

    def gates(self, km: str, vm: str) -> dict[str, str]:
        """MATH §3.1: {gate name: scalar value} from concat(km, vm)."""
        g = self.g
        pre = g.add(g.matmul(g.op("Concat", km, vm, axis=0), self.weight("gate_w_t")), self.weight("gate_b"))
        out = {}
        for index, (name, kind) in enumerate(self.gate_kinds):
            kind = "bounded" if self.cfg.bounded_steps and kind == "softplus" else kind
            out[name] = activate(g, kind, g.pick(pre, index))
        return out

    def step(self, x: str) -> str:
        """MATH §3.1 then §6.1/§6.2: the level's write and read of token x; returns y."""
        g, body = self.g, self.body
        km, vm, qm = self.front_end(x)
        gates = self.gates(km, vm)
        state = body.state(f"{self.prefix}.state")
        extra = {"x": x, **{name: self.weight(name) for name in body.rule_tensor_names}}
        hp = self.cfg.memory_hp
        if not has_block_start(self.cfg, self.level):
            new = self.rule.write(g, state, km, vm, gates, state, hp, extra)
            body.set_state(f"{self.prefix}.state", new)
            return self.rule.read(g, new, qm, hp)
        at = g.where(self._position_is(0), state, body.state(f"{self.prefix}.at"))
        new = self.rule.write(g, state, km, vm, gates, at, hp, extra)
        fires = self._position_is(1)
        published = g.where(self._frequency_gate(x, fires), new, at) if self.cfg.gated(self.level) else new
        at_next = g.where(fires, published, at)
        body.set_state(f"{self.prefix}.state", g.where(fires, published, new))
        body.set_state(f"{self.prefix}.at", at_next)
        return self.rule.read(g, at_next, qm, hp)

    def _frequency_gate(self, x: str, fires: str) -> str:
        """MATH §6.2: adds x to the block's input sum (cleared where the block ends);
        bool: the gate on <freq_w, sum> / C + freq_b opens (pre > 0)."""
        g, name = self.g, f"{self.prefix}.sum"
        zeros = g.mul(x, g.const(0.0, "zero"))
        total = g.add(g.where(self._position_is(0), zeros, self.body.state(name)), x)
        self.body.set_state(name, g.where(fires, zeros, total))
        pre = g.add(g.div(g.op("ReduceSum", g.mul(self.weight("freq_w"), total), keepdims=0),
                          g.const(float(self.period), "period")), g.pick(self.weight("freq_b"), 0))
        return g.op("Greater", pre, g.const(0.0, "zero"))

    def pre_read(self, x: str) -> str:
        """MATH §4.4: the read before this token's write, with the query of x
        (convolved over the q stream's stored rows, which it leaves as they are)."""
        g, body = self.g, self.body
        qm = g.matmul(x, self.weight("wq"))
        if self.cfg.conv_kernel:
            taps = g.pick(body.weight(f"{self.prefix}.conv_taps"), 2)
            stored = g.pick(body.state(f"{self.prefix}.conv"), 2)
            window = g.op("Concat", stored, g.unsqueeze(qm, [0]), axis=0)
            qm = g.reduce_sum(g.mul(window, taps), [0])
        if self.cfg.qk_norm:
            qm = l2_normalize(g, qm)
        state = body.state(f"{self.prefix}.state")
        if has_block_start(self.cfg, self.level):
            state = g.where(self._position_is(0), state, body.state(f"{self.prefix}.at"))
        return self.rule.read(g, state, qm, self.cfg.memory_hp)


def memory_output(body, layer: int, x: str) -> str:
    """MATH §6.1: the reads of every level of block `layer` summed (1/sqrt(k) for k > 2)."""
    g, k = body.g, body.cfg.n_levels
    y = Level(body, layer, 0).step(x)
    for level in range(1, k):
        y = g.add(y, Level(body, layer, level).step(x))
    return g.mul(y, g.const(1.0 / math.sqrt(k), "inv_sqrt_k")) if k > 2 else y
