"""CMS memory levels in the whole model (MATH §6.1): every rule (and
retention) x composition x k in {1, 2, 4} against the reference, bit-exact
chunking and state save/restore inside a block, and every parameter's
gradient against finite differences with blocks that started before the
chunk (double build)."""
import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.reference.init import init_params
from hecate_edge.reference.model import ReferenceSession
from parity import assert_close
from conftest import ALL_RULES, RULE_CASES, build_model, lively_params, rule_config

ALL_COMPOSITIONS = sorted(COMPOSITIONS)
TOL = {"f32": 1e-5, "f64": 1e-12}
# short periods, so that every level fires inside the tests' few dozen tokens
# and blocks straddle the chunks (max_chunk 7)
PERIODS = {1: (1,), 2: (1, 3), 4: (1, 3, 4, 10)}


def config(case, composition, k, **shape):
    base = ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, **shape})
    return ModelConfig.from_dict({**rule_config(base, case).to_dict(), "composition": composition,
                                  "n_levels": k, "periods": list(PERIODS[k])})


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("k", sorted(PERIODS))
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_matches_reference(case, composition, k, precision):
    cfg = config(case, composition, k)
    model, params = build_model(cfg, lively_params(cfg, 4), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 41)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    for level in range(k):
        assert_close(sess.memory(level), ref.memory(level), TOL[precision], f"level {level} state")
        assert_close(sess.memory_read(level), ref.memory_read(level), TOL[precision], f"level {level} read state")


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_cms_chunking_and_restore_are_bit_exact(rule, composition, k):
    """MATH §6 (A6): token by token == any chunking, and a state saved inside
    a block resumes exactly (the blob holds every level's block-start state)."""
    cfg = config(rule, composition, k)
    model, _ = build_model(cfg, lively_params(cfg, 5), "f32")
    tokens = np.random.default_rng(2).integers(0, cfg.vocab, 29)
    one = model.session()
    by_token = np.stack([one.step(int(t)) for t in tokens])
    chunked = model.session(max_chunk=4)
    assert np.array_equal(chunked.process(tokens), by_token)
    assert np.array_equal(chunked.save_state(), one.save_state())
    split = model.session(max_chunk=6)
    first = split.process(tokens[:11])  # position 11: inside a block of every level > 0
    resumed = model.session(max_chunk=5)
    resumed.load_state(split.save_state())
    assert np.array_equal(np.concatenate([first, resumed.process(tokens[11:])]), by_token)
    assert np.array_equal(resumed.save_state(), one.save_state())


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_cms_gradients_match_finite_differences(rule, composition, k):
    """Every parameter tensor, from a state carried over from inside a block."""
    cfg = config(rule, composition, k, vocab=20, d_model=8, window=3)
    model, _ = build_model(cfg, lively_params(cfg, 11), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 9), rng.integers(0, cfg.vocab, 9)
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, 5))
    blob = warm.save_state()
    sess = model.session(max_train_tokens=9)
    sess.load_state(blob)
    _, flat = sess.train_chunk(tokens, targets)
    grads = model.split_grads(flat)
    weights = model.weights()
    probe = np.random.default_rng(1)
    for name, w in weights.items():
        assert np.abs(grads[name]).max() > 0, f"{name}: gradient is identically zero"
        for index in map(tuple, probe.integers(0, w.shape, size=(2, w.ndim))):
            old = w[index]
            losses = []
            for delta in (1e-6, -1e-6):
                w[index] = old + delta
                sess.load_state(blob)
                losses.append(sess.train_chunk(tokens, targets)[0])
            w[index] = old
            fd = (losses[0] - losses[1]) / 2e-6
            assert abs(grads[name][index] - fd) <= 1e-6 + 1e-5 * abs(fd), \
                f"{name}{index}: backward {grads[name][index]:.10g} vs finite difference {fd:.10g}"


def test_slow_level_reads_its_block_start_state():
    """MATH §6.1: a level of period 8 keeps what its reads see for 7 tokens,
    accumulates meanwhile, and publishes at the 8th."""
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=2, window=4, n_levels=2)
    assert cfg.periods == (1, 8)
    model, _ = build_model(cfg, lively_params(cfg, 1), "f64")
    sess = model.session()
    start = sess.memory_read(1)
    for t in range(7):
        sess.step(t)
        assert np.array_equal(sess.memory_read(1), start), f"published early, token {t}"
    assert not np.array_equal(sess.memory(1), start), "the level must accumulate inside its block"
    sess.step(7)
    assert np.array_equal(sess.memory_read(1), sess.memory(1))
    assert not np.array_equal(sess.memory_read(1), start)


def test_defaults_for_levels():
    """MATH §6.1: periods 1, 8, 64, 512; slower levels start with gates that
    forget less and step less (A1's per-level biases for the delta rule)."""
    cfg = ModelConfig(n_levels=4)
    assert cfg.periods == (1, 8, 64, 512)
    params = init_params(cfg, 0)
    biases = np.array([params[f"blk0.mem{level}.gate_b"] for level in range(4)])
    assert_close(biases, np.array([[-3.0, -4.6], [-4.0, -5.6], [-4.5, -6.6], [-5.0, -7.6]]), 0, "gate biases")
    with pytest.raises(ValueError, match="periods"):
        ModelConfig(n_levels=2, periods=(1, 0))
    with pytest.raises(ValueError, match="n_levels"):
        ModelConfig(n_levels=5)


def test_train_cli_takes_levels(tmp_path):
    from hecate_edge import cli, runtime
    out = tmp_path / "cms.hct"
    assert cli.main(["train", "--levels", "2", "--periods", "1,4", "--steps", "1", "--d-model", "8", "--heads", "2",
                     "--chunk", "8", "--quiet", "--out", str(out)]) == 0
    model = runtime.Model(out)
    assert model.config.periods == (1, 4) and "blk0.mem1.wk" in model.weights()
    assert cli.main(["train", "--levels", "2", "--periods", "1,x", "--steps", "1", "--out", str(out)]) == 2
