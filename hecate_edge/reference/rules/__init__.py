"""Registry of memory rules: the single place on the Python side where a rule is named.

Each rule module defines RULE_ID, NAME, GATES ((gate name, activation) pairs,
MATH §3.1), DEFAULT_GATE_BIAS (one tuple per level), PARAM_NAMES (its
hyper-parameters in the model header), RETENTION and RETENTIONS (its default
retention and those its math allows, MATH §3.8; ELASTIC_LAMBDA_1, the elastic
net's default lambda_1, where it allows the elastic net), QK_NORM (whether q, k are L2-normalized
by default), default_params(d) and check_params(d,
params) (ValueError with the reason, the same verdict as the C reader), and
init_state(d, hp), write_read(state, km, vm, qm, gates, hp), read(state, qm, hp)
A rule family's module (rules/matrix.py, rules/mlp.py) holds the values its
rules share; a rule imports them from there.
Optional: EXTRA_INPUTS, keywords its write_read also takes ("x": the level
input; "tensors": {name: array} of its own parameter tensors), with
tensor_specs(d, hp) and init_tensors(d, hp) for a rule that owns tensors,
where hp = {name: value} of its hyper-parameters, plus "retention" and
"lambda_1" (ModelConfig.memory_hp; absent: the rule's default retention).
"""
from types import ModuleType

import numpy as np

from hecate_edge.reference.rules import (atlas, delta, hebbian, lattice, memora, moneta, ssm, titans, trellis,
                                         yaad)

RULES: dict[str, ModuleType] = {rule.NAME: rule for rule in (delta, titans, hebbian, moneta, yaad, memora, lattice, trellis,
                                                       atlas, ssm)}
RULES_BY_ID: dict[int, ModuleType] = {rule.RULE_ID: rule for rule in RULES.values()}


def rule_tensor_specs(rule: ModuleType, d: int, hp: dict) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of the parameter tensors the rule owns (most own none)."""
    return rule.tensor_specs(d, hp) if hasattr(rule, "tensor_specs") else []


def rule_by_name(name: str) -> ModuleType:
    """The rule module called `name`; ValueError if there is none."""
    if name not in RULES:
        raise ValueError(f"unknown memory rule {name!r} (known: {sorted(RULES)})")
    return RULES[name]


def rule_by_id(rule_id: int) -> ModuleType:
    """The rule module with file id `rule_id`; ValueError if there is none."""
    if rule_id not in RULES_BY_ID:
        raise ValueError(f"unknown memory rule id {rule_id} (known: {sorted(RULES_BY_ID)})")
    return RULES_BY_ID[rule_id]


def resolve_params(rule: ModuleType, d: int, overrides: dict | None = None) -> tuple[float, ...]:
    """The rule's full hyper-parameter tuple for width d: its defaults updated by
    `overrides` ({name: value}), rounded to float32 as the file stores them, checked."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(rule.PARAM_NAMES))
    if unknown:
        raise ValueError(f"rule {rule.NAME!r} has no hyper-parameters {unknown} "
                         f"(it takes {list(rule.PARAM_NAMES)})")
    values = tuple(float(np.float32(overrides.get(name, default)))
                   for name, default in zip(rule.PARAM_NAMES, rule.default_params(d)))
    rule.check_params(d, values)
    return values
