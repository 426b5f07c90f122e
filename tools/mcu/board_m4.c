/* board_m4.c — board.h on a Cortex-M4: the 24-bit SysTick down-counter on
 * the processor clock (under QEMU -icount the clock advances with the
 * instruction count, so ticks measure instructions; run_model.c calibrates
 * the ratio with a loop of known length) and a painted-stack high-water mark. */
#include "board.h"

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

#define STACK_PATTERN 0xA5C3E10Fu
extern uint32_t __stack_limit__;
static uint32_t *painted_top; /* the first word above the painted region */

/* noinline: its frame lies below the caller's, and is left out of the paint */
__attribute__((noinline)) void mcu_stack_paint(void) {
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    painted_top = sp - 16;
    for (uint32_t *w = &__stack_limit__; w < painted_top; w++) *w = STACK_PATTERN;
}

uint32_t mcu_stack_used(void) {
    uint32_t *w = &__stack_limit__;
    while (w < painted_top && *w == STACK_PATTERN) w++;
    return (uint32_t)((painted_top - w) * sizeof *w) + 16u * sizeof *w;
}
