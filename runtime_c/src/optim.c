/* optim.c — profile 2's outer-loop arithmetic on the device: the batch mean of
 * the chunks' gradients (MATH §5) and one AdamW step of a parameter tensor
 * (MATH §10), each the float64 arithmetic of hecate_edge.grad_pool.mean_of /
 * hecate_edge.optim.AdamW term by term, so the two agree bit for bit. */
#include "internal.h"

/* AdamW's float64 square root is one instruction where the FPU has double
 * precision; a core whose FPU has none (the Cortex-M4F: __ARM_FP without bit
 * 3) would need libm's sqrt, which the freestanding core does not link. */
#if defined(__arm__) && (!defined(__ARM_FP) || !(__ARM_FP & 8))
#define HCT_HAS_DOUBLE_SQRT 0
#else
#define HCT_HAS_DOUBLE_SQRT 1
#endif

hecate_status hecate_adamw_update(const hecate_adamw_step *step, size_t n, const double *grad, double *m,
                                  double *v, hecate_real *param) {
    if (n == 0) return HECATE_OK;
    if (!step || !grad || !m || !v || !param) return HECATE_E_NULL_ARG;
#if !HCT_HAS_DOUBLE_SQRT
    return HECATE_E_UNSUPPORTED;
#else
    /* distinct arrays (restrict) and loop-invariant terms, so the loop vectorizes */
    const double *restrict g_in = grad;
    double *restrict m_io = m, *restrict v_io = v;
    real *restrict p_io = param;
    const double b1 = step->beta1, b2 = step->beta2, keep1 = 1.0 - b1, keep2 = 1.0 - b2;
    const double scale = step->grad_scale, decay = step->decay, lr = step->lr;
    /* the bias corrections as multiplications by their reciprocals (D78): one
     * division and one square root an element, the hardware's slow pair */
    const double inv1 = 1.0 / step->bias1, inv2 = 1.0 / step->bias2, eps = step->eps;
    const bool scaled = scale != 1.0, decayed = decay != 0.0;
    for (size_t i = 0; i < n; i++) {
        const double g = scaled ? g_in[i] * scale : g_in[i];
        const double mi = m_io[i] * b1 + keep1 * g;  /* two roundings: no contraction (flags.txt) */
        const double vi = v_io[i] * b2 + keep2 * g * g;  /* (keep2 g) g, as numpy evaluates it */
        m_io[i] = mi;
        v_io[i] = vi;
        double value = (double)p_io[i];
        if (decayed) value = value - decay * value;
        value = value - lr * ((mi * inv1) / (__builtin_sqrt(vi * inv2) + eps));
        p_io[i] = (real)value;
    }
    return HECATE_OK;
#endif
}

hecate_status hecate_adamw_task(void *batch, size_t task, size_t worker) {
    (void)worker;
    const hecate_adamw_batch *b = batch;
    if (!b || !b->tensors) return HECATE_E_NULL_ARG;
    if (task >= b->n_tensors) return HECATE_E_BAD_ARG;
    const hecate_adamw_tensor *t = &b->tensors[task];
    hecate_adamw_step step = b->step;
    step.decay = t->decay;
    return hecate_adamw_update(&step, t->n, t->grad, t->m, t->v, t->param);
}

void hct_grads_mean_range(size_t n_sets, const real *const *sets, const real *rows, size_t stride, size_t begin,
                          size_t end, double *out) {
    /* a block of the sum stays in L1 while the sets are added to it two at a
     * time (one load and store of the block per two sets), each element still
     * summed in set order (D78: faster than one set a pass or sums kept in
     * registers, which the compiler does not vectorize) */
    enum { BLOCK = 256 };
#define SET(s) (sets ? sets[s] : rows + (s) * stride)
    const double count = (double)n_sets;
    for (size_t at = begin; at < end; at += BLOCK) {
        const size_t len = end - at < BLOCK ? end - at : BLOCK;
        double *restrict acc = out + at;
        const real *restrict first = SET(0) + at;
        for (size_t i = 0; i < len; i++) acc[i] = (double)first[i];
        size_t s = 1;
        for (; s + 2 <= n_sets; s += 2) {
            const real *restrict a = SET(s) + at, *restrict b = SET(s + 1) + at;
            for (size_t i = 0; i < len; i++) acc[i] = (acc[i] + (double)a[i]) + (double)b[i];
        }
        if (s < n_sets) {
            const real *restrict a = SET(s) + at;
            for (size_t i = 0; i < len; i++) acc[i] = acc[i] + (double)a[i];
        }
        if (n_sets > 1)
            for (size_t i = 0; i < len; i++) acc[i] = acc[i] / count;
    }
#undef SET
}

hecate_status hecate_grads_mean(size_t n_sets, const hecate_real *const *sets, size_t n, double *out) {
    if (n == 0) return n_sets ? HECATE_OK : HECATE_E_BAD_ARG;
    if (!sets || !out) return HECATE_E_NULL_ARG;
    if (n_sets == 0) return HECATE_E_BAD_ARG;
    for (size_t s = 0; s < n_sets; s++)
        if (!sets[s]) return HECATE_E_NULL_ARG;
    hct_grads_mean_range(n_sets, sets, NULL, 0, 0, n, out);
    return HECATE_OK;
}
