"""The defaults that recall (DECISIONS D37): what ModelConfig() and an empty
`hecate-edge train` give, and that configs and files written before them keep
meaning the model they described."""
import numpy as np
import pytest

from hecate_edge.config import LEGACY_OFF, ModelConfig
from hecate_edge.format import read_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.rules import RULES


def test_the_default_model_has_every_recall_feature():
    cfg = ModelConfig()
    assert (cfg.composition, cfg.conv_kernel, cfg.rope, cfg.bounded_steps) == ("mal", 4, True, True)
    assert cfg.flags == 1 | 4 | 8 | 16


def test_bounded_steps_are_the_rules_default():
    """MATH §3.1, D37: on for delta (unit keys: the bound makes each write non-expansive) and
    atlas (its step sums a window of gradients; recall needed it), moneta (D52: with its bounded
    inner gradient, theta <= 1 bounds each write; without, 1 of 6 seeds diverged), off for titans
    (its recall fell with it) and where it would only cap theta without measurements (yaad,
    memora, trellis)."""
    assert {rule for rule in RULES if ModelConfig(rule=rule).bounded_steps} == {"delta", "atlas", "moneta"}
    assert ModelConfig(rule="titans", bounded_steps=True).bounded_steps is True


def test_rope_follows_the_head_width_unless_given():
    assert ModelConfig(d_model=15, n_heads=3).rope is False  # odd head width: no pairs to turn
    assert ModelConfig(d_model=16, n_heads=2).rope is True
    assert ModelConfig(d_model=16, n_heads=2, rope=False).rope is False


def test_a_config_written_before_the_new_defaults_keeps_its_model():
    old = {k: v for k, v in ModelConfig(**LEGACY_OFF).to_dict().items() if k not in ("conv_kernel", "rope",
                                                                                          "bounded_steps")}
    cfg = ModelConfig.from_dict(old)
    assert (cfg.composition, cfg.conv_kernel, cfg.rope, cfg.bounded_steps) == ("mag", 0, False, False)
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()


def test_forget_gates_start_with_a_long_half_life():
    """MATH §3.1: alpha = sigmoid(-7) at init, half-life >= 256 tokens for every rule with alpha."""
    for name, rule in RULES.items():
        gates = [g for g, _ in rule.GATES]
        if "alpha" not in gates:
            continue
        bias = init_params(ModelConfig(rule=name), 0)["blk0.mem0.gate_b"][gates.index("alpha")]
        alpha = 1 / (1 + np.exp(-bias))
        assert np.log(0.5) / np.log1p(-alpha) >= 256, name


def test_the_golden_file_from_before_keeps_its_configuration():
    from pathlib import Path

    cfg, _, _ = read_model((Path(__file__).parent / "data" / "golden.hct").read_bytes())
    assert (cfg.composition, cfg.conv_kernel, cfg.rope, cfg.bounded_steps) == ("mag", 0, False, False)


def _c_init_state(rule: str, d: int, params: tuple) -> np.ndarray:
    """The C runtime's init state of one memory (hecate_rule_init, double build)."""
    from hecate_edge.runtime import load_library
    binding = load_library("f64")
    ffi, lib = binding.ffi, binding.lib
    module = RULES[rule]
    spec = ffi.new("hecate_rule_spec *", {"rule": module.RULE_ID, "d": d, "params": list(params)})
    size = module.init_state(d, dict(zip(module.PARAM_NAMES, params))).size
    out = np.empty(size)
    assert lib.hecate_rule_init(spec, ffi.cast("double *", ffi.from_buffer(out))) == 0
    return out


