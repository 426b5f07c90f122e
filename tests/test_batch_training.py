"""The batched trainer: a step's mean gradient over several chunks, computed
on worker threads with the same bits for any thread count; non-finite steps
that lose nothing; held-out evaluation during training."""

import json
import os

import numpy as np
import pytest

from hecate_edge import grad_pool, train
from hecate_edge.config import ModelConfig
from hecate_edge.data import Corpus, load_corpus, recall_episodes
from hecate_edge.nonfinite import NonFiniteTraining

runtime = pytest.importorskip("hecate_edge.runtime")
try:
    runtime.load_library("f32")
except ImportError as exc:  # library not built in this checkout
    pytest.skip(f"C runtime not available: {exc}", allow_module_level=True)

TINY = ModelConfig(d_model=16, n_heads=2, window=4)
CORPUS = Corpus("text", load_corpus("text", "train").tokens[:20000])


def _weights(model):
    return {name: w.copy() for name, w in model.weights().items()}


def test_weights_do_not_depend_on_the_thread_count():
    config = train.TrainConfig(steps=3, chunk=16, batch=5, seed=3)
    runs = {}
    for threads in (1, 2, 3):
        model = train.new_model(TINY, seed=1)
        records = train.train(model, CORPUS, config, show_progress=False, threads=threads)
        runs[threads] = (_weights(model), [r["loss"] for r in records])
    for threads in (2, 3):
        assert runs[threads][1] == runs[1][1]
        for name, value in runs[1][0].items():
            np.testing.assert_array_equal(runs[threads][0][name], value, err_msg=name)


def test_a_batch_step_follows_the_mean_of_its_chunks_gradients():
    model = train.new_model(TINY, seed=2)
    rng = np.random.default_rng(0)
    jobs = []
    for _ in range(3):
        begin = int(rng.integers(0, 1000))
        jobs.append(grad_pool.ChunkJob(np.zeros(0, np.uint32), CORPUS.tokens[begin:begin + 16],
                                       CORPUS.tokens[begin + 1:begin + 17]))
    with grad_pool.GradientPool(model, 16, threads=2) as pool:
        loss, mean, finite = pool.mean(pool.run(jobs))
    assert finite
    session = model.session(max_chunk=16, max_train_tokens=16)
    want = []
    for job in jobs:
        session.reset()
        want.append(session.train_chunk(job.inputs, job.targets))
    assert loss == pytest.approx(np.mean([w[0] for w in want]), rel=1e-12)
    np.testing.assert_allclose(mean, np.mean([w[1].astype(np.float64) for w in want], axis=0), rtol=1e-12)
    assert not np.array_equal(want[0][1], want[1][1])  # the chunks really differ


def test_a_non_finite_forward_stops_with_the_last_good_weights_saved(tmp_path):
    model = train.new_model(TINY, seed=0)
    model.weights()["emb"][...] *= np.float32(1e36)  # the logits overflow at once
    before = _weights(model)
    ckpt = tmp_path / "run.npz"
    with pytest.raises(NonFiniteTraining, match=r"step 1: chunk \d of the batch went non-finite: "
                                                r"the forward pass went non-finite at token 0") as err:
        train.train(model, CORPUS, train.TrainConfig(steps=4, chunk=16, batch=2), show_progress=False,
                    checkpoint=ckpt, threads=2)
    assert err.value.step == 1
    for name, value in before.items():
        np.testing.assert_array_equal(model.weights()[name], value)
    _, _, state = train.load_training_state(ckpt)
    assert state.step == 0


def _poison(monkeypatch, bad_steps, tensor="blk0.mem0.wk"):
    """Make the gradient of ``tensor`` NaN in the given 0-based steps' batches."""
    real_run = grad_pool.GradientPool.run
    calls = {"n": 0}

    def run(self, jobs, fixed_schedule=False):
        out = real_run(self, jobs, fixed_schedule)
        if calls["n"] in bad_steps:
            loss, grads = out[-1]
            self.model.split_grads(grads)[tensor][0, 0] = np.nan
        calls["n"] += 1
        return out

    monkeypatch.setattr(grad_pool.GradientPool, "run", run)


