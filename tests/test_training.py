"""Outer training end to end: AdamW on gradients from the C backward (through
cffi) lowers the held-out loss of the built-in text, and the memory the model
learns to use is worth something at test time (MATH §7, §3.2 ablation)."""
from hecate_edge.config import ModelConfig
from hecate_edge.data import load_corpus
from hecate_edge.train import TrainConfig, evaluate, new_model, train


def test_training_lowers_heldout_loss():
    cfg = ModelConfig(d_model=32, n_heads=2, window=8)
    model = new_model(cfg, seed=0)
    heldout = load_corpus("text", "heldout").tokens[:6000]
    before = evaluate(model, heldout).bits_per_byte
    train(model, load_corpus("text", "train"), TrainConfig(steps=400, chunk=32, lr=6e-3, seed=0),
          show_progress=False)
    after = evaluate(model, heldout)
    assert before > 7.9  # an untrained byte model is near 8 bits/byte
    assert after.bits_per_byte < before - 2.5, (before, after.bits_per_byte)
    frozen = evaluate(model, heldout, freeze_memory=True)
    assert frozen.bits_per_byte > after.bits_per_byte  # the learned memory helps at test time
