/* c_throughput.c — the C runtime alone, no Python: tokens/s of the edge
 * workload (16-token chunks, logits for every position) with hecate_process,
 * token by token with hecate_step, and forward + backward with
 * hecate_train_chunk, on the model file argv[1].  Complements the
 * pytest-benchmark sweep, whose figures include the cffi call overhead.
 * Built and run by tools/c_bench.sh. */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "hecate.h"
#include "hecate_host.h"

enum { CHUNK = 16 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best of `reps` timings of `calls` calls, in tokens per second. */
#define BEST_RATE(reps, calls, tokens_per_call, body)                  \
    do {                                                               \
        double best = 0;                                               \
        for (int r_ = 0; r_ < (reps); r_++) {                          \
            double t0_ = now();                                        \
            for (int c_ = 0; c_ < (calls); c_++) { body; }             \
            double rate_ = (double)(calls) * (tokens_per_call) / (now() - t0_); \
            if (rate_ > best) best = rate_;                            \
        }                                                              \
        rate = best;                                                   \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL [calls]\n", argv[0]); return 2; }
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    hecate_host_model hm;
    hecate_status st = hecate_host_load(argv[1], &hm);
    if (st != HECATE_OK) { fprintf(stderr, "%s\n", hecate_status_str(st)); return 1; }
    hecate_model_info info;
    hecate_model_get_info(hm.model, &info);
    hecate_session *s;
    hecate_session_opts opts = {CHUNK, CHUNK, 0};
    if (hecate_host_session(&hm, &opts, &s) != HECATE_OK) return 1;
    uint32_t tok[CHUNK], tgt[CHUNK];
    for (int i = 0; i < CHUNK; i++) { tok[i] = (uint32_t)i; tgt[i] = (uint32_t)i + 1; }
    hecate_real *logits = malloc(sizeof(hecate_real) * CHUNK * info.vocab);
    hecate_real *grads = malloc(sizeof(hecate_real) * info.n_params);
    hecate_real loss;
    double rate;
    printf("d=%u heads=%u window=%u vocab=%u params=%llu\n", info.d_model, info.n_heads, info.window,
           info.vocab, (unsigned long long)info.n_params);
    BEST_RATE(5, calls, CHUNK, hecate_process(s, tok, CHUNK, logits));
    printf("process  %10.0f tok/s  (16-token chunks, all logits)\n", rate);
    BEST_RATE(5, calls, CHUNK, for (int i = 0; i < CHUNK; i++) hecate_step(s, tok[i], logits));
    printf("step     %10.0f tok/s  (logits every token)\n", rate);
    BEST_RATE(5, calls / 4 + 1, CHUNK, hecate_train_chunk(s, tok, tgt, CHUNK, grads, &loss));
    printf("train    %10.0f tok/s  (forward + backward, 16-token chunks)\n", rate);
    free(logits);
    free(grads);
    hecate_host_free(s);
    hecate_host_unload(&hm);
    return 0;
}
