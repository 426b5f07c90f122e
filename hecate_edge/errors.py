"""HecateError, the one exception type for a failed runtime call, shared by the
native binding (hecate_edge.runtime) and the Pyodide backend
(hecate_edge.wasm_backend); importable without numpy."""


class HecateError(RuntimeError):
    """A C runtime call returned a non-zero hecate_status.

    Attributes: status (int code), name (enum name, e.g. "HECATE_E_FILE_CRC"),
    message (text from hecate_status_str).
    """

    def __init__(self, status: int, name: str, message: str):
        super().__init__(message if message.startswith(name) else f"{name}: {message}")
        self.status = status
        self.name = name
        self.message = message

    def __reduce__(self):
        return (HecateError, (self.status, self.name, self.message))


class OnnxUnsupported(ValueError):
    """A model configuration the ONNX exporter does not cover (docs/ONNX.md);
    `name` says which feature, e.g. "ONNX_UNSUPPORTED_RULE"."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class OnnxStateError(ValueError):
    """A state blob or state dict that does not fit the model (hecate_edge.onnx.state)."""
