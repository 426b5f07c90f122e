"""The defaults that recall (DECISIONS D37): what ModelConfig() and an empty
`hecate-edge train` give, and that configs and files written before them keep
meaning the model they described."""
import numpy as np

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
    atlas (its step sums a window of gradients; recall needed it), off for titans (its recall
    fell with it) and where it would only cap theta without measurements (MLP rules, trellis)."""
    assert {rule for rule in RULES if ModelConfig(rule=rule).bounded_steps} == {"delta", "atlas"}
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
