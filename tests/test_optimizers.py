"""Outer optimizers (hecate_edge.optim, MATH §10) and resumable training:
SGD and M3 numerics, Newton-Schulz, and a run resumed from its training
checkpoint continuing bit-exactly for every optimizer (D26)."""
import numpy as np
import pytest

from hecate_edge import cli, optim, runtime, train
from hecate_edge.config import ModelConfig
from hecate_edge.data import Corpus


def test_sgd_is_a_plain_gradient_step():
    w = np.ones((2, 3))
    opt = optim.SGD({"w": w}, lr=0.5)
    opt.step({"w": np.full((2, 3), 0.2)})
    assert np.allclose(w, 0.9)


def test_m3_with_one_level_every_step_is_adamw():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), None
    b = a.copy()
    adam = optim.AdamW({"p": a}, lr=0.01)
    m3 = optim.M3({"p": b}, lr=0.01, periods=(1,), betas=(0.9,), weights=(1.0,))
    for _ in range(5):
        g = rng.normal(size=(3, 4))
        adam.step({"p": g})
        m3.step({"p": g})
    assert np.allclose(a, b, rtol=0, atol=1e-15)


def test_m3_slow_level_waits_for_its_block_then_folds_the_mean():
    p = np.zeros(2)
    opt = optim.M3({"p": p}, lr=1.0, periods=(1, 4), betas=(0.0, 0.0), weights=(0.0, 1.0), eps=0.0)
    grads = [np.array([1.0, -1.0]), np.array([3.0, -3.0]), np.array([1.0, -1.0]), np.array([3.0, -3.0])]
    for g in grads[:3]:
        opt.step({"p": g})
        assert np.all(p == 0), "the period-4 level must not act before its block ends"
    opt.step({"p": grads[3]})
    assert np.all(opt.state["acc1"]["p"] == 0) and np.allclose(opt.state["m1"]["p"], [2.0, -2.0])
    assert np.all(np.sign(p) == [-1, 1]), "the slow momentum is a descent direction too"


def test_newton_schulz_orthogonalizes_and_keeps_the_scale():
    m = np.random.default_rng(1).normal(size=(6, 9))
    out = optim.newton_schulz(m, 5)
    s = np.linalg.svd(out / np.linalg.norm(m), compute_uv=False)
    assert out.shape == m.shape and 0.6 < s.min() and s.max() < 1.3  # Muon's quintic lands near 1
    tall = optim.newton_schulz(m.T, 5)
    assert np.allclose(tall, out.T)


def test_optimizer_state_round_trips():
    p = np.ones((2, 2))
    opt = optim.M3({"p": p}, lr=0.1, ns_steps=5)
    opt.step({"p": np.eye(2)})
    copy = optim.M3({"p": p.copy()}, lr=0.1, ns_steps=5)
    copy.load_state_dict(opt.state_dict())
    assert copy.t == 1 and all(np.array_equal(copy.state[b]["p"], opt.state[b]["p"]) for b in opt.state)
    with pytest.raises(ValueError, match="no v/p"):
        copy.load_state_dict({"t": np.array(1)})


CFG = ModelConfig(vocab=32, d_model=8, n_heads=2, window=4)
CORPUS = Corpus("t", (np.arange(3000) * 7 % 31).astype(np.uint32))


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_resumed_run_continues_bit_exactly(tmp_path, name):
    config = train.TrainConfig(steps=8, chunk=8, lr=1e-2, optimizer=name, seed=3, warmup=2)
    whole = train.new_model(CFG, seed=0)
    want = train.train(whole, CORPUS, config, show_progress=False)
    ckpt = tmp_path / "run.npz"
    first = train.new_model(CFG, seed=0)
    train.train(first, CORPUS, config, show_progress=False, until=3, checkpoint=ckpt)
    model, config2, state = train.load_training_state(ckpt)
    assert state.step == 3 and config2 == config
    rest = train.train(model, CORPUS, config2, show_progress=False, state=state)
    assert [r["loss"] for r in rest] == [r["loss"] for r in want[3:]]
    for key, value in whole.weights().items():
        assert np.array_equal(model.weights()[key], value), key


def test_cli_train_checkpoint_and_resume(tmp_path, capsys):
    ckpt, out = tmp_path / "ck.npz", tmp_path / "m.hct"
    tiny = ["--d-model", "8", "--heads", "2", "--chunk", "8", "--quiet", "--out", str(out)]
    assert cli.main(["train", "--steps", "2", "--optimizer", "m3", "--checkpoint", str(ckpt), *tiny]) == 0
    assert cli.main(["train", "--resume", str(ckpt), "--checkpoint", str(ckpt), *tiny]) == 0
    assert "resuming at step 2 of 2 (m3)" in capsys.readouterr().out
    assert runtime.Model(out).config.d_model == 8
    weights_only = tmp_path / "w.npz"
    train.save_checkpoint(weights_only, CFG, train.new_model(CFG).weights())
    assert cli.main(["train", "--resume", str(weights_only), *tiny]) == 2
    assert "not a training state" in capsys.readouterr().err


def test_ctrl_c_checkpoints_a_whole_step_and_resumes_exactly(tmp_path):
    """Ctrl-C during a step takes effect at the step boundary: the checkpoint
    then holds whole steps, and resuming from it equals an uninterrupted run."""
    import os
    import signal
    config = train.TrainConfig(steps=6, chunk=8, lr=1e-2, optimizer="adamw", seed=5, warmup=1)
    whole = train.new_model(CFG, seed=0)
    train.train(whole, CORPUS, config, show_progress=False)
    model = train.new_model(CFG, seed=0)
    calls = {"n": 0}
    step = model.split_grads

    def interrupted_split(flat):  # Ctrl-C arrives in the middle of step 3
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return step(flat)

    model.split_grads = interrupted_split
    ckpt = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        train.train(model, CORPUS, config, show_progress=False, checkpoint=ckpt)
    resumed, config2, state = train.load_training_state(ckpt)
    assert state.step == 3
    train.train(resumed, CORPUS, config2, show_progress=False, state=state)
    for key, value in whole.weights().items():
        assert np.array_equal(resumed.weights()[key], value), key
