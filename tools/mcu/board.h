/* board.h — what run_model.c needs from the board (docs/MCU.md): an
 * instruction counter and a stack high-water mark.  board_m4.c on the
 * emulated Cortex-M4 (SysTick under QEMU -icount, a painted stack),
 * board_host.c on the host (neither: always 0). */
#ifndef MCU_BOARD_H
#define MCU_BOARD_H
#include <stdint.h>

/* Start the counter (call once before mcu_ticks). */
void mcu_ticks_start(void);
/* Current counter value; compare two with mcu_ticks_since. */
uint32_t mcu_ticks(void);
/* Ticks elapsed since `start` (a value of mcu_ticks), wrap-around handled. */
uint32_t mcu_ticks_since(uint32_t start);
/* Run a loop of exactly `iterations` x 2 instructions (calibration). */
void mcu_count_loop(uint32_t iterations);

/* Fill the free stack below the caller's frame with a pattern. */
void mcu_stack_paint(void);
/* Bytes of stack used below the caller of mcu_stack_paint since it ran
 * (the deepest word no longer holding the pattern). */
uint32_t mcu_stack_used(void);

#endif
