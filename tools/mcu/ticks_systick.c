/* ticks_systick.c — ticks.h on a Cortex-M4: the 24-bit SysTick down-counter
 * on the processor clock.  Under QEMU -icount the clock advances with the
 * instruction count, so ticks measure instructions (run_model.c calibrates
 * the ratio with a loop of known length). */
#include "ticks.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_MASK 0x00FFFFFFu

void mcu_ticks_start(void) {
    SYST_RVR = SYST_MASK;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enable, processor clock, no interrupt */
}

uint32_t mcu_ticks(void) { return SYST_CVR & SYST_MASK; }

/* the counter runs down: elapsed = start - now, modulo 2^24 (one wrap at most) */
uint32_t mcu_ticks_since(uint32_t start) { return (start - mcu_ticks()) & SYST_MASK; }

void mcu_count_loop(uint32_t iterations) {
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(iterations) : : "cc");
}
