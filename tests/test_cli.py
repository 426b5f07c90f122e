"""Smoke tests of every ``hecate-edge`` subcommand (train, export, inspect, run,
demo) on tiny models, and of the one-line error reporting (exit status 2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hecate_edge import cli, demo, train
from hecate_edge.config import ModelConfig
from hecate_edge.data import load_corpus
from hecate_edge.reference.rules import RULES

runtime = pytest.importorskip("hecate_edge.runtime")
try:
    runtime.load_library("f32")
except ImportError as exc:  # library not built in this checkout
    pytest.skip(f"C runtime not available: {exc}", allow_module_level=True)

TINY = ["--d-model", "16", "--heads", "2", "--window", "4", "--chunk", "16", "--quiet"]


def _cli(*args, stdin=None):
    """Run hecate-edge in a subprocess (real stdout/stderr streams)."""
    return subprocess.run([sys.executable, "-m", "hecate_edge.cli", *args], capture_output=True,
                          input=stdin, env=os.environ.copy(), timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained for 4 steps: (folder, model file, checkpoint)."""
    folder = tmp_path_factory.mktemp("cli")
    model, ckpt, log = folder / "tiny.hct", folder / "tiny.npz", folder / "loss.jsonl"
    status = cli.main(["train", "--out", str(model), "--steps", "4", "--data", "mix",
                       "--checkpoint", str(ckpt), "--log", str(log), *TINY])
    assert status == 0
    return folder, model, ckpt


