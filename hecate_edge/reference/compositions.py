"""Registry of compositions (MATH §4): the single place on the Python side where a composition is named.

Each composition module (compose_NAME.py) defines COMPOSITION_ID (the model
header's id, docs/FORMAT.md), NAME, WINDOW_ENTRIES (attention window entries
per token, each a key and a value row: MAC caches an x and an h entry, MATH
§4.4; the others 1), TENSORS (its own parameter tensors, stored as
"blk<l>.<name>" of shape (n_levels,) in blocks of more than one level, after
the block's attention; init.py starts them at zero) and block(session,
layer, x) -> p, built from ReferenceSession's attend, memory_output,
memory_pre_read, memory_step and output_weights.  The C twin is
runtime_c/src/compose/registry.c; tests/test_registries.py checks they agree.
"""
from types import ModuleType

from hecate_edge.reference import compose_mac, compose_mag, compose_mal

COMPOSITIONS: dict[str, ModuleType] = {c.NAME: c for c in (compose_mag, compose_mal, compose_mac)}
COMPOSITIONS_BY_ID: dict[int, ModuleType] = {c.COMPOSITION_ID: c for c in COMPOSITIONS.values()}


def composition_by_name(name: str) -> ModuleType:
    """The composition module called `name`; ValueError if there is none."""
    if name not in COMPOSITIONS:
        raise ValueError(f"unknown composition {name!r} (known: {sorted(COMPOSITIONS)})")
    return COMPOSITIONS[name]
