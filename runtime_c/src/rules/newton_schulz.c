/* rules/newton_schulz.c — the quintic Newton-Schulz iteration (see newton_schulz.h). */
#include "newton_schulz.h"
#include "../mathfn.h"

#define NS_A ((real)3.4445)
#define NS_B ((real)-4.7750)
#define NS_C ((real)2.0315)
#define NS_EPS ((real)1e-7)

/* out = P Q (d x d, row-major); out must not alias P or Q */
static void mul(const real *P, const real *Q, uint32_t d, real *out) { hct_linear(Q, P, d, d, d, out); }

/* out = P P^T (symmetric) */
static void gram(const real *P, uint32_t d, real *out) {
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < d; j++) out[(size_t)i * d + j] = hct_dot(P + (size_t)i * d, P + (size_t)j * d, d);
}

real hct_newton_schulz(const real *Z, uint32_t d, uint32_t steps, real *iter, real *work) {
    size_t dd = (size_t)d * d;
    real norm = hct_sqrt(hct_dot(Z, Z, (uint32_t)dd)), inv = (real)1 / hct_norm_divisor(norm + NS_EPS);
    for (size_t i = 0; i < dd; i++) iter[i] = Z[i] * inv;
    real *A = work, *B = work + dd;
    for (uint32_t s = 0; s < steps; s++) {
        const real *X = iter + s * dd;
        real *Xn = iter + (s + 1) * dd;
        gram(X, d, A);
        mul(A, A, d, B);
        for (size_t i = 0; i < dd; i++) B[i] = NS_B * A[i] + NS_C * B[i];
        mul(B, X, d, Xn);
        for (size_t i = 0; i < dd; i++) Xn[i] += NS_A * X[i];
    }
    return norm;
}

/* out = P Q^T */
static void mul_nt(const real *P, const real *Q, uint32_t d, real *out) {
    for (uint32_t i = 0; i < d; i++)
        for (uint32_t j = 0; j < d; j++) out[(size_t)i * d + j] = hct_dot(P + (size_t)i * d, Q + (size_t)j * d, d);
}

void hct_newton_schulz_backward(const real *Z, real norm, const real *iter, uint32_t d, uint32_t steps, real *G,
                                real *dZ, real *work) {
    size_t dd = (size_t)d * d;
    real *A = work, *B = A + dd, *dB = B + dd, *T = dB + dd;
    for (uint32_t s = steps; s-- > 0;) {
        const real *X = iter + s * dd;
        /* X' = a X + B X, B = b A + c A A, A = X X^T (A, B symmetric) */
        gram(X, d, A);
        mul(A, A, d, B);
        for (size_t i = 0; i < dd; i++) B[i] = NS_B * A[i] + NS_C * B[i];
        mul_nt(G, X, d, dB);                       /* dB = G X^T */
        mul(B, G, d, T);                           /* dX = a G + B G */
        for (size_t i = 0; i < dd; i++) T[i] += NS_A * G[i];
        /* dA = b dB + c (dB A + A dB); dX += (dA + dA^T) X */
        mul(dB, A, d, G);
        mul(A, dB, d, B);
        for (size_t i = 0; i < dd; i++) B[i] = NS_B * dB[i] + NS_C * (G[i] + B[i]);
        for (uint32_t i = 0; i < d; i++)
            for (uint32_t j = 0; j < d; j++) dB[(size_t)i * d + j] = B[(size_t)i * d + j] + B[(size_t)j * d + i];
        mul(dB, X, d, G);
        for (size_t i = 0; i < dd; i++) G[i] += T[i];
    }
    /* X_0 = Z / (n + eps): dZ += G / (n + eps) - Z <Z, G> / (n (n + eps)^2) */
    real s = norm + NS_EPS, proj = norm > 0 ? hct_dot(Z, G, (uint32_t)dd) / (norm * s * s) : 0;
    for (size_t i = 0; i < dd; i++) dZ[i] += G[i] / s - Z[i] * proj;
}
