"""CMS memory levels in the whole model (MATH §6.1): every rule (and
retention) x composition x k in {1, 2, 4} against the reference, bit-exact
chunking and state save/restore inside a block, and every parameter's
gradient against finite differences with blocks that started before the
chunk (double build); each also with the front end's short convolution
(MATH §3.1) at k in {1, 2}."""
import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.data import Corpus
from hecate_edge.reference.init import init_params
from hecate_edge.reference.model import ReferenceSession
from chunking import assert_chunking_bit_exact
from finite_diff import assert_chunk_gradients
from parity import assert_close
from conftest import ALL_RULES, RULE_CASES, build_model, conv_states, lively_params, rule_config

ALL_COMPOSITIONS = sorted(COMPOSITIONS)
TOL = {"f32": 1e-5, "f64": 1e-12}
# short periods, so that every level fires inside the tests' few dozen tokens
# and blocks straddle the chunks (max_chunk 7)
PERIODS = {1: (1,), 2: (1, 3), 4: (1, 3, 4, 10)}
# (k, conv_kernel): levels, and the short convolution's taps (0: none, MATH §3.1)
PARITY_SHAPES = [(1, 0), (2, 0), (4, 0), (1, 4), (2, 3)]
CHUNKING_SHAPES = [(2, 0), (4, 0), (1, 4), (2, 3)]


def shape_id(shape) -> str:
    k, conv = shape
    return f"{k}-conv{conv}" if conv else str(k)


def config(case, composition, k, conv=0, **shape):
    base = ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, **shape})
    return ModelConfig.from_dict({**rule_config(base, case).to_dict(), "composition": composition,
                                  "n_levels": k, "periods": list(PERIODS[k]), "conv_kernel": conv})


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("k,conv", PARITY_SHAPES, ids=[shape_id(s) for s in PARITY_SHAPES])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_matches_reference(case, composition, k, conv, precision):
    cfg = config(case, composition, k, conv)
    model, params = build_model(cfg, lively_params(cfg, 4), precision)
    # Newton-Schulz Atlas inside MAC's loop still amplifies rounding slowly
    # (conftest.lively_params): float32 reaches 1e-5 after ~24 tokens at k = 4
    n_tokens = 16 if (cfg.rule_hp.get("ns_steps") and composition == "mac") else 41
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, n_tokens)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    for level in range(k):
        assert_close(sess.memory(level), ref.memory(level), TOL[precision], f"level {level} state")
        assert_close(sess.memory_read(level), ref.memory_read(level), TOL[precision], f"level {level} read state")
        if conv:
            assert_close(conv_states(sess)[0, level], ref.conv_state(level), TOL[precision], f"level {level} conv")


@pytest.mark.parametrize("k,conv", CHUNKING_SHAPES, ids=[shape_id(s) for s in CHUNKING_SHAPES])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_cms_chunking_and_restore_are_bit_exact(rule, composition, k, conv):
    """MATH §6 (A6): token by token == any chunking, and a state saved inside
    a block resumes exactly (the blob holds every level's block-start state
    and convolution state)."""
    cfg = config(rule, composition, k, conv)
    model, _ = build_model(cfg, lively_params(cfg, 5), "f32")
    tokens = np.random.default_rng(2).integers(0, cfg.vocab, 29)
    assert_chunking_bit_exact(model, tokens, split_at=11)  # position 11: inside a block of every level > 0


@pytest.mark.parametrize("k,conv", CHUNKING_SHAPES, ids=[shape_id(s) for s in CHUNKING_SHAPES])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_cms_gradients_match_finite_differences(rule, composition, k, conv):
    """Every parameter tensor (the convolution's taps too), from a state
    carried over from inside a block (and a convolution state: a constant)."""
    cfg = config(rule, composition, k, conv, vocab=20, d_model=8, window=3)
    model, _ = build_model(cfg, lively_params(cfg, 11), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 9), rng.integers(0, cfg.vocab, 9)
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, 5))
    blob = warm.save_state()
    assert_chunk_gradients(model, model.session(max_train_tokens=9), blob, tokens, targets, probes=2)


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
    assert_close(biases, np.array([[-7.0, -2.9], [-8.0, -3.9], [-8.5, -4.9], [-9.0, -5.9]]), 0, "gate biases")
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


