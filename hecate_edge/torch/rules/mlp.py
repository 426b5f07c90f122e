"""The MLP memories on torch tensors (MATH §3.5: MONETA, YAAD, MEMORA), batched:
state (B, 2, h, d) = (W1, W2^T); the inner gradient of the attentional bias at
`at` (norm-bounded for MONETA and YAAD), retention toward the rule's init
state W0 (L2 with lambda_2, the elastic net of MATH §3.8, or MEMORA's KL on
the simplex).  Autograd takes the
silu'' term of the BPTT by differentiating silu_grad."""
import functools
from types import SimpleNamespace

import torch

from hecate_edge.reference.rules import memora as ref_memora
from hecate_edge.reference.rules import mlp as ref_mlp
from hecate_edge.reference.rules import moneta as ref_moneta
from hecate_edge.reference.rules import yaad as ref_yaad
from hecate_edge.torch.mathfn import col, silu, silu_grad
from hecate_edge.reference.retention import elastic
from hecate_edge.torch.rules.retention import shrink


def apply(state: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """M(x) = silu(W1 x) W2 for each sequence."""
    return torch.einsum("bh,bhd->bd", silu(torch.einsum("bhd,bd->bh", state[:, 0], x)), state[:, 1])


def inner_grad(at: torch.Tensor, km: torch.Tensor, vm: torch.Tensor, bias) -> torch.Tensor:
    """(G1, G2^T) of the bias at k: G1[i] = (W2^T[i] . g) silu'(z_i) k, G2^T[i] = silu(z_i) g."""
    w1, w2t = at[:, 0], at[:, 1]
    z = torch.einsum("bhd,bd->bh", w1, km)
    hid = silu(z)
    g = bias(torch.einsum("bh,bhd->bd", hid, w2t) - vm)
    r = torch.einsum("bhd,bd->bh", w2t, g) * silu_grad(z)
    return torch.stack([r[:, :, None] * km[:, None, :], hid[:, :, None] * g[:, None, :]], 1)


def bound_grad(grad: torch.Tensor, bound: float) -> torch.Tensor:
    """MATH §3.5 (D51): G / sqrt(1 + ||G||^2 / c^2) per sequence, ||G|| over G1 and G2; c = 0: G."""
    if not bound:
        return grad
    return grad / torch.sqrt(1.0 + (grad * grad).sum((1, 2, 3), keepdim=True) / (bound * bound))


def prior(ref_rule, d: int, hp: dict, like: torch.Tensor) -> torch.Tensor:
    """The rule's init state W0 (MATH §3.5), where forgetting returns to (made once per device and dtype)."""
    return _prior(ref_rule, d, tuple(sorted((k, v) for k, v in hp.items() if k in ref_rule.PARAM_NAMES)),
                  like.dtype, like.device)


@functools.lru_cache(maxsize=32)
def _prior(ref_rule, d: int, hp: tuple, dtype, device) -> torch.Tensor:
    return torch.as_tensor(ref_rule.init_state(d, dict(hp)), dtype=dtype, device=device)


def l2_step(state, grad, gates, lambda_2: float, w0, hp) -> torch.Tensor:
    """W' = W0 + (1 - alpha)(W - W0) - theta (G + 2 lambda_2 W), then the elastic net's shrink toward W0."""
    alpha, theta = col(gates["alpha"], 4), col(gates["theta"], 4)
    new = (1.0 - alpha - 2.0 * theta * lambda_2) * state + alpha * w0 - theta * grad
    lambda_1 = elastic(hp)
    return shrink(new, w0, lambda_1 * gates["theta"]) if lambda_1 else new


def kl_step(state, grad, gates, w0) -> torch.Tensor:
    """w' = softmax((1 - alpha) log w + alpha log w0 - theta g) per simplex vector: rows of W1, columns of W2^T."""
    alpha = col(gates["alpha"], 4)
    floor = ref_mlp.LOG_FLOOR
    pre = (1.0 - alpha) * torch.log(torch.clamp_min(state, floor)) + alpha * torch.log(torch.clamp_min(w0, floor)) \
        - col(gates["theta"], 4) * grad
    return torch.stack([torch.softmax(pre[:, 0], dim=2), torch.softmax(pre[:, 1], dim=1)], 1)


def lp_bias(e: torch.Tensor, p: float) -> torch.Tensor:
    if p == 2.0:
        return 2.0 * e
    return p * torch.tanh(ref_moneta.SHARPNESS * e) * (e * e + ref_moneta.LP_EPS) ** ((p - 1.0) / 2.0)


def huber_bias(e: torch.Tensor, delta: float) -> torch.Tensor:
    return torch.where(torch.abs(e) < delta, e, delta * torch.sign(e) + (e - e))  # NaN for an infinite e (D80)


def _l2_rule(ref_rule, bias):
    def write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
        grad = bound_grad(inner_grad(at, km, vm, lambda e: bias(e, hp)), hp["grad_bound"])
        new = l2_step(state, grad, gates, hp["lambda_2"], prior(ref_rule, km.shape[1], hp, state), hp)
        return new, apply(new, qm)
    return SimpleNamespace(write_read=write_read, read=lambda s, q, hp: apply(s, q))


def memora_write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None):
    """KL step (or the chosen L2 / elastic-net step) on the L2 bias gradient (g = e) at `at`."""
    grad = inner_grad(at, km, vm, lambda e: e)
    w0 = prior(ref_memora, km.shape[1], hp, state)
    if hp.get("retention", ref_memora.RETENTION) == "kl":
        new = kl_step(state, grad, gates, w0)
    else:
        new = l2_step(state, grad, gates, 0.0, w0, hp)
    return new, apply(new, qm)


RULES = {
    "moneta": _l2_rule(ref_moneta, lambda e, hp: lp_bias(e, hp["p"])),
    "yaad": _l2_rule(ref_yaad, lambda e, hp: huber_bias(e, hp["delta"])),
    "memora": SimpleNamespace(write_read=memora_write_read, read=lambda s, q, hp: apply(s, q)),
}
