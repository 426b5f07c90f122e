/* rules/retention.h — retention of a memory state (MATH §4): how a rule's
 * state W, a prior W0 it is pulled back to, and its inner gradient G make the
 * next state, forward and backward.  Rules call these instead of coding
 * their own decay. */
#ifndef HECATE_RULES_RETENTION_H
#define HECATE_RULES_RETENTION_H
#include "rule.h"

/* Gradients of the two retention coefficients. */
typedef struct hct_retain_grad { real dkeep, dpull; } hct_retain_grad;

/* L2 decay, MATH §4: out = keep W + pull W0 - theta G over n scalars (out may
 * be W; W0 NULL: no prior). */
void hct_retain_l2(const real *W, const real *W0, const real *G, real *out, size_t n, real keep, real pull,
                   real theta);

/* Backward of hct_retain_l2.  D: in, the gradient of out; out, the gradient
 * of W through the decay (keep D).  P (n): the gradient of the pre-state
 * (so d theta = -<P, G>). */
hct_retain_grad hct_retain_l2_backward(const real *W, const real *W0, size_t n, real keep, real *D, real *P);

/* A matrix seen as `rows` simplex vectors of `cols` scalars, element (i, j)
 * at offset i*rs + j*cs (rows of W1, columns of a stored W2^T). */
typedef struct hct_groups { uint32_t rows, cols; size_t rs, cs; } hct_groups;

/* log max(w, 1e-8) of n scalars (the log-prior KL retention takes). */
void hct_log_floor(const real *w, real *out, size_t n);

/* KL retention, MATH §4: each vector w' = softmax(keep log max(w, 1e-8) +
 * pull L0 - theta g) with L0 = hct_log_floor(W0) (out may be W). */
void hct_retain_kl(const hct_groups *gr, const real *W, const real *L0, const real *G, real *out, real keep,
                   real pull, real theta);

/* Backward of hct_retain_kl given W and its result Wn.  D, P as for L2 (D
 * becomes keep P / w where w > 1e-8, else 0). */
hct_retain_grad hct_retain_kl_backward(const hct_groups *gr, const real *W, const real *L0, const real *Wn,
                                       real keep, real *D, real *P);

#endif
