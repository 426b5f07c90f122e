/* test_threads.c — the worker pool (runtime_c/host/hecate_threads.c) and the batch tasks
 * (hecate_batch_job, hecate_batch_mean) on a model file given as argv[1]: every task runs
 * exactly once, over many runs in a row (spinning hand-offs) and after the workers have gone to
 * sleep; the lowest failing task's status comes back; a batch's gradients, losses and mean are
 * the bits of hecate_train_chunk and hecate_grads_mean called one by one, for 1 to 4 workers.
 * Run under ASan/UBSan and ThreadSanitizer by tests/test_c_runtime.py. */
#define _POSIX_C_SOURCE 200112L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hecate.h"
#include "../host/hecate_host.h"
#include "check.h"
#include "../host/hecate_threads.h"


enum { MAX_TASKS = 512 };

/* A task that counts its runs and notes its worker; task `fail_from` fails with HECATE_E_IO, the
 * ones after it with HECATE_E_BAD_ARG. */
typedef struct counter {
    int runs[MAX_TASKS];
    size_t worker_of[MAX_TASKS];
    size_t fail_from;
} counter;

static hecate_status count_task(void *ctx, size_t task, size_t worker) {
    counter *c = ctx;
    c->runs[task]++; /* each task runs once a run: no two threads touch one slot */
    c->worker_of[task] = worker;
    return task < c->fail_from ? HECATE_OK : task == c->fail_from ? HECATE_E_IO : HECATE_E_BAD_ARG;
}

static void check_pool(size_t n_workers) {
    hecate_threads *pool = NULL;
    CHECK(hecate_threads_new(n_workers, &pool) == 0 && pool, "pool starts");
    if (!pool) return;
    CHECK(hecate_threads_count(pool) == n_workers, "pool counts its workers");
    static counter c;
    memset(&c, 0, sizeof c);
    c.fail_from = MAX_TASKS;
    int ok = 1;
    for (int run = 0; run < 2000; run++) { /* runs back to back: hand-offs while the workers spin */
        const size_t n = (size_t)(run % 7) * 3;
        ok &= hecate_threads_run(pool, count_task, &c, n) == 0;
        for (size_t t = 0; t < n; t++) ok &= c.runs[t] == 1 && c.worker_of[t] < n_workers;
        for (size_t t = 0; t < n; t++) c.runs[t] = 0;
    }
    CHECK(ok, "every task of 2000 runs ran exactly once on a worker of the pool");
    const struct timespec nap = {0, 20000000L}; /* 20 ms: the workers stop spinning and sleep */
    nanosleep(&nap, NULL);
    ok = hecate_threads_run(pool, count_task, &c, MAX_TASKS) == 0;
    for (size_t t = 0; t < MAX_TASKS; t++) ok &= c.runs[t] == 1;
    CHECK(ok, "a run after the workers slept");
    memset(c.runs, 0, sizeof c.runs);
    c.fail_from = 37;
    CHECK(hecate_threads_run(pool, count_task, &c, 100) == HECATE_E_IO, "the lowest failing task's status");
    ok = 1;
    for (size_t t = 0; t < 100; t++) ok &= c.runs[t] == 1;
    CHECK(ok, "the tasks after a failure still run");
    CHECK(hecate_threads_run(pool, NULL, &c, 1) == HECATE_E_NULL_ARG, "no task function");
    hecate_threads_free(pool);
}

