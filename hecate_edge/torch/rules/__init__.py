"""Registry of the memory rules on torch tensors (MATH §3): name -> module with
write_read(state, at, km, vm, qm, gates, hp, x=None, tensors=None) -> (state', y)
and read(state, qm, hp) -> y, every argument batched over a leading B axis.

Each module mirrors one family of hecate_edge/reference/rules/ (matrix: delta,
titans, hebbian, atlas; mlp: moneta, yaad, memora; lattice; trellis; ssm) and
takes its constants, hyper-parameters and initial state from the reference
module of the same name, which stays the single description of a rule.
`at` is the state the inner gradient is taken at (MATH §6.1; the state itself
for a period-1 level); gates are (B,) after their activations.
"""
from types import ModuleType

from hecate_edge.torch.rules import lattice, matrix, mlp, ssm, trellis

RULES: dict[str, object] = {**matrix.RULES, **mlp.RULES, "lattice": lattice, "trellis": trellis, "ssm": ssm}


def rule(name: str) -> ModuleType:
    """The torch rule called `name` (every name of the reference registry has one)."""
    if name not in RULES:
        raise ValueError(f"unknown memory rule {name!r} (known: {sorted(RULES)})")
    return RULES[name]
