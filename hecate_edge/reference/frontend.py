"""Memory-level front end shared by all rules (MATH §3.1).

Projects x to the memory key, value and query, optionally L2-normalizes key and
query, and computes the rule's scalar gates from concat(km, vm).
"""
import numpy as np

from hecate_edge.reference.mathfn import l2_normalize, sigmoid, softplus

# MATH §3.1 "Bounded inner steps": the largest step a bounded gate gives
THETA_MAX = 1.0
# MATH §3.1: gate activations a rule may name in its GATES, and "bounded", what a
# softplus step gate becomes in a model with bounded steps (header flag bit 4)
GATE_ACTIVATIONS = {"sigmoid": sigmoid, "softplus": softplus, "identity": lambda pre: pre,
                    "bounded": lambda pre: THETA_MAX * sigmoid(pre)}


def project(level: dict[str, np.ndarray], x: np.ndarray, qk_norm: bool):
    """MATH §3.1: km = WKm x, vm = WVm x, qm = WQm x; km, qm L2-normalized if qk_norm."""
    km, vm, qm = x @ level["wk"], x @ level["wv"], x @ level["wq"]
    if qk_norm:
        km, qm = l2_normalize(km), l2_normalize(qm)
    return km, vm, qm


def gates(level: dict[str, np.ndarray], km: np.ndarray, vm: np.ndarray,
          gate_kinds: tuple[tuple[str, str], ...], bounded: bool = False) -> dict[str, float]:
    """MATH §3.1: gate_g = f_g(<gate_w[g], concat(km, vm)> + gate_b[g]) for each gate g;
    with ``bounded`` a softplus gate's f_g is THETA_MAX * sigmoid."""
    c = np.concatenate([km, vm])
    pre = level["gate_w"] @ c + level["gate_b"]
    kinds = ["bounded" if bounded and kind == "softplus" else kind for _, kind in gate_kinds]
    return {name: float(GATE_ACTIVATIONS[kind](pre[g])) for g, ((name, _), kind) in enumerate(zip(gate_kinds, kinds))}
