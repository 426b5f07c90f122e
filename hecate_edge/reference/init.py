"""Parameter initialization (MATH §8): seeded uniform draws in tensor-file order.

emb, attention and head use s = sqrt(1/d); memory projections, gate_w and
freq_w use s = sqrt(1/(2d)); gate_b takes the rule's default biases for its level
(MATH §3.1, §6.1: slower levels forget less and step less); freq_b is
FREQ_GATE_BIAS (MATH §6.2: every gate starts open); MAC's level-mixing logits
start at 0, an even mix (MATH §4.4); the short convolution's taps (MATH §3.1)
are U(-s, s) with 1 added to the current token's tap for values and queries,
and to the previous token's tap for keys: the key of token t starts as about
token t-1, so each write binds a byte to the one before it (D67, D68).
"""
import re

import numpy as np

from hecate_edge.config import ModelConfig, tensor_specs
from hecate_edge.reference.compositions import composition_by_name
from hecate_edge.reference.rules import rule_by_name, rule_tensor_specs

_GATE_BIAS = re.compile(r"blk\d+\.mem(\d+)\.gate_b")
# MATH §6.1: level l's gate biases = level 0's + these shifts (the rule's own
# per-level tuple when it has one): alpha -7, -8, -8.5, -9 and theta -2.9 ..
# -5.9 for the delta rule; eta 1.5 .. 3.0; other gates keep level 0's.
# MATH §6.2: sigmoid(2) ~ 0.88; |<freq_w, xbar>| stays well below 2 at init, so
# every level fires as on the fixed schedule
FREQ_GATE_BIAS = 2.0
LEVEL_BIAS_SHIFT = {"alpha": (0.0, -1.0, -1.5, -2.0), "theta": (0.0, -1.0, -2.0, -3.0), "eta": (0.0, 0.5, 1.0, 1.5)}


def level_gate_bias(rule, level: int) -> np.ndarray:
    """MATH §3.1, §6.1: the gate biases of memory level `level` at init."""
    if level < len(rule.DEFAULT_GATE_BIAS):
        return np.array(rule.DEFAULT_GATE_BIAS[level], dtype=np.float64)
    base = rule.DEFAULT_GATE_BIAS[0]
    return np.array([b + LEVEL_BIAS_SHIFT.get(name, (0.0,) * 4)[level] for b, (name, _) in zip(base, rule.GATES)],
                    dtype=np.float64)


def init_scale(name: str, d: int) -> float:
    """MATH §8: half-width s of U(-s, s) for a drawn tensor."""
    if ".mem" in name:
        return float(np.sqrt(1.0 / (2 * d)))
    return float(np.sqrt(1.0 / d))


def init_params(cfg: ModelConfig, seed: int) -> dict[str, np.ndarray]:
    """MATH §8: float64 parameters from np.random.default_rng(seed), drawn in tensor_specs order."""
    rng = np.random.default_rng(seed)
    rule = rule_by_name(cfg.rule)
    own = {name for name, _ in rule_tensor_specs(rule, cfg.d_model, cfg.rule_hp)}
    composition = composition_by_name(cfg.composition)
    params = {}
    for name, shape in tensor_specs(cfg):
        bias = _GATE_BIAS.fullmatch(name)
        short = name.rsplit(".", 1)[-1]
        if bias:
            params[name] = level_gate_bias(rule, int(bias.group(1)))
        elif name.partition(".")[2] in composition.TENSORS:  # the composition's own (MAC: an even mix, MATH §4.4)
            params[name] = np.zeros(shape)
        elif name.endswith(".freq_b"):
            params[name] = np.full(shape, FREQ_GATE_BIAS)
        elif ".mem" in name and short in own:  # a rule's own tensors: its deterministic init
            params[name] = rule.init_tensors(cfg.d_model, cfg.rule_hp)[short]
        else:
            s = init_scale(name, cfg.d_model)
            params[name] = rng.uniform(-s, s, size=shape)
            if short.startswith("conv_"):  # MATH §8: the current token's tap, the previous token's
                # for keys (H3's shift on keys, D68)
                params[name][-2 if short == "conv_k" else -1] += 1.0
    return params
