"""The WebAssembly target against the native C build: wasm/build.sh's plain and
SIMD128 modules run through wasm/hecate.js in Node (tests/js/run_jobs.mjs) on
the same model files and tokens as hecate_edge.runtime, every rule case x
composition; bad model bytes raise a JS HecateError with the native status."""
import base64
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import RULE_CASES, lively_params, rule_config
from malformed_cases import CASES
from parity import assert_close
from wasm_tools import BUILDS, REPO, run_node, wasm_modules  # noqa: F401 (fixture)

from hecate_edge._cdef import read_cdef
from hecate_edge.config import COMPOSITIONS, ModelConfig
from hecate_edge.format import write_model
from hecate_edge.runtime import HecateError, Model

TOL = 1e-5   # float32 runtime on two targets (tests/test_parity.py's f32 tolerance)
BASE = ModelConfig(vocab=64, d_model=16, n_heads=2, window=8)
PROMPT_TOKENS, MORE_TOKENS, MAX_CHUNK = 40, 6, 7
# every rule case x composition with one block, a stack of 3 (MATH §4.3) per
# composition, int8 weights (FORMAT.md dtypes 2 and 3), the short convolution (MATH §3.1)
# and rotary positions (MATH §2) per composition: (case, composition, blocks, quantize, features)
JOBS = ([(case, comp, 1, None, {}) for case in RULE_CASES for comp in sorted(COMPOSITIONS)]
        + [("titans", comp, 3, None, {}) for comp in sorted(COMPOSITIONS)]
        + [(case, "mag", 2, "int8", {}) for case in ("delta", "moneta")]
        + [("delta", comp, 2, None, {"conv_kernel": 4}) for comp in sorted(COMPOSITIONS)]
        + [("titans", comp, 2, None, {"rope": True}) for comp in sorted(COMPOSITIONS)]
        + [("delta", "mac", 1, "int8", {"rope": True})]
        + [("delta", "mal", 1, "w8a16", {})])


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


def native_run(data: bytes, tokens, more):
    """What the native runtime gives for a job, and its state blob after the prompt."""
    model = Model(data)
    sess = model.session(max_chunk=MAX_CHUNK)
    prompt = sess.process(tokens)
    blob_after_prompt = sess.save_state()
    steps = [sess.step(t) for t in more]
    return model, {"prompt": prompt, "steps": np.stack(steps), "memory": sess.memory().ravel(),
                   "blob": blob_after_prompt}


@pytest.fixture(scope="module", params=sorted(BUILDS))
def wasm_run(request, wasm_modules, tmp_path_factory):
    """(native results, JS results) of every job on one build, plus the bad-model cases."""
    folder = tmp_path_factory.mktemp(f"jobs_{request.param}")
    rng = np.random.default_rng(7)
    jobs, native = [], []
    for i, (case, comp, layers, quantize, features) in enumerate(JOBS):
        cfg = replace(rule_config(BASE, case), composition=comp, n_layers=layers, **features)
        data = write_model(cfg, lively_params(cfg, seed=i), dtype="f32", quantize=quantize)
        tokens = rng.integers(0, cfg.vocab, PROMPT_TOKENS).tolist()
        more = rng.integers(0, cfg.vocab, MORE_TOKENS).tolist()
        model, want = native_run(data, tokens, more)
        (folder / f"{i}.hct").write_bytes(data)
        (folder / f"{i}.state").write_bytes(want["blob"])
        jobs.append({"model": str(folder / f"{i}.hct"), "tokens": tokens, "more": more,
                     "max_chunk": MAX_CHUNK, "native_state": str(folder / f"{i}.state")})
        native.append((model, want))
    bad = []
    for name, _, build in CASES:
        (folder / f"bad_{name}.hct").write_bytes(build("f32"))
        bad.append(str(folder / f"bad_{name}.hct"))
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"wasm": str(wasm_modules[request.param]), "jobs": jobs, "bad": bad}))
    return native, json.loads(run_node(REPO / "tests/js/run_jobs.mjs", spec))


def test_status_names_match_header():
    _, names = read_cdef(REPO / "runtime_c/include/hecate.h")
    js = run_node("--input-type=module", "-e",
                  "import {STATUS_NAMES} from './wasm/hecate.js'; console.log(JSON.stringify(STATUS_NAMES))")
    assert {int(k): v for k, v in json.loads(js).items()} == names


