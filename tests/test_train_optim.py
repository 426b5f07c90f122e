"""Tests of hecate_edge.train that need no C runtime: AdamW numerics against
hand-computed steps, weight decay on matrices only, the learning-rate
schedule, chunk sampling and drawing, and the evaluation loop on a fake model
(the training loop runs on the runtime: test_batch_training.py)."""

import json
import math

import numpy as np
import pytest

from hecate_edge import optim, train
from hecate_edge.config import ModelConfig
from hecate_edge.data import Corpus


def test_adamw_first_step_by_hand():
    w = np.array([[0.5, -1.0]], np.float32)
    b = np.array([2.0], np.float32)
    opt = optim.AdamW({"w": w, "b": b}, lr=0.1, weight_decay=0.2)
    opt.step({"w": np.array([[0.3, -0.4]]), "b": np.array([1.0])})
    # t = 1: m_hat = g, v_hat = g^2, so the Adam step is lr * g / (|g| + eps).
    eps = 1e-8
    w_exp = [0.5 - 0.1 * 0.2 * 0.5 - 0.1 * 0.3 / (0.3 + eps),
             -1.0 - 0.1 * 0.2 * -1.0 - 0.1 * -0.4 / (0.4 + eps)]
    b_exp = 2.0 - 0.1 * 1.0 / (1.0 + eps)  # vector: no decay
    np.testing.assert_allclose(w[0], w_exp, rtol=1e-6)
    np.testing.assert_allclose(b, [b_exp], rtol=1e-6)
    assert w.dtype == np.float32 and b.dtype == np.float32


def test_adamw_second_step_by_hand():
    p = np.array([[1.0]], np.float64)
    opt = optim.AdamW({"p": p}, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    g1, g2 = 0.5, -2.0
    opt.step({"p": np.array([[g1]])})
    opt.step({"p": np.array([[g2]])})
    value = 1.0
    m = v = 0.0
    for t, g in enumerate((g1, g2), start=1):
        value -= 0.01 * 0.1 * value
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        value -= 0.01 * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + 1e-8)
    assert p[0, 0] == pytest.approx(value, rel=1e-12)
    assert opt.t == 2


def test_weight_decay_only_on_matrices():
    mat = np.full((2, 3), 2.0, np.float32)
    vec = np.full(3, 2.0, np.float32)
    opt = optim.AdamW({"mat": mat, "vec": vec}, lr=0.5, weight_decay=0.1)
    opt.step({"mat": np.zeros((2, 3)), "vec": np.zeros(3)})  # zero gradient: decay only
    np.testing.assert_allclose(mat, 2.0 * (1 - 0.5 * 0.1), rtol=1e-7)
    np.testing.assert_array_equal(vec, 2.0)


