"""The selective SSM on torch tensors (MATH §3.10), batched: state h (B, d, N);
Delta = softplus(delta + dt_bias), h' = exp(-Delta exp(A_log)) h + Delta (v k[:N]),
y = h' q[:N].  The rule's own tensors (A_log, dt_bias) are model parameters."""
import torch

from hecate_edge.torch.mathfn import softplus


def write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    n = state.shape[2]
    dt = softplus(gates["delta"][:, None] + tensors["dt_bias"][None, :])
    decay = torch.exp(-dt[:, :, None] * torch.exp(tensors["A_log"])[None])
    new = decay * state + (dt * vm)[:, :, None] * km[:, None, :n]
    return new, read(new, qm, hp)


def read(state, qm, hp=None):
    return torch.einsum("bdn,bn->bd", state, qm[:, :state.shape[2]])
