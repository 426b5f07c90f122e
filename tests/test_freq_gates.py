"""Learned CMS frequency gates (MATH §6.2, A8): C against the reference
(logits, every level's accumulated and block-start state and block input
sum) with blocks that fire and blocks that do not, bit-exact chunking and
restore inside a block, finite differences of every smooth parameter, the
straight-through gradient of the gate parameters, the fixed schedule
(annealing), and the CLI."""
import struct

import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.reference.init import FREQ_GATE_BIAS, init_params
from hecate_edge.reference.mathfn import sigmoid
from hecate_edge.reference.model import ReferenceSession, cross_entropy
from chunking import assert_chunking_bit_exact
from finite_diff import assert_chunk_gradients, assert_gradient_matches, central_difference, probe_indices
from parity import assert_close
from conftest import ALL_RULES, build_model, lively_params

TOL = {"f32": 1e-5, "f64": 1e-12}
PERIODS = (1, 3, 4)  # short blocks straddling the chunks (max_chunk 7); level 1's period-3 blocks and level 2's
# A gate decision this close to its threshold could differ between the float32 C
# build and the float64 reference; the tests assert that none is.
MARGIN = {"f32": 1e-3, "f64": 1e-8}
STATE_HEADER = 56  # docs/FORMAT.md session state blob


def gated_config(rule: str = "delta", composition: str = "mag", **shape) -> ModelConfig:
    """3 gated levels; bounded steps for every rule (the per-rule default leaves trellis under MAC
    with softplus steps, where the lively gates make finite differences marginal: 1.03e-6 off
    against a 1.00e-6 floor in blk0.attn.wv; these tests are about the frequency gates)."""
    return ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, "rule": rule,
                          "composition": composition, "n_levels": 3, "periods": PERIODS, "freq_gates": True,
                          "bounded_steps": True, **shape})


def gated_params(cfg: ModelConfig, seed: int) -> dict:
    """lively_params with gate weights large and biases 0: the block means
    then open about half of the gates and shut the others."""
    params = lively_params(cfg, seed)
    rng = np.random.default_rng(seed + 7)
    for name in params:
        if name.endswith("freq_w"):
            params[name] = rng.uniform(-2.0, 2.0, params[name].shape)
        elif name.endswith("freq_b"):
            params[name] = np.zeros(1)
    return params


def assert_gates_decided(log: list[dict], margin: float, both: bool = True) -> None:
    """Gates fired (some open and, with `both`, some shut), none within `margin` of its threshold."""
    assert log, "no block ended"
    opened = [g["open"] for g in log]
    if both:
        assert any(opened) and not all(opened), f"want open and shut gates, got {opened}"
    closest = min(abs(g["pre"]) for g in log)
    assert closest > margin, f"a gate pre-activation {closest:.3g} is within {margin} of its threshold"


def blob_parts(model, blob: bytes) -> list[dict]:
    """Per memory (layer-major) the arrays of a state blob (docs/FORMAT.md):
    A, then P (period > 1 or gated), then the block input sum (gated)."""
    cfg = model.config
    dtype = np.float32 if model.precision == "f32" else np.float64
    payload = np.frombuffer(blob, dtype=dtype, offset=STATE_HEADER)
    n, at, parts = int(np.prod(model.memory_shape)), 0, []
    for _layer in range(cfg.n_layers):
        for level in range(cfg.n_levels):
            sizes = {"A": n, "P": n if cfg.periods[level] > 1 or cfg.gated(level) else 0,
                     "sum": cfg.d_model if cfg.gated(level) else 0}
            part = {}
            for key, size in sizes.items():
                if size:
                    part[key] = payload[at:at + size].astype(np.float64)
                    at += size
            parts.append(part)
    return parts


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_gated_levels_match_reference(rule, composition, precision):
    cfg = gated_config(rule, composition)
    model, params = build_model(cfg, gated_params(cfg, 4), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 41)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    assert_gates_decided(ref.gate_log, MARGIN[precision])
    parts = blob_parts(model, sess.save_state())
    for level in range(cfg.n_levels):
        assert_close(sess.memory(level), ref.memory(level), TOL[precision], f"level {level} state")
        assert_close(sess.memory_read(level), ref.memory_read(level), TOL[precision], f"level {level} read state")
        if cfg.gated(level):
            assert_close(parts[level]["P"], ref.memory_read(level).ravel(), TOL[precision], f"level {level} P")
            assert_close(parts[level]["sum"], ref.block_sum(level), TOL[precision], f"level {level} sum")