def test_global_norm_clip_scales_gradients_and_reports_norm():
    a = np.zeros(2)
    b = np.zeros((1, 1))
    opt = optim.AdamW({"a": a, "b": b}, lr=1e-3, clip_norm=1.0)
    norm = opt.step({"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])})
    assert norm == pytest.approx(5.0)
    # First moment holds (1 - beta1) * clipped gradient = 0.1 * g / 5.
    np.testing.assert_allclose(opt.state["m"]["a"], [0.06, 0.0])
    np.testing.assert_allclose(opt.state["m"]["b"], [[0.08]])
    opt2 = optim.AdamW({"a": np.zeros(2)}, clip_norm=10.0)
    opt2.step({"a": np.array([3.0, 4.0])})
    np.testing.assert_allclose(opt2.state["m"]["a"], [0.3, 0.4])


def test_lr_schedule_warmup_then_cosine_to_floor():
    assert train.lr_at(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert train.lr_at(9, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert train.lr_at(10, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert train.lr_at(99, 100, 1.0, warmup=10) == pytest.approx(0.1)
    values = [train.lr_at(s, 100, 1.0, warmup=10) for s in range(10, 100)]
    assert all(x >= y for x, y in zip(values, values[1:]))


def test_sample_start_respects_bounds_and_episode_starts():
    rng = np.random.default_rng(0)
    corpus = Corpus("x", np.arange(100, dtype=np.uint32))
    for _ in range(200):
        s = train._sample_start(rng, corpus, chunk=10, burn_in=5)
        assert 5 <= s and s + 11 <= 100
    episodes = Corpus("r", np.arange(100, dtype=np.uint32), starts=np.array([0, 30, 60, 95]))
    seen = {train._sample_start(rng, episodes, chunk=10, burn_in=0) for _ in range(100)}
    assert seen == {0, 30, 60}
    with pytest.raises(ValueError):
        train._sample_start(rng, corpus, chunk=99, burn_in=1)


class _FakeSession:
    """Uniform logits with the runtime Session's interface (evaluation only)."""

    def __init__(self, model):
        self.model = model

    def reset(self):
        pass

    def process(self, tokens, want_logits=True):
        return np.zeros((len(tokens), 256), np.float32) if want_logits else None


class _FakeModel:
    config = ModelConfig()

    def __init__(self):
        self.sessions = []

    def session(self, max_chunk=16, max_train_tokens=0, freeze_memory=False, fixed_schedule=False):
        s = _FakeSession(self)
        self.sessions.append((s, max_train_tokens, freeze_memory))
        return s


def test_a_drawn_job_is_burn_in_then_a_chunk_and_its_next_bytes():
    """What a training step feeds each chunk (the runtime's hecate_batch_job resets a session,
    feeds burn_in, trains inputs against targets: test_batch_training.py)."""
    corpus = Corpus("t", np.arange(300, dtype=np.uint32) % 256)
    cfg = train.TrainConfig(steps=5, chunk=8, burn_in=6, seed=3)
    draws = []
    for _ in range(2):
        rng = np.random.default_rng(cfg.seed)
        jobs = [train.draw_job(rng, [corpus], None, cfg) for _ in range(20)]
        for job in jobs:
            assert job.burn_in.size == 6 and job.inputs.size == 8
            np.testing.assert_array_equal(job.targets, (job.inputs + 1) % 256)
            np.testing.assert_array_equal(job.burn_in, (job.inputs[0] - 6 + np.arange(6)) % 256)
        draws.append([int(job.inputs[0]) for job in jobs])
    assert draws[0] == draws[1] and len(set(draws[0])) > 1  # seeded, and not one start


def test_evaluate_uniform_logits_is_eight_bits_and_scores_mask():
    model = _FakeModel()
    tokens = np.arange(1000, dtype=np.uint32) % 256
    mask = np.zeros(1000, bool)
    mask[[5, 256, 512]] = True  # targets 5, 0, 0: argmax of all-zero logits is byte 0
    result = train.evaluate(model, tokens, mask=mask, block=100, freeze_memory=True)
    assert result.bits_per_byte == pytest.approx(8.0)
    assert result.n_predicted == 999
    assert result.recall_bits_per_byte == pytest.approx(8.0)
    assert result.n_recall == 3 and result.recall_accuracy == pytest.approx(2 / 3)
    assert model.sessions[0][2] is True
    assert train.evaluate(model, Corpus("c", tokens)).recall_accuracy is None


def test_checkpoint_round_trip_is_float64(tmp_path):
    from hecate_edge.config import ModelConfig

    cfg = ModelConfig(d_model=8, n_heads=2, window=4)
    params = {"emb": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "gate_b": np.array([-3.0, -4.6])}
    path = tmp_path / "ckpt.npz"
    train.save_checkpoint(path, cfg, params)
    cfg2, params2 = train.load_checkpoint(path)
    assert cfg2 == cfg
    assert set(params2) == set(params)
    for name, value in params.items():
        assert params2[name].dtype == np.float64
        np.testing.assert_array_equal(params2[name], value.astype(np.float64))


def test_adamw_does_not_decay_the_matrices_it_is_told_to_keep():
    """A rule's own tensors (the SSM's A_log) are not shrunk by weight decay (D24)."""
    kept, decayed = np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)
    opt = optim.AdamW({"kept": kept, "decayed": decayed}, lr=0.1, weight_decay=0.5, no_decay={"kept"})
    opt.step({"kept": np.zeros((2, 2)), "decayed": np.zeros((2, 2))})
    assert np.all(kept == 1.0) and np.all(decayed < 1.0)
