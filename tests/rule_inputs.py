"""Random inputs of the memory-rule ops that the backward and CUDA tests share:
normalized q and k (the matrix rules' convention), gates in a lively but
stable range, a small non-zero incoming state."""
import numpy as np

from hecate_edge.reference.rules import RULES, resolve_params

# (low, high) of each gate kind after its activation
GATE_RANGES = {"sigmoid": (0.02, 0.3), "softplus": (0.05, 0.5)}


def rule_inputs(rule, B, H, T, D, seed=0, dtype=np.float32, params=None):
    """q, k, v (B, H, T, D), gates {name: (B, H, T)}, dy (B, H, T, D) and a state (B, H, *shape)."""
    rng = np.random.default_rng(seed)
    q, k, v, dy = (rng.normal(size=(B, H, T, D)) for _ in range(4))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    gates = {name: rng.uniform(*GATE_RANGES[kind], (B, H, T)) for name, kind in RULES[rule].GATES}
    module = RULES[rule]
    hp = dict(zip(module.PARAM_NAMES, resolve_params(module, D, params)))
    state = 0.1 * rng.normal(size=(B, H, *module.init_state(D, hp).shape))
    cast = lambda a: np.asarray(a, dtype)
    return cast(q), cast(k), cast(v), {n: cast(g) for n, g in gates.items()}, cast(dy), cast(state)
