"""Compositions (MATH §4) and stacked blocks (§4.3): every rule under every
composition, one block and a stack, C against the reference (f32 ~1e-5, f64
~1e-12), the chunking invariant, and every parameter's gradient against
finite differences (double build)."""
import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.reference.compositions import composition_by_name
from hecate_edge.reference.model import ReferenceSession
from chunking import assert_chunking_bit_exact
from finite_diff import assert_chunk_gradients
from parity import assert_close
from conftest import ALL_RULES, build_model, lively_params, rule_config

ALL_COMPOSITIONS = sorted(COMPOSITIONS)
TOL = {"f32": 1e-5, "f64": 1e-12}


def config(rule, composition, **shape):
    base = ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, **shape})
    return ModelConfig.from_dict({**rule_config(base, rule).to_dict(), "composition": composition})


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_composition_matches_reference(rule, composition, precision, layers):
    cfg = config(rule, composition, n_layers=layers)
    model, params = build_model(cfg, lively_params(cfg, 4), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 60)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    for layer in range(layers):
        assert_close(sess.memory(layer=layer), ref.memory(layer=layer), TOL[precision], f"memory of block {layer}")
        for mine, theirs in zip(_window(sess, layer), ref.attention_cache(layer)):
            assert_close(mine, theirs, TOL[precision], f"attention window of block {layer}")


def _window(sess, layer):
    """(keys, values) of block `layer`'s attention window, oldest first, read
    from the saved state blob (FORMAT.md: memories, then each block's ring)."""
    cfg = sess.model.config
    w, d, entries = cfg.window, cfg.d_model, composition_by_name(cfg.composition).WINDOW_ENTRIES  # MAC: x, h
    blob = np.frombuffer(sess.save_state(), dtype=np.uint8)
    reals = blob[56:].view({"f32": np.float32, "f64": np.float64}[sess.model.precision])
    start = cfg.n_layers * cfg.n_levels * int(np.prod(sess.model.memory_shape))
    rings = reals[start:start + cfg.n_layers * 2 * w * entries * d]  # the convolution state follows
    rings = rings.reshape(cfg.n_layers, 2, w, entries * d)  # slot: the token's entries in order
    order = [(sess.position - w + i) % w for i in range(w)]  # the 60 tokens fill every slot
    return tuple(rings[layer, i][order].reshape(w * entries, d) for i in (0, 1))


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("composition", ALL_COMPOSITIONS)
@pytest.mark.parametrize("rule", ALL_RULES)
def test_composition_chunking_is_bit_exact(rule, composition, layers):
    cfg = config(rule, composition, n_layers=layers)
    model, _ = build_model(cfg, lively_params(cfg, 5), "f32")
    tokens = np.random.default_rng(2).integers(0, cfg.vocab, 30)
    assert_chunking_bit_exact(model, tokens)


# (MAG with one block: tests/test_gradients.py)
@pytest.mark.parametrize("composition,layers", [(c, n) for c in ALL_COMPOSITIONS for n in (1, 2)
                                                if (c, n) != ("mag", 1)])
@pytest.mark.parametrize("rule", ALL_RULES)
def test_composition_gradients_match_finite_differences(rule, composition, layers):
    """Every parameter tensor, from a carried-over state."""
    cfg = config(rule, composition, vocab=20, d_model=8, window=3, n_layers=layers)
    model, _ = build_model(cfg, lively_params(cfg, 11), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 7), rng.integers(0, cfg.vocab, 7)
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, 4))
    blob = warm.save_state()
    assert_chunk_gradients(model, model.session(max_train_tokens=7), blob, tokens, targets, probes=3)


def test_train_cli_takes_a_composition(tmp_path):
    from hecate_edge import cli, runtime
    out = tmp_path / "mal.hct"
    assert cli.main(["train", "--composition", "mal", "--steps", "1", "--d-model", "8", "--heads", "2",
                     "--chunk", "8", "--quiet", "--out", str(out)]) == 0
    assert runtime.Model(out).config.composition == "mal"


def test_train_cli_takes_layers(tmp_path):
    from hecate_edge import cli, runtime
    out = tmp_path / "stack.hct"
    assert cli.main(["train", "--layers", "2", "--steps", "1", "--d-model", "8", "--heads", "2",
                     "--chunk", "8", "--quiet", "--out", str(out)]) == 0
    model = runtime.Model(out)
    assert model.config.n_layers == 2 and "blk1.mem0.wk" in model.weights()
    assert model.session().memory(layer=1).shape == model.memory_shape
