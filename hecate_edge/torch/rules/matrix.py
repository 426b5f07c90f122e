"""The matrix-memory rules on torch tensors (MATH §3.2 delta, §3.3 titans,
§3.4 hebbian, §3.6 atlas), batched: states (B, ...) in the reference's layout
(S = M^T, row-vector form y = q S), gates (B,).  Retention: L2 decay, and the
elastic net of MATH §3.8 on the d x d memory just written."""
from types import SimpleNamespace

import torch

from hecate_edge.reference.rules import atlas as ref_atlas
from hecate_edge.torch.mathfn import col, ns_iterate
from hecate_edge.reference.retention import elastic
from hecate_edge.torch.rules.retention import shrink


def read_matrix(s: torch.Tensor, qm: torch.Tensor) -> torch.Tensor:
    """y = q S for (B, d) q and (B, d, d) S."""
    return torch.einsum("bi,bij->bj", qm, s)


def outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[:, :, None] * b[:, None, :]


def retain(memory: torch.Tensor, gates: dict, hp: dict) -> torch.Tensor:
    """MATH §3.8: the elastic net's shrink by lambda_1 theta (theta = 1 without a step size), else as is."""
    lambda_1 = elastic(hp)
    if not lambda_1:
        return memory
    theta = gates.get("theta", torch.ones(memory.shape[0], dtype=memory.dtype, device=memory.device))
    return shrink(memory, 0.0, lambda_1 * theta)


def delta_write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    """MATH §3.2: S' = (1 - alpha) S - theta k^T (k S_at - v); y = q S'."""
    e = read_matrix(at, km) - vm
    new = col(1.0 - gates["alpha"], 3) * state - col(gates["theta"], 3) * outer(km, e)
    new = retain(new, gates, hp)
    return new, read_matrix(new, qm)


def hebbian_write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    """MATH §3.4: S' = (1 - alpha) S + k^T v; y = q S'."""
    new = retain(col(1.0 - gates["alpha"], 3) * state + outer(km, vm), gates, hp)
    return new, read_matrix(new, qm)


def titans_write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    """MATH §3.3: Z' = eta Z - theta k^T (k M_at - v); M' = (1 - alpha) M + Z'; y = q M'.  State (B, 2, d, d)."""
    m, z = state[:, 0], state[:, 1]
    e = read_matrix(at[:, 0], km) - vm
    z_next = col(gates["eta"], 3) * z - col(gates["theta"], 3) * outer(km, e)
    m_next = retain(col(1.0 - gates["alpha"], 3) * m + z_next, gates, hp)
    return torch.stack([m_next, z_next], 1), read_matrix(m_next, qm)


def _atlas_split(state: torch.Tensor, d: int, c: int):
    dd = d * d
    B = state.shape[0]
    return (state[:, :dd].reshape(B, d, d), state[:, dd:2 * dd].reshape(B, d, d),
            state[:, 2 * dd:2 * dd + c * d].reshape(B, c, d), state[:, 2 * dd + c * d:].reshape(B, c, d))


def atlas_write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    """MATH §3.6: the window takes (k, v); Z' = eta Z - theta K^T (K M_at - V) (Newton-Schulz form:
    Z' = eta Z + K^T E, M' = (1 - alpha) M - theta NS(Z')); M' = (1 - alpha) M + Z'; y = q M'."""
    d, c = km.shape[1], int(hp["window"])
    B = state.shape[0]
    m, z, keys, values = _atlas_split(state, d, c)
    m_at = _atlas_split(at, d, c)[0]
    keys = torch.cat([keys[:, 1:], km[:, None]], 1)
    values = torch.cat([values[:, 1:], vm[:, None]], 1)
    grad = keys.transpose(1, 2) @ (keys @ m_at - values)
    steps = int(hp.get("ns_steps", 0))
    keep = col(1.0 - gates["alpha"], 3)
    if steps:
        z_next = col(gates["eta"], 3) * z + grad
        norm = torch.linalg.matrix_norm(z_next)
        unit = z_next / col(norm + ref_atlas.NS_EPS, 3)
        m_next = keep * m - col(gates["theta"], 3) * ns_iterate(unit, steps)
    else:
        z_next = col(gates["eta"], 3) * z - col(gates["theta"], 3) * grad
        m_next = keep * m + z_next
    m_next = retain(m_next, gates, hp)
    new = torch.cat([m_next.reshape(B, -1), z_next.reshape(B, -1), keys.reshape(B, -1), values.reshape(B, -1)], 1)
    return new, read_matrix(m_next, qm)


def _first(state: torch.Tensor, qm: torch.Tensor) -> torch.Tensor:
    d = qm.shape[1]
    return read_matrix(state.reshape(state.shape[0], -1)[:, :d * d].reshape(-1, d, d), qm)


RULES = {
    "delta": SimpleNamespace(write_read=delta_write_read, read=lambda s, q, hp: read_matrix(s, q)),
    "hebbian": SimpleNamespace(write_read=hebbian_write_read, read=lambda s, q, hp: read_matrix(s, q)),
    "titans": SimpleNamespace(write_read=titans_write_read, read=lambda s, q, hp: _first(s, q)),
    "atlas": SimpleNamespace(write_read=atlas_write_read, read=lambda s, q, hp: _first(s, q)),
}
