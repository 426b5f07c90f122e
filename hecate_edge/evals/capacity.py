"""``hecate-edge eval capacity``: can a rule's write store an episode's pairs
at all, given ideal keys? Separates what a memory rule cannot do from what a
trained model has not learned to do.

Owns the probe and its table. No training and no model: each rule's
reference ``write_read`` (MATH §3) is fed N pairs of random unit keys (times a
key norm, for the rules whose keys are not normalized) and random unit values
drawn from 26 candidates, the gates at their level-0 initial values except
the step, which is swept; then every key is read back, and the read counts as
right when its nearest candidate value by cosine is the one stored. The best
step and key norm per rule is an upper bound on what one pass of writes can
keep, for keys as a trained front end would ideally make them (DECISIONS D65).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hecate_edge.reference.frontend import GATE_ACTIVATIONS

D = 64                       # the default model's memory width
CANDIDATES = 26              # value alphabet of the recall eval (hecate_edge.evals.recall)
PAIR_COUNTS = (4, 8, 16)
STEPS = (0.01, 0.03, 0.1, 0.3, 1.0)      # the step gate's value (theta; Lattice's beta)
SSM_STEPS = (-4.0, -2.0, 0.0, 2.0)       # the SSM's gate is the pre-activation of Delta (MATH §3.10)
KEY_NORMS = (1.0, 4.0)                   # for rules without q/k normalization


@dataclass
class CapacityRow:
    """A rule's best accuracy per pair count, and the step and key norm that
    gave it at each count."""

    rule: str
    best: dict = field(default_factory=dict)      # n_pairs -> accuracy
    setting: dict = field(default_factory=dict)   # n_pairs -> (step, key norm)


def step_gate(rule) -> str | None:
    """The gate the probe sweeps: the rule's step size, None for Hebbian (no step)."""
    names = [name for name, _ in rule.GATES]
    for name in ("theta", "beta", "delta"):
        if name in names:
            return name
    return None


def initial_gates(rule) -> dict[str, float]:
    """Every gate at its level-0 initial value: the activation of its default bias (MATH §3.1)."""
    biases = rule.DEFAULT_GATE_BIAS[0]
    return {name: float(GATE_ACTIVATIONS[kind](bias)) for (name, kind), bias in zip(rule.GATES, biases)}


def unit_rows(rng: np.random.Generator, n: int, norm: float = 1.0) -> np.ndarray:
    rows = rng.standard_normal((n, D))
    return norm * rows / np.linalg.norm(rows, axis=1, keepdims=True)


def accuracy(rule_name: str, n_pairs: int, step: float | None, key_norm: float, trials: int, seed: int) -> float:
    """Share of the ``n_pairs`` keys whose read is nearest (cosine) to the value written with them."""
    from hecate_edge.reference.rules import resolve_params, rule_by_name

    rule = rule_by_name(rule_name)
    hp = dict(zip(rule.PARAM_NAMES, resolve_params(rule, D)))
    gates = initial_gates(rule)
    if step is not None:
        gates[step_gate(rule)] = step
    rng = np.random.default_rng([seed, n_pairs])
    right = 0
    for _ in range(trials):
        keys, values = unit_rows(rng, n_pairs, key_norm), unit_rows(rng, CANDIDATES)
        stored = rng.integers(0, CANDIDATES, n_pairs)
        state = rule.init_state(D, hp)
        for key, value in zip(keys, values[stored]):
            state, _ = rule.write_read(state, key, value, key, gates, hp)
        for key, want in zip(keys, stored):
            y = rule.read(state, key, hp)
            right += int(np.argmax(values @ y / (np.linalg.norm(y) + 1e-30)) == want)
    return right / (trials * n_pairs)


def probe(rule_name: str, trials: int = 20, seed: int = 0, pair_counts=PAIR_COUNTS) -> CapacityRow:
    """The best accuracy over the step and key-norm grid for each pair count."""
    from hecate_edge.reference.rules import rule_by_name

    rule = rule_by_name(rule_name)
    gate = step_gate(rule)
    steps = (None,) if gate is None else SSM_STEPS if gate == "delta" else STEPS
    norms = (1.0,) if rule.QK_NORM else KEY_NORMS
    row = CapacityRow(rule_name)
    for n in pair_counts:
        scored = [(accuracy(rule_name, n, step, norm, trials, seed), step, norm) for step in steps for norm in norms]
        best = max(scored, key=lambda s: s[0])  # the first of equals: the smallest step and norm
        row.best[n], row.setting[n] = best[0], (best[1], best[2])
    return row


def table(rows: list[CapacityRow], trials: int) -> str:
    """The markdown table of the probe (best accuracy per pair count, the setting at 8 pairs)."""
    counts = sorted(rows[0].best) if rows else list(PAIR_COUNTS)
    head = "| rule | " + " | ".join(f"{n} pairs" for n in counts) + " | best step, key norm (8 pairs) |"
    lines = [head, "|---|" + "---|" * (len(counts) + 1)]
    for row in rows:
        step, norm = row.setting.get(8, row.setting[counts[0]])
        where = "no step gate" if step is None else f"{step:g}"
        lines.append(f"| {row.rule} | " + " | ".join(f"{row.best[n]:.2f}" for n in counts)
                     + f" | {where}, {norm:g} |")
    lines.append(f"| (chance) | " + " | ".join(f"{1 / CANDIDATES:.2f}" for _ in counts) + " | |")
    return "\n".join(lines) + f"\n\n{trials} episodes per cell; keys and values are random unit vectors in {D} dimensions."
