"""Download, with pip from PyPI, the wheels of micropip and of what it
depends on, at the versions the pinned Pyodide lists
(wasm/node_modules/pyodide/pyodide-lock.json), into build/pyodide/micropip/:
npm's pyodide package ships Pyodide without its package files, and the
Pyodide test installs hecate_edge's wheel with micropip
(tests/test_pyodide.py).  tools/install_and_test.sh runs this.

    python tools/fetch_micropip.py
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "wasm" / "node_modules" / "pyodide" / "pyodide-lock.json"
OUT = REPO / "build" / "pyodide" / "micropip"


def pinned(lock: dict, name: str) -> list[str]:
    """name==version of `name` and of everything it depends on, per the lock."""
    package = lock["packages"][name]
    return [f"{name}=={package['version']}"] + [pin for dep in package["depends"] for pin in pinned(lock, dep)]


def main() -> None:
    if not LOCK.is_file():
        sys.exit(f"{LOCK.relative_to(REPO)} is missing: run `npm ci --prefix wasm` in the repository root")
    lock = json.loads(LOCK.read_text())
    python = ".".join(lock["info"]["python"].split(".")[:2])
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python, "-d", str(OUT), *pinned(lock, "micropip")], check=True)
    print(f"{', '.join(pinned(lock, 'micropip'))} in {OUT}")


if __name__ == "__main__":
    main()
