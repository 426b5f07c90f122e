/* board_host.c — board.h for the host build of run_model.c: no instruction
 * counter and no stack mark (the host run checks the C-array model only). */
#include "board.h"

void mcu_ticks_start(void) {}
uint32_t mcu_ticks(void) { return 0; }
uint32_t mcu_ticks_since(uint32_t start) { return (uint32_t)(0u - start); }
void mcu_count_loop(uint32_t iterations) {
    for (volatile uint32_t i = 0; i < iterations; i++) {}
}
void mcu_stack_paint(void) {}
uint32_t mcu_stack_used(void) { return 0; }