def test_train_writes_model_checkpoint_and_log(trained, capsys):
    folder, model, ckpt = trained
    assert model.stat().st_size > 256 and ckpt.exists()
    records = [json.loads(line) for line in (folder / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss"]) for r in records)
    loaded = runtime.Model(model)
    assert loaded.config.d_model == 16 and loaded.config.window == 4


def test_export_checkpoint_to_f32_and_f64(trained, capsys):
    folder, model, ckpt = trained
    f32, f64 = folder / "exp32.hct", folder / "exp64.hct"
    assert cli.main(["export", str(ckpt), "--out", str(f32)]) == 0
    assert cli.main(["export", str(ckpt), "--out", str(f64), "--dtype", "f64"]) == 0
    a = runtime.Model(f32).weights()
    b = runtime.Model(model).weights()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert cli.file_precision(f64.read_bytes()) == "f64"
    assert cli.main(["export", str(f64), "--out", str(folder / "back32.hct")]) == 0
    c = runtime.Model(folder / "back32.hct").weights()
    for name in a:
        np.testing.assert_array_equal(a[name], c[name])


@pytest.mark.parametrize("quantize,matrix", [("int8", "i8"), ("w8a16", "i8a16")])
def test_export_quantized_runs_and_inspects(trained, capsys, quantize, matrix):
    """--quantize int8 / w8a16: the matrices' dtypes (the embedding always plain int8), a
    session that runs, and a second export of the quantized file that keeps its bytes."""
    folder, model, _ = trained
    out = folder / f"{quantize}.hct"
    assert cli.main(["export", str(model), "--out", str(out), "--quantize", quantize]) == 0
    loaded = runtime.Model(out)
    dtypes = {t.name: t.dtype for t in loaded.tensors}
    assert dtypes["emb"] == "i8" and dtypes["head"] == matrix and dtypes["blk0.mem0.wk"] == matrix
    assert np.isfinite(loaded.session().process(np.arange(20) % 256)).all()
    again = folder / f"{quantize}_again.hct"
    assert cli.main(["export", str(out), "--out", str(again), "--quantize", quantize]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert cli.main(["inspect", str(out)]) == 0
    assert matrix in capsys.readouterr().out


def test_inspect_good_file(trained, capsys):
    _, model, _ = trained
    assert cli.main(["inspect", str(model)]) == 0
    out = capsys.readouterr().out
    for word in ("blk0.mem0.wk", "head", "emb"):
        assert word in out


def test_inspect_broken_file_fails_with_one_line(trained, tmp_path):
    _, model, _ = trained
    broken = tmp_path / "broken.hct"
    data = bytearray(model.read_bytes())
    data[-5] ^= 0xFF  # inside tensor data: CRC mismatch
    broken.write_bytes(bytes(data))
    proc = _cli("inspect", str(broken))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "CRC" in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [["inspect", "no/such/file.hct"], ["run", "no/such/file.hct"],
                                  ["export", "no/such/ckpt.npz", "--out", "x.hct"]])
def test_missing_file_is_a_clear_error(args):
    proc = _cli(*args)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "no/such" in err and "Traceback" not in err


def test_run_on_corrupt_file_is_a_clear_error(trained, tmp_path):
    _, model, _ = trained
    broken = tmp_path / "short.hct"
    broken.write_bytes(model.read_bytes()[:100])
    proc = _cli("run", str(broken), "--max-tokens", "3")
    assert proc.returncode == 2
    assert b"HECATE_E_FILE" in proc.stderr and b"Traceback" not in proc.stderr


def test_run_streams_bytes_and_is_seeded(trained):
    _, model, _ = trained
    args = ["run", str(model), "--prompt", "def ", "--max-tokens", "20", "--temperature", "0.9",
            "--top-k", "5", "--seed", "3"]
    first, second = _cli(*args), _cli(*args)
    assert first.returncode == 0, first.stderr
    assert len(first.stdout) == 21 and first.stdout.endswith(b"\n")
    assert first.stdout == second.stdout
    greedy = _cli("run", str(model), "--prompt", "x", "--max-tokens", "5", "--temperature", "0")
    assert greedy.returncode == 0 and len(greedy.stdout) == 6


def test_run_f64_model(trained):
    folder, _, ckpt = trained
    try:
        runtime.load_library("f64")
    except ImportError:
        pytest.skip("double build not available")
    f64 = folder / "run64.hct"
    assert cli.main(["export", str(ckpt), "--out", str(f64), "--dtype", "f64"]) == 0
    proc = _cli("run", str(f64), "--prompt", "a", "--max-tokens", "4")
    assert proc.returncode == 0 and len(proc.stdout) == 5


def test_run_draws_the_bytes_every_target_shares(trained):
    """`run` samples with hecate_edge.sampler (the WASM demo's and Pyodide's sampler)."""
    from hecate_edge import sampler

    _, model, _ = trained
    proc = _cli("run", str(model), "--prompt", "def ", "--max-tokens", "12", "--temperature", "0.8",
                "--top-k", "10", "--seed", "5")
    want = sampler.generate(runtime.Model(model).session(), b"def ", 12, seed=5, temperature=0.8, top_k=10)
    assert proc.stdout == want + b"\n"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_demo_with_few_steps(tmp_path, capsys, rule):
    out = tmp_path / "demo.hct"
    assert cli.main(["demo", "--steps", "3", "--out", str(out), "--quiet", "--rule", rule]) == 0
    text = capsys.readouterr().out
    for word in ("untrained", "switched off", "attention only", "recall beyond the attention window", "tok/s",
                 "sample", f"{rule} rule", f"eval recall --rules {rule} "):
        assert word in text
    for path in (out, tmp_path / "demo.recall.hct"):  # the text model at --out, the recall model beside it
        config = runtime.Model(path).config
        assert config.d_model == 64 and config.rule == rule
    assert out.read_bytes() != (tmp_path / "demo.recall.hct").read_bytes()


def _failing_train(fail_at_lr_above: float, seen: list):
    """A stand-in for train.train that goes non-finite at step 7 while the lr is above the given one."""
    from hecate_edge.nonfinite import NonFiniteTraining
    real = train.train

    def fake(model, corpus, config, **kw):
        seen.append(config.lr)
        if config.lr > fail_at_lr_above:
            raise NonFiniteTraining(7, "the forward pass went non-finite (test)")
        return real(model, corpus, config, **kw)
    return fake


def test_demo_trains_again_at_half_the_lr_after_a_non_finite_run(capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(train, "train", _failing_train(demo.TEXT_LR / 2, seen))
    assert cli.main(["demo", "--steps", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert seen == [demo.RECALL_LR, demo.TEXT_LR, demo.TEXT_LR / 2, demo.TEXT_LR, demo.TEXT_LR / 2]
    assert out.count(f"training again from the init at lr {demo.TEXT_LR / 2:g}") == 2 and "step 7" in out


def test_demo_stops_with_one_line_when_every_lr_goes_non_finite(capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(train, "train", _failing_train(0.0, seen))
    assert cli.main(["demo", "--steps", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert seen == [demo.RECALL_LR / 2 ** i for i in range(demo.LR_HALVINGS + 1)]
    assert "non-finite" in err and "--lr" in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("out, recall", [("demo.hct", "demo.recall.hct"), ("m.bin", "m.recall.bin"),
                                         ("demo", "demo.recall.hct")])
def test_demo_keeps_the_recall_model_beside_the_text_model(out, recall):
    assert demo.recall_path(Path("runs") / out) == Path("runs") / recall


@pytest.mark.parametrize("where, why", [("nowhere/demo.hct", "no such folder"), (".", "is a folder"),
                                        ("", "is a folder")])
def test_demo_refuses_an_unwritable_out_before_training(tmp_path, capsys, where, why):
    assert cli.main(["demo", "--out", str(tmp_path / where), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert why in captured.err and "training" not in captured.out


@pytest.mark.parametrize("rule", sorted(RULES))
def test_train_any_rule_and_inspect_names_it(tmp_path, capsys, rule):
    model = tmp_path / f"{rule}.hct"
    assert cli.main(["train", "--out", str(model), "--steps", "2", "--rule", rule, *TINY]) == 0
    assert cli.main(["inspect", str(model)]) == 0
    assert rule in capsys.readouterr().out


def test_train_with_rule_hyper_parameters(tmp_path, capsys):
    model = tmp_path / "moneta.hct"
    args = ["train", "--out", str(model), "--steps", "1", "--rule", "moneta", *TINY]
    assert cli.main([*args, "--rule-param", "d_hidden=5", "--rule-param", "p=2"]) == 0
    assert runtime.Model(model).config.rule_hp == {"d_hidden": 5.0, "p": 2.0, "lambda_2": np.float32(0.01),
                                                     "w1_scale": np.float32(np.sqrt(12 * 16)), "grad_bound": 10.0}
    assert cli.main([*args, "--rule-param", "width=3"]) == 2
    assert "no hyper-parameters ['width']" in capsys.readouterr().err
    assert cli.main([*args, "--rule-param", "d_hidden"]) == 2
    assert "NAME=NUMBER" in capsys.readouterr().err


@pytest.fixture
def text_folder(tmp_path):
    """A folder of the user's own text: two files, one in a subfolder."""
    from hecate_edge.data import text_documents

    docs = text_documents()
    (tmp_path / "corpus" / "more").mkdir(parents=True)
    (tmp_path / "corpus" / "a.txt").write_bytes(b"\n".join(body for _, body in docs[:40]))
    (tmp_path / "corpus" / "more" / "b.txt").write_bytes(b"\n".join(body for _, body in docs[40:60]))
    return tmp_path


def test_train_on_own_files_in_batches_with_held_out_evaluation(text_folder, capsys):
    model, log = text_folder / "own.hct", text_folder / "log.jsonl"
    args = ["train", "--data", str(text_folder / "corpus"), "--val-fraction", "0.1", "--steps", "4",
            "--batch", "3", "--threads", "2", "--eval-every", "2", "--eval-tokens", "2000",
            "--out", str(model), "--log", str(log), *TINY]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "trained 4 steps x 3 x 16 tokens" in out and "held-out (the last 10% of each file)" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records if "val_bpb" in r] == [2, 4]
    assert runtime.Model(model).config.d_model == 16


def test_train_with_a_val_glob(text_folder, capsys):
    (text_folder / "val.txt").write_bytes(b"held-out bytes " * 40)
    args = ["train", "--data", str(text_folder / "corpus" / "**" / "*.txt"), "--val", str(text_folder / "val.*"),
            "--steps", "2", "--out", str(text_folder / "m.hct"), *TINY]
    assert cli.main(args) == 0
    assert "held-out (--val files)" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--data", "text", "x.txt"], "either built-in names"),
    (["--data", "text", "--val", "x.txt"], "its own held-out split"),
    (["--data", "/no/such/folder"], "/no/such/folder: no such file or folder"),
    (["--batch", "0"], "--batch must be >= 1"),
    (["--threads", "0"], "--threads must be >= 1"),
])
def test_train_data_errors_are_one_line(tmp_path, extra, message):
    result = _cli("train", "--steps", "1", "--out", str(tmp_path / "m.hct"), *TINY, *extra)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


RATE_ERRORS = [
    (["train", "--lr", "-1"], "argument --lr: must be > 0, got -1"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["train", "--clip", "-1"], "argument --clip: must be >= 0, got -1"),
    (["train", "--weight-decay", "inf"], "argument --weight-decay: must be a finite number, got inf"),
    (["eval", "recall", "--lr", "0"], "argument --lr: must be > 0, got 0"),
    (["eval", "text", "--lr", "-0.001"], "argument --lr: must be > 0, got -0.001"),
    (["eval", "cms", "--lr", "x"], "argument --lr: not a number: 'x'"),
]


@pytest.mark.parametrize("args, message", RATE_ERRORS)
def test_rates_out_of_range_are_refused_before_any_training(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*args, "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_train_refuses_rates_out_of_range():
    model = train.new_model(ModelConfig(d_model=8, n_heads=2))
    for bad in (dict(lr=-1.0), dict(lr=float("nan")), dict(weight_decay=-0.1), dict(clip_norm=0.0)):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            train.train(model, load_corpus("text", "train"), train.TrainConfig(steps=1, chunk=8, **bad),
                        show_progress=False)


def test_train_that_diverges_keeps_the_last_good_weights(tmp_path):
    model, ckpt = tmp_path / "m.hct", tmp_path / "c.npz"
    result = _cli("train", "--lr", "1e4", "--steps", "20", "--data", "text", "--out", str(model),
                  "--checkpoint", str(ckpt), *TINY)
    assert result.returncode == 2
    err = result.stderr.decode().strip().splitlines()[-1]
    assert "training stopped at step" in err and "went non-finite" in err and str(model) in err
    weights = runtime.Model(model).weights()  # a loadable model: every weight finite
    assert all(np.isfinite(w).all() for w in weights.values())
    assert ckpt.exists()


def test_progress_lines_reach_a_log_that_is_not_a_terminal(tmp_path):
    result = _cli("train", "--steps", "3", "--out", str(tmp_path / "m.hct"),
                  *[a for a in TINY if a != "--quiet"])
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert lines and lines[-1].startswith("train [") and "3/3" in lines[-1] and "tok/s" in lines[-1]


def _one_error_line(status, capsys) -> str:
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("what", ["cut", "model file", "one array"])
def test_resume_from_something_that_is_no_checkpoint_names_it(trained, tmp_path, capsys, what):
    _, model, ckpt = trained
    bad = tmp_path / "bad.npz"
    if what == "cut":
        bad.write_bytes(ckpt.read_bytes()[:300])
    elif what == "model file":
        bad = model
    else:
        np.save(tmp_path / "one.npy", np.zeros(3))
        bad = tmp_path / "one.npy"
    err = _one_error_line(cli.main(["train", "--resume", str(bad), "--out", str(tmp_path / "x.hct"), "--quiet"]),
                          capsys)
    assert f"{bad}: not a checkpoint written by hecate-edge train" in err


def test_argument_and_output_errors_blame_the_argument_not_the_model(trained, tmp_path, capsys):
    _, model, _ = trained
    err = _one_error_line(cli.main(["run", str(model), "--temperature", "-1"]), capsys)
    assert err == "hecate-edge run: error: --temperature must be a finite number >= 0"
    err = _one_error_line(cli.main(["export", str(model), "--format", "c", "--out", "/no/such/dir/x.c"]), capsys)
    assert err.startswith("hecate-edge export: error: /no/such/dir") and str(model) not in err


def test_c_export_refuses_to_write_its_source_over_its_header(trained, tmp_path, capsys):
    _, model, _ = trained
    err = _one_error_line(cli.main(["export", str(model), "--format", "c", "--out", str(tmp_path / "x.h")]), capsys)
    assert "--out must end in .c" in err and not (tmp_path / "x.h").exists()


def test_run_takes_the_prompt_as_the_bytes_the_shell_passed(trained):
    _, model, _ = trained
    prompt = os.fsdecode(b"ab\xff")  # not UTF-8: how Python hands such an argument over
    plain = _cli("run", str(model), "--prompt", prompt, "--max-tokens", "4", "--temperature", "0")
    assert plain.returncode == 0 and len(plain.stdout) == 5  # 4 bytes and the newline


def test_run_refuses_a_model_that_does_not_read_bytes(tmp_path, capsys):
    from hecate_edge.reference.init import init_params

    cfg = ModelConfig(vocab=64, d_model=16, n_heads=2, window=4)
    (tmp_path / "v64.hct").write_bytes(train.model_bytes(cfg, init_params(cfg, 0)))
    err = _one_error_line(cli.main(["run", str(tmp_path / "v64.hct")]), capsys)
    assert "vocabulary of 64 tokens" in err


def test_version(capsys):
    from hecate_edge import __version__

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"hecate-edge {__version__}"