JOB_IDS = [f"{c}-{m}-{n}blk{'-' + q if q else ''}" + "".join(f"-{k.split('_')[0]}{'' if v is True else v}"
                                                              for k, v in f.items())
           for c, m, n, q, f in JOBS]


@pytest.mark.parametrize("index", range(len(JOBS)), ids=JOB_IDS)
def test_logits_state_and_info_match_native(wasm_run, index):
    native, js = wasm_run
    model, want = native[index]
    got = js["jobs"][index]
    assert got["info"] == model.info
    assert [(t["name"], tuple(t["shape"]), t["n_elems"], t["grad_offset"], t["file_offset"], t["dtype"])
            for t in got["tensors"]] == [tuple(t) for t in model.tensors]
    assert got["position"] == PROMPT_TOKENS + MORE_TOKENS
    vocab = model.info["vocab"]
    assert_close(floats(got["prompt"]).reshape(-1, vocab), want["prompt"], TOL, "process logits")
    assert_close(np.stack([floats(s) for s in got["steps"]]), want["steps"], TOL, "step logits")
    assert_close(floats(got["memory"]), want["memory"], TOL, "memory level 0")
    # the native blob saved after the prompt, restored in wasm, continues alike
    assert_close(floats(got["restored"]).reshape(-1, vocab), want["steps"], TOL, "logits after restore")
    assert got["position_after_reset"] == 0


def test_js_state_blob_restores_natively(wasm_run):
    """A blob saved by the wasm session loads into a native session with the same memory."""
    native, js = wasm_run
    for (model, want), got in zip(native, js["jobs"]):
        sess = model.session()
        sess.load_state(base64.b64decode(got["state"]))
        assert sess.position == PROMPT_TOKENS + MORE_TOKENS
        assert_close(sess.memory().ravel(), want["memory"], TOL, "memory from the wasm blob")


def test_bad_model_bytes_throw_native_status(wasm_run):
    _, js = wasm_run
    assert len(js["bad"]) == len(CASES)
    for (name, _, build), got in zip(CASES, js["bad"]):
        with pytest.raises(HecateError) as native_err:
            Model(build("f32"))
        assert got["thrown"] and got["isHecateError"] and got["isError"], name
        assert got["statusName"] == native_err.value.name, name
        assert got["status"] == native_err.value.status, name
        assert got["message"] == str(native_err.value), name


CHUNKS = (1, 2, 3, 7, 16)


def test_chunks_and_builds_give_the_same_bits(wasm_modules, tmp_path):
    """The chunking invariant (MATH §6) inside the wasm target: step() token by
    token and process() in chunks of 1, 2, 3, 7, 16 give the same logits and
    state bits, and the SIMD128 module (its lane kernels: simd128.c, mathfn.c's
    token blocks) the plain module's bits, on every job and the demo model."""
    rng = np.random.default_rng(11)
    jobs = [{"model": str(REPO / "wasm/demo/micro.hct"), "tokens": rng.integers(0, 256, 70).tolist()}]
    for i, (case, comp, layers, quantize, features) in enumerate(JOBS):
        cfg = replace(rule_config(BASE, case), composition=comp, n_layers=layers, **features)
        (tmp_path / f"{i}.hct").write_bytes(write_model(cfg, lively_params(cfg, seed=i), dtype="f32",
                                                        quantize=quantize))
        jobs.append({"model": str(tmp_path / f"{i}.hct"), "tokens": rng.integers(0, cfg.vocab, 45).tolist()})
    got = {}
    for build, path in sorted(wasm_modules.items()):
        spec = tmp_path / f"chunks_{build}.json"
        spec.write_text(json.dumps({"wasm": str(path), "jobs": jobs, "chunks": list(CHUNKS)}))
        got[build] = json.loads(run_node(REPO / "tests/js/chunk_jobs.mjs", spec))
    for j, want in enumerate(got["plain"]):
        name = "demo" if j == 0 else JOB_IDS[j - 1]
        for build in sorted(got):
            for run, result in got[build][j].items():
                assert result == want["step"], f"{name}: {build} build, chunks of {run} != plain step"


def test_every_region_given_back(wasm_run):
    """Closing every model and session returns all memory but the runtime's scratch."""
    _, js = wasm_run
    assert js["live_bytes"] == 128
    assert js["memory_bytes"] % 65536 == 0
