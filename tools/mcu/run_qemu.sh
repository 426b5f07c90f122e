#!/usr/bin/env bash
# run_qemu.sh FIRMWARE.elf — runs a build_firmware.sh image on QEMU's
# mps2-an386 (Cortex-M4) with semihosting output on stdout and -icount
# shift=0 (the virtual clock advances 1 ns per instruction, which is what
# makes SysTick ticks count instructions; docs/MCU.md).
set -euo pipefail
exec qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=0 -kernel "$1"
