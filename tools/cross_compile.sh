#!/usr/bin/env bash
# cross_compile.sh — proves the C core (runtime_c/src) builds freestanding for
# wasm32 (clang + wasm-ld) and Cortex-M4F (arm-none-eabi-gcc), links with no
# libc/libm symbol left undefined, and defines every function hecate.h declares.
# Prints the sizes of the results.  Outputs go to build/cross/.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'echo "FAIL: cross-compile check (command above)" >&2' ERR

SRC_DIR=runtime_c/src
HEADER=runtime_c/include/hecate.h
OUT=build/cross
mapfile -t SHARED_FLAGS < <(grep '^-' runtime_c/flags.txt)
# No NDEBUG: the core with its debug asserts (HCT_ASSERT, internal.h) must link
# freestanding too; a release build is the same minus them.
COMMON_FLAGS=(-std=c99 -O2 "${SHARED_FLAGS[@]}" -ffreestanding -Iruntime_c/include -I"$SRC_DIR")

mapfile -t SOURCES < <(find "$SRC_DIR" -name '*.c' | sort)
[ ${#SOURCES[@]} -gt 0 ] || { echo "no C sources under $SRC_DIR" >&2; exit 1; }
# Every function the public header declares (the link must define them all).
mapfile -t API < <(grep -oE '\bhecate_[a-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u)
rm -rf "$OUT" && mkdir -p "$OUT"

source tools/find_tool.sh

# Fail unless every public API function is among the given symbol names.
check_api() {
  local target=$1 symbols=$2 missing=() f
  for f in "${API[@]}"; do grep -qx "$f" <<<"$symbols" || missing+=("$f"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL [$target]: declared in hecate.h but not defined/exported: ${missing[*]}" >&2
    exit 1
  fi
  echo "[$target] all ${#API[@]} public functions defined"
}

# ---------------------------------------------------------------- wasm32
echo "== wasm32 (clang, wasm-ld) =="
CLANG=$(find_tool clang) || { echo "clang not found" >&2; exit 1; }
WASM_LD=$(find_tool wasm-ld) || { echo "wasm-ld not found (install lld)" >&2; exit 1; }
echo "compiler: $CLANG   linker: $WASM_LD"
# clang runs `wasm-ld` from PATH; a versioned name must be handed over.
LD_ARG=()
command -v wasm-ld >/dev/null || LD_ARG=(--ld-path="$WASM_LD")
# clang hides wasm symbols by default, so the public API is exported by name
# (wasm-ld fails if one is not defined); everything else stays internal.
"$CLANG" --target=wasm32 "${COMMON_FLAGS[@]}" -nostdlib "${LD_ARG[@]}" \
  -Wl,--no-entry "${API[@]/#/-Wl,--export=}" -Wl,--strip-all \
  -o "$OUT/hecate.wasm" "${SOURCES[@]}"
# Stripped of debug names, the module holds function names only as exports.
WASM_EXPORTS=$(grep -aoE 'hecate_[a-z0-9_]+' "$OUT/hecate.wasm" | sort -u)
check_api wasm32 "$WASM_EXPORTS"

# ------------------------------------------------------------ Cortex-M4F
echo "== Cortex-M4F (arm-none-eabi-gcc, hard float) =="
ARM_CC=$(find_tool arm-none-eabi-gcc) || { echo "arm-none-eabi-gcc not found" >&2; exit 1; }
ARM_FLAGS=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
           # keep GCC from turning byte loops into memset/memcpy calls
           -fno-tree-loop-distribute-patterns)
# GCC may still call memset/memcpy (it requires them even freestanding, e.g.
# to zero vector arrays on a core without SIMD): a libc-free image links the
# runtime's own port/freestanding_mem.c, nothing else.
OBJS=()
for src in "${SOURCES[@]}" runtime_c/port/freestanding_mem.c; do
  obj="$OUT/m4f_$(basename "$(dirname "$src")")_$(basename "${src%.c}").o"
  "$ARM_CC" "${COMMON_FLAGS[@]}" "${ARM_FLAGS[@]}" -c "$src" -o "$obj"
  OBJS+=("$obj")
done
# No startup files, no libc, no libm: only libgcc (compiler helpers such as
# 64-bit division).  An undefined symbol makes this static link fail.
"$ARM_CC" "${ARM_FLAGS[@]}" -nostartfiles -nostdlib -Wl,-e,hecate_status_str \
  -Wl,--no-undefined -o "$OUT/hecate_m4f.elf" "${OBJS[@]}" -lgcc
ARM_NM=${ARM_CC%gcc}nm
ARM_SIZE=${ARM_CC%gcc}size
check_api cortex-m4f "$("$ARM_NM" --defined-only "$OUT/hecate_m4f.elf" | awk '$2 ~ /[Tt]/ {print $3}')"
HELPERS=$(comm -13 <("$ARM_NM" --defined-only "${OBJS[@]}" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u) \
                   <("$ARM_NM" --defined-only "$OUT/hecate_m4f.elf" | awk '$2 ~ /[Tt]/ {print $3}' | sort -u))
echo "[cortex-m4f] libgcc helpers linked: ${HELPERS:-none}" | tr '\n' ' '; echo
if grep -qE '^__aeabi_(d|f2d|i2d|ui2d|l2d|ul2d)' <<<"$HELPERS"; then
  echo "WARNING [cortex-m4f]: the float build uses software double arithmetic" >&2
fi

# ---------------------------------------------------------------- sizes
echo "== sizes =="
echo "wasm32     $OUT/hecate.wasm: $(stat -c %s "$OUT/hecate.wasm") bytes"
"$ARM_SIZE" "$OUT/hecate_m4f.elf"
echo "cross-compile checks passed"
