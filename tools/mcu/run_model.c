/* run_model.c — the firmware (and host) program of the MCU harness: opens the
 * model compiled in as a C array (hecate-edge export --format c), feeds a
 * fixed prompt token by token and prints the sizes, the runtime's stack
 * high-water mark, per token the instruction-counter ticks of the step and
 * logits checksums as float32 bits, then the last token's logits and a
 * sentinel line.  tests/test_mcu.py parses the output. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "hecate.h"
#include "model_data.h"
#include "board.h"

#ifndef MCU_ARENA_BYTES
#define MCU_ARENA_BYTES 65536 /* session arena; the d = 64 model needs ~44 KiB */
#endif
#ifndef MCU_MAX_VOCAB
#define MCU_MAX_VOCAB 4096
#endif

static const char PROMPT[] = "The return statement";
enum { N_TOKENS = sizeof PROMPT - 1 };

/* Caller memory of the runtime: the model handle, one session, the logits. */
static unsigned char model_mem[16384] __attribute__((aligned(16)));
static unsigned char arena[MCU_ARENA_BYTES] __attribute__((aligned(16)));
static float logits[MCU_MAX_VOCAB];

/* What one step left, printed after the runtime has run (printf would
 * otherwise add its own stack depth to the runtime's high-water mark). */
static struct { uint32_t token, ticks; float sum, sumsq; } steps[N_TOKENS];

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

/* Open the model, make a session and step through the prompt; no output. */
static hecate_status run(hecate_model_info *info, size_t *session_bytes) {
    hecate_model *model;
    hecate_session *session;
    hecate_session_opts opts = {1, 0, 0}; /* step by step: the smallest arena */
    if (hecate_model_bytes() > sizeof model_mem) return HECATE_E_BUFFER_TOO_SMALL;
    hecate_status st = hecate_model_open(model_mem, sizeof model_mem, hecate_model_data, hecate_model_data_len,
                                         &model);
    if (st == HECATE_OK) st = hecate_model_get_info(model, info);
    if (st == HECATE_OK) st = hecate_session_bytes(model, &opts, session_bytes);
    if (st != HECATE_OK) return st;
    if (*session_bytes > sizeof arena || info->vocab > MCU_MAX_VOCAB) return HECATE_E_BUFFER_TOO_SMALL;
    if ((st = hecate_session_init(arena, sizeof arena, model, &opts, &session)) != HECATE_OK) return st;
    for (uint32_t i = 0; i < N_TOKENS; i++) {
        uint32_t token = (uint32_t)(unsigned char)PROMPT[i] % info->vocab, t0 = mcu_ticks();
        if ((st = hecate_step(session, token, logits)) != HECATE_OK) return st;
        steps[i].ticks = mcu_ticks_since(t0);
        steps[i].token = token;
        float sum = 0, sumsq = 0;
        for (uint32_t v = 0; v < info->vocab; v++) {
            sum += logits[v];
            sumsq += logits[v] * logits[v];
        }
        steps[i].sum = sum;
        steps[i].sumsq = sumsq;
    }
    return HECATE_OK;
}

int main(void) {
    hecate_model_info info;
    size_t session_bytes = 0;
    mcu_ticks_start();
    mcu_stack_paint();
    hecate_status st = run(&info, &session_bytes);
    uint32_t stack = mcu_stack_used();
    if (st != HECATE_OK) return fail("run", st);
    printf("hecate_mcu model_bytes=%lu model_handle_bytes=%lu session_bytes=%lu vocab=%lu stack_bytes=%lu\n",
           (unsigned long)hecate_model_data_len, (unsigned long)hecate_model_bytes(),
           (unsigned long)session_bytes, (unsigned long)info.vocab, (unsigned long)stack);
    printf("calibration iterations=%lu ticks=%lu\n", 100000ul, (unsigned long)calibration_ticks(100000u));
    for (uint32_t i = 0; i < N_TOKENS; i++)
        printf("token %lu id=%lu ticks=%lu sum=%08lx sumsq=%08lx\n", (unsigned long)i,
               (unsigned long)steps[i].token, (unsigned long)steps[i].ticks, (unsigned long)bits(steps[i].sum),
               (unsigned long)bits(steps[i].sumsq));
    printf("last_logits");
    for (uint32_t v = 0; v < info.vocab; v++) printf(" %08lx", (unsigned long)bits(logits[v]));
    printf("\n%s\n", "HECATE_MCU_OK");
    return 0;
}