def test_mlp_memories_written_before_w1_scale_keep_the_small_init():
    """D49: w1_scale 0 (what older files hold, and what an older config dict's
    shorter rule_params list means) is the reference's 0.1 sqrt(2/(d+h)) (hash - 0.5)."""
    d = h = 8
    hashes = (np.arange(h * d, dtype=np.uint64) * 2654435761 % (1 << 32)).astype(np.float64) / (2.0**32 - 1)
    legacy_w1 = 0.1 * np.sqrt(2.0 / (d + h)) * (hashes - 0.5)
    for rule in ("moneta", "yaad"):
        old = ModelConfig(rule=rule, d_model=d, n_heads=2).to_dict()
        old["rule_params"] = old["rule_params"][:3]
        params = ModelConfig.from_dict(old).rule_params
        assert params[3] == 0.0
        state = _c_init_state(rule, d, params)
        np.testing.assert_allclose(state[:h * d], legacy_w1, rtol=1e-15, atol=0)
        assert not state[h * d:].any()


@pytest.mark.parametrize("rule", ["yaad", "moneta"])
def test_mlp_memories_start_with_a_unit_variance_w1_unit_keys_and_a_bounded_write(rule):
    """D70: a new YAAD or MONETA memory's W1 spans +-sqrt 3 (unit variance, from the C init
    the runtime uses), its q and k are L2-normalized and its inner gradient is bounded at 10."""
    d = h = 8
    cfg = ModelConfig(rule=rule, d_model=d, n_heads=2)
    w1 = _c_init_state(rule, d, cfg.rule_params)[:h * d]
    bound = np.sqrt(3.0)
    assert np.abs(w1).max() <= bound * (1 + 1e-6) and np.abs(w1).max() > 0.9 * bound
    assert 0.8 < np.std(w1) < 1.2
    assert cfg.qk_norm and cfg.rule_params[4] == 10.0


def test_the_gradient_bound_keeps_every_write_below_c():
    """D51 (MATH §3.5): G~ = G / sqrt(1 + ||G||^2 / c^2) has ||G~|| < c (= c once rounded,
    for ||G|| >> c) and ~G when ||G|| << c."""
    from hecate_edge.reference.rules import mlp
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1.0, 1e3, 1e9):
        grad = scale * rng.normal(size=(2, 6, 4))
        for c in (0.1, 1.0):
            bounded = mlp.bound_grad(grad, c)
            norm = np.linalg.norm(grad)
            assert np.linalg.norm(bounded) < c if scale < 1e3 else np.linalg.norm(bounded) <= c
            np.testing.assert_allclose(np.linalg.norm(bounded), norm / np.sqrt(1 + norm**2 / c**2), rtol=1e-12)
            np.testing.assert_allclose(bounded / np.linalg.norm(bounded), grad / norm, rtol=1e-12)
    small = 1e-6 * rng.normal(size=(2, 6, 4))
    np.testing.assert_allclose(mlp.bound_grad(small, 1.0), small, rtol=1e-10)


def test_mlp_memories_written_before_grad_bound_are_unbounded():
    """D51: an older config dict (no grad_bound) means 0, and 0 is the unbounded step bit for bit."""
    from hecate_edge.reference.rules import mlp
    d = 8
    rng = np.random.default_rng(1)
    for rule in ("moneta", "yaad"):
        old = ModelConfig(rule=rule, d_model=d, n_heads=2).to_dict()
        old["rule_params"] = old["rule_params"][:4]
        params = ModelConfig.from_dict(old).rule_params
        assert len(params) == 5 and params[4] == 0.0
        module = RULES[rule]
        hp = dict(zip(module.PARAM_NAMES, params))
        state = module.init_state(d, hp) + 0.1 * rng.normal(size=(2, d, d))
        k, v, q = rng.normal(size=(3, d))
        gates = {"alpha": 0.1, "theta": 0.4}
        new, y = module.write_read(state, k, v, q, gates, hp)
        bias = (lambda e: module.lp_bias(e, hp["p"])) if rule == "moneta" else (lambda e: module.huber_bias(e, 1.0))
        want = mlp.l2_step(state, mlp.inner_grad(state, k, v, bias), gates, hp["lambda_2"], module.init_state(d, hp))
        assert np.array_equal(new, want) and np.array_equal(y, mlp.apply(want, q))
