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

hecate_status hecate_grads_mean(size_t n_sets, const hecate_real *const *sets, size_t n, double *out) {
    if (n == 0) return n_sets ? HECATE_OK : HECATE_E_BAD_ARG;
    if (!sets || !out) return HECATE_E_NULL_ARG;
    if (n_sets == 0) return HECATE_E_BAD_ARG;
    for (size_t s = 0; s < n_sets; s++)
        if (!sets[s]) return HECATE_E_NULL_ARG;
    /* BLOCK sums stay in registers while every set is added to them (the inner
     * loop unrolls and vectorizes): one load a set and element, no store until
     * the block's mean, each element still summed in set order */
    enum { BLOCK = 16 };
    const double count = (double)n_sets;
    size_t at = 0;
    for (; at + BLOCK <= n; at += BLOCK) {
        double acc[BLOCK];
        for (size_t i = 0; i < BLOCK; i++) acc[i] = (double)sets[0][at + i];
        for (size_t s = 1; s < n_sets; s++) {
            const real *restrict add = sets[s] + at;
            for (size_t i = 0; i < BLOCK; i++) acc[i] = acc[i] + (double)add[i];
        }
        for (size_t i = 0; i < BLOCK; i++) out[at + i] = n_sets > 1 ? acc[i] / count : acc[i];
    }
    for (; at < n; at++) {
        double acc = (double)sets[0][at];
        for (size_t s = 1; s < n_sets; s++) acc = acc + (double)sets[s][at];
        out[at] = n_sets > 1 ? acc / count : acc;
    }
    return HECATE_OK;
}
