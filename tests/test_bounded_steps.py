"""Bounded inner steps (header flag bit 4, MATH §3.1): every softplus step gate
becomes THETA_MAX * sigmoid. C against the reference for every rule and
composition, the chunking invariant, finite differences, and the property the
bound exists for: with unit keys a write cannot grow the memory."""
import numpy as np
import pytest

from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.reference.frontend import THETA_MAX
from hecate_edge.reference.model import ReferenceSession
from hecate_edge.reference.rules import RULES
from chunking import assert_chunking_bit_exact
from finite_diff import assert_chunk_gradients
from parity import assert_close
from conftest import ALL_RULES, build_model, lively_params, rule_config

TOL = {"f32": 1e-5, "f64": 1e-12}
STEP_RULES = [rule for rule in ALL_RULES if any(kind == "softplus" for _, kind in RULES[rule].GATES)]


def config(rule, composition="mag", **shape):
    base = ModelConfig(**{"vocab": 48, "d_model": 16, "n_heads": 2, "window": 5, **shape})
    return ModelConfig.from_dict({**rule_config(base, rule).to_dict(), "composition": composition,
                                  "bounded_steps": True})


@pytest.mark.parametrize("precision", ["f32", "f64"])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", STEP_RULES)
def test_bounded_steps_match_reference(rule, composition, precision):
    cfg = config(rule, composition)
    model, params = build_model(cfg, lively_params(cfg, 4), precision)
    tokens = np.random.default_rng(9).integers(0, cfg.vocab, 50)
    ref = ReferenceSession(cfg, params)
    sess = model.session(max_chunk=7)
    assert_close(sess.process(tokens), ref.process(tokens), TOL[precision], "logits")
    assert_close(sess.memory(), ref.memory(), TOL[precision], "memory")
    plain = ModelConfig.from_dict({**cfg.to_dict(), "bounded_steps": False})
    unbounded = ReferenceSession(plain, params)
    unbounded.process(tokens)
    change = np.abs(unbounded.memory() - ref.memory()).max()
    assert change > 1e-8 * np.abs(ref.memory()).max(), "the flag changed nothing"


@pytest.mark.parametrize("rule", STEP_RULES)
def test_bounded_steps_chunking_is_bit_exact(rule):
    cfg = config(rule)
    model, _ = build_model(cfg, lively_params(cfg, 5), "f32")
    assert_chunking_bit_exact(model, np.random.default_rng(2).integers(0, cfg.vocab, 24), split_at=11)


@pytest.mark.parametrize("rule", STEP_RULES)
def test_bounded_steps_gradients_match_finite_differences(rule):
    cfg = config(rule, vocab=20, d_model=8, window=3)
    model, _ = build_model(cfg, lively_params(cfg, 11), "f64")
    rng = np.random.default_rng(3)
    tokens, targets = rng.integers(0, cfg.vocab, 7), rng.integers(0, cfg.vocab, 7)
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, 4))
    assert_chunk_gradients(model, model.session(max_train_tokens=7), warm.save_state(), tokens, targets, probes=3)


@pytest.mark.parametrize("bounded", [True, False])
def test_a_bounded_delta_write_never_grows_the_memory(bounded):
    """Delta rule, unit keys, theta pushed to its ceiling (bias +40): with values
    switched off, S' = (1 - alpha) S - theta k k^T S shrinks S for theta <= 2;
    softplus(40) = 40 instead multiplies the k-component by -39 per token."""
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=2, window=4, bounded_steps=bounded)
    params = lively_params(cfg, 1)
    params["blk0.mem0.gate_b"] = np.array([-6.0, 40.0])  # alpha ~ 0.0025, theta at its ceiling
    model, _ = build_model(cfg, params, "f64")
    sess = model.session()
    rng = np.random.default_rng(0)
    sess.process(rng.integers(0, 32, 20))
    model.weights()["blk0.mem0.wv"][...] = 0.0  # from here on every write only removes
    norms = [np.linalg.norm(sess.memory())]
    try:
        for token in rng.integers(0, 32, 40):
            sess.step(int(token))
            norms.append(np.linalg.norm(sess.memory()))
    except Exception as exc:  # noqa: BLE001 - the unbounded model may overflow
        assert not bounded and getattr(exc, "name", "") == "HECATE_E_NONFINITE"
        return
    grew = np.diff(norms) > 1e-12 * norms[0]
    assert norms[0] > 0.1
    assert not grew.any() if bounded else grew.any()


def test_theta_is_at_most_theta_max():
    from hecate_edge.reference.frontend import gates

    level = {"gate_w": np.zeros((2, 4)), "gate_b": np.array([0.0, 500.0])}
    values = gates(level, np.ones(2), np.ones(2), RULES["delta"].GATES, bounded=True)
    assert values["theta"] == THETA_MAX == 1.0 and values["alpha"] == 0.5
    assert gates(level, np.ones(2), np.ones(2), RULES["delta"].GATES)["theta"] == 500.0