def test_non_finite_gradients_name_the_tensor(monkeypatch):
    _poison(monkeypatch, {1})
    model = train.new_model(TINY, seed=0)
    with pytest.raises(NonFiniteTraining, match=r"step 2: chunk 1 of the batch went non-finite: "
                                                r"non-finite gradients for blk0\.mem0\.wk"):
        train.train(model, CORPUS, train.TrainConfig(steps=4, chunk=16, batch=2), show_progress=False)


def test_skip_drops_the_failed_batch_and_goes_on(monkeypatch, capsys):
    _poison(monkeypatch, {1})
    model = train.new_model(TINY, seed=0)
    records = train.train(model, CORPUS, train.TrainConfig(steps=4, chunk=16, batch=2), show_progress=False,
                          on_nonfinite="skip")
    assert [r["step"] for r in records] == [1, 3, 4]
    assert "step 2: skipped" in capsys.readouterr().err
    assert all(np.isfinite(w).all() for w in model.weights().values())


def test_skip_gives_up_after_too_many_failures_in_a_row(monkeypatch):
    _poison(monkeypatch, set(range(100)))
    model = train.new_model(TINY, seed=0)
    with pytest.raises(NonFiniteTraining, match=f"step {train.MAX_SKIPPED}:"):
        train.train(model, CORPUS, train.TrainConfig(steps=50, chunk=16), show_progress=False, on_nonfinite="skip")


def test_held_out_evaluation_is_logged_every_n_steps_and_at_the_end(tmp_path):
    model = train.new_model(TINY, seed=0)
    val = [Corpus("v", load_corpus("text", "heldout").tokens[:3000])]
    log = tmp_path / "log.csv"
    records = train.train(model, CORPUS, train.TrainConfig(steps=5, chunk=16, batch=2), show_progress=False,
                          val=val, eval_every=2, eval_tokens=1000, log_path=log)
    assert [r["step"] for r in records if "val_bpb" in r] == [2, 4, 5]
    final = train.evaluate(model, val[0].tokens[:1000]).bits_per_byte
    assert records[-1]["val_bpb"] == pytest.approx(final)
    rows = log.read_text().splitlines()
    assert rows[0].endswith(",val_bpb") and rows[1].endswith(",") and rows[2].split(",")[-1] != ""
    assert [r["tokens"] for r in records] == [32, 64, 96, 128, 160]


def test_batch_is_kept_in_the_training_checkpoint(tmp_path):
    model = train.new_model(TINY, seed=0)
    config = train.TrainConfig(steps=2, chunk=16, batch=3)
    train.train(model, CORPUS, config, show_progress=False, checkpoint=tmp_path / "c.npz")
    _, loaded, _ = train.load_training_state(tmp_path / "c.npz")
    assert loaded.batch == 3


@pytest.mark.parametrize("frozen", [True, False])
def test_training_with_the_memory_frozen_leaves_its_gates_alone(frozen):
    """The no-memory baseline: a frozen memory reads its initial state, so no
    gradient reaches its write path (gate biases are not decayed either)."""
    model = train.new_model(TINY, seed=0)
    before = model.weights()["blk0.mem0.gate_b"].copy()
    train.train(model, CORPUS, train.TrainConfig(steps=2, chunk=16, batch=2, freeze_memory=frozen),
                show_progress=False)
    assert np.array_equal(model.weights()["blk0.mem0.gate_b"], before) == frozen


def test_masked_loss_scores_only_the_recalled_bytes():
    corpus = recall_episodes(100, seed=0)
    rng = np.random.default_rng(0)
    job = train.draw_job(rng, [corpus], None, train.TrainConfig(chunk=64, masked_loss=True))
    begin = train._sample_start(np.random.default_rng(0), corpus, 64, 0)  # the same draw
    np.testing.assert_array_equal(job.inputs, corpus.tokens[begin:begin + 64])
    scored = job.targets != train.IGNORED_TARGET
    assert scored.any() and np.array_equal(scored, corpus.mask[begin + 1:begin + 65])
    np.testing.assert_array_equal(job.targets[scored], corpus.tokens[begin + 1:begin + 65][scored])
    session = train.new_model(TINY, seed=0).session(max_chunk=64, max_train_tokens=64)
    loss, _ = session.train_chunk(job.inputs, job.targets)
    logits = np.asarray(session.model.session(max_chunk=64).process(job.inputs), np.float64)
    logp = logits - logits.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-logp[scored, job.targets[scored]].mean(), rel=1e-5)


