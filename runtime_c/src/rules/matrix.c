/* rules/matrix.c — shared machinery of the matrix-memory rules (see matrix.h). */
#include "matrix.h"
#include "../mathfn.h"

/* The lane vectors of a block of columns of hct_matrix_update_read_next:
 * its three sets of sums (y, e, e_next) fit 32 vector registers at
 * LIN_VECS, 16 at half of it (the AVX2 build: measured, the full width
 * spilled).  A block's width changes no bit. */
#if defined(__AVX512VL__) || !HCT_VEC_IN_REGISTERS
#define NEXT_VECS LIN_VECS
#else
#define NEXT_VECS (LIN_VECS > 1 ? LIN_VECS / 2 : 1)
#endif

/* Columns o0 .. o0+nb of hct_matrix_update_read, and of k_next out into
 * e_next when k_next is given (inlined with it constant NULL or not).  Full
 * blocks of nv lane vectors held in registers, the tail column by column,
 * same operations; e's columns read before e_next's are written. */
static inline __attribute__((always_inline)) void update_read_cols(const real *in, real *out, uint32_t d,
                                                                   const real *k, const real *e, const real *q,
                                                                   real keep, real step, uint32_t nv, uint32_t o0,
                                                                   uint32_t nb, real *y, const real *k_next,
                                                                   real *e_next) {
    if (nb == nv * HCT_LANES) {
        hct_vec acc[LIN_VECS], ev[LIN_VECS], en[LIN_VECS], kv = HCT_VSPLAT(keep);
        for (uint32_t v = 0; v < nv; v++) {
            acc[v] = en[v] = HCT_VSPLAT((real)0);
            ev[v] = HCT_VLOAD(e + o0 + v * HCT_LANES);
        }
        for (uint32_t j = 0; j < d; j++) {
            const real *src = in + (size_t)j * d + o0;
            real *dst = out + (size_t)j * d + o0;
            real cj = step * k[j];
            hct_vec c = HCT_VSPLAT(cj), qj = HCT_VSPLAT(q[j]);
            for (uint32_t v = 0; v < nv; v++) {
                hct_vec r = HCT_VSUB(HCT_VMUL(kv, HCT_VLOAD(src + v * HCT_LANES)), HCT_VMUL(c, ev[v]));
                HCT_VSTORE(dst + v * HCT_LANES, r);
                acc[v] = HCT_VMADD(acc[v], qj, r);
                if (k_next) en[v] = HCT_VMADD(en[v], HCT_VSPLAT(k_next[j]), r);
            }
        }
        for (uint32_t v = 0; v < nv; v++) {
            HCT_VSTORE(y + o0 + v * HCT_LANES, acc[v]);
            if (k_next) HCT_VSTORE(e_next + o0 + v * HCT_LANES, en[v]);
        }
        return;
    }
    for (uint32_t o = o0; o < o0 + nb; o++) {
        real acc = 0, en = 0;
        for (uint32_t j = 0; j < d; j++) {
            size_t at = (size_t)j * d + o;
            out[at] = keep * in[at] - (step * k[j]) * e[o];
            acc = hct_madd(acc, q[j], out[at]);
            if (k_next) en = hct_madd(en, k_next[j], out[at]);
        }
        y[o] = acc;
        if (k_next) e_next[o] = en;
    }
}

void hct_matrix_update_read(const real *in, real *out, uint32_t d, const real *k, const real *e,
                            const real *q, real keep, real step, real *y) {
    for (uint32_t o0 = 0; o0 < d; o0 += LIN_BLOCK)
        update_read_cols(in, out, d, k, e, q, keep, step, LIN_VECS, o0, d - o0 < LIN_BLOCK ? d - o0 : LIN_BLOCK, y,
                         NULL, NULL);
}

void hct_matrix_update_read_next(const real *in, real *out, uint32_t d, const real *k, const real *e,
                                 const real *q, real keep, real step, real *y, const real *k_next, real *e_next) {
    const uint32_t block = NEXT_VECS * HCT_LANES;
    for (uint32_t o0 = 0; o0 < d; o0 += block)
        update_read_cols(in, out, d, k, e, q, keep, step, NEXT_VECS, o0, d - o0 < block ? d - o0 : block, y, k_next,
                         e_next);
}

void hct_matrix_retain(const hct_rule_io *io, real *M, const real *q, real step, real *y) {
    real lambda = hct_shrink_lambda(io->cfg);
    if (lambda == 0) return;
    hct_retain_shrink(M, NULL, (size_t)io->d * io->d, lambda * step);
    hct_linear(M, q, 1, io->d, io->d, y);
}

uint64_t hct_matrix_state_len(const hct_config *cfg) { return (uint64_t)cfg->d * cfg->d; }

void hct_matrix_state_init(real *state, const hct_config *cfg) { hct_zero(state, (size_t)cfg->d * cfg->d); }

uint64_t hct_matrix_scratch_len(const hct_config *cfg) { return cfg->d; }

real hct_matrix_error_step_finish(const real *M, const real *e, real theta, uint32_t d, const real *u, real *de,
                                  real *dk, real *dv) {
    hct_matrix_error_de_dv(theta, u, d, de, dv);
    /* dk = -theta dX e + M de (e = k M - v, and the step's own factor k) */
    for (uint32_t j = 0; j < d; j++) dk[j] = -theta * dk[j] + hct_dot(M + (size_t)j * d, de, d);
    return -hct_dot(u, e, d);
}

real hct_matrix_error_step_backward(const real *dX, const real *M, const real *k, const real *e, real theta,
                                    uint32_t d, real *u, real *de, real *dk, real *dv) {
    hct_zero(u, d);
    for (uint32_t j = 0; j < d; j++) dk[j] = hct_matrix_error_row(dX + (size_t)j * d, k[j], e, u, d);
    return hct_matrix_error_step_finish(M, e, theta, d, u, de, dk, dv);
}

uint64_t hct_matrix_extra_len(const hct_config *cfg) { return cfg->d; }

void hct_matrix_read(const hct_rule_io *io, const real *q, const real *state, real *y) {
    hct_linear(state, q, 1, io->d, io->d, y);
}

void hct_matrix_read_backward(const hct_rule_grad *g, const real *q, const real *state, const real *dy, real *ds,
                              real *dq) {
    uint32_t d = g->fwd->d;
    for (uint32_t j = 0; j < d; j++) {
        dq[j] += hct_dot(state + (size_t)j * d, dy, d);
        if (ds) hct_axpy(ds + (size_t)j * d, q[j], dy, d);
    }
}

/* dA == dS, every token's case at period 1, has its own loop so that it
 * vectorizes (same result, same rounding). */
void hct_matrix_keep_add(real *dS, real *dA, real keep, const real *k, const real *de, uint32_t d) {
    for (uint32_t j = 0; j < d; j++) {
        real *ds = dS + (size_t)j * d, *da = dA + (size_t)j * d, kj = k[j];
        if (da == ds) {
            for (uint32_t i = 0; i < d; i++) ds[i] = keep * ds[i] + kj * de[i];
        } else {
            for (uint32_t i = 0; i < d; i++) {
                ds[i] *= keep;
                da[i] += kj * de[i];
            }
        }
    }
}

hecate_status hct_rule_params_none(const hct_config *cfg) { return hct_params_unused(cfg, 0); }
