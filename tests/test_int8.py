"""int8 weights (docs/FORMAT.md dtypes 2 and 3, DECISIONS D29, D72): the
quantiser's rounding, C (float and double build) against the reference on the
dequantized weights (with int16 activations: MATH §1.1) for every rule and
composition, the chunking invariant, the writer/reader round trip, and
refusals (training, truncation, dtype 3 where it may not be)."""
from dataclasses import replace

import numpy as np
import pytest

from conftest import RULE_CASES, lively_params, rule_config
from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.format import QUANTIZE, read_model, write_model
from hecate_edge.quantize import W8A16Matrix, dequantize_rows, int8_allowed, quantize_rows, w8a16_product
from hecate_edge.reference.model import ReferenceSession
from hecate_edge.runtime import HecateError, Model
from parity import assert_close

TOL = {"f32": 1e-5, "f64": 1e-12}
# with int16 activations the float build quantizes inputs that differ from the reference's by float32
# rounding: one that lies that close to a level boundary rounds to the next level (a change of 1/32767
# of its row's largest product), so the float build's logits move by about 1e-5 more (MATH §1.1); the
# double build rounds as the reference does
TOL_A16 = {"f32": 5e-5, "f64": 1e-12}


def tol(precision: str, quantize: str) -> float:
    return (TOL_A16 if quantize == "w8a16" else TOL)[precision]
CFG = ModelConfig(vocab=64, d_model=16, n_heads=2, window=4)


def int8_model(cfg: ModelConfig, seed: int, precision: str = "f32", quantize: str = "int8"):
    """(C Model of the int8 file, the float64 weights the file holds, file bytes)."""
    data = write_model(cfg, lively_params(cfg, seed), precision, quantize=quantize)
    _, stored, _ = read_model(data, precision)
    return Model(data, precision=precision), stored, data


def test_rows_round_to_nearest_step_of_their_own_scale():
    w = np.random.default_rng(0).normal(size=(9, 33)) * np.arange(1, 10)[:, None]
    w[4] = 0.0
    scales, values = quantize_rows(w)
    assert scales.dtype == np.float32 and values.dtype == np.int8
    back = dequantize_rows(scales, values)
    assert np.all(np.abs(back - w) <= scales.astype(np.float64)[:, None] / 2 * (1 + 1e-6))
    nonzero = np.arange(9) != 4
    assert np.all(np.abs(values[nonzero]).max(axis=1) == 127)
    assert scales[4] == 1.0 and not values[4].any()


def test_only_the_matrices_the_kernels_read_may_be_int8():
    assert all(int8_allowed(n) for n in ("emb", "head", "blk0.attn.wo", "blk0.mem0.wk", "blk1.mem2.wq"))
    assert not any(int8_allowed(n) for n in ("blk0.mem0.gate_w", "blk0.mem0.gate_b", "blk0.mem0.A_log",
                                             "blk0.mem0.conv_k", "blk1.mem0.conv_q"))  # conv taps: float


@pytest.mark.parametrize("quantize", QUANTIZE)
@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("conv", [0, 4], ids=lambda k: f"conv{k}")
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("case", RULE_CASES)
def test_int8_model_matches_reference_on_dequantized_weights(case, composition, conv, precision, quantize):
    """Also with the short convolution (MATH §3.1), whose taps stay float."""
    cfg = rule_config(replace(CFG, composition=composition, conv_kernel=conv), case)
    model, stored, _ = int8_model(cfg, 3, precision, quantize)
    assert model.quantized
    tokens = np.random.default_rng(11).integers(0, cfg.vocab, 80)
    ref = ReferenceSession(cfg, stored)
    sess = model.session(max_chunk=5)
    assert_close(sess.process(tokens), ref.process(tokens), tol(precision, quantize), "int8 logits")
    assert_close(sess.memory(), ref.memory(), tol(precision, quantize), "int8 final memory state")


@pytest.mark.parametrize("quantize", QUANTIZE)
@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_int8_rope_matches_reference(composition, precision, quantize):
    """Rotary positions in window attention (MATH §2) over int8 projections."""
    cfg = replace(CFG, composition=composition, rope=True)
    model, stored, _ = int8_model(cfg, 6, precision, quantize)
    tokens = np.random.default_rng(13).integers(0, cfg.vocab, 40)
    ref = ReferenceSession(cfg, stored)
    assert_close(model.session(max_chunk=6).process(tokens), ref.process(tokens), tol(precision, quantize),
                 "int8 rope logits")


@pytest.mark.parametrize("quantize", QUANTIZE)
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_int8_stack_matches_reference(composition, quantize):
    """Every block's matrices are int8 in a 3-block stack (MATH §4.3)."""
    cfg = replace(CFG, composition=composition, n_layers=3)
    model, stored, _ = int8_model(cfg, 5, quantize=quantize)
    assert {t.name for t in model.tensors if t.dtype in ("i8", "i8a16")} >= {"blk2.attn.wo", "blk2.mem0.wq"}
    tokens = np.random.default_rng(12).integers(0, cfg.vocab, 40)
    ref = ReferenceSession(cfg, stored)
    assert_close(model.session(max_chunk=6).process(tokens), ref.process(tokens), tol("f32", quantize),
                 "int8 stack logits")


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_int8_weights_are_what_the_file_holds_and_close_to_the_float_ones(quantize):
    params = lively_params(CFG, 0)
    model, stored, _ = int8_model(CFG, 0, quantize=quantize)
    for name, w in model.weights().items():
        assert type(w) is type(stored[name]), name
        assert np.array_equal(np.asarray(w), np.asarray(stored[name])), name
        if int8_allowed(name):
            assert isinstance(w, W8A16Matrix) == (quantize == "w8a16" and name != "emb"), name
            assert not np.asarray(w).flags.writeable or isinstance(w, W8A16Matrix)
            assert_close(np.asarray(w), params[name], 0.02, f"{name} int8 vs float")


