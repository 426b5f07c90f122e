"""Trellis on torch tensors (MATH §3.9), batched: state (B, 2 d_k d) = S_K (d_k, d)
then S_V (d, d_k); two compression passes on the normalized level input x
(errors at `at`'s matrices, decay on the state's), then y = S_V' nsilu(S_K' q)."""
import torch

from hecate_edge.reference.rules import trellis as ref
from hecate_edge.torch.mathfn import col, l2_normalize, safe_unit, silu
from hecate_edge.torch.rules.matrix import retain


def _split(state, d: int, dk: int):
    B = state.shape[0]
    return state[:, :dk * d].reshape(B, dk, d), state[:, dk * d:].reshape(B, d, dk)


def nsilu(a: torch.Tensor) -> torch.Tensor:
    """silu(a) / ||silu(a)||, 0 where that norm is <= 1e-8."""
    return safe_unit(silu(a), ref.NORM_FLOOR)


def write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    x = l2_normalize(km if x is None else x)
    d, dk = km.shape[1], int(hp["d_k"])
    sk, sv = _split(state, d, dk)
    ak, av = _split(at, d, dk)
    keep, theta = col(1.0 - gates["alpha"], 3), col(gates["theta"], 3)
    e_k = torch.einsum("bkd,bd->bk", ak, x) - km[:, :dk]
    sk_next = retain((keep - theta * hp["lambda_k"]) * sk - theta * e_k[:, :, None] * x[:, None, :], gates, hp)
    c = nsilu(torch.einsum("bkd,bd->bk", sk_next, x))
    e_v = torch.einsum("bdk,bk->bd", av, c) - vm
    sv_next = retain((keep - theta * hp["lambda_v"]) * sv - theta * e_v[:, :, None] * c[:, None, :], gates, hp)
    new = torch.cat([sk_next.reshape(state.shape[0], -1), sv_next.reshape(state.shape[0], -1)], 1)
    return new, read(new, qm, hp)


def read(state, qm, hp):
    sk, sv = _split(state, qm.shape[1], int(hp["d_k"]))
    return torch.einsum("bdk,bk->bd", sv, nsilu(torch.einsum("bkd,bd->bk", sk, qm)))
