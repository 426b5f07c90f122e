"""Files the package writes are replaced whole or not at all (hecate_edge.atomic),
and progress reaches logs that are not a terminal (hecate_edge.progress)."""

import io
import os
import stat

import pytest

from hecate_edge import atomic
from hecate_edge.progress import Progress


def test_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "model.hct"
    path.write_bytes(b"old")
    atomic.write_bytes(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["model.hct"]
    assert stat.S_IMODE(path.stat().st_mode) & 0o644 == 0o644  # not mkstemp's 0600


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_litter(tmp_path, monkeypatch, failing):
    path = tmp_path / "model.hct"
    path.write_bytes(b"good model")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError, match="No space"):
            atomic.write_bytes(path, b"new")
    else:
        with pytest.raises(OSError, match="No space"):
            with atomic.atomic_path(path) as tmp:
                tmp.write_bytes(b"half")
                full_disk()
    assert path.read_bytes() == b"good model"
    assert os.listdir(tmp_path) == ["model.hct"]


def test_progress_prints_whole_lines_off_a_terminal():
    stream = io.StringIO()
    with Progress(3, "train", stream=stream, log_interval=0.0) as bar:
        for _ in range(3):
            bar.update(bpb=2.5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in stream.getvalue()
    assert lines[-1].startswith("train [") and "3/3" in lines[-1] and "bpb 2.5" in lines[-1]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("lines", [False, True])
def test_progress_on_a_terminal_redraws_in_place_unless_asked_for_lines(lines):
    stream = _Terminal()
    with Progress(2, "yaad@1", stream=stream, lines=lines, redraw_interval=0.0, log_interval=0.0) as bar:
        bar.update(2)
    text = stream.getvalue()
    assert ("\r" in text) != lines
    if lines:  # whole lines, each naming the job (several trainings share one terminal)
        assert text.splitlines() and all(line.startswith("yaad@1 [") for line in text.splitlines())


def test_a_labelled_training_prints_lines_named_by_its_label(capsys):
    from hecate_edge import train
    from hecate_edge.config import ModelConfig
    from hecate_edge.data import load_corpus

    model = train.new_model(ModelConfig(d_model=8, n_heads=2), seed=0)
    train.train(model, load_corpus("text", "train"), train.TrainConfig(steps=2, chunk=8, batch=2), threads=1,
                progress_label="delta@3")
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("delta@3 [") for line in lines) and "2/2" in lines[-1]


def test_progress_quiet_prints_nothing():
    stream = io.StringIO()
    with Progress(3, "train", stream=stream, quiet=True, log_interval=0.0) as bar:
        bar.update(3)
    assert stream.getvalue() == ""


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder") as err:
        atomic.write_bytes(tmp_path / "missing" / "model.hct", b"x")
    assert err.value.filename == str(tmp_path / "missing")
