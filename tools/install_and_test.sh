#!/usr/bin/env bash
# install_and_test.sh — the one command that installs hecate_edge and runs every
# test on a fresh Debian/Ubuntu machine: system packages (when root), the Python
# package with its test, onnx and torch extras (CPU PyTorch), the cross-compile
# checks, bounded fuzzing of the C loaders (tools/fuzz.sh), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the checks need; later checks append here
# (e.g. qemu-system-arm, chromium, nodejs).
APT_PACKAGES=(gcc clang libclang-rt-dev lld pkg-config gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-multilib nodejs chromium qemu-system-arm)
PYTHON=${PYTHON:-python3}

SECTION=""
banner() { SECTION=$*; printf '\n==================== %s ====================\n' "$*"; }
trap 'echo "FAIL in section: $SECTION" >&2' ERR

banner "system packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
"$PYTHON" -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -eq 0 ]; then
  echo "all present: ${APT_PACKAGES[*]}"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "WARNING: missing ${missing[*]} and not root (or no apt-get): install them by hand" >&2
fi

banner "npm packages for the browser tests (wasm/package-lock.json), Pyodide's micropip"
# nodesource's nodejs bundles npm, Debian's does not (its npm package would
# conflict with nodesource's): install Debian's only where npm is missing.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
  else
    echo "WARNING: npm missing and not root (or no apt-get): install it by hand" >&2
  fi
fi
npm ci --prefix wasm --no-audit --no-fund
# micropip for the Pyodide test, from PyPI at the versions the pinned Pyodide lists
"$PYTHON" tools/fetch_micropip.py

banner "python package: $PYTHON -m pip install '.[test,onnx,torch]'"
# Debian's own python3 refuses pip installs (PEP 668); a throwaway CI machine
# running as root may override that.
if [ "$(id -u)" -eq 0 ] && "$PYTHON" -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
  echo "externally managed interpreter, running as root: setting PIP_BREAK_SYSTEM_PACKAGES=1"
  export PIP_BREAK_SYSTEM_PACKAGES=1
fi
# PyTorch for the [torch] extra's tests (docs/TORCH.md), pinned: a machine whose
# pip finds a local CPU wheel of this version (find-links) takes it; elsewhere
# pip downloads it. Unpinned, pip would pick the newest CUDA build (several GB).
"$PYTHON" -c 'import torch' 2>/dev/null || "$PYTHON" -m pip install 'torch==2.13.0'
"$PYTHON" -m pip install '.[test,onnx,torch]'

banner "cross-compile checks (wasm32, Cortex-M4F)"
bash tools/cross_compile.sh

banner "fuzzing (libFuzzer + ASan/UBSan, 20 s per target: tools/fuzz.sh)"
PYTHON="$PYTHON" bash tools/fuzz.sh 20

banner "pytest"
status=0
"$PYTHON" -m pytest tests || status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 5 ] && echo "pytest collected no tests" >&2
  echo "FAIL in section: $SECTION (pytest exit status $status)" >&2
  exit 1
fi

banner "all checks passed"
