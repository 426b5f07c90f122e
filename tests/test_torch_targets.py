"""A model trained with --engine torch runs unchanged on the other targets: its
file (float32 and int8) through the WebAssembly build in Node and as Cortex-M4F
firmware under QEMU, against HecateLM's own logits and the native runtime's
(the tests of those targets, tests/test_wasm.py and tests/test_mcu.py, on a
torch-trained file).  Skips where torch is not installed."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hecate_edge.config import ModelConfig  # noqa: E402
from hecate_edge.data import Corpus  # noqa: E402
from hecate_edge.torch import HecateLM  # noqa: E402
from hecate_edge.torch import distributed  # noqa: E402
from hecate_edge.torch import train as torch_train  # noqa: E402
from hecate_edge.train import TrainConfig  # noqa: E402
from parity import assert_close  # noqa: E402
from test_mcu import assert_matches, harness, host_reference  # noqa: E402
from test_wasm import floats, native_run  # noqa: E402
from wasm_tools import REPO, run_node, wasm_modules  # noqa: E402,F401 (fixture)


@pytest.fixture(scope="module", params=[None, "int8"])
def trained(request, tmp_path_factory):
    """(file, HecateLM) of the default micro model after 3 torch training steps."""
    lm = HecateLM.from_config(ModelConfig(), seed=0)
    corpus = Corpus("c", np.frombuffer(b"the torch engine trains this text. " * 40, np.uint8).astype(np.uint32))
    torch_train.train(lm, [corpus], TrainConfig(steps=3, chunk=16, batch=2, lr=1e-2),
                      distributed.World(0, 1, torch.device("cpu")), show_progress=False)
    path = tmp_path_factory.mktemp("torch_trained") / "model.hct"
    lm.save(path, quantize=request.param)
    return path, HecateLM.from_file(path)


def test_wasm_runs_the_trained_file(trained, wasm_modules, tmp_path):
    path, lm = trained
    tokens = list(b"the torch engine runs in the browser")
    more = list(b"!?")
    model, want = native_run(path.read_bytes(), tokens, more)
    (tmp_path / "native.state").write_bytes(want["blob"])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"wasm": str(wasm_modules["plain"]), "bad": [], "jobs": [
        {"model": str(path), "tokens": tokens, "more": more, "max_chunk": 7,
         "native_state": str(tmp_path / "native.state")}]}))
    got = json.loads(run_node(REPO / "tests/js/run_jobs.mjs", spec))["jobs"][0]
    vocab = model.info["vocab"]
    logits = floats(got["prompt"]).reshape(-1, vocab)
    assert_close(logits, want["prompt"], 1e-5, "wasm vs native logits")
    mine = lm(torch.as_tensor([tokens]))[0][0].detach().numpy()
    assert_close(logits, mine, 1e-5, "wasm vs HecateLM logits")


def test_cortex_m_firmware_runs_the_trained_file(trained, tmp_path):
    path, _ = trained
    run = harness.run(harness.build(path, tmp_path, "m4f"))
    assert_matches(run, host_reference(path), "Cortex-M4 firmware of a torch-trained model")