def test_nonfinite_training_error_survives_pickling():
    """Eval jobs in other processes hand it back through pickle."""
    import pickle

    error = pickle.loads(pickle.dumps(NonFiniteTraining(7, "chunk 0 went non-finite")))
    assert (error.step, error.detail, str(error)) == (7, "chunk 0 went non-finite", "step 7: chunk 0 went non-finite")


def test_default_threads_are_the_cores_this_process_may_use(monkeypatch):
    """Under taskset or a container cpuset, "every core" means the allowed ones, not the machine's."""
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert grad_pool.usable_cores() == 2
    model = train.new_model(ModelConfig(d_model=16, n_heads=2), seed=0)
    with grad_pool.GradientPool(model, chunk=8) as pool:
        assert pool.threads == 2 and pool.workers.count == 2
    with grad_pool.GradientPool(model, chunk=8, threads=4, batch=3) as pool:  # a fourth worker would only spin
        assert pool.threads == 4 and pool.workers.count == 3


def test_a_failing_chunk_is_reported_by_index_and_the_others_still_train():
    """The batch's chunks run as C tasks on the runtime's worker threads (D81): a chunk whose
    token is out of the vocabulary fails alone, with its status."""
    model = train.new_model(TINY, seed=2)
    tokens = np.asarray(CORPUS.tokens[:17], np.uint32)
    good = grad_pool.ChunkJob(np.zeros(0, np.uint32), tokens[:16], tokens[1:17])
    bad = grad_pool.ChunkJob(np.zeros(0, np.uint32), np.full(16, 300, np.uint32), tokens[1:17])
    with grad_pool.GradientPool(model, 16, threads=2) as pool:
        results = pool.run([good, bad, good])
        assert isinstance(results[1], grad_pool.ChunkFailure) and results[1].index == 1
        assert results[1].error.name == "HECATE_E_TOKEN_RANGE"
        assert results[0][0] == results[2][0] and np.array_equal(results[0][1], results[2][1])
        with pytest.raises(ValueError, match="share their burn-in and chunk lengths"):
            pool.run([good, grad_pool.ChunkJob(tokens[:3], tokens[:16], tokens[1:17])])


def test_worker_counts_out_of_range_are_refused():
    from hecate_edge.threads import Workers

    for n in (0, 100000):
        with pytest.raises(ValueError, match="threads must be in 1.."):
            Workers(n)


def test_the_loop_updates_the_weights_in_place_and_logs_every_step(tmp_path):
    model = train.new_model(TINY, seed=4)
    views = model.weights()
    before = _weights(model)
    cfg = train.TrainConfig(steps=30, chunk=8, batch=2, burn_in=4, lr=0.02, seed=1)
    records = train.train(model, CORPUS, cfg, log_path=tmp_path / "loss.jsonl", show_progress=False, threads=2)
    assert all(not np.array_equal(views[name], w) for name, w in before.items())  # the model's own arrays
    assert np.mean([r["loss"] for r in records[-5:]]) < np.mean([r["loss"] for r in records[:5]])
    lines = [json.loads(line) for line in (tmp_path / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 31))
    assert [r["loss"] for r in lines] == [r["loss"] for r in records]
    model = train.new_model(TINY, seed=4)
    again = train.train(model, CORPUS, cfg, log_path=tmp_path / "loss.csv", show_progress=False, threads=1)
    assert [r["loss"] for r in again] == [r["loss"] for r in records]
    assert (tmp_path / "loss.csv").read_text().splitlines()[0].startswith("step,loss,bpb,lr")
