"""Session behaviour through the Python API: the chunking invariant (MATH §6,
bit-identical), state blobs that resume exactly, and bad input that is
rejected with a named error while the session loses nothing."""
import struct
from dataclasses import replace

import numpy as np
import pytest

from hecate_edge.config import ModelConfig
from hecate_edge.format import crc32
from hecate_edge.runtime import HecateError
from conftest import RULE_CASES, build_model, lively_params, rule_config

CFG = ModelConfig(vocab=64, d_model=16, n_heads=2, window=5)


@pytest.fixture(params=[(p, c) for p in ("f32", "f64") for c in RULE_CASES], ids=lambda pc: "-".join(pc))
def model(request):
    precision, case = request.param
    cfg = rule_config(CFG, case)
    return build_model(cfg, lively_params(cfg, 0), precision)[0]


def tokens(n, seed=0):
    return np.random.default_rng(seed).integers(0, CFG.vocab, n)


@pytest.mark.parametrize("max_chunk", [1, 3, 16, 64])
@pytest.mark.parametrize("split", [[1], [2, 5, 11], [40], [7, 1, 1, 13]])
def test_any_chunking_is_bit_identical_to_step(model, max_chunk, split):
    toks = tokens(40)
    stepper = model.session()
    want = np.stack([stepper.step(t) for t in toks])
    sess = model.session(max_chunk=max_chunk)
    got, at, i = [], 0, 0
    while at < len(toks):
        n = min(split[i % len(split)], len(toks) - at)
        got.append(sess.process(toks[at:at + n]))
        at, i = at + n, i + 1
    assert np.array_equal(np.concatenate(got), want)
    assert sess.save_state() == stepper.save_state()


def test_process_without_logits_keeps_the_same_state(model):
    toks = tokens(30)
    a, b = model.session(), model.session()
    a.process(toks)
    assert b.process(toks, want_logits=False) is None
    assert a.save_state() == b.save_state()


def test_save_load_resumes_exactly(model):
    a = model.session()
    a.process(tokens(23))
    blob = a.save_state()
    b = model.session(max_chunk=4)
    b.load_state(blob)
    assert b.position == 23
    more = tokens(9, seed=1)
    assert np.array_equal(a.process(more), b.process(more))


def test_reset_restores_initial_state(model):
    s = model.session()
    fresh = s.save_state()
    s.process(tokens(10))
    s.reset()
    assert s.save_state() == fresh and s.position == 0


def _refresh_crc(blob: bytearray) -> bytes:
    struct.pack_into("<I", blob, 24, crc32(blob[28:]))
    return bytes(blob)


def _bad_blobs(good: bytes, other_model_blob: bytes, real: int):
    def patched(offset, fmt, value, crc=True):
        b = bytearray(good)
        struct.pack_into(fmt, b, offset, value)
        return _refresh_crc(b) if crc else bytes(b)

    nan = bytearray(good)
    struct.pack_into("<d" if real == 8 else "<f", nan, 56, float("nan"))
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    return [
        ("truncated", good[:40], "HECATE_E_STATE_TRUNCATED"),
        ("tiny", good[:8], "HECATE_E_STATE_TRUNCATED"),
        ("cut-payload", good[:-8], "HECATE_E_STATE_TRUNCATED"),
        ("magic", b"XCTSTATE" + good[8:], "HECATE_E_STATE_MAGIC"),
        ("version", patched(8, "<I", 2, crc=False), "HECATE_E_STATE_VERSION"),
        ("endian", patched(12, "<I", 0x04030201, crc=False), "HECATE_E_STATE_ENDIAN"),
        ("crc", bytes(flipped), "HECATE_E_STATE_CRC"),
        ("longer-buffer", good + b"\0" * 8, "HECATE_E_STATE_SIZE"),
        ("real-size", patched(28, "<I", 12 - real), "HECATE_E_STATE_MODEL"),
        ("other-model", other_model_blob, "HECATE_E_STATE_MODEL"),
        ("reserved", patched(36, "<I", 1), "HECATE_E_STATE_RESERVED"),
        ("payload-count", patched(48, "<Q", 3), "HECATE_E_STATE_SIZE"),
        ("nan", _refresh_crc(nan), "HECATE_E_STATE_NONFINITE"),
        ("not-bytes-at-all", b"", "HECATE_E_STATE_TRUNCATED"),
    ]


