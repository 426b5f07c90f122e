"""Helpers of the WebAssembly tests: build the modules once (wasm/build.sh, as a
user would), check an npm package is installed, find node and run a script with it.  Node is required, never
skipped: tools/install_and_test.sh installs it."""
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WASM_DIR = REPO / "build" / "wasm"
BUILDS = {"plain": "hecate.wasm", "simd": "hecate_simd.wasm"}


def node_binary() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is not installed (tools/install_and_test.sh installs Debian's nodejs)"
    return node


def npm_package(name: str) -> Path:
    """wasm/node_modules/<name>, failing the test with the command that installs it when missing."""
    path = REPO / "wasm" / "node_modules" / name
    assert path.is_dir(), f"npm package {name} is missing: run `npm ci --prefix wasm` in the repository root"
    return path


def run_node(*args, timeout: float = 600) -> str:
    """stdout of `node args...` run in the repo root; fails the test with
    node's stderr when it exits non-zero."""
    proc = subprocess.run([node_binary(), *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"node {args} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="session")
def wasm_modules() -> dict[str, Path]:
    """{build name: .wasm path}, built by wasm/build.sh into build/wasm/."""
    proc = subprocess.run(["bash", str(REPO / "wasm/build.sh")], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"wasm/build.sh failed:\n{proc.stderr[-4000:]}"
    print(proc.stdout)   # the sizes, shown with pytest -s
    return {name: WASM_DIR / file for name, file in BUILDS.items()}
