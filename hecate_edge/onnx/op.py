"""op_graph(): one memory rule's recurrence alone as an ONNX model, the twin of
hecate_edge.ops for one (batch, head) slice (docs/OPS.md conventions: q, k, v
(T, D), gates after their activations, read after the write; MATH §3), built
from the same per-rule graph builders as the exported model (rules/)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from hecate_edge.errors import OnnxUnsupported
from hecate_edge.onnx.export import IR_VERSION, OPSET, value_info
from hecate_edge.onnx.graph import GraphBuilder
from hecate_edge.onnx.rules import RULE_GRAPHS, rule_graph
from hecate_edge.reference.rules import resolve_params, rule_by_name, rule_tensor_specs


def op_graph(rule: str, d: int, params: dict | None = None) -> onnx.ModelProto:
    """Inputs `state` (the rule's state shape), `q`, `k`, `v` (T, D), then each gate (T,);
    outputs `o` (T, D) and `state_out`. Rules that own tensors or read the level input
    (ssm, trellis) are refused (ONNX_UNSUPPORTED_OP)."""
    module = rule_by_name(rule)
    hp = dict(zip(module.PARAM_NAMES, resolve_params(module, d, params)))
    if rule not in RULE_GRAPHS or rule_tensor_specs(module, d, hp) or getattr(module, "EXTRA_INPUTS", ()):
        raise OnnxUnsupported("ONNX_UNSUPPORTED_OP", f"rule {rule!r} has no op graph (it owns tensors or "
                                                     f"reads the level input)")
    gate_names = [name for name, _ in module.GATES]
    shape = module.init_state(d, hp).shape
    constants: dict = {}
    body = GraphBuilder("step/", constants)
    builder = rule_graph(rule, d)
    gates = {name: f"step/{name}" for name in gate_names}
    new = builder.write(body, "step/state", "step/k", "step/v", gates, "step/state", hp, {})
    body.op("Identity", new, outputs=["step/state_out"])
    body.op("Identity", builder.read(body, new, "step/q", hp), outputs=["step/o"])
    rows = [value_info(f"step/{n}", (d,), np.float32) for n in "qkv"]
    scalars = [value_info(gates[n], (), np.float32) for n in gate_names]
    step = helper.make_graph(body.nodes, "token_step", [value_info("step/state", shape, np.float32), *rows, *scalars],
                             [value_info("step/state_out", shape, np.float32), value_info("step/o", (d,), np.float32)])
    top = GraphBuilder("", constants)
    top.op("Scan", "state", "q", "k", "v", *gate_names, outputs=["state_out", "o"], body=step,
           num_scan_inputs=3 + len(gate_names))
    graph = helper.make_graph(
        top.nodes, f"hecate_edge_{rule}_op",
        [value_info("state", shape, np.float32)] + [value_info(n, ("T", d), np.float32) for n in "qkv"]
        + [value_info(n, ("T",), np.float32) for n in gate_names],
        [value_info("o", ("T", d), np.float32), value_info("state_out", shape, np.float32)],
        initializer=list(constants.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hecate_edge")
    model.ir_version = IR_VERSION
    return model
