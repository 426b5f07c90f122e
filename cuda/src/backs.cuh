/* cuda/src/backs.cuh — the reverse step of one token of each matrix rule (MATH §3.2-§3.4,
 * §3.6, §7): from the states before (S0, Z0) and after (S1) it, the state gradients in
 * registers go one token back and the token's gradients add into shared memory. */
#ifndef HECATE_CUDA_BACKS_CUH
#define HECATE_CUDA_BACKS_CUH
#include "columns.cuh"

namespace hct {

/* Per-token outputs of a reverse step, in shared memory. */
struct TokenGrad {
    float *dq, *dk, *dv, *dgates;
};

template <int D>
__device__ __forceinline__ void delta_back(const float (&S0)[R], const float (&S1)[R], float (&dS)[R], const float *k,
                                           const float *v, const float *q, float dyi, const float *g, int i, int p,
                                           int lane, TokenGrad o) {
    float keep = 1.0f - g[0], theta = g[1], ep = 0.0f, up = 0.0f, sa = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        dS[r] += q[j] * dyi;
        ep += k[j] * S0[r];
        up += k[j] * dS[r];
        sa += dS[r] * S0[r];
    }
    float e = column_sum<D>(ep) - v[i], u = column_sum<D>(up), de = -theta * u;
#pragma unroll
    for (int r = 0; r < R; r++) {
        row_add<D>(S1[r] * dyi, r, p, lane, o.dq);
        row_add<D>(-theta * dS[r] * e + S0[r] * de, r, p, lane, o.dk);
        dS[r] = keep * dS[r] + k[row_of<D>(r, p)] * de;
    }
    block_add<D>(-sa, lane, o.dgates);
    block_add<D>(p == 0 ? -(u * e) : 0.0f, lane, o.dgates + 1);
    if (p == 0) o.dv[i] = theta * u;
}

template <int D>
__device__ __forceinline__ void titans_back(const float (&M0)[R], const float (&Z0)[R], const float (&M1)[R],
                                            float (&dM)[R], float (&dZ)[R], const float *k, const float *v,
                                            const float *q, float dyi, const float *g, int i, int p, int lane,
                                            TokenGrad o) {
    float keep = 1.0f - g[0], theta = g[1], eta = g[2], ep = 0.0f, up = 0.0f, sa = 0.0f, se = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        dM[r] += q[j] * dyi;
        dZ[r] += dM[r];
        ep += k[j] * M0[r];
        up += k[j] * dZ[r];
        sa += dM[r] * M0[r];
        se += dZ[r] * Z0[r];
    }
    float e = column_sum<D>(ep) - v[i], u = column_sum<D>(up), de = -theta * u;
#pragma unroll
    for (int r = 0; r < R; r++) {
        row_add<D>(M1[r] * dyi, r, p, lane, o.dq);
        row_add<D>(-theta * dZ[r] * e + M0[r] * de, r, p, lane, o.dk);
        dM[r] = keep * dM[r] + k[row_of<D>(r, p)] * de;
        dZ[r] *= eta;
    }
    block_add<D>(-sa, lane, o.dgates);
    block_add<D>(p == 0 ? -(u * e) : 0.0f, lane, o.dgates + 1);
    block_add<D>(se, lane, o.dgates + 2);
    if (p == 0) o.dv[i] = theta * u;
}

template <int D>
__device__ __forceinline__ void hebbian_back(const float (&S0)[R], const float (&S1)[R], float (&dS)[R],
                                             const float *k, const float *v, const float *q, float dyi,
                                             const float *g, int i, int p, int lane, TokenGrad o) {
    float keep = 1.0f - g[0], up = 0.0f, sa = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = row_of<D>(r, p);
        dS[r] += q[j] * dyi;
        up += k[j] * dS[r];
        sa += dS[r] * S0[r];
    }
    float u = column_sum<D>(up);
#pragma unroll
    for (int r = 0; r < R; r++) {
        row_add<D>(S1[r] * dyi, r, p, lane, o.dq);
        row_add<D>(dS[r] * v[i], r, p, lane, o.dk);
        dS[r] *= keep;
    }
    block_add<D>(-sa, lane, o.dgates);
    if (p == 0) o.dv[i] = u;
}

/* Atlas' reverse step for token t: as Titans with the window's rows (MATH §3.6);
 * the window rows' key/value gradients add into the ring gK, gV (slot = token mod c). */
template <int D>
__device__ __forceinline__ void atlas_back(const float (&M0)[R], const float (&Z0)[R], const float (&M1)[R],
                                           float (&dM)[R], float (&dZ)[R], const float *wK, const float *wV, int c,
                                           int t, const float *q, float dyi, const float *g, int i, int p, int lane,
                                           TokenGrad o, float *gK, float *gV) {
    float keep = 1.0f - g[0], theta = g[1], eta = g[2], sa = 0.0f, se = 0.0f, st = 0.0f, acc[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        dM[r] += q[row_of<D>(r, p)] * dyi;
        sa += dM[r] * M0[r];
        dZ[r] += dM[r];
        se += dZ[r] * Z0[r];
        acc[r] = 0.0f;
        row_add<D>(M1[r] * dyi, r, p, lane, o.dq);
    }
    for (int w = 0; w < c; w++) {
        const float *kw = wK + w * D;
        int slot = ((t - c + 1 + w) % c + c) % c;
        float ep = 0.0f, up = 0.0f;
#pragma unroll
        for (int r = 0; r < R; r++) {
            ep += kw[row_of<D>(r, p)] * M0[r];
            up += kw[row_of<D>(r, p)] * dZ[r];
        }
        float e = column_sum<D>(ep) - wV[w * D + i], de = -theta * column_sum<D>(up);
#pragma unroll
        for (int r = 0; r < R; r++) {
            float kj = kw[row_of<D>(r, p)];
            row_add<D>(-theta * dZ[r] * e + M0[r] * de, r, p, lane, gK + slot * D);
            st -= kj * dZ[r] * e;
            acc[r] += kj * de;
        }
        if (p == 0) gV[slot * D + i] -= de;
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
        dM[r] = keep * dM[r] + acc[r];
        dZ[r] *= eta;
    }
    block_add<D>(-sa, lane, o.dgates);
    block_add<D>(st, lane, o.dgates + 1);
    block_add<D>(se, lane, o.dgates + 2);
}

} /* namespace hct */
#endif
