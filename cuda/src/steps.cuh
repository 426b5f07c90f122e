/* cuda/src/steps.cuh — one token of each matrix rule on the register layout
 * of columns.cuh (MATH §3.2 delta, §3.3 Titans, §3.4 Hebbian, §3.6 Atlas):
 * the write, then the read y_i = sum_j q_j S'[j][i] (the column's sum, which
 * every lane of the column returns).  k, v, q point at the token's row of
 * the shared tile; the forward and the backward's recompute both call these. */
#ifndef HECATE_CUDA_STEPS_CUH
#define HECATE_CUDA_STEPS_CUH
#include "columns.cuh"

namespace hct {

/* e_i = sum_j k_j S[j][i] - v_i (the prediction error of a column). */
template <int D> __device__ __forceinline__ float column_error(const float (&S)[R], const float *k, float vi, int p) {
    float e = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) e += k[row_of<D>(r, p)] * S[r];
    return column_sum<D>(e) - vi;
}

/* S <- (1 - alpha) S - theta k^T e */
template <int D> __device__ __forceinline__ float delta_step(float (&S)[R], const float *k, const float *v,
                                                             const float *q, const float *g, int i, int p) {
    float e = column_error<D>(S, k, v[i], p), keep = 1.0f - g[0], theta = g[1], y = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        S[r] = keep * S[r] - (theta * k[j]) * e;
        y += q[j] * S[r];
    }
    return column_sum<D>(y);
}

/* Z <- eta Z - theta k^T e ; M <- (1 - alpha) M + Z */
template <int D> __device__ __forceinline__ float titans_step(float (&M)[R], float (&Z)[R], const float *k,
                                                              const float *v, const float *q, const float *g,
                                                              int i, int p) {
    float e = column_error<D>(M, k, v[i], p), keep = 1.0f - g[0], theta = g[1], eta = g[2], y = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        Z[r] = eta * Z[r] - (theta * k[j]) * e;
        M[r] = keep * M[r] + Z[r];
        y += q[j] * M[r];
    }
    return column_sum<D>(y);
}

/* S <- (1 - alpha) S + k^T v */
template <int D> __device__ __forceinline__ float hebbian_step(float (&S)[R], const float *k, const float *v,
                                                               const float *q, const float *g, int i, int p) {
    float keep = 1.0f - g[0], vi = v[i], y = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        S[r] = keep * S[r] + k[j] * vi;
        y += q[j] * S[r];
    }
    return column_sum<D>(y);
}

/* Atlas (window already holding this token as its newest row; wK, wV are c
 * rows of D in shared memory, any order): Z <- eta Z - theta K^T (K M - V),
 * M <- (1 - alpha) M + Z. */
template <int D> __device__ __forceinline__ float atlas_step(float (&M)[R], float (&Z)[R], const float *wK,
                                                             const float *wV, int c, const float *q,
                                                             const float *g, int i, int p) {
    float G[R];
#pragma unroll
    for (int r = 0; r < R; r++) G[r] = 0.0f;
    for (int w = 0; w < c; w++) {
        const float *kw = wK + w * D;
        float e = column_error<D>(M, kw, wV[w * D + i], p);
#pragma unroll
        for (int r = 0; r < R; r++) G[r] += kw[row_of<D>(r, p)] * e;
    }
    float keep = 1.0f - g[0], theta = g[1], eta = g[2], y = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        Z[r] = eta * Z[r] - theta * G[r];
        M[r] = keep * M[r] + Z[r];
        y += q[row_of<D>(r, p)] * M[r];
    }
    return column_sum<D>(y);
}

} /* namespace hct */
#endif
