"""int8 weights (docs/FORMAT.md dtype 2, DECISIONS D29): the quantiser's
rounding, C (float and double build) against the reference on the
dequantized weights for every rule and composition, the chunking
invariant, the writer/reader round trip, and refusals (training, truncation)."""
from dataclasses import replace

import numpy as np
import pytest

from conftest import RULE_CASES, lively_params, rule_config
from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.format import read_model, write_model
from hecate_edge.quantize import dequantize_rows, int8_allowed, quantize_rows
from hecate_edge.reference.model import ReferenceSession
from hecate_edge.runtime import HecateError, Model
from parity import assert_close

TOL = {"f32": 1e-5, "f64": 1e-12}
CFG = ModelConfig(vocab=64, d_model=16, n_heads=2, window=4)


def int8_model(cfg: ModelConfig, seed: int, precision: str = "f32"):
    """(C Model of the int8 file, the float64 weights the file holds, file bytes)."""
    data = write_model(cfg, lively_params(cfg, seed), precision, quantize="int8")
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


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("conv", [0, 4], ids=lambda k: f"conv{k}")
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("case", RULE_CASES)
def test_int8_model_matches_reference_on_dequantized_weights(case, composition, conv, precision):
    """Also with the short convolution (MATH §3.1), whose taps stay float."""
    cfg = rule_config(replace(CFG, composition=composition, conv_kernel=conv), case)
    model, stored, _ = int8_model(cfg, 3, precision)
    assert model.quantized
    tokens = np.random.default_rng(11).integers(0, cfg.vocab, 80)
    ref = ReferenceSession(cfg, stored)
    sess = model.session(max_chunk=5)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "int8 logits")
    assert_close(sess.memory(), ref.memory(), TOL[precision], "int8 final memory state")


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_int8_rope_matches_reference(composition, precision):
    """Rotary positions in window attention (MATH §2) over int8 projections."""
    cfg = replace(CFG, composition=composition, rope=True)
    model, stored, _ = int8_model(cfg, 6, precision)
    tokens = np.random.default_rng(13).integers(0, cfg.vocab, 40)
    ref = ReferenceSession(cfg, stored)
    assert_close(model.session(max_chunk=6).process(tokens), ref.process(tokens), TOL[precision], "int8 rope logits")


@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_int8_stack_matches_reference(composition):
    """Every block's matrices are int8 in a 3-block stack (MATH §4.3)."""
    cfg = replace(CFG, composition=composition, n_layers=3)
    model, stored, _ = int8_model(cfg, 5)
    assert {t.name for t in model.tensors if t.dtype == "i8"} >= {"blk2.attn.wo", "blk2.mem0.wq"}
    tokens = np.random.default_rng(12).integers(0, cfg.vocab, 40)
    ref = ReferenceSession(cfg, stored)
    assert_close(model.session(max_chunk=6).process(tokens), ref.process(tokens), TOL["f32"], "int8 stack logits")


def test_int8_weights_are_what_the_file_holds_and_close_to_the_float_ones():
    params = lively_params(CFG, 0)
    model, stored, _ = int8_model(CFG, 0)
    for name, w in model.weights().items():
        assert np.array_equal(w, stored[name]), name
        if int8_allowed(name):
            assert not w.flags.writeable
            assert_close(w, params[name], 0.02, f"{name} int8 vs float")


@pytest.mark.parametrize("max_chunk", [1, 3, 16])
def test_int8_chunking_is_bit_identical_to_step(max_chunk):
    model, _, _ = int8_model(CFG, 1)
    tokens = np.random.default_rng(2).integers(0, CFG.vocab, 50)
    stepped = model.session()
    want = np.stack([stepped.step(t) for t in tokens])
    got = model.session(max_chunk=max_chunk).process(tokens)
    assert np.array_equal(got, want)


def test_int8_model_refuses_training_sessions():
    model, _, _ = int8_model(CFG, 0)
    with pytest.raises(HecateError) as err:
        model.session(max_train_tokens=8)
    assert err.value.name == "HECATE_E_NOT_TRAINABLE"


def test_int8_file_round_trips_and_is_smaller():
    model, _, data = int8_model(CFG, 0)
    assert model.to_bytes() == data
    float_bytes = len(write_model(CFG, lively_params(CFG, 0), "f32"))
    assert len(data) < float_bytes / 2


def test_every_truncation_of_an_int8_file_is_caught():
    _, _, data = int8_model(CFG, 0)
    for n in range(0, len(data), 41):
        with pytest.raises(HecateError) as err:
            Model(data[:n])
        assert err.value.name == "HECATE_E_FILE_TRUNCATED", n
