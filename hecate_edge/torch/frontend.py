"""Memory-level front end on torch tensors (MATH §3.1), over a whole call's
tokens at once: projections, the short causal convolution with its carried
rows, the q/k L2 normalization and the rule's gates.  The torch twin of
hecate_edge/reference/frontend.py; x is (B, T, d)."""
import torch

from hecate_edge.reference.frontend import THETA_MAX
from hecate_edge.torch.mathfn import l2_normalize, softplus

GATE_ACTIVATIONS = {"sigmoid": torch.sigmoid, "softplus": softplus, "identity": lambda pre: pre,
                    "bounded": lambda pre: THETA_MAX * torch.sigmoid(pre)}


def convolve(taps: torch.Tensor, history: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """MATH §3.1: out_t = sum_j taps[j] * window_t[j], summed in tap order, the window being
    the K-1 earlier rows (history (B, K-1, d) then rows (B, T, d)) and row t (tap K-1)."""
    window = torch.cat([history, rows], 1)
    T = rows.shape[1]
    out = taps[0] * window[:, 0:T]
    for j in range(1, taps.shape[0]):
        out = out + taps[j] * window[:, j:j + T]
    return out


def project(level, x: torch.Tensor, qk_norm: bool, conv: torch.Tensor | None):
    """(km, vm, qm, conv'): the projections of x, convolved over their streams when conv
    (B, 3, K-1, d) is given (conv': the last K-1 pre-convolution rows), km and qm normalized
    when qk_norm.  The three streams go through one matrix product and one windowed product."""
    B, T, d = x.shape
    rows = (x @ torch.cat([level.wk, level.wv, level.wq], 1)).reshape(B, T, 3, d).transpose(1, 2)  # (B, 3, T, d)
    new_conv = None
    if conv is not None:
        window = torch.cat([conv, rows], 2)                                  # (B, 3, K-1+T, d)
        new_conv = window[:, :, T:]
        taps = torch.stack([level.conv_k, level.conv_v, level.conv_q])       # (3, K, d)
        rows = torch.einsum("bstdk,skd->bstd", window.unfold(2, taps.shape[1], 1), taps)
    if qk_norm:  # km and qm in one pass
        kq = l2_normalize(rows[:, 0::2])
        return kq[:, 0], rows[:, 1], kq[:, 1], new_conv
    km, vm, qm = rows.unbind(1)
    return km, vm, qm, new_conv


def query(level, x: torch.Tensor, qk_norm: bool, conv: torch.Tensor | None) -> torch.Tensor:
    """MATH §3.1, §4.4: qm of x alone (MAC's read before the write), convolved with the q
    stream's earlier rows when conv is given, which it leaves as it is."""
    qm = x @ level.wq
    if conv is not None:
        qm = convolve(level.conv_q, conv[:, 2], qm)
    return l2_normalize(qm) if qk_norm else qm


def gates(level, km: torch.Tensor, vm: torch.Tensor, gate_kinds, bounded: bool) -> dict[str, torch.Tensor]:
    """MATH §3.1: gate_g = f_g(<gate_w[g], concat(km, vm)> + gate_b[g]), each (B, T);
    with `bounded` a softplus gate is THETA_MAX * sigmoid."""
    pre = torch.cat([km, vm], -1) @ level.gate_w.T + level.gate_b
    out = {}
    for g, (name, kind) in enumerate(gate_kinds):
        kind = "bounded" if bounded and kind == "softplus" else kind
        out[name] = GATE_ACTIVATIONS[kind](pre[..., g])
    return out
