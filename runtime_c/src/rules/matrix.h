/* rules/matrix.h — what the matrix-memory rules (state S, d x d, read y = q S;
 * MATH §3.2 ff.) share: the fused row-streaming write + read, the forward
 * over the shared token loop, the tape views, the backward of the inner
 * gradient step and of a frozen read. */
#ifndef HECATE_RULES_MATRIX_H
#define HECATE_RULES_MATRIX_H
#include "loop.h"
#include "retention.h"

/* out[j] = keep in[j] - (step k[j]) e for every row j, then y = q out
 * (in and out may be the same state).  One pass over the state. */
void hct_matrix_update_read(const real *in, real *out, uint32_t d, const real *k, const real *e,
                            const real *q, real keep, real step, real *y);

/* The retentions a d x d matrix memory starting at 0 allows: L2 decay and
 * the elastic net (KL and the sphere need a state that is never 0). */
#define HCT_MATRIX_RETENTIONS (HCT_RET_BIT(HCT_RET_L2) | HCT_RET_BIT(HCT_RET_ELASTIC))

/* Elastic-net retention (MATH §3.8) of a d x d memory M just written with
 * inner step `step`, when the config asks for it: M = shrink(M, lambda_1
 * step), then y = q M is read again.  A no-op for the other retentions. */
void hct_matrix_retain(const hct_rule_io *io, real *M, const real *q, real step, real *y);

/* The forward over io->T tokens of a state of n_mats d x d matrices (the
 * first is the one read): frozen reads y = q S_in; otherwise the shared
 * token loop (loop.h) with e (d scalars) as each token's extra. */
void hct_matrix_forward(const hct_rule_io *io, hct_token_fn token, uint32_t n_mats);

/* Sizes and init of a state of one d x d matrix starting at 0 (delta, Hebbian). */
uint64_t hct_matrix_state_len(const hct_config *cfg);
void hct_matrix_state_init(real *state, const hct_config *cfg);
uint64_t hct_matrix_scratch_len(const hct_config *cfg); /* d: the e of a token */
uint64_t hct_matrix_tape_len_n(const hct_config *cfg, uint32_t T, uint32_t n_mats);
uint64_t hct_matrix_tape_len(const hct_config *cfg, uint32_t T); /* n_mats = 1 */

/* Tape views for token t: the state before it, and its e. */
const real *hct_matrix_tape_state(const hct_rule_io *io, uint32_t t, uint32_t n_mats);
const real *hct_matrix_tape_e(const hct_rule_io *io, uint32_t t, uint32_t n_mats);

/* Backward of the inner gradient step X <- ... - theta k^T e with e = k M - v
 * (the delta state's update, Titans' momentum), for one token.  dX: the
 * gradient reaching that term (rows d x d); M: the state e was computed on.
 * Writes u = k dX and de = -theta u (d each), overwrites dk and dv, and returns
 * dtheta = -<u, e>.  The caller adds k^T de to the gradient of M itself. */
real hct_matrix_error_step_backward(const real *dX, const real *M, const real *k, const real *e, real theta,
                                    uint32_t d, real *u, real *de, real *dk, real *dv);

/* Backward of a frozen read y = q S_in for token t: dq = S_in dy; dk, dv
 * and the rule's gate gradients are 0. */
void hct_matrix_frozen_backward(const hct_rule_grad *g, uint32_t t, uint32_t n_gates);

/* The per-token interface's pieces every matrix rule shares (rule.h): the
 * extra is e (d scalars); the read y = q S of the state's first d x d
 * matrix and its backward. */
uint64_t hct_matrix_extra_len(const hct_config *cfg);
void hct_matrix_read(const hct_rule_io *io, uint32_t t, const real *state, real *y);
void hct_matrix_read_backward(const hct_rule_grad *g, uint32_t t, const real *state, const real *dy, real *ds,
                              real *dq);

/* dS <- keep dS, then dA += k^T de, row by row (dA may be dS: rule.h). */
void hct_matrix_keep_add(real *dS, real *dA, real keep, const real *k, const real *de, uint32_t d);

/* The rule hyper-parameter check of rules that take none: all must be 0. */
hecate_status hct_rule_params_none(const hct_config *cfg);

#endif
