#!/usr/bin/env bash
# build.sh — builds the browser/Node runtime: runtime_c/src (+ the port's
# memset/memcpy) for wasm32 with Debian's clang + wasm-ld, once plain and once
# with SIMD128, into build/wasm/{hecate,hecate_simd}.wasm, and prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/find_tool.sh

OUT=${HECATE_WASM_OUT:-build/wasm}
HEADER=runtime_c/include/hecate.h
# 1 MiB of stack placed first in linear memory: an overflow traps instead of
# running into static data.  hecate.js allocates everything else above
# __heap_base (the module has no malloc).
STACK_BYTES=1048576
mapfile -t SHARED_FLAGS < <(grep '^-' runtime_c/flags.txt)
FLAGS=(--target=wasm32 -std=c99 -O3 -DNDEBUG "${SHARED_FLAGS[@]}"
       -ffreestanding -nostdlib -Iruntime_c/include -Iruntime_c/src)

mapfile -t SOURCES < <(find runtime_c/src -name '*.c' | sort)
mapfile -t API < <(grep -oE '\bhecate_[a-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u)
CLANG=$(find_tool clang) || { echo "clang not found (apt-get install clang)" >&2; exit 1; }
WASM_LD=$(find_tool wasm-ld) || { echo "wasm-ld not found (apt-get install lld)" >&2; exit 1; }
# clang runs `wasm-ld` from PATH; a versioned name must be handed over.
LD_ARG=()
command -v wasm-ld >/dev/null || LD_ARG=(--ld-path="$WASM_LD")
LINK=("${LD_ARG[@]}" -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=$STACK_BYTES
      -Wl,--export=__heap_base -Wl,--strip-all "${API[@]/#/-Wl,--export=}")
mkdir -p "$OUT"

# build NAME EXTRA_FLAGS...: one module from the same sources.
build() {
  local name=$1; shift
  "$CLANG" "${FLAGS[@]}" "$@" "${LINK[@]}" -o "$OUT/$name.wasm" \
    "${SOURCES[@]}" runtime_c/port/freestanding_mem.c
  echo "$OUT/$name.wasm $(stat -c %s "$OUT/$name.wasm") bytes"
}
build hecate
build hecate_simd -msimd128
