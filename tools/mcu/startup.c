/* startup.c — reset for the emulated MPS2 AN386 board (Cortex-M4F): the
 * vector table, .data copy and .bss clear (symbols from mps2_an386.ld), FPU
 * on, newlib's semihosting handles (rdimon.specs), then main and exit. */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
extern int main(void);
extern void initialise_monitor_handles(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void reset_handler(void) {
    uint32_t *src = &__data_load__, *dst = &__data_start__;
    while (dst < &__data_end__) *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
    SCB_CPACR |= 0xFu << 20; /* CP10, CP11: full access to the FPU */
    __asm__ volatile("dsb\n\tisb");
    initialise_monitor_handles();
    exit(main());
}

/* Any fault: report through semihosting's exit code (QEMU ends with status 1). */
static void fault_handler(void) { exit(3); }

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &__stack_top__, (const void *)reset_handler, (const void *)fault_handler, (const void *)fault_handler,
    (const void *)fault_handler, (const void *)fault_handler, (const void *)fault_handler,
};
