"""The inputs the libFuzzer harnesses (runtime_c/fuzz/) once crashed on, kept
in tests/data/fuzz/<target>/ by tools/fuzz_keep.py.  tools/fuzz.sh replays
them through the harnesses under clang's sanitizers (which see what gcc's
miss, e.g. an offset added to NULL); here each runs the harness's calls
through the Python binding and must give the statuses recorded below."""
import struct
from pathlib import Path

import numpy as np
import pytest

from hecate_edge.runtime import HecateError, Model

DATA = Path(__file__).resolve().parent / "data" / "fuzz"

# "<target>/<file>": (what the harness found, the status of each call it makes)
CASES = {
    "process/mag_norope_train.hct": (
        "swa.c's attention backward added offsets to the NULL rotary buffer of a model without rotary "
        "positions (UB, clang UBSan)",
        {"open": "OK", "process": "OK", "step": "OK", "train_chunk": "OK"}),
}


def status(call) -> str:
    try:
        call()
    except HecateError as err:
        return err.name
    return "OK"


def replay_model(data: bytes) -> dict:
    """fuzz_model.c: open the file."""
    return {"open": status(lambda: Model(data))}


def replay_process(data: bytes) -> dict:
    """fuzz_process.c: open, process 5 tokens in blocks of 4, step, a training chunk of 4."""
    got = replay_model(data)
    if got["open"] != "OK":
        return got
    model = Model(data)
    vocab = model.info["vocab"]
    trainable = not model.quantized
    session = model.session(max_chunk=4, max_train_tokens=4 if trainable else 0)
    tokens = np.array([0, 1 % vocab, vocab - 1, 2 % vocab, 3 % vocab], np.uint32)
    got["process"] = status(lambda: session.process(tokens))
    got["step"] = status(lambda: session.step(vocab - 1))
    if trainable:
        got["train_chunk"] = status(lambda: session.train_chunk(tokens[:-1], tokens[1:]))
    return got


def replay_state(data: bytes) -> dict:
    """fuzz_state.c: open the model (the header's size in bytes), load the rest as a state blob,
    step, process 3 tokens."""
    model_bytes = data[:struct.unpack_from("<Q", data, 16)[0]]
    got = replay_model(model_bytes)
    if got["open"] != "OK":
        return got
    model = Model(model_bytes)
    session = model.session(max_chunk=4)
    got["load_state"] = status(lambda: session.load_state(data[len(model_bytes):]))
    if got["load_state"] == "OK":
        vocab = model.info["vocab"]
        got["step"] = status(lambda: session.step(vocab - 1))
        got["process"] = status(lambda: session.process(np.array([vocab - 1, 0, 1 % vocab], np.uint32)))
    return got


REPLAY = {"model": replay_model, "state": replay_state, "process": replay_process}


def test_every_kept_input_has_expectations():
    kept = {f"{p.parent.name}/{p.name}" for p in DATA.glob("*/*")}
    assert kept == set(CASES), "each file of tests/data/fuzz needs a CASES row, and each row its file"


@pytest.mark.parametrize("case", sorted(CASES))
def test_kept_input_gives_its_statuses(case):
    target = case.split("/")[0]
    assert REPLAY[target]((DATA / case).read_bytes()) == CASES[case][1], CASES[case][0]
