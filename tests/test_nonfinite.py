"""Non-finite values (docs/DECISIONS.md D10, D38): an OK call leaves nothing
non-finite in the session, and a NaN is never absorbed by a rule, a retention
or a gate.  Valid, CRC-correct model files with large finite weights make one
"poison" token overflow; the call that feeds it is HECATE_E_NONFINITE, the
session keeps the bytes it had, and it goes on as if the call never happened."""
from dataclasses import replace

import numpy as np
import pytest

from hecate_edge.config import ModelConfig
from hecate_edge.runtime import HecateError
from conftest import DTYPES, build_model, lively_params

CFG = ModelConfig(vocab=64, d_model=16, n_heads=2, window=5)
POISON = 7          # the token whose embedding overflows a projection
GOOD = [1, 2, 3]    # tokens before it
AFTER = [4, 5, 6]   # a valid call after the failure


def fmax(precision):
    return float(np.finfo(DTYPES[precision]).max)


def refused(sess, call):
    """Run call (on sess): HECATE_E_NONFINITE with the session's bytes unchanged; the state before."""
    before = sess.save_state()
    with pytest.raises(HecateError) as err:
        call()
    assert err.value.name == "HECATE_E_NONFINITE"
    assert sess.save_state() == before
    return before


def goes_on(model, sess, before, **opts):
    """sess continues exactly as a fresh session that loads `before` (the failed call left no trace)."""
    twin = model.session(**opts)
    twin.load_state(before)
    assert np.array_equal(sess.process(AFTER), twin.process(AFTER))
    assert sess.save_state() == twin.save_state()


# ---- the attention window: keys that overflow ---------------------------------------------

COL = 3      # the key column that overflows
SCALE = 1e6  # the poison embedding's size; the key column is max / SCALE


def window_poisoned(composition, precision):
    """The poison token's attention key overflows to +inf in column COL (every other
    token's stays finite) and its query there is negative: its score is -inf, its
    softmax weight 0, so the logits stay finite (MATH §2) while the key would enter
    the window cache.  The state saved after it would be refused on load."""
    cfg = replace(CFG, composition=composition)
    p = lively_params(cfg, 0)
    s = np.where(p["blk0.attn.wk"][:, COL] < 0, -1.0, 1.0)
    p["emb"][POISON] = SCALE * s
    p["blk0.attn.wk"][:, COL] = s * (fmax(precision) / SCALE)
    p["blk0.attn.wq"][:, COL] = -np.abs(p["blk0.attn.wq"][:, COL]) * s
    return build_model(cfg, p, precision)[0]


CALLS = {  # name: (session options, the failing call)
    "step": ({}, lambda s: s.step(POISON)),
    "process": ({}, lambda s: s.process([4, POISON, 5])),
    "process_no_logits": ({}, lambda s: s.process([4, POISON, 5], want_logits=False)),
    "frozen_no_logits": ({"freeze_memory": True}, lambda s: s.process([4, POISON, 5], want_logits=False)),
    "train_chunk": ({"max_train_tokens": 4}, lambda s: s.train_chunk([4, POISON, 5], [5, 6, 7])),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", ["mag", "mal", "mac"])
def test_an_overflowing_window_key_is_refused(composition, precision, call):
    model = window_poisoned(composition, precision)
    opts, fail = CALLS[call]
    sess = model.session(**opts)
    sess.process(GOOD)
    before = refused(sess, lambda: fail(sess))
    assert sess.position == len(GOOD)
    goes_on(model, sess, before, **opts)


@pytest.mark.parametrize("want_logits", [True, False])
def test_blocks_before_the_failing_one_stay_consumed(want_logits):
    """process consumes max_chunk blocks: the blocks before the poison's commit, the
    poison's does not (hecate.h), whether logits are wanted or not."""
    model = window_poisoned("mal", "f32")
    sess = model.session(max_chunk=2)
    with pytest.raises(HecateError) as err:
        sess.process([1, 2, 3, 4, POISON, 5], want_logits=want_logits)
    assert err.value.name == "HECATE_E_NONFINITE"
    assert sess.position == 4
    twin = model.session(max_chunk=2)
    twin.process([1, 2, 3, 4])
    assert sess.save_state() == twin.save_state()
