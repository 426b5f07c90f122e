"""hecate_edge inside Pyodide (offline in Node, npm's pyodide package, no
numpy), installed with micropip from its Pyodide wheel (which carries the
WebAssembly runtime): hecate_edge.wasm_backend gives the native runtime's
logits, state and sampled bytes, and HecateError for bad files."""
import base64
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import lively_params
from malformed_cases import CASES
from parity import assert_close
from wasm_tools import REPO, npm_package, run_node, wasm_modules  # noqa: F401 (fixture)

import hecate_edge
from hecate_edge.config import ModelConfig
from hecate_edge.format import write_model
from hecate_edge.runtime import HecateError, Model
from hecate_edge.sampler import generate

TOL = 1e-5
MICROPIP_DIR = REPO / "build" / "pyodide" / "micropip"   # tools/fetch_micropip.py
CFG = ModelConfig(vocab=256, d_model=32, n_heads=4, window=8, rule="titans", composition="mal")
JOB = {"tokens": list(b"The return statement ends a function"), "more": [10, 200, 32],
       "max_chunk": 5, "prompt": list(b"def "), "max_tokens": 24, "seed": 4, "temperature": 0.9,
       "top_k": 12}


@pytest.fixture(scope="module")
def pyodide_result(wasm_modules, tmp_path_factory):  # noqa: F811 (fixture: the .wasm the wheel carries)
    npm_package("pyodide")
    micropip = sorted(str(p) for p in MICROPIP_DIR.glob("*.whl"))
    assert any("micropip-" in p for p in micropip), \
        f"no micropip wheel in {MICROPIP_DIR}: run `python3 tools/fetch_micropip.py` in the repository root"
    folder = tmp_path_factory.mktemp("pyodide")
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyodide_wheel.py"), str(folder)], check=True,
                   capture_output=True, text=True)
    data = write_model(CFG, lively_params(CFG, seed=3), dtype="f32")
    bad_name, _, bad_build = CASES[0]
    (folder / "model.hct").write_bytes(data)
    (folder / "bad.hct").write_bytes(bad_build("f32"))
    spec = dict(JOB, simd=True, wheel=str(next(folder.glob("hecate_edge-*.whl"))), micropip_wheels=micropip,
                model=str(folder / "model.hct"), bad_model=str(folder / "bad.hct"))
    (folder / "spec.json").write_text(json.dumps(spec))
    return data, bad_build("f32"), json.loads(run_node(REPO / "tests/js/pyodide_run.mjs", folder / "spec.json"))


def test_installed_from_the_wheel(pyodide_result):
    _, _, got = pyodide_result
    path, version = got["installed"]
    assert "site-packages/hecate_edge/" in path and version == hecate_edge.__version__


def test_runs_without_numpy(pyodide_result):
    _, _, got = pyodide_result
    assert got["numpy_loaded"] is False


def test_logits_memory_and_state_match_native(pyodide_result):
    data, _, got = pyodide_result
    model = Model(data)
    sess = model.session(max_chunk=JOB["max_chunk"])
    assert got["info"] == model.info
    assert_close(np.array(got["logits"]), sess.process(JOB["tokens"]), TOL, "process logits")
    assert_close(np.array(got["steps"]), np.stack([sess.step(t) for t in JOB["more"]]), TOL, "step logits")
    assert_close(np.array(got["memory"]), sess.memory().ravel(), TOL, "memory")
    assert got["position"] == got["restored_position"] == sess.position
    native = model.session()
    native.load_state(base64.b64decode(got["state"]))
    assert_close(native.memory().ravel(), sess.memory().ravel(), TOL, "memory from the Pyodide blob")


def test_generation_matches_native(pyodide_result):
    data, _, got = pyodide_result
    want = generate(Model(data).session(), bytes(JOB["prompt"]), JOB["max_tokens"], JOB["seed"],
                    JOB["temperature"], JOB["top_k"])
    assert bytes(got["generated"]) == want
    assert len(set(want)) > 3   # a real sample, not one repeated byte


def test_bad_file_raises_hecate_error(pyodide_result):
    _, bad, got = pyodide_result
    with pytest.raises(HecateError) as native:
        Model(bad)
    assert got["bad"] == [native.value.status, native.value.name, str(native.value)]
