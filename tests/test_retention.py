"""Pluggable retention (MATH §3.8, docs/DECISIONS.md D22): every valid rule x
retention pair is parity- and gradient-tested through RULE_CASES (test_parity,
test_gradients, test_session, test_ops); here: the choices really act, are
stored in the file, and are refused where a rule's math does not allow them."""
from dataclasses import replace

import numpy as np
import pytest

from hecate_edge import cli, runtime
from hecate_edge.config import ModelConfig
from hecate_edge.reference.model import ReferenceSession
from hecate_edge.reference.rules import RULES
from conftest import RULE_CASES, build_model, lively_params, rule_config

ELASTIC = [case for case in RULE_CASES if case.endswith("+elastic_net")]
# the configs of the gradient and parity tests
SHAPES = [ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), ModelConfig(vocab=64, d_model=16, n_heads=2, window=4)]


def shrunk(cfg, memory):
    """The part of a memory the elastic net acts on: M for Titans and Atlas
    (not the momentum, not Atlas' window), the whole state otherwise."""
    d = cfg.d_model
    return memory.ravel()[:d * d] if cfg.rule in ("titans", "atlas") else memory


def memory_after(cfg, tokens=40, seed=0):
    sess = ReferenceSession(cfg, lively_params(cfg, seed))
    sess.process(np.arange(tokens) * 5 % cfg.vocab)
    return sess.memory()


@pytest.mark.parametrize("shape", SHAPES, ids=lambda c: f"d{c.d_model}")
@pytest.mark.parametrize("case", ELASTIC)
def test_elastic_net_clips_part_of_the_state(case, shape):
    """The tests' lambda_1 leaves some entries at the prior and moves others,
    so parity and finite differences go through both branches of the shrink."""
    cfg = rule_config(shape, case)
    prior = shrunk(cfg, RULES[cfg.rule].init_state(cfg.d_model, cfg.rule_hp))
    at_prior = np.mean(shrunk(cfg, memory_after(cfg)) == prior)
    assert 0.02 < at_prior < 0.98, f"{case}: {at_prior:.0%} of the memory at its prior"


@pytest.mark.parametrize("case", ELASTIC)
def test_huge_lambda_keeps_the_memory_at_its_init(case):
    cfg = replace(rule_config(SHAPES[0], case), retention_param=1e6)
    model, _ = build_model(cfg, lively_params(cfg, 0), "f64")
    sess = model.session()
    sess.process(np.arange(30) % cfg.vocab)
    init = model.session().memory()
    assert np.array_equal(shrunk(cfg, sess.memory()), shrunk(cfg, init))
    assert not np.array_equal(sess.memory(), init) or cfg.rule not in ("titans", "atlas")


def test_memora_l2_leaves_the_simplex():
    """KL keeps every row of MEMORA's W1 a probability vector; L2 decay does not."""
    kl = memory_after(rule_config(SHAPES[1], "memora"))
    l2 = memory_after(rule_config(SHAPES[1], "memora+l2"))
    assert np.allclose(kl[0].sum(axis=1), 1.0) and kl.min() > 0
    assert not np.allclose(l2[0].sum(axis=1), 1.0)


@pytest.mark.parametrize("case", [c for c in RULE_CASES if "+" in c])
def test_retention_is_stored_in_the_model_file(case):
    cfg = rule_config(SHAPES[0], case)
    model, _ = build_model(cfg, lively_params(cfg, 0))
    assert model.config.retention == cfg.retention != RULES[cfg.rule].RETENTION
    assert model.config.retention_param == cfg.retention_param


def test_train_cli_takes_a_retention(tmp_path, capsys):
    out = tmp_path / "m.hct"
    tiny = ["--steps", "1", "--d-model", "8", "--heads", "2", "--chunk", "8", "--quiet", "--out", str(out)]
    assert cli.main(["train", "--rule", "titans", "--retention", "elastic_net", "--retention-param", "0.2", *tiny]) == 0
    cfg = runtime.Model(out).config
    assert (cfg.retention, cfg.retention_param) == ("elastic_net", np.float32(0.2))
    assert cli.main(["train", "--rule", "delta", "--retention", "kl", *tiny]) == 2
    assert "takes retention ['l2', 'elastic_net']" in capsys.readouterr().err