def test_shut_gate_keeps_the_block_start_state():
    """MATH §6.2: where a block ends with its gate shut, the level's state
    and what it reads stay at the block-start state (the update is dropped)."""
    cfg = gated_config()
    model, params = build_model(cfg, gated_params(cfg, 4), "f64")
    ref = ReferenceSession(cfg, params)
    sess = model.session()
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 41)
    seen = set()
    for t, token in enumerate(tokens):
        start = sess.memory_read(1)
        sess.step(int(token))
        ref.step(int(token))
        ended = [g for g in ref.gate_log if g["position"] == t and g["level"] == 1]
        if ended:
            seen.add(ended[0]["open"])
            after = sess.memory(1)
            assert np.array_equal(sess.memory_read(1), after)
            assert np.array_equal(after, start) != ended[0]["open"], f"token {t}"
    assert seen == {True, False}


@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_gated_chunking_and_restore_are_bit_exact(rule, composition):
    """MATH §6 (A6): token by token == any chunking == train_chunk, state
    included, and a state saved inside a block (with its input sum) resumes exactly."""
    cfg = gated_config(rule, composition)
    model, params = build_model(cfg, gated_params(cfg, 5), "f32")
    tokens = np.random.default_rng(2).integers(0, cfg.vocab, 29)
    ref = ReferenceSession(cfg, params)
    ref.process(tokens)
    assert_gates_decided(ref.gate_log, MARGIN["f32"])
    one = assert_chunking_bit_exact(model, tokens, split_at=11)  # position 11: inside a block of levels 1 and 2
    trained = model.session(max_train_tokens=len(tokens))
    trained.train_chunk(tokens, tokens)
    assert trained.save_state() == one.save_state()
    mid_block = model.session()
    mid_block.process(tokens[:11])
    assert np.abs(blob_parts(model, mid_block.save_state())[1]["sum"]).max() > 0  # the split saved a block sum


def _chunk_setup(cfg: ModelConfig, seed: int):
    """(model, params, blob after 5 warm-up tokens, warm, tokens, targets) in the double build."""
    model, params = build_model(cfg, gated_params(cfg, seed), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 10), rng.integers(0, cfg.vocab, 10)
    warm_tokens = rng.integers(0, cfg.vocab, 5)  # position 5: a block of every gated level began before
    warm = model.session()
    warm.process(warm_tokens)
    return model, params, warm.save_state(), warm_tokens, tokens, targets


def _reference_chunk(cfg, params, warm_tokens, tokens) -> ReferenceSession:
    ref = ReferenceSession(cfg, params)
    ref.process(warm_tokens)
    return ref


FREQ = ("freq_w", "freq_b")


@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_gated_gradients_match_finite_differences(rule, composition):
    """The C model's own loss, by finite differences, for every tensor not
    upstream of a gate's input: the hard gates make the loss piecewise
    constant in freq_w, freq_b and (through the block means) in the level
    input, where the straight-through estimator then differs from the true
    derivative on purpose (test_straight_through_gradient checks those).
    The test first asserts that no gate in the chunk is near its threshold,
    so a 1e-6 step flips none."""
    cfg = gated_config(rule, composition, vocab=20, d_model=8, window=3)
    model, params, blob, warm_tokens, tokens, targets = _chunk_setup(cfg, 11)
    ref = _reference_chunk(cfg, params, warm_tokens, tokens)
    ref.gate_log.clear()
    ref.process(tokens)
    assert_gates_decided(ref.gate_log, 1e-4, both=False)
    assert_chunk_gradients(model, model.session(max_train_tokens=len(tokens)), blob, tokens, targets, probes=2,
                           skip=lambda name: name == "emb" or name.endswith(FREQ))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", ["delta", "titans", "moneta", "ssm"])
