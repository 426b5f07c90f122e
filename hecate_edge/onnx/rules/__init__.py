"""Registry of the per-rule graph builders, mirroring hecate_edge/reference/rules/:
RULE_GRAPHS maps a rule name to the factory of its builder (rules/base.py
RuleGraph) for a model width d. A rule missing here is refused by name
(errors.OnnxUnsupported, ONNX_UNSUPPORTED_RULE)."""
from __future__ import annotations

from functools import partial

from hecate_edge.onnx.rules.base import RuleGraph
from hecate_edge.onnx.rules.lattice import Lattice
from hecate_edge.onnx.rules.matrix import Atlas, Delta, Hebbian, Titans
from hecate_edge.onnx.rules.mlp import MlpMemory, Moneta, Yaad
from hecate_edge.onnx.rules.ssm import SelectiveSSM
from hecate_edge.onnx.rules.trellis import Trellis
from hecate_edge.reference.rules import memora, moneta, yaad

RULE_GRAPHS = {
    "delta": Delta, "titans": Titans, "hebbian": Hebbian, "atlas": Atlas,
    "moneta": partial(Moneta, rule=moneta), "yaad": partial(Yaad, rule=yaad), "memora": partial(MlpMemory, rule=memora),
    "lattice": Lattice, "trellis": Trellis, "ssm": SelectiveSSM,
}


def rule_graph(name: str, d: int) -> RuleGraph:
    """The builder of rule `name` at width d (KeyError when there is none: check_exportable refuses first)."""
    return RULE_GRAPHS[name](d)