def test_held_levels_follow_the_training_token_clock():
    """MATH §6.1 (A7): a level steps when the trained tokens cross a multiple of its period."""
    from hecate_edge.train import held_levels
    assert held_levels((1, 8, 64), 0, 16) == {2}
    assert held_levels((1, 8, 64), 48, 16) == set()  # 64 is crossed
    assert [2 in held_levels((1, 8, 40), 16 * s, 16) for s in range(5)] == [True, True, False, True, False]


def test_held_gradients_wait_in_error_buffers():
    """A held parameter is untouched; the step that releases it applies the sum."""
    from hecate_edge.optim import SGD
    p = {"a": np.zeros(3), "b": np.zeros(3)}
    opt = SGD(p, lr=0.5)
    opt.step({"a": np.ones(3), "b": np.ones(3)}, hold={"b"})
    assert np.array_equal(p["a"], -0.5 * np.ones(3)) and np.array_equal(p["b"], np.zeros(3))
    opt.step({"a": np.ones(3), "b": 2 * np.ones(3)}, hold={"b"})
    state = opt.state_dict()
    assert np.array_equal(state["error/b"], 3 * np.ones(3))
    again = SGD({"a": p["a"].copy(), "b": p["b"].copy()}, lr=0.5)
    again.load_state_dict(state)
    opt.step({"a": np.zeros(3), "b": np.ones(3)})
    again.step({"a": np.zeros(3), "b": np.ones(3)})
    assert np.array_equal(p["b"], -2.0 * np.ones(3)) and np.array_equal(again.params["b"], p["b"])
    assert "error/b" not in opt.state_dict()


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "m3"])
def test_cms_training_resumes_bit_exactly(tmp_path, optimizer):
    """Error buffers are part of the checkpoint: a resumed run equals a straight one."""
    from hecate_edge import train
    from hecate_edge.data import load_corpus
    cfg = ModelConfig(vocab=256, d_model=8, n_heads=2, window=4, n_levels=2, periods=(1, 20))
    corpus = load_corpus("text", "train")
    # burn-in 16: the chunk covers positions 16..23, so level 1 fires inside it
    # (at 19) and has gradients; its steps come at 20 and 40 trained tokens
    config = train.TrainConfig(steps=7, chunk=8, lr=1e-2, optimizer=optimizer, seed=3, warmup=2, burn_in=16)
    whole = train.new_model(cfg, seed=0)
    start = {k: v.copy() for k, v in whole.weights().items()}
    want = train.train(whole, corpus, config, show_progress=False)
    slow = [k for k in start if ".mem1." in k]
    assert any(not np.array_equal(whole.weights()[k], start[k]) for k in slow), "level 1 must have stepped"
    ckpt = tmp_path / "run.npz"
    first = train.new_model(cfg, seed=0)
    train.train(first, corpus, config, show_progress=False, until=2, checkpoint=ckpt)
    assert all(np.array_equal(first.weights()[k], start[k]) for k in slow), "level 1 held for 16 tokens"
    model, config2, state = train.load_training_state(ckpt)
    rest = train.train(model, corpus, config2, show_progress=False, state=state)
    assert [r["loss"] for r in rest] == [r["loss"] for r in want[2:]]
    for key, value in whole.weights().items():
        assert np.array_equal(model.weights()[key], value), key


def test_levels_that_never_fire_in_a_training_chunk_are_named(capsys):
    from hecate_edge import train

    assert train.untrained_levels((1, 8, 64, 512), chunk=128, burn_in=0) == [3]
    assert train.untrained_levels((1, 8, 64, 512), chunk=64, burn_in=448) == []  # 511 is in 448..511
    assert train.untrained_levels((1, 200), chunk=64, burn_in=448) == [1]  # fires at 399 and 599, not in 448..511
    model = train.new_model(ModelConfig(d_model=8, n_heads=2, window=4, n_levels=2, periods=(1, 64)), seed=0)
    corpus = Corpus("x", np.arange(400, dtype=np.uint32) % 200)
    train.train(model, corpus, train.TrainConfig(steps=1, chunk=16), show_progress=False)
    assert "memory levels 1 (periods 64) never fire inside a chunk of 16 tokens" in capsys.readouterr().err
