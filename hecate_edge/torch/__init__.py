"""hecate_edge.torch: the model in PyTorch (the optional extra ``[torch]``):
HecateLM (an nn.Module whose parameters are the model file's tensors), its
State, the per-rule autograd Functions over the runtime's ops, and the
trainer behind ``hecate-edge train --engine torch``.  docs/TORCH.md."""
try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("hecate_edge.torch needs PyTorch: pip install 'hecate-edge[torch]'") from exc

from hecate_edge.torch.model import HecateLM  # noqa: E402
from hecate_edge.torch.state import State  # noqa: E402

__all__ = ["HecateLM", "State"]
