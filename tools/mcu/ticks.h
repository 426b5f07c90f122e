/* ticks.h — the harness's instruction counter (docs/MCU.md "Instructions
 * per token"): ticks_systick.c on the emulated Cortex-M4 (SysTick under
 * QEMU -icount), ticks_host.c on the host (no counter: always 0). */
#ifndef MCU_TICKS_H
#define MCU_TICKS_H
#include <stdint.h>

/* Start the counter (call once before mcu_ticks). */
void mcu_ticks_start(void);
/* Current counter value; compare two with mcu_ticks_since. */
uint32_t mcu_ticks(void);
/* Ticks elapsed since `start` (a value of mcu_ticks), wrap-around handled. */
uint32_t mcu_ticks_since(uint32_t start);
/* Run a loop of exactly `iterations` x 2 instructions (calibration). */
void mcu_count_loop(uint32_t iterations);

#endif
