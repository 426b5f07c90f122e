"""The elastic net of MATH §3.8 on torch tensors: a shrink toward a prior after
an L2 step, with a per-sequence threshold (the torch twin of reference/retention.py)."""
import torch

from hecate_edge.torch.mathfn import col


def shrink(w: torch.Tensor, prior, thr: torch.Tensor) -> torch.Tensor:
    """prior + sign(w - prior) max(|w - prior| - thr, 0), thr (B,) per sequence."""
    x = w - prior
    t = col(thr, w.dim())
    return torch.where(x > t, prior + (x - t), torch.where(x < -t, prior + (x + t), prior + 0.0 * x))
