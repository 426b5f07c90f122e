"""hecate_edge: run test-time-learning sequence models (memories that update by an
inner gradient step at every token) on CPUs, browsers and microcontrollers.

The C runtime is reached through :mod:`hecate_edge.runtime`; the numpy float64
reference (the executable spec) lives in :mod:`hecate_edge.reference`.
"""

from .config import ModelConfig

__all__ = ["ModelConfig", "__version__"]
__version__ = "0.1.0"
