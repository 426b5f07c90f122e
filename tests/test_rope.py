"""Rotary positions in window attention (MATH §2, header flag bit 3): the
relative form against plain RoPE, the C runtime against the reference for
every rule x composition (f32 ~1e-5, f64 ~1e-12), a stack and CMS levels,
bit-exact chunking and restore, a position near 1e6, every gradient against
finite differences (double build), and the cos/sin table against numpy."""
import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.format import crc32
from hecate_edge.reference.attention import attention_scores, rope_frequencies, rotate
from hecate_edge.reference.model import ReferenceSession
from chunking import assert_chunking_bit_exact
from finite_diff import assert_chunk_gradients
from parity import assert_close
from conftest import ALL_RULES, build_model, lively_params, rule_config
from test_compositions import _window

ALL_COMPOSITIONS = sorted(COMPOSITIONS)
TOL = {"f32": 1e-5, "f64": 1e-12}


def config(rule="delta", composition="mag", **shape):
    base = ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, "rope": True, **shape})
    return ModelConfig.from_dict({**rule_config(base, rule).to_dict(), "composition": composition})


def sharp_params(cfg: ModelConfig, seed: int, head: float = 1.0) -> dict:
    """lively_params with 3x attention queries and keys: peaked softmaxes, so
    the rotation moves the logits well above the parity tolerance (and the head
    times `head`: gradients well above the finite differences' 1e-6 floor)."""
    params = lively_params(cfg, seed)
    for name in params:
        if name.endswith(("attn.wq", "attn.wk")):
            params[name] = params[name] * 3.0
    params["head"] = params["head"] * head
    return params


# ---- the math (reference only) ----

def test_relative_form_is_rope():
    """<R(n theta) q, R(s theta) k> = <R((n - s) theta) q, k>: turning the
    query by each key's offset is RoPE on both (Su et al. 2021)."""
    rng = np.random.default_rng(0)
    h, n = 8, 11
    q, keys = rng.normal(size=h), rng.normal(size=(6, h))
    positions = np.arange(n - 5, n + 1)
    theta = rope_frequencies(h)
    absolute = np.sum(rotate(q, n * theta) * rotate(keys, np.outer(positions, theta)), axis=1) / np.sqrt(h)
    assert np.allclose(attention_scores(q, keys, n - positions), absolute, rtol=0, atol=1e-13)
    assert np.array_equal(rope_frequencies(4), [1.0, 0.01])


def test_only_rope_sees_the_order_of_the_window():
    """Without rotary positions the scores of a shuffled window are the
    shuffled scores (a set); with them they are not."""
    rng = np.random.default_rng(1)
    q, keys = rng.normal(size=8), rng.normal(size=(5, 8))
    offsets = np.arange(4, -1, -1)
    perm = np.array([4, 0, 3, 1, 2])
    plain = attention_scores(q, keys)
    assert np.allclose(attention_scores(q, keys[perm]), plain[perm], rtol=0, atol=1e-14)
    turned = attention_scores(q, keys, offsets)
    assert np.abs(attention_scores(q, keys[perm], offsets) - turned[perm]).max() > 0.1


# ---- the C runtime against the reference ----

def _check_parity(cfg, precision, n_tokens=40, seed=4):
    model, params = build_model(cfg, sharp_params(cfg, seed), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, n_tokens)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    for layer in range(cfg.n_layers):
        for level in range(cfg.n_levels):
            assert_close(sess.memory(level, layer=layer), ref.memory(level, layer=layer), TOL[precision],
                         f"block {layer} level {level} state")
        for mine, theirs in zip(_window(sess, layer) if cfg.n_levels == 1 else (), ref.attention_cache(layer)):
            assert_close(mine, theirs, TOL[precision], f"attention window of block {layer}")


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_rope_matches_reference(rule, composition, precision):
    _check_parity(config(rule, composition), precision)


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("shape", [{"n_layers": 2}, {"n_levels": 2, "periods": (1, 3)}], ids=["stack", "cms2"])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
def test_rope_stack_and_levels_match_reference(composition, shape, precision):
    _check_parity(config("titans", composition, **shape), precision)


def test_rope_changes_the_output():
    cfg = config("delta", "mac")
    params = sharp_params(cfg, 4)
    tokens = np.random.default_rng(3).integers(0, cfg.vocab, 20)
    with_rope = build_model(cfg, params)[0].session().process(tokens)
    without = build_model(ModelConfig.from_dict({**cfg.to_dict(), "rope": False}), params)[0].session().process(tokens)
    assert np.array_equal(with_rope[0], without[0])  # the first token sees only itself: offset 0, R(0) = 1
    assert np.abs(with_rope - without)[1:].max() > 0.05 * np.abs(without).max()


