"""With default settings short training runs do not diverge: every rule x
composition x k in {1, 2} trains on text and on recall episodes at a high
learning rate (10x the default) without a non-finite step, except 8 runs,
all under MAC (KNOWN_UNSTABLE, strict xfail so a fix shows), which train
at the default learning rate (a second test). Measured on
this sweep: with bounded steps (MATH §3.1) forced off everywhere 11 runs
diverge, forced on everywhere 4 (the SSM, whose step is its own softplus, and
the MLP rules at k = 2); the default turns them on for delta and atlas (D37: they
cost titans its recall) and MONETA (D52, which removed moneta-mac-2); YAAD's
Xavier-scale init (D49) added yaad-mac-1. MAL, the default composition, never diverged here.
A run that goes non-finite raises NonFiniteTraining."""
import numpy as np
import pytest

from hecate_edge import train
from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.data import Corpus, load_corpus
from hecate_edge.evals import recall
from hecate_edge.nonfinite import NonFiniteTraining
from conftest import ALL_RULES

TEXT = Corpus("text", load_corpus("text", "train").tokens[:30000])
RECALL = recall.training_corpus(0, 300, pair_counts=(4,), max_gap=8)
KNOWN_UNSTABLE = {("ssm", "mac", 1), ("ssm", "mac", 2), ("titans", "mac", 1),
                  ("titans", "mac", 2), ("trellis", "mac", 1), ("trellis", "mac", 2), ("yaad", "mac", 1),
                  ("yaad", "mac", 2)}


@pytest.mark.parametrize("levels", [1, 2])
@pytest.mark.parametrize("composition", sorted(COMPOSITIONS))
@pytest.mark.parametrize("rule", ALL_RULES)
def test_default_models_train_without_diverging(rule, composition, levels, request):
    if (rule, composition, levels) in KNOWN_UNSTABLE:
        request.applymarker(pytest.mark.xfail(raises=NonFiniteTraining, strict=True,
                                              reason="MAC at 10x the default lr (module docstring)"))
    cfg = ModelConfig(rule=rule, composition=composition, n_levels=levels, d_model=16, n_heads=2, window=4)
    _train_30_steps(cfg, lr=3e-2)


@pytest.mark.parametrize("rule, composition, levels", sorted(KNOWN_UNSTABLE))
def test_the_known_unstable_runs_train_at_the_default_learning_rate(rule, composition, levels):
    """What diverges above at 10x the default lr trains at the default (TrainConfig.lr)."""
    cfg = ModelConfig(rule=rule, composition=composition, n_levels=levels, d_model=16, n_heads=2, window=4)
    _train_30_steps(cfg, lr=train.TrainConfig.lr)


def _train_30_steps(cfg: ModelConfig, lr: float) -> None:
    model = train.new_model(cfg, seed=0)
    config = train.TrainConfig(steps=30, chunk=32, batch=2, lr=lr, warmup=0, masked_loss=True)
    records = train.train(model, [TEXT, RECALL], config, show_progress=False, threads=1)
    assert len(records) == 30 and all(np.isfinite(r["loss"]) for r in records)
    assert all(np.isfinite(w).all() for w in model.weights().values())
