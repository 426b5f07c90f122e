"""Memory-level front end shared by all rules (MATH §3.1).

Projects x to the memory key, value and query, optionally L2-normalizes key and
query, and computes the rule's scalar gates from concat(km, vm).
"""
import numpy as np

from hecate_edge.reference.mathfn import l2_normalize, sigmoid, softplus

# MATH §3.1: gate activations a rule may name in its GATES.
GATE_ACTIVATIONS = {"sigmoid": sigmoid, "softplus": softplus, "identity": lambda pre: pre}


def project(level: dict[str, np.ndarray], x: np.ndarray, qk_norm: bool):
    """MATH §3.1: km = WKm x, vm = WVm x, qm = WQm x; km, qm L2-normalized if qk_norm."""
    km, vm, qm = x @ level["wk"], x @ level["wv"], x @ level["wq"]
    if qk_norm:
        km, qm = l2_normalize(km), l2_normalize(qm)
    return km, vm, qm


def gates(level: dict[str, np.ndarray], km: np.ndarray, vm: np.ndarray,
          gate_kinds: tuple[tuple[str, str], ...]) -> dict[str, float]:
    """MATH §3.1: gate_g = f_g(<gate_w[g], concat(km, vm)> + gate_b[g]) for each gate g."""
    c = np.concatenate([km, vm])
    pre = level["gate_w"] @ c + level["gate_b"]
    return {name: float(GATE_ACTIVATIONS[kind](pre[g])) for g, (name, kind) in enumerate(gate_kinds)}
