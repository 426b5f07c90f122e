/* batch.c — a training batch's pieces as tasks for a thread pool (hecate.h, hecate_batch): each
 * chunk on the worker's own session, then the mean gradient in element ranges, so that a pool
 * (runtime_c/host/hecate_threads.c) runs a whole step's chunks and mean without a hand-off per
 * piece through the caller (DECISIONS D81). */
#include "internal.h"

hecate_status hecate_batch_job(void *batch, size_t job, size_t worker) {
    const hecate_batch *b = batch;
    if (!b || !b->sessions || !b->tokens || !b->targets || !b->grads || !b->losses || !b->status)
        return HECATE_E_NULL_ARG;
    if (job >= b->n_jobs || worker >= b->n_sessions) return HECATE_E_BAD_ARG;
    hecate_session *s = b->sessions[worker];
    hecate_status st = hecate_session_reset(s);
    if (st == HECATE_OK && b->burn_len)
        st = b->burn_in ? hecate_process(s, b->burn_in + job * b->burn_len, b->burn_len, NULL) : HECATE_E_NULL_ARG;
    if (st == HECATE_OK)
        st = hecate_train_chunk(s, b->tokens + job * b->n_tokens, b->targets + job * b->n_tokens, b->n_tokens,
                                b->grads + job * b->n_params, b->losses + job);
    b->status[job] = st;
    return st;
}

/* No NaN or Inf among x[0 .. n): no exponent of all ones, found by integer operations that the
 * compiler vectorizes (a floating-point test such as x - x == 0 stays scalar) */
static bool doubles_finite(const double *x, size_t n) {
    const uint64_t exponent = 0x7ff0000000000000u;
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        union { double d; uint64_t u; } v;
        v.d = x[i];
        bad |= (v.u & exponent) == exponent;
    }
    return !bad;
}

hecate_status hecate_batch_mean(void *batch, size_t part, size_t worker) {
    (void)worker;
    const hecate_batch *b = batch;
    if (!b || !b->grads || !b->mean) return HECATE_E_NULL_ARG;
    if (b->n_jobs == 0) return HECATE_E_BAD_ARG;
    const size_t P = HECATE_BATCH_MEAN_PART, parts = b->n_params / P + (b->n_params % P != 0);
    if (part >= parts) return b->n_params == 0 && part == 0 ? HECATE_OK : HECATE_E_BAD_ARG;
    const size_t begin = part * P, end = b->n_params - begin < P ? b->n_params : begin + P;
    hct_grads_mean_range(b->n_jobs, NULL, b->grads, b->n_params, begin, end, b->mean);
    return doubles_finite(b->mean + begin, end - begin) ? HECATE_OK : HECATE_E_NONFINITE;
}
