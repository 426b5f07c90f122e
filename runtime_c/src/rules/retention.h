/* rules/retention.h — retention of a memory state (MATH §3.8): how a rule's
 * state W, a prior W0 it is pulled back to, and its inner gradient G make the
 * next state, forward and backward.  Rules call these instead of coding
 * their own decay. */
#ifndef HECATE_RULES_RETENTION_H
#define HECATE_RULES_RETENTION_H
#include "rule.h"

/* Gradients of the two retention coefficients. */
typedef struct hct_retain_grad { real dkeep, dpull; } hct_retain_grad;

/* L2 decay, MATH §3.8: out = keep W + pull W0 - theta G over n scalars (out may
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

/* log max(w, 1e-8) of n scalars (the log-prior KL retention takes); NaN
 * stays NaN. */
void hct_log_floor(const real *w, real *out, size_t n);

/* KL retention, MATH §3.8: each vector w' = softmax(keep log max(w, 1e-8) +
 * pull L0 - theta g) with L0 = hct_log_floor(W0) (out may be W). */
void hct_retain_kl(const hct_groups *gr, const real *W, const real *L0, const real *G, real *out, real keep,
                   real pull, real theta);

/* Backward of hct_retain_kl given W and its result Wn.  D, P as for L2 (D
 * becomes keep P / w where w > 1e-8, else 0). */
hct_retain_grad hct_retain_kl_backward(const hct_groups *gr, const real *W, const real *L0, const real *Wn,
                                       real keep, real *D, real *P);

/* Elastic net, MATH §3.8: after the rule's L2 step, soft-threshold the state's
 * distance from its prior, W = W0 + shrink(W - W0, thr) with shrink(x, thr) =
 * sign(x) max(|x| - thr, 0), over n scalars in place (W0 NULL: prior 0);
 * NaN stays NaN, not W0 (D39). */
void hct_retain_shrink(real *W, const real *W0, size_t n, real thr);

/* Backward of hct_retain_shrink given its result W: D (the gradient of W) is
 * zeroed where the threshold clipped (W == W0) and the gradient of thr,
 * -sum sign(W - W0) D over the rest, is returned. */
real hct_retain_shrink_backward(const real *W, const real *W0, real *D, size_t n);

/* The elastic-net lambda_1 of a config (cfg->retention_param), or 0 when its
 * retention is not the elastic net: a rule's threshold is lambda_1 times its
 * inner step size (MATH §3.8). */
real hct_shrink_lambda(const hct_config *cfg);

/* Sphere retention, MATH §3.7: s = u / ||u|| for one vector of n scalars;
 * returns ||u||.  A vector whose norm is <= 1e-8 is left as `keep` (copied
 * to s) instead; a NaN or overflowed norm gives NaN, never `keep` (D39). */
real hct_retain_sphere(const real *u, const real *keep, real *s, uint32_t n);

/* Backward of hct_retain_sphere given s and the returned norm (> 1e-8): the
 * gradient D of s becomes the gradient of u in du. */
void hct_retain_sphere_backward(const real *s, real norm, const real *D, real *du, uint32_t n);

#define HCT_SPHERE_FLOOR ((real)1e-8)

#endif