def test_bad_state_blobs_are_rejected_and_change_nothing(model):
    s = model.session()
    s.process(tokens(12))
    good = s.save_state()
    other, _ = build_model(CFG, lively_params(CFG, 9), model.precision)
    other_sess = other.session()
    other_sess.process(tokens(3))
    s.process(tokens(4, seed=2))  # the session moves on; a failed load must not undo that
    before = s.save_state()
    for case, blob, code in _bad_blobs(good, other_sess.save_state(), model.dtype.itemsize):
        with pytest.raises(HecateError) as err:
            s.load_state(blob)
        assert err.value.name == code, case
        assert s.save_state() == before, f"{case}: rejected blob changed the session"


def test_bad_tokens_consume_nothing(model):
    s = model.session(max_train_tokens=4)
    s.process(tokens(3))
    before = s.save_state()
    with pytest.raises(HecateError) as err:
        s.process([1, 2, CFG.vocab])
    assert err.value.name == "HECATE_E_TOKEN_RANGE"
    with pytest.raises(ValueError):
        s.process([1, -2])
    with pytest.raises(HecateError) as err:
        s.train_chunk([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert err.value.name == "HECATE_E_CHUNK_TOO_LONG"
    assert s.save_state() == before


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.int64, np.uint64])
def test_token_arrays_of_any_integer_dtype_give_the_same_logits(dtype):
    """Unsigned types of <= 32 bits are in range by their type (no pass over the values); the
    others are checked for negative and > 32-bit values (tokens >= vocab: HECATE_E_TOKEN_RANGE).
    The conversion is the binding's, before any rule: one model serves."""
    model = build_model(CFG, lively_params(CFG, 0), "f32")[0]
    want = model.session().process(np.array([1, 7, 3], np.uint32))
    assert np.array_equal(model.session().process(np.array([1, 7, 3], dtype)), want)
    if np.dtype(dtype).kind == "i":
        with pytest.raises(ValueError, match="negative"):
            model.session().process(np.array([1, -7, 3], dtype))
    if np.dtype(dtype).itemsize == 8:
        with pytest.raises(ValueError, match="above"):
            model.session().process(np.array([1, 2**32, 3], dtype))


def test_training_needs_a_training_session(model):
    with pytest.raises(HecateError) as err:
        model.session().train_chunk([1], [2])
    assert err.value.name == "HECATE_E_NOT_TRAINABLE"


def test_nonfinite_results_are_reported_and_not_committed():
    """Weights that blow the memory up (huge theta) give HECATE_E_NONFINITE,
    and the session keeps its last good state."""
    cfg = replace(CFG, bounded_steps=False)  # bounded steps (the default) cannot diverge this way
    params = lively_params(cfg, 0)
    params["blk0.mem0.gate_b"] = np.array([-5.0, 30.0])  # theta ~ 30: the delta rule diverges
    model, _ = build_model(cfg, params, "f32")
    s = model.session()
    good = s.save_state()
    with pytest.raises(HecateError) as err:
        for t in tokens(200):
            s.step(t)
            good = s.save_state()
    assert err.value.name == "HECATE_E_NONFINITE"
    assert s.position > 0, "the memory should blow up after a few tokens, not at once"
    assert s.save_state() == good


def test_blob_of_another_build_or_config_is_foreign_not_short():
    """A real blob from the other build type, or from a model of another width,
    is HECATE_E_STATE_MODEL whatever its size."""
    params = lively_params(CFG, 0)
    f32, f64 = build_model(CFG, params, "f32")[0], build_model(CFG, params, "f64")[0]
    small_cfg = ModelConfig(vocab=64, d_model=8, n_heads=2, window=5)
    small = build_model(small_cfg, lively_params(small_cfg, 0), "f32")[0]
    for source, target in ((f32, f64), (f64, f32), (small, f32)):
        blob = source.session().save_state()
        with pytest.raises(HecateError) as err:
            target.session().load_state(blob)
        assert err.value.name == "HECATE_E_STATE_MODEL"


def test_loss_stays_finite_when_softmax_underflows():
    """Huge logits: the target's probability underflows to 0 in float, but the
    loss is computed as log-sum-exp minus the logit, so it stays finite and exact."""
    from hecate_edge.reference.model import ReferenceSession, cross_entropy
    params = lively_params(CFG, 4)
    params["head"] = params["head"] * 1e4
    model, stored = build_model(CFG, params, "f32")
    toks = tokens(8, seed=3)
    targets = (toks + 1) % CFG.vocab
    loss, grads = model.session(max_train_tokens=8).train_chunk(toks, targets)
    want = cross_entropy(ReferenceSession(CFG, stored).process(toks), targets)
    assert np.isfinite(loss) and np.isfinite(grads).all()
    assert want > 50  # the regime where exp underflows in float
    assert abs(loss - want) <= 1e-5 * want
