/* rules/newton_schulz.h — Newton-Schulz orthogonalization of a d x d matrix
 * (MATH §3.6, Atlas' optional momentum orthogonalization, the Muon quintic
 * iteration) and its exact backward. */
#ifndef HECATE_RULES_NEWTON_SCHULZ_H
#define HECATE_RULES_NEWTON_SCHULZ_H
#include "rule.h"

/* X_0 = Z / (||Z||_F + 1e-7); X_{i+1} = a X_i + (b A + c A A) X_i with
 * A = X_i X_i^T, (a, b, c) = (3.4445, -4.7750, 2.0315), i < steps.  Writes
 * X_0 .. X_steps to iter ((steps + 1) d^2 scalars; X_steps is the result)
 * and returns ||Z||_F.  work: 2 d^2 scalars. */
real hct_newton_schulz(const real *Z, uint32_t d, uint32_t steps, real *iter, real *work);

/* Backward given the iterates and norm of hct_newton_schulz: G (d^2) is the
 * gradient of X_steps on entry and is overwritten; dZ (d^2) receives the
 * gradient of Z (added).  work: 4 d^2 scalars. */
void hct_newton_schulz_backward(const real *Z, real norm, const real *iter, uint32_t d, uint32_t steps, real *G,
                                real *dZ, real *work);

#endif
