"""export(): a model file as one stateful ONNX graph (docs/ONNX.md): inputs
`tokens` then the state tensors (state.state_specs), outputs `logits` then
the same tensors as `<name>_out`; the time loop is a Scan (inside an If
that passes the state through for an empty call) whose body is one token
of MATH §1-§4 (compositions from compose.py, memory levels from level.py,
rules from rules/). int8 tensors stay int8 behind DequantizeLinear.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from hecate_edge.config import ModelConfig
from hecate_edge.errors import OnnxUnsupported
from hecate_edge.onnx.compose import COMPOSITION_GRAPHS
from hecate_edge.onnx.graph import FLOAT, INT64, GraphBuilder
from hecate_edge.onnx.rules import RULE_GRAPHS
from hecate_edge.onnx.state import load_model_file, state_specs
from hecate_edge.quantize import quantize_rows
from hecate_edge.reference.mathfn import softmax
from hecate_edge.reference.rules import rule_by_name, rule_tensor_specs

OPSET = 17
IR_VERSION = 8  # read by onnxruntime 1.14 and later, onnxruntime-web included
ONNX_TYPES = {np.float32: FLOAT, np.int64: INT64}


def check_exportable(cfg: ModelConfig) -> None:
    """Raise OnnxUnsupported naming the first feature of cfg the exporter does not cover."""
    if cfg.rule not in RULE_GRAPHS:
        raise OnnxUnsupported("ONNX_UNSUPPORTED_RULE", f"rule {cfg.rule!r} has no ONNX graph yet "
                                                       f"(exported: {sorted(RULE_GRAPHS)})")
    if cfg.composition not in COMPOSITION_GRAPHS:
        raise OnnxUnsupported("ONNX_UNSUPPORTED_COMPOSITION", f"composition {cfg.composition!r}")


class Weights:
    """Values of the top-level graph holding each weight (float32 initializers,
    or DequantizeLinear of int8 ones) and the few tensors derived from them."""

    def __init__(self, top: GraphBuilder, params: dict, int8: set[str]):
        self.top, self.params, self.int8 = top, params, int8
        self._values: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._values:
            self._values[name] = self._make(name)
        return self._values[name]

    def _make(self, name: str) -> str:
        top, params = self.top, self.params
        prefix, _, leaf = name.rpartition(".")
        if leaf == "wkvq":  # MATH §3.1: the three projections side by side, (d, 3d)
            parts = [f"{prefix}.w{s}" for s in "kvq"]
            if any(p in self.int8 for p in parts):
                return top.op("Concat", *(self(p) for p in parts), axis=1)
            return top.const(np.concatenate([params[p] for p in parts], axis=1), name)
        if leaf == "gate_w_t":
            return top.const(params[f"{prefix}.gate_w"].T, name)
        if leaf == "conv_taps":  # (3, K, d): k, v, q streams
            return top.const(np.stack([params[f"{prefix}.conv_{s}"] for s in "kvq"]), name)
        if leaf.endswith("_softmax"):  # MATH §4.4: the level mixes
            return top.const(softmax(params[f"{prefix}.{leaf[:-len('_softmax')]}"]), name)
        if name in self.int8:
            scales, values = quantize_rows(params[name])
            return top.op("DequantizeLinear", top.const(values, name + ".q", np.int8),
                          top.const(scales, name + ".scale"),
                          top.const(np.zeros(len(scales)), name + ".zero", np.int8), axis=0)
        return top.const(params[name], name)


class BodyContext:
    """What the per-token builders share: the loop body's builder, the config,
    the weights, the position and the current value of every state tensor."""

    def __init__(self, g: GraphBuilder, cfg: ModelConfig, weights: Weights, inputs: dict[str, str]):
        self.g, self.cfg, self.weight = g, cfg, weights
        self.position = inputs["position"]
        self._state = dict(inputs)
        self.rule_tensor_names = [n for n, _ in rule_tensor_specs(rule_by_name(cfg.rule), cfg.d_model, cfg.rule_hp)]

    def state(self, name: str) -> str:
        return self._state[name]

    def set_state(self, name: str, value: str) -> None:
        self._state[name] = value


def value_info(name: str, shape, dtype) -> onnx.ValueInfoProto:
    """A typed graph input or output (a str in shape is a dynamic dimension)."""
    return helper.make_tensor_value_info(name, ONNX_TYPES[dtype], list(shape))


def build_graph(cfg: ModelConfig, params: dict, int8: set[str]) -> onnx.ModelProto:
    """The stateful ONNX model of cfg with these float64 weights (int8: names stored as int8)."""
    check_exportable(cfg)
    constants: dict = {}
    top = GraphBuilder("", constants)
    weights = Weights(top, params, int8)
    specs = state_specs(cfg)
    body = GraphBuilder("loop/", constants)
    ctx = BodyContext(body, cfg, weights, {name: f"loop/{name}" for name, _, _ in specs})
    token = "loop/token"
    h = body.op("Gather", weights("emb"), token, axis=0)                       # MATH §1
    compose = COMPOSITION_GRAPHS[cfg.composition]
    for layer in range(cfg.n_layers):                                          # MATH §4.3
        p = compose(ctx, layer, h)
        if layer < cfg.n_layers - 1:
            h = body.add(h, p)
    body.op("MatMul", p, weights("head"), outputs=["loop/logits"])            # MATH §4
    ctx.set_state("position", body.add(ctx.position, body.ints(1, "one")))
    for name, _, _ in specs:
        body.op("Identity", ctx.state(name), outputs=[f"loop/{name}_out"])
    body_graph = helper.make_graph(
        body.nodes, "token_step",
        [value_info(f"loop/{n}", s, t) for n, s, t in specs] + [value_info(token, (), np.int64)],
        [value_info(f"loop/{n}_out", s, t) for n, s, t in specs]
        + [value_info("loop/logits", (cfg.vocab,), np.float32)])
    outputs = [value_info(f"{n}_out", s, t) for n, s, t in specs]
    logits = value_info("logits", ("T", cfg.vocab), np.float32)
    scan = GraphBuilder("scan/", constants)
    scan.op("Scan", *(name for name, _, _ in specs), "tokens", outputs=[f"scan/{n}_out" for n, _, _ in specs]
            + ["scan/logits"], body=body_graph, num_scan_inputs=1)
    empty = GraphBuilder("empty/", constants)  # onnxruntime's Scan refuses a sequence of length 0
    for name, _, _ in specs:
        empty.op("Identity", name, outputs=[f"empty/{name}_out"])
    empty.op("Identity", empty.const(np.zeros((0, cfg.vocab)), "no_logits"), outputs=["empty/logits"])
    branches = {}
    for branch, builder in (("then_branch", scan), ("else_branch", empty)):
        prefix = builder.prefix
        branches[branch] = helper.make_graph(
            builder.nodes, prefix.rstrip("/"), [],
            [value_info(f"{prefix}{n}_out", s, t) for n, s, t in specs]
            + [value_info(f"{prefix}logits", ("T", cfg.vocab), np.float32)])
    has_tokens = top.op("Greater", top.op("Size", "tokens"), top.ints(0, "zero"))
    top.op("If", has_tokens, outputs=[f"{n}_out" for n, _, _ in specs] + ["logits"], **branches)
    graph = helper.make_graph(
        top.nodes, "hecate_edge",
        [value_info("tokens", ("T",), np.int64)] + [value_info(n, s, t) for n, s, t in specs],
        [logits] + outputs,
        initializer=list(constants.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hecate_edge")
    model.ir_version = IR_VERSION
    return model


def export(model, out=None) -> onnx.ModelProto:
    """The ONNX model of a model file (path, bytes or runtime.Model); written to `out` when given.
    Raises OnnxUnsupported for a configuration not covered (docs/ONNX.md)."""
    cfg, params, header = load_model_file(model)
    a16 = [e["name"] for e in header["tensors"] if e["dtype"] == "i8a16"]
    if a16:
        raise OnnxUnsupported("ONNX_UNSUPPORTED_DTYPE", f"{', '.join(a16)}: int8 with int16 activations (w8a16, "
                                                        "MATH §1.1) has no ONNX export; export the file quantized "
                                                        "as int8 or float")
    int8 = {e["name"] for e in header["tensors"] if e["dtype"] == "i8"}
    proto = build_graph(cfg, params, int8)
    if out is not None:
        from hecate_edge.atomic import write_bytes

        write_bytes(out, proto.SerializeToString())
    return proto
