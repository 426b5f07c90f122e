#!/usr/bin/env bash
# c_bench.sh — builds benchmarks/c_throughput.c against runtime_c with the
# flags of the default library build and runs it on the micro model at
# d = 64, 128, 256 (heads d/16, window 16, seed 42).  Usage: tools/c_bench.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/c_bench
mkdir -p "$out"
mapfile -t SHARED_FLAGS < <(grep '^-' runtime_c/flags.txt)
FLAGS=(-std=c99 -O3 -DNDEBUG "${SHARED_FLAGS[@]}" ${HECATE_BENCH_ARCH:--march=native})
gcc "${FLAGS[@]}" -Iruntime_c/include -Iruntime_c/host $(find runtime_c/src -name "*.c" | sort) \
    runtime_c/host/hecate_host.c benchmarks/c_throughput.c -o "$out/c_throughput"
for d in 64 128 256; do
  python3 -c "
import sys
from hecate_edge.config import ModelConfig
from hecate_edge.format import write_model
from hecate_edge.reference.init import init_params
cfg = ModelConfig(d_model=$d, n_heads=$d // 16)
open(sys.argv[1], 'wb').write(write_model(cfg, init_params(cfg, 42)))" "$out/micro_d$d.hct"
  "$out/c_throughput" "$out/micro_d$d.hct" "${1:-2000}"
done
