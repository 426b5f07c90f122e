"""One golden run pins both worlds: the committed model file and the logits of
its fixed prompt (tools/make_golden.py) against the C runtime and the numpy
reference."""
from pathlib import Path

import numpy as np

from hecate_edge.format import read_model
from hecate_edge.reference.model import ReferenceSession
from hecate_edge.runtime import Model
from parity import assert_close

DATA = Path(__file__).resolve().parent / "data"
PROMPT = b"hecate_edge golden prompt: memories that learn while they read."


def golden():
    return (DATA / "golden.hct").read_bytes(), np.load(DATA / "golden_logits.npy")


def test_c_runtime_reproduces_golden_logits():
    blob, want = golden()
    got = Model(blob).session().process(np.frombuffer(PROMPT, np.uint8))
    assert_close(got, want, 1e-5, "C float build vs golden logits")
    assert np.abs(got - want).max() < 1e-4


def test_reference_reproduces_golden_logits():
    blob, want = golden()
    cfg, tensors, _ = read_model(blob)
    ref = ReferenceSession(cfg, {k: v.astype(np.float64) for k, v in tensors.items()})
    assert_close(ref.process(np.frombuffer(PROMPT, np.uint8)), want, 1e-12, "reference vs golden logits")


def test_golden_prompt_greedy_continuation_agrees():
    """Argmax of every position agrees between C and the golden logits."""
    blob, want = golden()
    got = Model(blob).session().process(np.frombuffer(PROMPT, np.uint8))
    assert np.array_equal(got.argmax(axis=1), want.argmax(axis=1))
