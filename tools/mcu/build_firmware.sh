#!/usr/bin/env bash
# build_firmware.sh MODEL.hct OUT_DIR [host] — builds tools/mcu/run_model.c
# with the runtime and MODEL.hct as a C array (hecate_edge.c_export):
#   default: OUT_DIR/firmware.elf for QEMU's mps2-an386 (Cortex-M4F, newlib
#            semihosting via rdimon.specs, -fstack-usage files, a link map);
#   host:    OUT_DIR/run_model with the host gcc (same program, no counter).
# Run the firmware with tools/mcu/run_qemu.sh.
set -euo pipefail
MODEL=$1 OUT=$2 TARGET=${3:-m4f}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c '
import sys
from pathlib import Path
from hecate_edge.c_export import write_c_array
write_c_array(Path(sys.argv[1]).read_bytes(), sys.argv[2], "hecate_model_data")' "$MODEL" "$OUT/model_data.c"

mapfile -t RUNTIME < <(find "$ROOT/runtime_c/src" -name '*.c' | sort)
INCLUDES=(-I"$ROOT/runtime_c/include" -I"$ROOT/runtime_c/src" -I"$HERE" -I"$OUT")
mapfile -t SHARED_FLAGS < <(grep '^-' "$ROOT/runtime_c/flags.txt")
COMMON=(-std=gnu99 -O2 -DNDEBUG "${SHARED_FLAGS[@]}" "${INCLUDES[@]}")

if [ "$TARGET" = host ]; then
  gcc "${COMMON[@]}" -o "$OUT/run_model" "$HERE/run_model.c" "$HERE/board_host.c" "$OUT/model_data.c" \
    "${RUNTIME[@]}"
  exit 0
fi

ARM=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
OBJS=()
cd "$OUT"  # -fstack-usage writes NAME.su beside each object
for src in "${RUNTIME[@]}" "$HERE/run_model.c" "$HERE/board_m4.c" "$HERE/startup.c" "$OUT/model_data.c"; do
  obj="$OUT/$(basename "$(dirname "$src")")__$(basename "${src%.c}").o"
  arm-none-eabi-gcc "${COMMON[@]}" "${ARM[@]}" -ffunction-sections -fdata-sections -fstack-usage \
    -c "$src" -o "$obj"
  OBJS+=("$obj")
done
arm-none-eabi-gcc "${ARM[@]}" --specs=rdimon.specs -nostartfiles -T "$HERE/mps2_an386.ld" \
  -Wl,--gc-sections -Wl,-Map="$OUT/firmware.map" -o "$OUT/firmware.elf" "${OBJS[@]}"
