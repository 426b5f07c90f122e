/* rules/matrix.h — what the matrix-memory rules (state S, d x d, read y = q S;
 * MATH §3.2 ff.) share: the fused row-streaming write + read, the
 * retention, the backward of the inner gradient step, and the per-token
 * interface's extra, read and read backward (rule.h). */
#ifndef HECATE_RULES_MATRIX_H
#define HECATE_RULES_MATRIX_H
#include "loop.h"
#include "retention.h"
#include "../mathfn.h"

/* out[j] = keep in[j] - (step k[j]) e for every row j, then y = q out
 * (in and out may be the same state).  One pass over the state. */
void hct_matrix_update_read(const real *in, real *out, uint32_t d, const real *k, const real *e,
                            const real *q, real keep, real step, real *y);

/* hct_matrix_update_read, and in the same pass the next token's k_next out
 * into e_next (= hct_linear(out, k_next, 1, d, d, e_next): each sum over the
 * rows in order from 0, the same bits).  e_next may be e: each block of
 * columns reads its e before it writes them. */
void hct_matrix_update_read_next(const real *in, real *out, uint32_t d, const real *k, const real *e,
                                 const real *q, real keep, real step, real *y, const real *k_next, real *e_next);

/* The retentions a d x d matrix memory starting at 0 allows: L2 decay and
 * the elastic net (KL and the sphere need a state that is never 0). */
#define HCT_MATRIX_RETENTIONS (HCT_RET_BIT(HCT_RET_L2) | HCT_RET_BIT(HCT_RET_ELASTIC))

/* Elastic-net retention (MATH §3.8) of a d x d memory M just written with
 * inner step `step`, when the config asks for it: M = shrink(M, lambda_1
 * step), then y = q M is read again.  A no-op for the other retentions. */
void hct_matrix_retain(const hct_rule_io *io, real *M, const real *q, real step, real *y);

/* Sizes and init of a state of one d x d matrix starting at 0 (delta, Hebbian). */
uint64_t hct_matrix_state_len(const hct_config *cfg);
void hct_matrix_state_init(real *state, const hct_config *cfg);
uint64_t hct_matrix_scratch_len(const hct_config *cfg); /* d: the e of a token */

/* Backward of the inner gradient step X <- ... - theta k^T e with e = k M - v
 * (the delta state's update, Titans' momentum), for one token.  dX: the
 * gradient reaching that term (rows d x d); M: the state e was computed on.
 * Writes u = k dX and de = -theta u (d each), overwrites dk and dv, and returns
 * dtheta = -<u, e>.  The caller adds k^T de to the gradient of M (the
 * gradient point's: rule.h). */
real hct_matrix_error_step_backward(const real *dX, const real *M, const real *k, const real *e, real theta,
                                    uint32_t d, real *u, real *de, real *dk, real *dv);

/* The same in two parts, for a rule that finishes each row of dX in a pass
 * of its own (delta.c, D57): per row j once it is final, u += k[j] dX[j]
 * and the return <dX[j], e>, which the caller keeps in dk[j] (u starts at
 * 0; rows in order); then the finish, with those dk, as above.  The same
 * operations in the same order, so the same bits as the one call. */
static inline real hct_matrix_error_row(const real *Xj, real kj, const real *e, real *u, uint32_t d) {
    hct_axpy(u, kj, Xj, d);
    return hct_dot(Xj, e, d);
}
/* The finish's first part, de = -theta u and dv = -de, for a rule that fuses
 * the rest with other work (delta.c's rows_finish_keep, D62). */
static inline void hct_matrix_error_de_dv(real theta, const real *u, uint32_t d, real *de, real *dv) {
    for (uint32_t i = 0; i < d; i++) {
        de[i] = -theta * u[i];
        dv[i] = -de[i];
    }
}
real hct_matrix_error_step_finish(const real *M, const real *e, real theta, uint32_t d, const real *u, real *de,
                                  real *dk, real *dv);

/* The per-token interface's pieces the matrix rules share (rule.h): the
 * extra e (d scalars) of a rule with one error e = k M - v; the read
 * y = q S of the state's first d x d matrix and its backward. */
uint64_t hct_matrix_extra_len(const hct_config *cfg);
void hct_matrix_read(const hct_rule_io *io, const real *q, const real *state, real *y);
void hct_matrix_read_backward(const hct_rule_grad *g, const real *q, const real *state, const real *dy, real *ds,
                              real *dq);

/* dS <- keep dS, then dA += k^T de, row by row (dA may be dS: rule.h). */
void hct_matrix_keep_add(real *dS, real *dA, real keep, const real *k, const real *de, uint32_t d);

/* The rule hyper-parameter check of rules that take none: all must be 0. */
hecate_status hct_rule_params_none(const hct_config *cfg);

#endif
