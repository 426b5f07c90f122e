"""The short causal convolution of the memory front end (MATH §3.1, header
flag bit 2, DECISIONS D35) where the rule x composition sweeps of
tests/test_cms.py (parity, chunking, restore, finite differences) do not
reach: taps that pass the current token through equal the model without
the convolution bit for bit; the convolution state advances under
freeze_memory, clears on reset and is checked in a loaded blob; the
config's range, tensors, flag and init."""
import struct

import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, LEGACY_OFF, ModelConfig, tensor_specs
from hecate_edge.errors import HecateError
from hecate_edge.format import crc32, describe, write_model
from hecate_edge.reference.init import init_params, init_scale
from hecate_edge.reference.model import ReferenceSession
from conftest import build_model, conv_states, lively_params
from parity import assert_close

TOL = {"f32": 1e-5, "f64": 1e-12}


def conv_config(composition="mag", **changes):
    """A 2-level model with the convolution and no other optional feature."""
    return ModelConfig(**{**LEGACY_OFF, "vocab": 40, "d_model": 16, "n_heads": 2, "window": 4,
                          "composition": composition, "n_levels": 2, "periods": (1, 3), "conv_kernel": 4, **changes})


@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
def test_identity_taps_equal_the_model_without_convolution(composition):
    """Taps (0, .., 0, 1) pass each projection through: the same logits and
    memories, bit for bit, as the same weights without the flag."""
    cfg = conv_config(composition)
    params = lively_params(cfg, 2)
    for name in params:
        if ".conv_" in name:
            params[name] = np.zeros_like(params[name])
            params[name][-1] = 1.0
    plain_cfg = conv_config(composition, conv_kernel=0)
    plain_params = {name: params[name] for name, _ in tensor_specs(plain_cfg)}
    with_conv, _ = build_model(cfg, params, "f32")
    without, _ = build_model(plain_cfg, plain_params, "f32")
    tokens = np.random.default_rng(4).integers(0, cfg.vocab, 23)
    a, b = with_conv.session(max_chunk=5), without.session(max_chunk=5)
    assert np.array_equal(a.process(tokens), b.process(tokens))
    for level in range(cfg.n_levels):
        assert np.array_equal(a.memory(level), b.memory(level))


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", ["mag", "mac"])
def test_frozen_memory_still_advances_the_convolution(composition, precision):
    """freeze_memory stops the writes, not the front end: the convolution
    state moves on (the frozen ablation sees the same keys and queries as
    the live model), the memory stays, and both match the reference."""
    cfg = conv_config(composition)
    model, params = build_model(cfg, lively_params(cfg, 3), precision)
    tokens = np.arange(24) * 7 % cfg.vocab
    live = model.session()
    live.process(tokens[:9])
    ref = ReferenceSession(cfg, params)
    ref.process(tokens[:9])
    frozen = model.session(freeze_memory=True)
    frozen.load_state(live.save_state())
    ref.freeze_memory = True
    before, conv_before = frozen.memory(1), conv_states(frozen).copy()
    assert_close(frozen.process(tokens[9:]), ref.process(tokens[9:]), TOL[precision], "frozen logits")
    assert np.array_equal(frozen.memory(1), before)
    assert not np.array_equal(conv_states(frozen), conv_before)
    for level in range(cfg.n_levels):
        assert_close(conv_states(frozen)[0, level], ref.conv_state(level), TOL[precision], f"level {level} conv")


def test_reset_clears_the_convolution_state():
    cfg = conv_config()
    model, _ = build_model(cfg, lively_params(cfg, 1), "f32")
    sess = model.session()
    fresh = sess.save_state()
    assert not conv_states(sess).any()
    sess.process(np.arange(6))
    assert conv_states(sess).any()
    sess.reset()
    assert sess.save_state() == fresh


def test_state_blob_convolution_state_is_checked():
    """A non-finite convolution state in a blob is refused and leaves the session as it was."""
    cfg = conv_config(n_layers=2)
    model, _ = build_model(cfg, lively_params(cfg, 4), "f32")
    sess = model.session()
    sess.process(np.arange(5))
    before = sess.save_state()
    blob = bytearray(before)
    struct.pack_into("<f", blob, len(blob) - 4 * 17, float("nan"))  # inside the last level's conv state
    struct.pack_into("<I", blob, 24, crc32(blob[28:]))
    with pytest.raises(HecateError) as err:
        sess.load_state(bytes(blob))
    assert err.value.name == "HECATE_E_STATE_NONFINITE"
    assert sess.save_state() == before
    assert conv_states(sess).shape == (2, 2, 3, 3, 16)


def test_config_range_flag_tensors_and_init():
    cfg = conv_config(n_levels=1, periods=None, qk_norm=False)
    assert cfg.flags == 4 and conv_config().flags == 5
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["conv_kernel"] == 4
    for bad in (1, 9, -1, True, 4.0):
        with pytest.raises(ValueError, match="conv_kernel"):
            conv_config(conv_kernel=bad)
    names = [name for name, _ in tensor_specs(cfg)]
    at = names.index("blk0.mem0.wq")
    assert names[at + 1:at + 5] == ["blk0.mem0.conv_k", "blk0.mem0.conv_v", "blk0.mem0.conv_q", "blk0.mem0.gate_w"]
    assert dict(tensor_specs(cfg))["blk0.mem0.conv_v"] == (4, 16)
    info = describe(write_model(cfg, init_params(cfg, 0)))  # the taps: the test below
    assert info["header"]["conv_kernel"] == 4 and info["config"]["conv_kernel"] == 4 and info["problem"] is None
    plain = ModelConfig(**LEGACY_OFF)
    assert describe(write_model(plain, init_params(plain, 0)))["header"]["conv_kernel"] == 0


def test_every_rule_starts_its_key_convolution_as_a_shift():
    """MATH §8, D68: the key of token t starts as token t-1's (1 on tap K-2); values and
    queries start near the identity (1 on tap K-1), for every rule and kernel size."""
    from hecate_edge.reference.rules import RULES

    for name in RULES:
        for kernel in (2, 4):
            cfg = ModelConfig(rule=name, conv_kernel=kernel)
            params = init_params(cfg, 0)
            s = init_scale("blk0.mem0.conv_k", cfg.d_model)
            for stream in "kvq":
                taps = params[f"blk0.mem0.conv_{stream}"]
                one = -2 if stream == "k" else -1
                assert np.all(np.abs(taps[one] - 1.0) <= s), (name, kernel, stream)
                assert np.all(np.abs(np.delete(taps, one % len(taps), axis=0)) <= s), (name, kernel, stream)
