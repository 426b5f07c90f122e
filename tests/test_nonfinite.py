"""Non-finite values (docs/DECISIONS.md D10, D39): an OK call leaves nothing
non-finite in the session, and a NaN is never absorbed by a rule, a retention
or a gate.  Valid, CRC-correct model files with large finite weights make one
"poison" token overflow; the call that feeds it is HECATE_E_NONFINITE, the
session keeps the bytes it had, and it goes on as if the call never happened."""
from dataclasses import replace

import numpy as np
import pytest

from hecate_edge import ops
from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.runtime import HecateError
from conftest import DTYPES, RULE_CASES, build_model, lively_params, parse_case, rule_config
from test_ops import default_hp, inputs

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
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
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


# ---- the memory: a NaN in a memory projection, every rule and retention -------------------

def memory_poisoned(case, precision, **changes):
    """The poison token's memory value gets NaN in column 0 (8 max/4 - 8 max/4: inf - inf
    in the projection; inf where the build fuses its multiply-adds, D80; 0 for every other token, whose embeddings are 0 in the two
    columns that meet the huge weights; no convolution, so the NaN meets the rule first).  Elastic-net
    retention and the Lattice rule used to absorb it: the shrink's threshold and the
    sphere's floor compare false for NaN."""
    cfg = replace(rule_config(replace(CFG, conv_kernel=0), case), **changes)
    p = lively_params(cfg, 0)
    p["emb"][:, :2] = 0.0
    p["emb"][POISON] = 0.0
    p["emb"][POISON][:2] = 8.0
    wv = p["blk0.mem0.wv"]
    wv[:2, 0] = [fmax(precision) / 4, -fmax(precision) / 4]
    wv[2:, 0] = 0.0
    return build_model(cfg, p, precision)[0]


@pytest.mark.parametrize("want_logits", [True, False])
@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("case", RULE_CASES)
def test_a_nan_memory_value_is_refused(case, precision, want_logits):
    model = memory_poisoned(case, precision)
    sess = model.session()
    sess.process(GOOD)
    before = refused(sess, lambda: sess.process([4, POISON, 5], want_logits=want_logits))
    goes_on(model, sess, before)


@pytest.mark.parametrize("case", ["delta+elastic_net", "lattice"])
def test_a_frozen_memory_never_sees_the_nan_value(case):
    """freeze_memory reads the memory and never writes it: the NaN value is not
    used, so the call is fine."""
    model = memory_poisoned(case, "f32")
    sess = model.session(freeze_memory=True)
    assert np.isfinite(sess.process([4, POISON, 5])).all()


@pytest.mark.parametrize("case", ["delta+elastic_net", "lattice", "memora"])
def test_a_nan_in_a_slower_cms_level_is_refused(case):
    """CMS (MATH §6.1): a level of period 2 accumulates the NaN in its state
    (and its block-start state) mid-block; the call is refused all the same."""
    model = memory_poisoned(case, "f64", n_levels=2, periods=(1, 2))
    sess = model.session()
    sess.process(GOOD)
    before = refused(sess, lambda: sess.process([POISON], want_logits=False))
    goes_on(model, sess, before)


# ---- the frequency gate: a NaN decision -----------------------------------------------------

def gate_poisoned(precision):
    """Level 1's frequency gate (MATH §6.2) gets a NaN pre-activation at the end of
    the poison's block (<freq_w, xbar> = inf - inf; 0 for every other block, whose
    embeddings are 0 in the two columns of the huge weights); a NaN gate used to shut
    and discard the block's update."""
    cfg = replace(CFG, conv_kernel=0, n_levels=2, periods=(1, 2), freq_gates=True)
    p = lively_params(cfg, 0)
    p["emb"][:, :2] = 0.0
    p["emb"][POISON] = 0.0
    p["emb"][POISON][:2] = 32.0
    p["blk0.mem1.freq_w"][:] = 0.0
    p["blk0.mem1.freq_w"][:2] = [fmax(precision) / 8, -fmax(precision) / 8]
    return build_model(cfg, p, precision)[0]


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_a_nan_frequency_gate_is_refused(precision):
    model = gate_poisoned(precision)
    sess = model.session()
    sess.process(GOOD)  # position 3: the poison ends a block of level 1
    before = refused(sess, lambda: sess.process([POISON], want_logits=False))
    goes_on(model, sess, before)
    fixed = model.session(fixed_schedule=True)  # every gate open: the gate is not evaluated
    fixed.process(GOOD + [POISON])


# ---- the rules as ops: a NaN input reaches what it feeds ------------------------------------

@pytest.mark.parametrize("period", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", RULE_CASES)
def test_a_nan_rule_input_reaches_the_state_or_the_read(case, dtype, period):
    """A NaN in token 0's k, v or any gate makes the final state non-finite, and in its q
    its read: no threshold, floor or clip of a rule or retention turns it finite
    (hecate_rule_forward does not refuse it: it propagates)."""
    rule, retention, overrides = parse_case(case)
    hp = default_hp(rule, 8, retention, overrides)
    q, k, v, gates = inputs(rule, B=1, H=1, T=3, D=8, dtype=dtype)
    for name in ["q", "k", "v", *gates]:
        arrays = {"q": q.copy(), "k": k.copy(), "v": v.copy(), **{g: a.copy() for g, a in gates.items()}}
        arrays[name][0, 0, 0] = np.nan  # token 0 (its first entry, for q, k, v)
        y, state = ops.run(rule, arrays["q"], arrays["k"], arrays["v"], {g: arrays[g] for g in gates},
                           params=overrides, retention=retention, lambda_1=hp.get("lambda_1"), period=period)
        fed = y[0, 0, 0] if name == "q" else state
        assert not np.isfinite(fed).all(), f"{case}: a NaN in {name} was absorbed"


# ---- norms that overflow: NaN, not a zero vector ----------------------------------------

@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_an_overflowing_memory_key_norm_is_refused(precision):
    """The poison token's memory key is finite but its squared norm overflows: the L2
    normalization (MATH §3.1) used to divide by inf and write with a zero key."""
    big = 1e30 if precision == "f32" else 1e160
    cfg = replace(CFG, conv_kernel=0)
    p = lively_params(cfg, 0)
    p["emb"][:, :2] = 0.0
    p["emb"][POISON] = 0.0
    p["emb"][POISON][:2] = 8.0
    p["blk0.mem0.wk"][:2] = big
    model = build_model(cfg, p, precision)[0]
    sess = model.session()
    sess.process(GOOD)
    before = refused(sess, lambda: sess.process([POISON], want_logits=False))
    goes_on(model, sess, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_overflowing_slot_norm_is_nan_on_the_sphere(dtype):
    """Lattice (MATH §3.7): a finite write whose norm overflows used to renormalize the
    slot to zeros, off the sphere and finite."""
    q, k, v, gates = inputs("lattice", B=1, H=1, T=2, D=8, dtype=dtype)
    v[0, 0, 1] = 1e30 if dtype == np.float32 else 1e300
    _, state = ops.run("lattice", q, k, v, gates)
    assert np.isnan(state).any()
