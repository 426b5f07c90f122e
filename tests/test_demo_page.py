"""The demo page (wasm/demo/) end to end in real headless Chromium: it loads
the bundled micro model, generates through its own controls exactly the bytes
the native runtime and the same sampler give, paints the memory heat map,
its Python console (Pyodide) drives the same model, and (with the onnx extra
installed) the model's ONNX export in onnxruntime-web gives the runtime's
logits.  The screenshot is written to build/artifacts/demo_page.png.  Served
without its built parts (the .wasm modules, Pyodide's npm package), the page
and the server name the commands that make them."""
import importlib.util
import json
import shutil
import threading
import urllib.error
import urllib.request

import pytest
from wasm_tools import REPO, npm_package, run_node, wasm_modules  # noqa: F401 (fixture)

from hecate_edge.runtime import Model
from hecate_edge.sampler import generate

ARTIFACTS = REPO / "build" / "artifacts"
MODEL = REPO / "wasm" / "demo" / "micro.hct"
SPEC = {"prompt": "The return statement", "max_tokens": 120, "temperature": 0.7, "top_k": 20, "seed": 3}
PY_BYTES = 48
HAS_ONNX = importlib.util.find_spec("onnx") is not None  # tools/serve_demo.py exports micro.onnx with it
PYTHON = ("from hecate_edge import sampler, wasm_backend\n"
          "model = wasm_backend.Model('/demo/micro.hct')\n"
          f"out = sampler.generate(model.session(), b'def ', {PY_BYTES}, seed=5, temperature=0.8, top_k=10)\n"
          "print(list(out))\n")


def load_serve_demo():
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_demo", REPO / "tools" / "serve_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chromium_binary() -> str:
    npm_package("playwright-core")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed (tools/install_and_test.sh installs Debian's chromium)"
    return chromium


def start_server(serve_demo, root=REPO):
    server = serve_demo.make_server(root=root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def page_result(wasm_modules, tmp_path_factory):  # noqa: F811 (fixture)
    chromium = chromium_binary()
    serve_demo = load_serve_demo()
    server = start_server(serve_demo)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "demo_page.png").unlink(missing_ok=True)   # a stale shot cannot pass
    spec = dict(SPEC, chromium=chromium, python=PYTHON, screenshot=str(ARTIFACTS / "demo_page.png"), onnx=HAS_ONNX,
                url=f"http://127.0.0.1:{server.server_address[1]}{serve_demo.DEMO_PATH}")
    path = tmp_path_factory.mktemp("demo") / "spec.json"
    path.write_text(json.dumps(spec))
    try:
        return json.loads(run_node(REPO / "tests/js/demo_e2e.mjs", path))
    finally:
        server.shutdown()


def test_page_loads_the_bundled_model(page_result):
    assert page_result["error"] == "" and page_result["consoleErrors"] == []
    assert f"{Model(MODEL).info['n_params']} parameters" in page_result["about"]


def test_generated_bytes_equal_native(page_result):
    want = generate(Model(MODEL).session(), SPEC["prompt"].encode(), SPEC["max_tokens"], SPEC["seed"],
                    SPEC["temperature"], SPEC["top_k"])
    assert bytes(page_result["bytes"]) == want
    assert f"{SPEC['max_tokens']} bytes" in page_result["stats"] and "tok/s" in page_result["stats"]


def test_memory_heat_map_painted(page_result):
    assert page_result["colours"] > 100
    assert "memory level 0 (64×64)" in page_result["caption"]


def test_python_console_drives_the_same_model(page_result):
    want = generate(Model(MODEL).session(), b"def ", PY_BYTES, 5, 0.8, 10)
    assert page_result["python"]["status"] == "done", page_result["python"]["output"]
    assert page_result["python"]["output"].strip() == str(list(want))


def test_screenshot_written(page_result):
    shot = ARTIFACTS / "demo_page.png"
    assert shot.stat().st_size > 10000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not HAS_ONNX, reason="the onnx extra is not installed: the server cannot export micro.onnx")
def test_onnxruntime_web_gives_the_runtime_logits(page_result):
    onnx = page_result["onnx"]
    assert onnx["status"] == "done", onnx["output"]
    assert onnx["result"]["tokens"] == len(SPEC["prompt"])
    assert onnx["result"]["rmsRelative"] < 1e-5, onnx["output"]
    assert "tok/s" in onnx["output"] and "onnxruntime-web" in onnx["output"]


def page_sources(root, with_wasm: dict | None = None):
    """The committed files the page fetches, copied under root; the built
    .wasm modules too when with_wasm ({build: path}) is given."""
    for rel in ["wasm/hecate.js", "wasm/sampler.js", "wasm/demo/index.html", "wasm/demo/demo.js",
                "wasm/demo/compare-onnx.js", "wasm/demo/micro.hct",
                *(f"hecate_edge/{f}" for f in ("__init__.py", "errors.py", "sampler.py", "wasm_backend.py"))]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    for path in (with_wasm or {}).values():
        (root / "build" / "wasm").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "build" / "wasm" / path.name)


def test_missing_parts_name_their_commands(wasm_modules, tmp_path):  # noqa: F811 (fixture)
    """Without the .wasm build the page says `bash wasm/build.sh`; with it but
    without node_modules its Python console says `npm ci --prefix wasm`, and
    so do the server's start-up check and its 404s.  Served from a folder
    without ../hecate.js the page asks for the repository root."""
    chromium = chromium_binary()
    serve_demo = load_serve_demo()
    bare, no_npm, no_api = tmp_path / "bare", tmp_path / "no_npm", tmp_path / "no_api"
    page_sources(bare)
    page_sources(no_npm, wasm_modules)
    page_sources(no_api)
    (no_api / "wasm" / "hecate.js").unlink()
    assert serve_demo.missing(bare) == [
        "build/wasm/hecate.wasm is missing: run `bash wasm/build.sh` in the repository root",
        "wasm/node_modules/pyodide/pyodide.mjs is missing: run `npm ci --prefix wasm` in the repository root"]
    servers = [start_server(serve_demo, root) for root in (bare, no_npm, no_api)]
    try:
        base = [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base[0]}/build/wasm/hecate.wasm")
        assert err.value.code == 404 and "bash wasm/build.sh" in err.value.read().decode()
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps({"chromium": chromium, "urls": [b + serve_demo.DEMO_PATH for b in base]}))
        no_build, no_pyodide, no_js = json.loads(run_node(REPO / "tests/js/demo_missing.mjs", spec))
    finally:
        for server in servers:
            server.shutdown()
    assert no_build["state"] == "error"
    assert "is missing (HTTP 404): run `bash wasm/build.sh` in the repository root" in no_build["error"]
    assert no_pyodide["state"] == "ready" and no_pyodide["error"] == ""
    assert "pyodide.mjs is missing (HTTP 404): run `npm ci --prefix wasm` in the repository root" \
        in no_pyodide["python"]
    assert no_js["state"] == "error" and "serve the repository root (python3 tools/serve_demo.py)" in no_js["error"]
