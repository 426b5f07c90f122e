#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer harnesses of runtime_c/fuzz/ (clang,
# -fsanitize=fuzzer,address,undefined), writes their seed corpora from the
# Python package (tools/fuzz_seeds.py), replays the committed regression
# inputs (tests/data/fuzz/<target>/), then fuzzes each target for SECONDS
# (default 20).  A crash, a sanitizer report or a broken API promise fails
# with the reproducer's path; reproduce with  build/fuzz/<target> <path>.
#     bash tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
PYTHON=${PYTHON:-python3}
TARGETS=(model state process)
OUT=build/fuzz
trap 'echo "FAIL: fuzzing (command above)" >&2' ERR

source tools/find_tool.sh
CLANG=$(find_tool clang) || { echo "clang not found (install clang)" >&2; exit 1; }
mapfile -t SHARED_FLAGS < <(grep '^-' runtime_c/flags.txt)
FLAGS=(-std=c99 -D_POSIX_C_SOURCE=200112L -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
       "${SHARED_FLAGS[@]}" -Iruntime_c/include)
rm -rf "$OUT" && mkdir -p "$OUT/obj"

echo "== build (clang, ASan + UBSan + libFuzzer) =="
probe=$OUT/probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe"
"$CLANG" -fsanitize=fuzzer "$probe" -o "$OUT/probe" 2>/dev/null || {
  echo "clang cannot link -fsanitize=fuzzer: install libclang-rt-dev (Debian's libFuzzer runtime)" >&2; exit 1; }
# The runtime and the shared helpers once, instrumented for coverage, two
# compilers at a time; each harness then links them.
mapfile -t SOURCES < <(find runtime_c/src -name '*.c' | sort; echo runtime_c/fuzz/fuzz_common.c)
for src in "${SOURCES[@]}"; do
  [ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
  "$CLANG" "${FLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$OUT/obj/${src//\//_}.o" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n; done
for target in "${TARGETS[@]}"; do
  "$CLANG" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined "runtime_c/fuzz/fuzz_$target.c" "$OUT"/obj/*.o \
    -o "$OUT/$target"
done
echo "built ${TARGETS[*]/#/$OUT/}"

echo "== seed corpora (tools/fuzz_seeds.py) =="
"$PYTHON" tools/fuzz_seeds.py "$OUT/seeds"
declare -A SEEDS=([model]="$OUT/seeds/models" [state]="$OUT/seeds/states" [process]="$OUT/seeds/models")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
shopt -s nullglob
status=0
for target in "${TARGETS[@]}"; do
  cases=(tests/data/fuzz/"$target"/*)
  if [ ${#cases[@]} -gt 0 ]; then
    echo "== $target: replay ${#cases[@]} regression inputs of tests/data/fuzz/$target =="
    "$OUT/$target" "${cases[@]}" >"$OUT/$target.replay.log" 2>&1 || {
      tail -n 40 "$OUT/$target.replay.log" >&2
      echo "FAIL: $target crashes on a committed regression input (log: $OUT/$target.replay.log)" >&2
      status=1; continue; }
  fi
  echo "== $target: fuzz ${SECONDS_PER_TARGET} s =="
  mkdir -p "$OUT/corpus/$target" "$OUT/crashes/$target"
  if "$OUT/$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$OUT/crashes/$target/" "$OUT/corpus/$target" "${SEEDS[$target]}" >"$OUT/$target.log" 2>&1; then
    grep -E 'DONE' "$OUT/$target.log" | tr -s ' \t' ' '
  else
    tail -n 60 "$OUT/$target.log" >&2
    repros=("$OUT/crashes/$target"/*)
    [ ${#repros[@]} -gt 0 ] || echo "FAIL: $target failed without a reproducer (log: $OUT/$target.log)" >&2
    for repro in "${repros[@]}"; do
      echo "FAIL: $target crashed; reproducer: $repro  (rerun: $OUT/$target $repro;" \
        "keep it: python3 tools/fuzz_keep.py $target $repro NAME)" >&2
    done
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "fuzzing passed: ${TARGETS[*]}, ${SECONDS_PER_TARGET} s each"
exit "$status"