def test_straight_through_gradient(rule, composition, layers):
    """MATH §6.2: every gradient of train_chunk, the gates' included, is the
    straight-through one (the gate h treated as the multiplier of its
    block's update, with g's derivative).  That is the exact derivative of
    the reference's loss with h at each block end f of the chunk replaced by
    h_f + sigmoid(pre_f) - g_f, g_f the constant value of sigmoid(pre_f) at
    the unperturbed weights (ReferenceSession.ste_anchors): equal to h_f
    there, so the forward is unchanged, and its finite differences (float64,
    no gate near its threshold) must match the C gradient of every tensor,
    including the embedding and, with 2 layers, layer 0 beneath layer 1's gates."""
    _check_straight_through(gated_config(rule, composition, vocab=20, d_model=8, window=3, n_layers=layers))


def test_straight_through_gradient_at_period_one():
    _check_straight_through(gated_config("titans", vocab=20, d_model=8, window=3, periods=(1, 1, 2)))


def _check_straight_through(cfg: ModelConfig) -> None:
    model, params, blob, warm_tokens, tokens, targets = _chunk_setup(cfg, 11)
    sess = model.session(max_train_tokens=len(tokens))
    sess.load_state(blob)
    _, flat = sess.train_chunk(tokens, targets)
    grads = model.split_grads(flat)

    base = _reference_chunk(cfg, params, warm_tokens, tokens)
    base.gate_log.clear()
    base.process(tokens)
    assert_gates_decided(base.gate_log, 1e-4)
    anchors = {(g["layer"], g["level"], g["position"]): float(sigmoid(g["pre"])) for g in base.gate_log}

    fixed = {name: value.copy() for name, value in params.items()}

    def loss():  # from the warm state, a constant (MATH §7), with the weights as they are now
        ref = _reference_chunk(cfg, fixed, warm_tokens, tokens)
        ref.set_params(params)
        ref.ste_anchors = anchors
        return cross_entropy(ref.process(tokens), targets)

    probe = np.random.default_rng(1)
    for name, w in params.items():
        if name.endswith(FREQ):
            assert np.abs(grads[name]).max() > 0, f"{name}: gradient is identically zero"
        for index in probe_indices(w, probe, 2):
            assert_gradient_matches(grads, name, index, central_difference(loss, w, index, 1e-6))


def test_fixed_schedule_is_the_ungated_model():
    """MATH §6.2 annealing: with HECATE_SESSION_FIXED_SCHEDULE every gate is
    open: bit-identical to the same weights without gates (which in turn run
    exactly as before gates existed), and the gates get no gradient."""
    cfg = gated_config()
    params = gated_params(cfg, 4)
    model, _ = build_model(cfg, params, "f64")
    plain_cfg = ModelConfig.from_dict({**cfg.to_dict(), "freq_gates": False})
    plain, _ = build_model(plain_cfg, {k: v for k, v in params.items() if not k.endswith(FREQ)}, "f64")
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 30)
    fixed = model.session(max_chunk=7, fixed_schedule=True)
    logits = fixed.process(tokens)
    assert np.array_equal(logits, plain.session(max_chunk=5).process(tokens))
    assert not np.array_equal(logits, model.session().process(tokens)), "some gate must be shut without it"
    ref = ReferenceSession(cfg, model.weights(), fixed_schedule=True)
    assert_close(logits, ref.process(tokens), TOL["f64"], "logits")
    assert all(g["open"] for g in ref.gate_log)
    train = model.session(max_train_tokens=12, fixed_schedule=True)
    _, flat = train.train_chunk(tokens[:12], tokens[1:13])
    grads = model.split_grads(flat)
    assert all(not grads[f"blk0.mem{level}.{name}"].any() for level in (1, 2) for name in FREQ)
    _, plain_flat = plain.session(max_train_tokens=12).train_chunk(tokens[:12], tokens[1:13])
    for name, value in plain.split_grads(plain_flat).items():
        assert np.array_equal(grads[name], value), name