@pytest.mark.parametrize("quantize", QUANTIZE)
@pytest.mark.parametrize("max_chunk", [1, 3, 16])
def test_int8_chunking_is_bit_identical_to_step(max_chunk, quantize):
    model, _, _ = int8_model(CFG, 1, quantize=quantize)
    tokens = np.random.default_rng(2).integers(0, CFG.vocab, 50)
    stepped = model.session()
    want = np.stack([stepped.step(t) for t in tokens])
    got = model.session(max_chunk=max_chunk).process(tokens)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_int8_model_refuses_training_sessions(quantize):
    model, _, _ = int8_model(CFG, 0, quantize=quantize)
    with pytest.raises(HecateError) as err:
        model.session(max_train_tokens=8)
    assert err.value.name == "HECATE_E_NOT_TRAINABLE"


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_int8_file_round_trips_and_is_smaller(quantize):
    model, _, data = int8_model(CFG, 0, quantize=quantize)
    assert model.to_bytes() == data
    float_bytes = len(write_model(CFG, lively_params(CFG, 0), "f32"))
    assert len(data) < float_bytes / 2


def test_every_truncation_of_an_int8_file_is_caught():
    _, _, data = int8_model(CFG, 0)
    for n in range(0, len(data), 41):
        with pytest.raises(HecateError) as err:
            Model(data[:n])
        assert err.value.name == "HECATE_E_FILE_TRUNCATED", n


def test_w8a16_product_quantizes_each_row_to_int16_with_one_scale():
    """MATH §1.1 by hand: levels floor(a 32767 / m + 1/2), an exact integer sum, one scale back;
    a zero row gives zeros, a non-finite one NaN."""
    rng = np.random.default_rng(4)
    scales, values = quantize_rows(rng.normal(size=(70, 6)))  # 70 rows: two of the C kernel's blocks of 64
    x = rng.normal(size=(3, 70))
    x[1] = 0.0
    x[2, 5] = np.inf
    y = w8a16_product(x, scales, values)
    a = x[0] * scales.astype(np.float64)
    m = np.abs(a).max()
    levels = np.floor(a * (32767 / m) + 0.5)
    assert np.abs(levels).max() == 32767
    want = m / 32767 * (levels.astype(np.int64) @ values.astype(np.int64))
    np.testing.assert_array_equal(y[0], want)
    assert_close(y[0], a @ values.astype(np.float64), 1e-4, "w8a16 vs the float product")
    assert not y[1].any() and np.isnan(y[2]).all()
    assert np.array_equal(x[:1] @ W8A16Matrix(scales, values), y[:1])


@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_w8a16_in_c_is_the_reference_product_over_several_blocks(precision):
    """d = 72: rows of 72 inputs, a block of 64 then 8 in the C kernel; head columns not a multiple of 4."""
    cfg = replace(CFG, vocab=66, d_model=72, n_heads=4)
    model, stored, _ = int8_model(cfg, 2, precision, "w8a16")
    tokens = np.random.default_rng(5).integers(0, cfg.vocab, 12)
    assert_close(model.session(max_chunk=4).process(tokens), ReferenceSession(cfg, stored).process(tokens),
                 tol(precision, "w8a16"), "w8a16 logits at d = 72")


def tiny_head_w8a16(cfg: ModelConfig) -> bytes:
    """A w8a16 float32 file whose head weights are about 1e-37: row scales near 2e-40
    (subnormal), so the head's products a = p s have a largest |a| = m below 32767 / FLT_MAX:
    32767 / m overflows float32 and m / 32767 underflows it."""
    params = lively_params(cfg, 0)
    params["head"] = params["head"] * 1e-37
    return write_model(cfg, params, "f32", quantize="w8a16")


def test_w8a16_rows_whose_scale_overflows_are_rescaled():
    """MATH §1.1's rescale by 2^100 where 32767 / m overflows: the reference's logits (without
    it the float build's levels were Inf converted to integers: undefined, zeros on x86)."""
    data = tiny_head_w8a16(CFG)
    _, stored, _ = read_model(data, "f32")
    tokens = np.random.default_rng(3).integers(0, CFG.vocab, 20)
    want = ReferenceSession(CFG, stored).process(tokens)
    # |p s| <= 1e4 max s: 32767 / m overflows float32 for any head input p below 1e4 in size
    assert 1e4 * float(stored["head"].scales.max()) < 32767 / np.finfo(np.float32).max
    # the logits are subnormal floats (about 1e-39, where float32 keeps some 17 bits): compared
    # relative to their own size (floor 0), at 4x the normal-range tolerance
    assert_close(Model(data).session().process(tokens), want, 4 * tol("f32", "w8a16"), "logits of a rescaled head",
                 floor=0.0)
