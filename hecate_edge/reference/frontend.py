"""Memory-level front end shared by all rules (MATH §3.1).

Projects x to the memory key, value and query, optionally runs a short causal
depthwise convolution over each projection's stream, optionally L2-normalizes
key and query, and computes the rule's scalar gates from concat(km, vm).
"""
import numpy as np

from hecate_edge.config import CONV_STREAMS as STREAMS  # the convolved projections, in state order
from hecate_edge.reference.mathfn import l2_normalize, sigmoid, softplus

# MATH §3.1 "Bounded inner steps": the largest step a bounded gate gives
THETA_MAX = 1.0
# MATH §3.1: gate activations a rule may name in its GATES, and "bounded", what a
# softplus step gate becomes in a model with bounded steps (header flag bit 4)
GATE_ACTIVATIONS = {"sigmoid": sigmoid, "softplus": softplus, "identity": lambda pre: pre,
                    "bounded": lambda pre: THETA_MAX * sigmoid(pre)}


def projections(level: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """MATH §3.1: the rows (x WKm, x WVm, x WQm), (3, d): the convolution's input."""
    return np.stack([x @ level[f"w{s}"] for s in STREAMS])


def convolve(taps: np.ndarray, history: np.ndarray, row: np.ndarray) -> np.ndarray:
    """MATH §3.1: sum_j taps[j] * window[j] over the window (K, d) = history
    (K-1 earlier rows, oldest first) then `row`: tap K-1 weighs the current token."""
    window = np.concatenate([history, row[None]])
    out = taps[0] * window[0]
    for j in range(1, len(window)):  # in tap order, as the C runtime sums
        out = out + taps[j] * window[j]
    return out


def shift(history: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """MATH §3.1: the convolution state after a token: each stream's last K-1
    pre-convolution rows, `rows` (3, d) the newest."""
    return np.concatenate([history[:, 1:], rows[:, None]], axis=1)


def project(level: dict[str, np.ndarray], x: np.ndarray, qk_norm: bool, history: np.ndarray | None = None):
    """MATH §3.1: km = WKm x, vm = WVm x, qm = WQm x, each convolved with its
    earlier rows when `history` (3, K-1, d) is given; km, qm L2-normalized if qk_norm."""
    rows = projections(level, x)
    if history is not None:
        rows = [convolve(level[f"conv_{s}"], h, r) for s, h, r in zip(STREAMS, history, rows)]
    km, vm, qm = rows
    if qk_norm:
        km, qm = l2_normalize(km), l2_normalize(qm)
    return km, vm, qm


def query(level: dict[str, np.ndarray], x: np.ndarray, qk_norm: bool, history: np.ndarray | None = None):
    """MATH §3.1, §4.4: qm of x alone (MAC's read before the write), convolved
    with the q stream's earlier rows when `history` is given; normalized if qk_norm."""
    qm = x @ level["wq"]
    if history is not None:
        qm = convolve(level["conv_q"], history[2], qm)
    return l2_normalize(qm) if qk_norm else qm


def gates(level: dict[str, np.ndarray], km: np.ndarray, vm: np.ndarray,
          gate_kinds: tuple[tuple[str, str], ...], bounded: bool = False) -> dict[str, float]:
    """MATH §3.1: gate_g = f_g(<gate_w[g], concat(km, vm)> + gate_b[g]) for each gate g;
    with ``bounded`` a softplus gate's f_g is THETA_MAX * sigmoid."""
    c = np.concatenate([km, vm])
    pre = level["gate_w"] @ c + level["gate_b"]
    kinds = ["bounded" if bounded and kind == "softplus" else kind for _, kind in gate_kinds]
    return {name: float(GATE_ACTIVATIONS[kind](pre[g])) for g, ((name, _), kind) in enumerate(zip(gate_kinds, kinds))}
