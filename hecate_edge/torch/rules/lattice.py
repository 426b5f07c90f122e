"""Lattice OSR on torch tensors (MATH §3.7), batched: state (B, m, d) of unit
slots; per slot a tangent write beta sigmoid(<a, k>) v (a: the slot of `at`),
renormalized (a slot whose norm falls to 1e-8 or below keeps its old value);
the read is softmax(S q) S."""
import torch

from hecate_edge.reference.rules import lattice as ref
from hecate_edge.torch.mathfn import col


def write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    score = torch.sigmoid(torch.einsum("bmd,bd->bm", at, km))
    step = col(gates["beta"], 3) * score[:, :, None] * vm[:, None, :]
    s_un = state + step - torch.sum(at * step, dim=2, keepdim=True) * at
    norm = torch.sqrt(torch.sum(s_un * s_un, dim=2, keepdim=True))
    big = norm > ref.NORM_FLOOR
    new = torch.where(big, s_un / torch.where(big, norm, torch.ones_like(norm)), state)
    return new, read(new, qm, hp)


def read(state, qm, hp=None):
    p = torch.softmax(torch.einsum("bmd,bd->bm", state, qm), dim=1)
    return torch.einsum("bm,bmd->bd", p, state)
