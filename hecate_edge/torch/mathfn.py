"""Scalar and vector functions of docs/MATH.md notation on torch tensors (any
dtype, any device): the torch twin of hecate_edge/reference/mathfn.py.

softplus is the exact form of MATH notation (no threshold); l2_normalize is
the qk-norm of MATH §3.1 over the last axis; silu and its derivative serve
the MLP rules (MATH §3.5); ns_iterate is Newton-Schulz (MATH §3.6).
"""
import torch

from hecate_edge.reference.mathfn import L2_EPS, NS_COEFFS


def softplus(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0) + log1p(e^-|x|), exact for all x."""
    return torch.clamp_min(x, 0.0) + torch.log1p(torch.exp(-torch.abs(x)))


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """MATH §3.1: x / max(||x||, 1e-8) over the last axis."""
    return x / torch.clamp_min(torch.linalg.vector_norm(x, dim=-1, keepdim=True), L2_EPS)


def safe_unit(x: torch.Tensor, floor: float) -> torch.Tensor:
    """x / ||x|| over the last axis where ||x|| > floor, else 0 (Trellis' feature map, MATH §3.9);
    the division never sees a zero norm, so no NaN reaches the gradient."""
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    big = norm > floor
    return torch.where(big, x / torch.where(big, norm, torch.ones_like(norm)), torch.zeros_like(x))


def silu(z: torch.Tensor) -> torch.Tensor:
    return z * torch.sigmoid(z)


def silu_grad(z: torch.Tensor) -> torch.Tensor:
    """silu'(z) = s (1 + z (1 - s)); autograd differentiates it again (the silu'' term of MATH §3.5)."""
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def ns_iterate(x: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` quintic Newton-Schulz iterations X <- a X + (b A + c A^2) X, A = X X^T (batched)."""
    a, b, c = NS_COEFFS
    for _ in range(steps):
        gram = x @ x.transpose(-1, -2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x


def col(g: torch.Tensor, ndim: int) -> torch.Tensor:
    """A per-sequence scalar (B,) shaped to broadcast against a (B, ...) tensor of `ndim` dims."""
    return g.reshape(g.shape + (1,) * (ndim - 1))
