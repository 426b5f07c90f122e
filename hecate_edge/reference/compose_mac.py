"""MAC composition (MATH §4.4): memory as context, one token at a time.

Every level's read before its write (query from the block input x) is mixed
into h; attention runs over the window's entries of both h and x (two per
token) with the query from x, giving a; the levels write with a as their
input and their reads are mixed into r; the block output is
p = Wo (a * sigmoid(r)).  The mixes are softmaxes of learned logits (a block
of one level has none: its weight is 1).
"""
import numpy as np

from hecate_edge.reference.mathfn import sigmoid, softmax

COMPOSITION_ID = 2
NAME = "mac"
WINDOW_ENTRIES = 2  # MATH §4.4: the window caches an h entry and an x entry per token
TENSORS = ("mac.mix_read", "mac.mix_out")  # the level mixes' logits: of h (the reads), of r (the outputs)


def block(session, layer: int, x: np.ndarray) -> np.ndarray:
    """MATH §4.4: h = sum_l mr_l read_l(before write; x), a = SWA(x; {h, x} entries),
    r = sum_l mo_l memory_l(a), p = Wo (a * sigmoid(r))."""
    levels = range(session.cfg.n_levels)
    mix_read, mix_out = (softmax(session.params[f"blk{layer}.{name}"]) if len(levels) > 1 else [1.0]
                         for name in TENSORS)  # one level: weight 1, no logits
    h = sum(w * session.memory_pre_read(layer, level, x) for level, w in zip(levels, mix_read))
    a = session.attend(layer, x, extra=h)
    r = sum(w * session.memory_step(layer, level, a) for level, w in zip(levels, mix_out))
    return (a * sigmoid(r)) @ session.output_weights(layer)
