"""C runtime forward vs the numpy float64 reference (MATH §1-§5): logits and the
final memory state, many seeds and shapes, sequences up to 512 tokens, in the
float build (~1e-5) and the double build (~1e-12)."""

import numpy as np
import pytest

from hecate_edge.config import ModelConfig
from hecate_edge.reference.model import ReferenceSession
from parity import assert_close
from conftest import ALL_RULES, RULE_CASES, build_model, lively_params, rule_config

TOL = {"f32": 1e-5, "f64": 1e-12}

CONFIGS = [
    ModelConfig(vocab=256, d_model=64, n_heads=4, window=16),
    ModelConfig(vocab=64, d_model=16, n_heads=2, window=4),
    ModelConfig(vocab=32, d_model=12, n_heads=3, window=1),
    ModelConfig(vocab=32, d_model=8, n_heads=1, window=7, qk_norm=False),
]


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"d{c.d_model}h{c.n_heads}w{c.window}n{int(c.qk_norm)}")
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", RULE_CASES)
def test_forward_matches_reference(cfg, seed, precision, case):
    cfg = rule_config(cfg, case)
    model, params = build_model(cfg, lively_params(cfg, seed), precision)
    tokens = np.random.default_rng(100 + seed).integers(0, cfg.vocab, 96)
    ref = ReferenceSession(cfg, params)
    want = ref.process(tokens)
    sess = model.session(max_chunk=7)
    got = sess.process(tokens)
    assert_close(got, want, TOL[precision], "logits")
    assert_close(sess.memory(), ref.memory(), TOL[precision], "final memory state")
    assert sess.position == ref.position == len(tokens)


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("case", RULE_CASES)
def test_long_sequence_512(precision, case):
    cfg = rule_config(ModelConfig(vocab=256, d_model=32, n_heads=4, window=16), case)
    model, params = build_model(cfg, lively_params(cfg, 7), precision)
    tokens = np.random.default_rng(5).integers(0, 256, 512)
    ref = ReferenceSession(cfg, params)
    want = ref.process(tokens)
    sess = model.session(max_chunk=64)
    assert_close(sess.process(tokens), want, TOL[precision], "logits over 512 tokens")
    assert_close(sess.memory(), ref.memory(), TOL[precision], "memory after 512 tokens")


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("rule", ALL_RULES)
def test_default_init_matches_reference(precision, rule):
    """The shipped init (small gates) too, from a state carried over calls."""
    from hecate_edge.reference.init import init_params
    cfg = ModelConfig(rule=rule)
    model, params = build_model(cfg, init_params(cfg, 42), precision)
    ref = ReferenceSession(cfg, params)
    sess = model.session()
    for chunk in np.array_split(np.arange(40) * 7 % 256, 3):
        assert_close(sess.process(chunk), ref.process(chunk), TOL[precision], "logits")
    assert_close(sess.memory(), ref.memory(), TOL[precision], "memory")


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("rule", ALL_RULES)
def test_frozen_memory_matches_reference(precision, rule):
    cfg = ModelConfig(vocab=64, d_model=16, n_heads=2, window=4, rule=rule)
    model, params = build_model(cfg, lively_params(cfg, 3), precision)
    tokens = np.arange(30) % 64
    live = model.session()
    live.process(tokens[:10])
    ref = ReferenceSession(cfg, params)
    ref.process(tokens[:10])
    frozen = model.session(freeze_memory=True)
    frozen.load_state(live.save_state())
    ref.freeze_memory = True
    before = frozen.memory()
    assert_close(frozen.process(tokens[10:]), ref.process(tokens[10:]), TOL[precision], "frozen logits")
    assert np.array_equal(frozen.memory(), before), "a frozen session must not write its memory"
    assert np.abs(before).max() > 0, "the test needs a non-trivial memory"
