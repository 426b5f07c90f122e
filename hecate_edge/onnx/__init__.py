"""ONNX export of a hecate_edge model as one stateful graph, and the state
tensors a caller hands from one call to the next (docs/ONNX.md). Needs the
`onnx` extra (pip install 'hecate-edge[onnx]')."""
try:
    import onnx  # noqa: F401
except ImportError as err:  # the extra is not installed
    raise ImportError("hecate_edge.onnx needs the onnx package: pip install 'hecate-edge[onnx]'") from err

from hecate_edge.errors import OnnxStateError, OnnxUnsupported
from hecate_edge.onnx.export import check_exportable, export
from hecate_edge.onnx.op import op_graph
from hecate_edge.onnx.state import initial_state, state_from_blob, state_specs, state_to_blob

__all__ = ["OnnxStateError", "OnnxUnsupported", "check_exportable", "export", "initial_state", "op_graph",
           "state_from_blob", "state_specs", "state_to_blob"]