/* A batch of jobs on 1 .. 4 workers against the same chunks trained one by one. */
static void check_batch(const hecate_host_model *hm) {
    enum { JOBS = 5, BURN = 7, TOKENS = 9, WORKERS = 4 };
    hecate_model_info info;
    hecate_model_get_info(hm->model, &info);
    const size_t P = info.n_params;
    uint32_t burn[JOBS * BURN], tok[JOBS * TOKENS], tgt[JOBS * TOKENS];
    uint32_t seed = 777u;
    for (size_t i = 0; i < JOBS * BURN; i++) seed = seed * 1664525u + 1013904223u, burn[i] = (seed >> 8) % info.vocab;
    for (size_t i = 0; i < JOBS * TOKENS; i++) {
        seed = seed * 1664525u + 1013904223u;
        tok[i] = (seed >> 8) % info.vocab;
        tgt[i] = (seed >> 16) % (info.vocab + 3); /* some ignored targets (>= vocab) */
    }
    const hecate_session_opts opts = {4, TOKENS, 0};
    hecate_session *sessions[WORKERS];
    for (int w = 0; w < WORKERS; w++) CHECK(hecate_host_session(hm, &opts, &sessions[w]) == HECATE_OK, "session");
    /* one by one */
    hecate_real *want = malloc(sizeof(hecate_real) * JOBS * P), want_loss[JOBS];
    const hecate_real *rows[JOBS];
    for (int j = 0; j < JOBS; j++) {
        hecate_session_reset(sessions[0]);
        hecate_process(sessions[0], burn + j * BURN, BURN, NULL);
        CHECK(hecate_train_chunk(sessions[0], tok + j * TOKENS, tgt + j * TOKENS, TOKENS, want + j * P,
                                 want_loss + j) == HECATE_OK, "train one chunk");
        rows[j] = want + j * P;
    }
    double *want_mean = malloc(sizeof(double) * P), *mean = malloc(sizeof(double) * P);
    CHECK(hecate_grads_mean(JOBS, rows, P, want_mean) == HECATE_OK, "mean one by one");
    hecate_real *grads = malloc(sizeof(hecate_real) * JOBS * P), losses[JOBS];
    hecate_status status[JOBS];
    for (size_t n = 1; n <= WORKERS; n++) {
        hecate_threads *pool = NULL;
        CHECK(hecate_threads_new(n, &pool) == 0, "pool for the batch");
        hecate_batch b = {sessions, n, JOBS, BURN, TOKENS, P, burn, tok, tgt, grads, losses, status, mean};
        memset(grads, 0xff, sizeof(hecate_real) * JOBS * P);
        memset(mean, 0xff, sizeof(double) * P);
        CHECK(hecate_threads_run(pool, hecate_batch_job, &b, JOBS) == 0, "batch jobs");
        const size_t parts = (P + HECATE_BATCH_MEAN_PART - 1) / HECATE_BATCH_MEAN_PART;
        CHECK(hecate_threads_run(pool, hecate_batch_mean, &b, parts) == 0, "batch mean");
        int same = 1;
        for (int j = 0; j < JOBS; j++) same &= status[j] == HECATE_OK && losses[j] == want_loss[j];
        CHECK(same, "the batch's losses and statuses");
        CHECK(memcmp(grads, want, sizeof(hecate_real) * JOBS * P) == 0, "the batch's gradients, bit for bit");
        CHECK(memcmp(mean, want_mean, sizeof(double) * P) == 0, "the batch's mean, bit for bit");
        /* a job out of range, a worker without a session, a token out of the vocabulary */
        CHECK(hecate_batch_job(&b, JOBS, 0) == HECATE_E_BAD_ARG, "job out of range");
        CHECK(hecate_batch_job(&b, 0, n) == HECATE_E_BAD_ARG, "worker out of range");
        CHECK(hecate_batch_mean(&b, parts, 0) == HECATE_E_BAD_ARG, "mean part out of range");
        CHECK(hecate_batch_job(NULL, 0, 0) == HECATE_E_NULL_ARG, "no batch");
        hecate_threads_free(pool);
    }
    hecate_threads *pool = NULL;
    hecate_threads_new(2, &pool);
    hecate_batch b = {sessions, 2, JOBS, BURN, TOKENS, P, burn, tok, tgt, grads, losses, status, mean};
    const size_t parts = (P + HECATE_BATCH_MEAN_PART - 1) / HECATE_BATCH_MEAN_PART;
    volatile hecate_real zero = 0;
    const hecate_real poison[2] = {zero / zero, 1 / zero};
    for (int k = 0; k < 2; k++) { /* a NaN, then an Inf in one row: the mean says so */
        memcpy(grads, want, sizeof(hecate_real) * JOBS * P);
        grads[3 * P + P - 1] = poison[k];
        CHECK(hecate_threads_run(pool, hecate_batch_mean, &b, parts) == HECATE_E_NONFINITE, "a non-finite mean");
    }
    tok[2 * TOKENS + 3] = info.vocab; /* job 2 fails, the others are unaffected */
    CHECK(hecate_threads_run(pool, hecate_batch_job, &b, JOBS) == HECATE_E_TOKEN_RANGE,
          "a bad token's status");
    CHECK(status[2] == HECATE_E_TOKEN_RANGE && status[0] == HECATE_OK && status[4] == HECATE_OK, "per-job statuses");
    CHECK(memcmp(grads + 4 * P, want + 4 * P, sizeof(hecate_real) * P) == 0, "a later job's gradients");
    hecate_threads_free(pool);
    for (int w = 0; w < WORKERS; w++) hecate_host_free(sessions[w]);
    free(want);
    free(want_mean);
    free(mean);
    free(grads);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]); return 2; }
    hecate_threads *pool = (hecate_threads *)&pool;
    CHECK(hecate_threads_new(0, &pool) == EINVAL && pool == NULL, "no workers");
    CHECK(hecate_threads_new(HECATE_THREADS_MAX + 1, &pool) == EINVAL, "too many workers");
    CHECK(hecate_threads_new(2, NULL) == EINVAL, "no out pointer");
    hecate_threads_free(NULL);
    for (size_t n = 1; n <= 4; n++) check_pool(n);
    hecate_host_model hm;
    hecate_status st = hecate_host_load(argv[1], &hm);
    if (st != HECATE_OK) { fprintf(stderr, "load: %s\n", hecate_status_str(st)); return 1; }
    check_batch(&hm);
    hecate_host_unload(&hm);
    printf("%d passed, %d failed\n", passed, failed);
    if (failed) return 1;
    printf("~~~ALL TESTS PASSED~~~\n");
    return 0;
}
