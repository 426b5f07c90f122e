/* run_model.c — the firmware (and host) program of the MCU harness: opens the
 * model compiled in as a C array (hecate-edge export --format c), feeds a
 * fixed prompt token by token and prints, per token, the instruction-counter
 * ticks of the step and logits checksums as float32 bits, then the last
 * token's logits and a sentinel line.  tests/test_mcu.py parses the output. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "hecate.h"
#include "model_data.h"
#include "ticks.h"

#ifndef MCU_ARENA_BYTES
#define MCU_ARENA_BYTES 65536
#endif

static const char PROMPT[] = "The return statement";

/* Caller memory of the runtime: the model handle and one session (hecate.h). */
static unsigned char model_mem[8192] __attribute__((aligned(16)));
static unsigned char arena[MCU_ARENA_BYTES] __attribute__((aligned(16)));
static float logits[65536];

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static int fail(const char *what, hecate_status st) {
    printf("hecate_mcu error %s: %s\n", what, hecate_status_str(st));
    return 1;
}

/* A loop of exactly 2 instructions per iteration (subs, bne) on the target:
 * its tick count calibrates ticks to instructions (docs/MCU.md). */
static uint32_t calibration_ticks(uint32_t iterations) {
    uint32_t t0 = mcu_ticks();
    mcu_count_loop(iterations);
    return mcu_ticks_since(t0);
}

int main(void) {
    hecate_model *model;
    hecate_session *session;
    hecate_model_info info;
    hecate_status st;
    size_t need;
    if (hecate_model_bytes() > sizeof model_mem) return fail("model handle", HECATE_E_BUFFER_TOO_SMALL);
    st = hecate_model_open(model_mem, sizeof model_mem, hecate_model_data, hecate_model_data_len, &model);
    if (st != HECATE_OK) return fail("model_open", st);
    hecate_model_get_info(model, &info);
    hecate_session_opts opts = {1, 0, 0}; /* step by step: the smallest arena */
    st = hecate_session_bytes(model, &opts, &need);
    if (st != HECATE_OK) return fail("session_bytes", st);
    printf("hecate_mcu model_bytes=%lu model_handle_bytes=%lu session_bytes=%lu vocab=%lu\n",
           (unsigned long)hecate_model_data_len, (unsigned long)hecate_model_bytes(), (unsigned long)need,
           (unsigned long)info.vocab);
    if (need > sizeof arena || info.vocab > sizeof logits / sizeof logits[0])
        return fail("arena", HECATE_E_BUFFER_TOO_SMALL);
    st = hecate_session_init(arena, sizeof arena, model, &opts, &session);
    if (st != HECATE_OK) return fail("session_init", st);
    mcu_ticks_start();
    printf("calibration iterations=%lu ticks=%lu\n", 100000ul, (unsigned long)calibration_ticks(100000u));
    for (size_t i = 0; i < sizeof PROMPT - 1; i++) {
        uint32_t token = (uint32_t)(unsigned char)PROMPT[i] % info.vocab;
        uint32_t t0 = mcu_ticks();
        st = hecate_step(session, token, logits);
        uint32_t ticks = mcu_ticks_since(t0);
        if (st != HECATE_OK) return fail("step", st);
        float sum = 0, sumsq = 0;
        for (uint32_t v = 0; v < info.vocab; v++) {
            sum += logits[v];
            sumsq += logits[v] * logits[v];
        }
        printf("token %lu id=%lu ticks=%lu sum=%08lx sumsq=%08lx\n", (unsigned long)i, (unsigned long)token,
               (unsigned long)ticks, (unsigned long)bits(sum), (unsigned long)bits(sumsq));
    }
    printf("last_logits");
    for (uint32_t v = 0; v < info.vocab; v++) printf(" %08lx", (unsigned long)bits(logits[v]));
    printf("\nHECATE_MCU_OK\n");
    return 0;
}
