/* rules/retention.c — the retention functions of MATH §3.8 (retention.h). */
#include "retention.h"
#include "../mathfn.h"

#define KL_FLOOR ((real)1e-8) /* MATH §3.8: KL works on log max(w, 1e-8) */

void hct_retain_l2(const real *W, const real *W0, const real *G, real *out, size_t n, real keep, real pull,
                   real theta) {
    for (size_t i = 0; i < n; i++) out[i] = keep * W[i] + (W0 ? pull * W0[i] : 0) - theta * G[i];
}

hct_retain_grad hct_retain_l2_backward(const real *W, const real *W0, size_t n, real keep, real *D, real *P) {
    hct_retain_grad r = {0, 0};
    for (size_t i = 0; i < n; i++) {
        P[i] = D[i];
        r.dkeep += D[i] * W[i];
        if (W0) r.dpull += D[i] * W0[i];
        D[i] *= keep;
    }
    return r;
}

/* NaN is not floored: it stays NaN (D39). */
static real log_floor(real w) { return hct_log(w < KL_FLOOR ? KL_FLOOR : w); }

void hct_log_floor(const real *w, real *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = log_floor(w[i]);
}

void hct_retain_kl(const hct_groups *gr, const real *W, const real *L0, const real *G, real *out, real keep,
                   real pull, real theta) {
    for (uint32_t i = 0; i < gr->rows; i++) {
        size_t base = (size_t)i * gr->rs;
        real mx = -HCT_REAL_MAX, sum = 0;
        for (uint32_t j = 0; j < gr->cols; j++) {
            size_t at = base + (size_t)j * gr->cs;
            out[at] = keep * log_floor(W[at]) + pull * L0[at] - theta * G[at];
            if (out[at] > mx) mx = out[at];
        }
        for (uint32_t j = 0; j < gr->cols; j++) {
            size_t at = base + (size_t)j * gr->cs;
            out[at] = hct_exp(out[at] - mx);
            sum += out[at];
        }
        for (uint32_t j = 0; j < gr->cols; j++) out[base + (size_t)j * gr->cs] /= sum;
    }
}

hct_retain_grad hct_retain_kl_backward(const hct_groups *gr, const real *W, const real *L0, const real *Wn,
                                       real keep, real *D, real *P) {
    hct_retain_grad r = {0, 0};
    for (uint32_t i = 0; i < gr->rows; i++) {
        size_t base = (size_t)i * gr->rs;
        real s = 0;
        for (uint32_t j = 0; j < gr->cols; j++) s += D[base + (size_t)j * gr->cs] * Wn[base + (size_t)j * gr->cs];
        for (uint32_t j = 0; j < gr->cols; j++) {
            size_t at = base + (size_t)j * gr->cs;
            P[at] = Wn[at] * (D[at] - s); /* softmax backward */
            r.dkeep += P[at] * log_floor(W[at]);
            r.dpull += P[at] * L0[at];
            D[at] = W[at] > KL_FLOOR ? keep * P[at] / W[at] : 0;
        }
    }
    return r;
}

void hct_retain_shrink(real *W, const real *W0, size_t n, real thr) {
    for (size_t i = 0; i < n; i++) {
        real base = W0 ? W0[i] : 0, x = W[i] - base;
        W[i] = x > thr ? base + (x - thr) : x >= -thr ? base : base + (x + thr); /* NaN: the last, NaN */
    }
}

real hct_retain_shrink_backward(const real *W, const real *W0, real *D, size_t n) {
    real dthr = 0;
    for (size_t i = 0; i < n; i++) {
        real x = W[i] - (W0 ? W0[i] : 0);
        if (x > 0) dthr -= D[i];
        else if (x < 0) dthr += D[i];
        else D[i] = 0;
    }
    return dthr;
}

real hct_shrink_lambda(const hct_config *cfg) {
    return cfg->retention == HCT_RET_ELASTIC ? (real)cfg->retention_param : 0;
}

real hct_retain_sphere(const real *u, const real *keep, real *s, uint32_t n) {
    real norm = hct_sqrt(hct_dot(u, u, n)), div = hct_norm_divisor(norm);
    if (norm <= HCT_SPHERE_FLOOR) { /* NaN is not kept: it divides (D39) */
        if (s != keep) hct_copy(s, keep, n);
    } else {
        for (uint32_t j = 0; j < n; j++) s[j] = u[j] / div;
    }
    return norm;
}

void hct_retain_sphere_backward(const real *s, real norm, const real *D, real *du, uint32_t n) {
    real ds = hct_dot(D, s, n);
    for (uint32_t j = 0; j < n; j++) du[j] = (D[j] - s[j] * ds) / norm;
}