def test_init_and_config():
    """MATH §6.2, §8: gates on levels >= 1 only, freq_b = 2 opens every gate
    at init; the flag needs 2 levels; files round-trip it."""
    from hecate_edge.format import read_model, write_model
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=2, window=4, n_levels=2, periods=(1, 4), freq_gates=True)
    params = init_params(cfg, 0)
    assert "blk0.mem0.freq_w" not in params and params["blk0.mem1.freq_w"].shape == (16,)
    assert params["blk0.mem1.freq_b"].tolist() == [FREQ_GATE_BIAS]
    assert cfg.flags & 3 == 3  # bits 0 and 1 (the default's features add bits 2-4)
    back, tensors, _ = read_model(write_model(cfg, params))
    assert back == cfg and set(tensors) == set(params)
    ref = ReferenceSession(cfg, params)
    ref.process(np.arange(32))
    assert len(ref.gate_log) == 8 and all(g["open"] for g in ref.gate_log)
    with pytest.raises(ValueError, match="freq_gates"):
        ModelConfig(n_levels=1, freq_gates=True)


def test_state_blob_sum_is_checked():
    """A non-finite block input sum in a blob is refused and leaves the session as it was."""
    from hecate_edge.errors import HecateError
    from hecate_edge.format import crc32
    cfg = gated_config()
    model, _ = build_model(cfg, gated_params(cfg, 4), "f32")
    sess = model.session()
    sess.process(np.arange(5))
    blob = bytearray(sess.save_state())
    n = int(np.prod(model.memory_shape))
    at = STATE_HEADER + 4 * (n + 2 * n)  # level 0's A, level 1's A and P: level 1's sum
    struct.pack_into("<f", blob, at, float("nan"))
    struct.pack_into("<I", blob, 24, crc32(blob[28:]))
    before = sess.save_state()
    with pytest.raises(HecateError) as err:
        sess.load_state(bytes(blob))
    assert err.value.name == "HECATE_E_STATE_NONFINITE"
    assert sess.save_state() == before


def test_train_cli_takes_freq_gates(tmp_path):
    from hecate_edge import cli, runtime
    out = tmp_path / "gated.hct"
    assert cli.main(["train", "--levels", "2", "--periods", "1,4", "--freq-gates", "--freq-anneal", "1",
                     "--steps", "2", "--d-model", "8", "--heads", "2", "--chunk", "8", "--burn-in", "4",
                     "--quiet", "--out", str(out)]) == 0
    model = runtime.Model(out)
    assert model.config.freq_gates and "blk0.mem1.freq_w" in model.weights()
    assert cli.main(["train", "--levels", "1", "--freq-gates", "--steps", "1", "--out", str(out)]) == 2


def test_annealing_switches_sessions_after_n_steps():
    """TrainConfig.freq_anneal: the first steps train on the fixed schedule
    (no gate gradient: the gate bias of an SGD run stays put), later ones on
    the gates (it moves)."""
    from hecate_edge import runtime, train
    from hecate_edge.data import load_corpus
    cfg = ModelConfig(vocab=256, d_model=8, n_heads=2, window=4, n_levels=2, periods=(1, 2), freq_gates=True)
    corpus = load_corpus("text", "train")
    params = lively_params(cfg, 0)  # a level that writes a lot: its gate has a visible gradient
    start = np.float32(params["blk0.mem1.freq_b"][0])

    def gate_bias_after(anneal: int, steps: int) -> float:
        model = runtime.Model(train.model_bytes(cfg, params))
        config = train.TrainConfig(steps=4, chunk=8, lr=100.0, optimizer="sgd", warmup=0, freq_anneal=anneal,
                                   clip_norm=None)
        train.train(model, corpus, config, show_progress=False, until=steps)
        return float(model.weights()["blk0.mem1.freq_b"][0])

    assert gate_bias_after(2, 2) == start
    assert gate_bias_after(2, 4) != start
    assert gate_bias_after(0, 2) != start


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_gated_level_of_period_one(precision):
    """MATH §6.2 at C = 1: every token ends a block, its gate keeps or drops that token's write."""
    cfg = gated_config("titans", periods=(1, 1, 2))
    model, params = build_model(cfg, gated_params(cfg, 4), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 23)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=5)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    assert_gates_decided([g for g in ref.gate_log if g["level"] == 1], MARGIN[precision])
    for level in range(cfg.n_levels):
        assert_close(sess.memory(level), ref.memory(level), TOL[precision], f"level {level} state")
    assert_chunking_bit_exact(model, tokens, max_chunk=3)
