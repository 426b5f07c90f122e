/* ticks_host.c — ticks.h for the host build of run_model.c: no instruction
 * counter (the host run checks the C-array model, not speed). */
#include "ticks.h"

void mcu_ticks_start(void) {}
uint32_t mcu_ticks(void) { return 0; }
uint32_t mcu_ticks_since(uint32_t start) { return (uint32_t)(0u - start); }
void mcu_count_loop(uint32_t iterations) {
    for (volatile uint32_t i = 0; i < iterations; i++) {}
}
