"""Build the Pyodide wheel of hecate_edge: the pure-Python route of
docs/WASM.md (hecate_edge/{__init__,errors,sampler,wasm_backend}.py) with the
WebAssembly runtime it runs on (build/wasm/*.wasm from wasm/build.sh, and
wasm/hecate.js, wasm/sampler.js) as package data under hecate_edge/wasm/.
Inside Pyodide: `await micropip.install("emfs:/path/to/the.whl")`, then
`await wasm_backend.load_runtime()`.  Tagged for the Pyodide that
wasm/package-lock.json pins (its platform, from pyodide-lock.json), so a
desktop pip never takes it for the native wheel.

    python tools/build_pyodide_wheel.py [OUT_DIR]     # default build/pyodide/
"""
import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON_FILES = ["__init__.py", "errors.py", "sampler.py", "wasm_backend.py", "py.typed"]
# package path under hecate_edge/ -> repository path
RUNTIME_FILES = {"wasm/hecate.js": "wasm/hecate.js", "wasm/sampler.js": "wasm/sampler.js",
                 "wasm/hecate.wasm": "build/wasm/hecate.wasm", "wasm/hecate_simd.wasm": "build/wasm/hecate_simd.wasm"}
LOCK = REPO / "wasm" / "node_modules" / "pyodide" / "pyodide-lock.json"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries without the build's clock: the same inputs give the same bytes


def platform_tag() -> str:
    """The pinned Pyodide's platform, e.g. emscripten_3_1_58_wasm32."""
    if not LOCK.is_file():
        sys.exit(f"{LOCK.relative_to(REPO)} is missing: run `npm ci --prefix wasm` in the repository root")
    return json.loads(LOCK.read_text())["info"]["platform"] + "_wasm32"


def version() -> str:
    scope: dict = {}
    exec((REPO / "hecate_edge" / "__init__.py").read_text(), scope)
    return scope["__version__"]


def contents(dist_info: str, tag: str) -> dict[str, bytes]:
    """{archive path: bytes} of every file but RECORD."""
    files = {f"hecate_edge/{name}": (REPO / "hecate_edge" / name).read_bytes() for name in PYTHON_FILES}
    for name, source in RUNTIME_FILES.items():
        path = REPO / source
        if not path.is_file():
            sys.exit(f"{source} is missing: run `bash wasm/build.sh` in the repository root")
        files[f"hecate_edge/{name}"] = path.read_bytes()
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: hecate-edge\nVersion: {version()}\n"
        "Summary: hecate_edge inside Pyodide: its Python API over the WebAssembly runtime\n"
        "License: Apache-2.0\nRequires-Python: >=3.10\n").encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: hecate_edge tools/build_pyodide_wheel.py\n"
        f"Root-Is-Purelib: true\nTag: py3-none-{tag}\n").encode()
    files[f"{dist_info}/LICENSE"] = (REPO / "LICENSE").read_bytes()
    return files


def record(files: dict[str, bytes], record_path: str) -> bytes:
    rows = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path},sha256={digest},{len(data)}")
    return ("\n".join(rows + [f"{record_path},,"]) + "\n").encode()


def main(out_dir: Path) -> Path:
    tag = platform_tag()
    dist_info = f"hecate_edge-{version()}.dist-info"
    files = contents(dist_info, tag)
    files[f"{dist_info}/RECORD"] = record(files, f"{dist_info}/RECORD")
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"hecate_edge-{version()}-py3-none-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, FIXED_TIME), data, zipfile.ZIP_DEFLATED)
    print(f"wrote {wheel} ({wheel.stat().st_size} bytes)")
    return wheel


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit("usage: python tools/build_pyodide_wheel.py [OUT_DIR]")
    main(Path(sys.argv[1]) if len(sys.argv) == 2 else REPO / "build" / "pyodide")
