"""Retention choices of a memory (MATH §3.8): their file ids and the elastic net.

L2 decay, KL on the simplex and the sphere projection are written inside the
rules that use them (their math is the rule's update); the elastic net is a
step after any L2 update, so it lives here once.
"""
import numpy as np

# docs/FORMAT.md header "retention id"; 0 in a file means the rule's default.
RETENTION_IDS: dict[str, int] = {"l2": 1, "kl": 2, "elastic_net": 3, "sphere": 4}
RETENTION_NAMES: dict[int, str] = {i: name for name, i in RETENTION_IDS.items()}


def shrink(w: np.ndarray, prior, thr: float) -> np.ndarray:
    """MATH §3.8 elastic net: prior + sign(w - prior) max(|w - prior| - thr, 0)."""
    x = w - prior
    return np.where(x > thr, prior + (x - thr), np.where(x < -thr, prior + (x + thr), prior + 0.0 * x))


def resolve(rule, name: str | None, param: float | None) -> tuple[str, float]:
    """(retention name, parameter) of `rule` (a rule module): None picks the
    rule's default retention / its ELASTIC_LAMBDA_1 for the elastic net; the
    parameter is rounded to float32 as the file stores it.  ValueError with
    the reason when the rule does not take the retention or the parameter is
    invalid (the C reader's HECATE_E_FILE_RETENTION / _CONFIG)."""
    name = rule.RETENTION if name is None else name
    if name not in rule.RETENTIONS:
        raise ValueError(f"rule {rule.NAME!r} takes retention {list(rule.RETENTIONS)}, got {name!r} "
                         f"(known: {sorted(RETENTION_IDS)})")
    if param is None:
        param = rule.ELASTIC_LAMBDA_1 if name == "elastic_net" else 0.0
    param = float(np.float32(param))
    if name == "elastic_net" and not (np.isfinite(param) and param > 0):
        raise ValueError(f"elastic_net needs lambda_1 > 0, got {param}")
    if name != "elastic_net" and param != 0:
        raise ValueError(f"retention {name!r} takes no parameter, got {param}")
    return name, param


def elastic(hp: dict | None) -> float:
    """lambda_1 when hp (a rule's memory_hp) asks for the elastic net, else 0."""
    if hp and hp.get("retention") == "elastic_net":
        return float(hp["lambda_1"])
    return 0.0
