"""The configuration sweep of the torch tests: every rule case x composition,
each with a shape that rotates through CMS levels k = 1, 2, 3 (gated), the
short convolution on and off, and 1 or 2 stacked blocks, so every k x layers
x feature pairing appears somewhere while each case runs once (CI time)."""
from dataclasses import replace

from hecate_edge.config import COMPOSITIONS, ModelConfig
from conftest import RULE_CASES, rule_config

SHAPES = [
    dict(),                                                            # k = 1, conv 4, rope, 1 block
    dict(n_levels=2, periods=(1, 2), n_layers=2),                      # CMS k = 2, stacked
    dict(n_levels=3, periods=(1, 2, 3), freq_gates=True, conv_kernel=0),  # k = 3 (1/sqrt(k)), gates
    dict(n_layers=2, rope=False, conv_kernel=2),
]
CASES = [(case, composition, index % len(SHAPES))
         for index, (case, composition) in enumerate((c, m) for c in RULE_CASES for m in sorted(COMPOSITIONS))]


def sweep_config(case: str, composition: str, shape: int) -> ModelConfig:
    base = ModelConfig(vocab=48, d_model=8, n_heads=2, window=3, composition=composition)
    return rule_config(replace(base, **SHAPES[shape]), case)


def case_id(case) -> str:
    return f"{case[0]}-{case[1]}-shape{case[2]}"