@pytest.mark.parametrize("rope", [False, True])
def test_shuffling_the_cached_window_changes_the_next_token_only_with_rope(rope):
    """The C runtime: a state whose window slots are shuffled (keys and values
    together) gives the same next logits up to rounding without rotary
    positions, and clearly different ones with them."""
    cfg = ModelConfig.from_dict({**config("delta", "mag", window=6).to_dict(), "rope": rope})
    model, _ = build_model(cfg, sharp_params(cfg, 4), "f64")
    sess = model.session()
    sess.process(np.arange(18) % cfg.vocab)  # position 18: slot i holds the token at 12 + i
    blob = bytearray(sess.save_state())
    reals = np.frombuffer(blob, np.uint8)[56:].view(np.float64)
    start = int(np.prod(model.memory_shape))
    ring = reals[start:start + 2 * cfg.window * cfg.d_model].reshape(2, cfg.window, cfg.d_model)
    shuffled = ring[:, [0, 3, 5, 1, 4, 2]].copy()  # slot 0 (position 12) leaves the window next
    want = sess.step(7)
    ring[:] = shuffled
    blob[24:28] = crc32(bytes(blob[28:])).to_bytes(4, "little")
    other = model.session()
    other.load_state(bytes(blob))
    got = other.step(7)
    if rope:
        assert np.abs(got - want).max() > 1e-3 * np.abs(want).max()  # rounding alone: ~1e-15
    else:
        assert_close(got, want, 1e-13, "next logits of a shuffled window")


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_rope_costs_its_table_and_scratch_and_no_state(precision):
    """Session bytes grow by the cos/sin table (2 w h scalars) and the block's
    4 h turning scratch, each 64-byte aligned; the state blob does not grow."""
    cfg = config("delta", "mac", d_model=32, n_heads=2, window=9)
    plain = ModelConfig.from_dict({**cfg.to_dict(), "rope": False})
    real = {"f32": 4, "f64": 8}[precision]
    sessions = [build_model(c, sharp_params(c, 0), precision)[0].session() for c in (plain, cfg)]
    aligned = [-(-n * real // 64) * 64 for n in (2 * 9 * 16, 4 * 16)]
    assert sessions[1]._arena.size - sessions[0]._arena.size == sum(aligned)
    assert sessions[1].state_bytes == sessions[0].state_bytes


# ---- streaming ----

@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_rope_chunking_and_restore_are_bit_exact(rule, composition):
    cfg = config(rule, composition)
    model, _ = build_model(cfg, sharp_params(cfg, 5), "f32")
    assert_chunking_bit_exact(model, np.random.default_rng(2).integers(0, cfg.vocab, 23), split_at=11)


@pytest.mark.parametrize("shape", [{"n_layers": 2}, {"n_levels": 2, "periods": (1, 3)}], ids=["stack", "cms2"])
def test_rope_stack_and_levels_chunk_bit_exactly(shape):
    cfg = config("titans", "mac", **shape)
    model, _ = build_model(cfg, sharp_params(cfg, 5), "f32")
    assert_chunking_bit_exact(model, np.random.default_rng(2).integers(0, cfg.vocab, 23), split_at=11)


def _at_position(blob: bytes, position: int) -> bytes:
    """The state blob with its position field replaced (FORMAT.md state blob: u64 at 40, CRC from 28)."""
    out = bytearray(blob)
    out[40:48] = position.to_bytes(8, "little")
    out[24:28] = crc32(bytes(out[28:])).to_bytes(4, "little")
    return bytes(out)


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_rope_at_position_a_million(precision):
    """Only offsets inside the window enter the scores: moved ahead by a
    multiple of the window (same ring slots), a session continues bit-exactly,
    and matches the reference moved the same way."""
    cfg = config("delta", "mac", n_layers=2)
    model, params = build_model(cfg, sharp_params(cfg, 6), precision)
    rng = np.random.default_rng(4)
    head, tail = rng.integers(0, cfg.vocab, 30), rng.integers(0, cfg.vocab, 20)
    sess, ref = model.session(), ReferenceSession(cfg, params)
    sess.process(head)
    ref.process(head)
    far = model.session(max_chunk=6)
    shift = cfg.window * 200_000
    far.load_state(_at_position(sess.save_state(), len(head) + shift))
    ref.position += shift
    want = sess.process(tail)
    assert np.array_equal(far.process(tail), want)
    assert far.position == len(head) + len(tail) + shift
    assert_close(want, ref.process(tail), TOL[precision], "logits after position 1e6")


# ---- gradients ----

@pytest.mark.parametrize("composition,shape", [(c, s) for c in ALL_COMPOSITIONS
                                               for s in ({}, {"n_layers": 2})] + [("mac", {"n_levels": 2, "periods": (1, 3)})],
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}{v[k]}" for k in v if k != "periods"))
def test_rope_gradients_match_finite_differences(composition, shape):
    """Every parameter tensor, from a carried-over state (double build)."""
    cfg = config("titans", composition, vocab=20, d_model=8, window=3, **shape)
    model, _ = build_model(cfg, sharp_params(cfg, 11, head=10.0), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 7), rng.integers(0, cfg.vocab, 7)
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, 4))
    assert_chunk_gradients(model, model.session(max_train_tokens=7), warm.save_state(), tokens, targets, probes=6)
