"""hecate_edge: run test-time-learning sequence models (memories that update by an
inner gradient step at every token) on CPUs, browsers and microcontrollers.

The C runtime is reached through :mod:`hecate_edge.runtime`; the numpy float64
reference (the executable spec) lives in :mod:`hecate_edge.reference`.
"""

__all__ = ["ModelConfig", "__version__"]
__version__ = "0.1.0"


def __getattr__(name):
    # ModelConfig is imported on first use: the package itself needs no numpy,
    # so hecate_edge.wasm_backend runs inside Pyodide without it.
    if name == "ModelConfig":
        from .config import ModelConfig

        return ModelConfig
    raise AttributeError(f"module 'hecate_edge' has no attribute {name!r}")
