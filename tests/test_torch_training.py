"""Training with --engine torch: the same run as the native trainer (data,
init, schedule: weights to float32 rounding), the model file it writes runs in
the C runtime, a checkpoint resumes bit-exactly, --device cuda fails in one
line without CUDA, and 2 gloo processes give the weights of 1 process with the
same global batch (DDP).  Skips where torch is not installed."""
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hecate_edge import train  # noqa: E402
from hecate_edge.runtime import Model  # noqa: E402
from hecate_edge.torch import HecateLM  # noqa: E402
from hecate_edge.torch import distributed  # noqa: E402
from hecate_edge.torch import train as torch_train  # noqa: E402
from parity import assert_close  # noqa: E402
from torch_ddp_worker import setup, spawned, train_and_save  # noqa: E402

CPU = distributed.World(0, 1, torch.device("cpu"))


def test_torch_engine_follows_the_native_trainer():
    """Same chunks, init, AdamW, clip, schedule and CMS holds: the weights after 3 steps agree
    with the native trainer's to float32 rounding, and the losses too."""
    cfg, config, corpus = setup()
    native = train.new_model(cfg, seed=config.seed)
    native_records = train.train(native, [corpus], config, show_progress=False, threads=1)
    lm = HecateLM.from_config(cfg, seed=config.seed)
    records = torch_train.train(lm, [corpus], config, CPU, show_progress=False)
    assert [r["loss"] for r in records] == pytest.approx([r["loss"] for r in native_records], rel=1e-5)
    for name, value in lm.tensors().items():
        assert_close(value, native.weights()[name], 1e-4, name)


def test_trained_model_file_runs_in_the_c_runtime(tmp_path):
    cfg, config, corpus = setup()
    lm = HecateLM.from_config(cfg, seed=0)
    torch_train.train(lm, [corpus], config, CPU, show_progress=False)
    lm.save(tmp_path / "m.hct")
    tokens = corpus.tokens[:20]
    logits = lm(torch.as_tensor(tokens[None].astype(np.int64)))[0][0].detach().numpy()
    assert_close(logits, Model(str(tmp_path / "m.hct")).session().process(tokens), 1e-5, "logits")


def test_checkpoint_resumes_bit_exactly(tmp_path):
    cfg, config, corpus = setup()
    whole = HecateLM.from_config(cfg, seed=0)
    torch_train.train(whole, [corpus], config, CPU, show_progress=False)
    first = HecateLM.from_config(cfg, seed=0)
    torch_train.train(first, [corpus], config, CPU, show_progress=False, until=1, checkpoint=tmp_path / "c.pt")
    lm, config2, run = torch_train.load_checkpoint(tmp_path / "c.pt", torch.device("cpu"))
    assert run.step == 1 and config2 == config
    torch_train.train(lm, [corpus], config2, CPU, show_progress=False, run=run)
    for name, value in whole.tensors().items():
        np.testing.assert_array_equal(lm.tensors()[name], value, err_msg=name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where CUDA is absent")
def test_device_cuda_without_cuda_is_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hecate_edge.cli", "train", "--engine", "torch", "--device", "cuda",
                          "--out", str(tmp_path / "m.hct")], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "CUDA is not available" in run.stderr, run.stderr


def test_two_gloo_processes_equal_one_process(tmp_path):
    """DDP over 2 CPU processes (gloo), each training half of every global batch: the weights
    equal a 1-process run with the same global batch (float summation order aside)."""
    # The port is free when chosen but may be taken before rank 0 listens on it, and in a full run on
    # 2026-12-05 rank 1 died of SIGABRT ("terminate called without an active exception") after its
    # training, leaving the group while rank 0 was still saving: both now leave after a barrier
    # (distributed.leave). A run of the two processes that fails either way is tried once more on a
    # new port, with a warning that names the failure (so a recurrence shows in the test summary);
    # the weights are checked below either way.
    for attempt in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            torch.multiprocessing.spawn(spawned, args=(2, port, str(tmp_path / "two.npz")), nprocs=2)
            break
        except (torch.multiprocessing.ProcessRaisedException, torch.multiprocessing.ProcessExitedException) as exc:
            if attempt:
                raise
            warnings.warn(f"the 2-process gloo run failed once and is tried again: {exc}")
    train_and_save(str(tmp_path / "one.npz"))
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    for name in one.files:
        assert_close(two[name], one[name], 1e-6, name)


def test_nonfinite_step_applies_nothing():
    """A NaN in every embedding row makes the loss NaN: "stop" raises with the weights as they
    were, "skip" drops each such step (3 here, fewer than MAX_SKIPPED in a row) and records none."""
    from hecate_edge.nonfinite import NonFiniteTraining

    cfg, config, corpus = setup()
    lm = HecateLM.from_config(cfg, seed=0)
    with torch.no_grad():
        lm.emb[:, 0] = float("nan")
    before = lm.tensors()
    with pytest.raises(NonFiniteTraining, match="step 1: non-finite loss"):
        torch_train.train(lm, [corpus], config, CPU, show_progress=False)
    for name, value in lm.tensors().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)  # NaN == NaN here
    records = torch_train.train(lm, [corpus], config, CPU, show_progress=False, on_nonfinite="skip")
    assert records == []


def test_cuda_graphs_apply_to_one_process_on_cuda_with_every_period_1():
    """hecate_edge.torch.graphed's rule (a decision only: nothing runs on a GPU here)."""
    from hecate_edge.config import ModelConfig
    from hecate_edge.torch import graphed

    lm = HecateLM.from_config(ModelConfig(d_model=8, n_heads=2))
    assert graphed.applies(lm, torch.device("cuda"))
    assert not graphed.applies(lm, torch.device("cpu"))
    cms = HecateLM.from_config(ModelConfig(d_model=8, n_heads=2, n_levels=2, periods=(1, 4)))
    assert not graphed.applies(cms, torch.device("cuda"))
