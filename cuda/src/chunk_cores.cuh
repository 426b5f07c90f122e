/* cuda/src/chunk_cores.cuh — the chunked forward of the delta and Hebbian rules on the CUDA cores
 * (docs/CUDA.md "Chunked forward"; MATH §3.2, §3.4), for padded widths below 128 (chunk_forward.cu
 * picks it): one block per sequence holds the whole state in shared memory; per chunk it forms the
 * chunk's state-independent terms (the UT transform of its keys: a triangular solve) and then
 * three products with the state in 4 x 4 register tiles. */
#ifndef HECATE_CUDA_CHUNK_CORES_CUH
#define HECATE_CUDA_CHUNK_CORES_CUH
#include "chunk.cuh"

namespace hct {

/* Block b runs sequence b.  With gamma_t = prod_{s <= t} (1 - alpha_s) inside a chunk (exp of a
 * prefix sum b_t of logs, so each ratio gamma_t / gamma_s, s <= t, is exp of a difference <= 0)
 * and u_t = theta_t (v_t - k_t S_{t-1}) token t's write (S_t = (1 - alpha_t) S_{t-1} + k_t^T u_t),
 * the chunk's writes solve
 *   (I + L) U = Theta V - Theta Gamma_prev K S_0,   L[t][s] = theta_t gamma_{t-1} / gamma_s <k_t, k_s> (s < t)
 * so U = U0 - W S_0 with U0, W the forward substitutions of Theta V and Theta Gamma_prev K; then
 *   y_t = gamma_t q_t S_0 + sum_{s <= t} gamma_t / gamma_s <q_t, k_s> u_s
 *   S   = gamma_last S_0 + sum_s gamma_last / gamma_s k_s^T u_s.
 * The Hebbian rule writes u_t = v_t: L = 0, W = 0, U0 = V. */
template <int D, bool ERROR>
__global__ void __launch_bounds__(Chunk<D>::NT) chunk_cores_kernel(RuleArgs a) {
    using B = Chunk<D>;
    constexpr int C = B::C, NT = B::NT, TJ = B::TJ, P = B::P;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sS = sm + B::S, *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sU = sV;
    float *sWT = sm + B::WT, *sQT = sm + B::QT, *sL = sm + B::L, *sAT = sm + B::AT;
    const Decay dec = Decay::at(sm + B::SC);
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    const float *state0 = a.state_in + seq * a.state_len;
    for (int at = tid; at < D * D; at += NT) {
        int j = at / D, c = at % D;
        sS[at] = j < d && c < d ? state0[(size_t)j * d + c] : 0.0f;
    }
    const int tc = (w / B::WM) * B::LC + lane % B::LC, tm = (w % B::WM) * B::LM + lane / B::LC;
    const int c0 = 4 * tc, m0 = 4 * tm, j0 = tm * TJ;
    const bool vec = rows_by_float4<D>(a);
    const bool y_vec = d % 4 == 0 && ((uintptr_t)a.y & 15) == 0;
    for (int t0 = 0, ch = 0; t0 < T; t0 += C, ch++) {
        __syncthreads();
        if (a.work) /* the backward's checkpoint: the state at the chunk's start */
            for (int at = tid; at < D * D / 4; at += NT)
                ((float4 *)(a.work + (seq * (size_t)chunks_of(T) + ch) * D * D))[at] = ((const float4 *)sS)[at];
        load_chunk<D, NT, ERROR>(a, seq, t0, vec, sK, P, sQ, P, sV, P, dec, tid);
        __syncthreads();
        gram<D, NT, ERROR>(sK, P, sQ, P, dec, sL, sAT, true, nullptr, tid);
        __syncthreads();
        {
            /* one right-hand side per thread: U0's column tid (in place of v's, then (Gamma Q)^T's
             * row tid), or W's row tid - D (into W^T) */
            float x[C];
            const int j = tid % D;
            if (ut_column<D, ERROR>(x, tid, sK, sV, P, dec, sL)) {
#pragma unroll
                for (int u = 0; u < C; u += 4) *(float4 *)(sWT + j * C + u) = make_float4(x[u], x[u + 1], x[u + 2], x[u + 3]);
            } else {
#pragma unroll
                for (int u = 0; u < C; u++) sU[u * P + j] = x[u];
#pragma unroll
                for (int u = 0; u < C; u += 4)
                    *(float4 *)(sQT + j * C + u) =
                        make_float4(dec.gam[u] * sQ[u * P + j], dec.gam[u + 1] * sQ[(u + 1) * P + j],
                                    dec.gam[u + 2] * sQ[(u + 2) * P + j], dec.gam[u + 3] * sQ[(u + 3) * P + j]);
            }
        }
        __syncthreads();
        /* rows 0 .. C-1 of [W; Gamma Q] S_0 (tm < C/4) turn U0 into U, rows C .. 2C-1 start the reads */
        const float *lhs = m0 < C ? sWT + m0 : sQT + (m0 - C);
        float acc[4][4] = {};
        for (int j = 0; j < D; j++) {
            float4 l = *(const float4 *)(lhs + j * C), r = *(const float4 *)(sS + j * D + c0);
            const float lv[4] = {l.x, l.y, l.z, l.w}, rv[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
            for (int x = 0; x < 4; x++)
#pragma unroll
                for (int y = 0; y < 4; y++) acc[x][y] += lv[x] * rv[y];
        }
        if (m0 < C) {
#pragma unroll
            for (int x = 0; x < 4; x++)
#pragma unroll
                for (int y = 0; y < 4; y++) sU[(m0 + x) * P + c0 + y] -= acc[x][y];
        }
        __syncthreads();
        if (m0 >= C && a.y) {
            const int r0 = m0 - C;
            for (int s = 0; s < r0 + 4; s++) {
                float4 l = *(const float4 *)(sAT + s * C + r0), r = *(const float4 *)(sU + s * P + c0);
                const float lv[4] = {l.x, l.y, l.z, l.w}, rv[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
                for (int x = 0; x < 4; x++)
#pragma unroll
                    for (int y = 0; y < 4; y++) acc[x][y] += lv[x] * rv[y];
            }
#pragma unroll
            for (int x = 0; x < 4; x++) {
                const int t = t0 + r0 + x;
                float *out = a.y + base + (size_t)t * d + c0;
                if (t >= T) break;
                if (y_vec && c0 + 4 <= d) {
                    *(float4 *)out = make_float4(acc[x][0], acc[x][1], acc[x][2], acc[x][3]);
                } else {
#pragma unroll
                    for (int y = 0; y < 4; y++)
                        if (c0 + y < d) out[y] = acc[x][y];
                }
            }
        }
        /* the state's rows j0 .. j0+TJ of this thread's four columns (every read of S_0 was before the sync) */
        float upd[TJ][4] = {};
        for (int s = 0; s < C; s++) {
            const float f = dec.F[s];
            const float4 r = *(const float4 *)(sU + s * P + c0);
            const float rv[4] = {f * r.x, f * r.y, f * r.z, f * r.w};
            float kv[TJ];
            if constexpr (TJ >= 4) {
#pragma unroll
                for (int x = 0; x < TJ; x += 4) {
                    float4 k4 = *(const float4 *)(sK + s * P + j0 + x);
                    kv[x] = k4.x, kv[x + 1] = k4.y, kv[x + 2] = k4.z, kv[x + 3] = k4.w;
                }
            } else {
#pragma unroll
                for (int x = 0; x < TJ; x++) kv[x] = sK[s * P + j0 + x];
            }
#pragma unroll
            for (int x = 0; x < TJ; x++)
#pragma unroll
                for (int y = 0; y < 4; y++) upd[x][y] += kv[x] * rv[y];
        }
        const float gamma = dec.end[0];
#pragma unroll
        for (int x = 0; x < TJ; x++)
#pragma unroll
            for (int y = 0; y < 4; y++) {
                float *s = sS + (j0 + x) * D + c0 + y;
                *s = gamma * *s + upd[x][y];
            }
    }
    __syncthreads();
    if (!a.state) return;
    float *state = a.state + seq * a.state_len;
    for (int at = tid; at < D * D; at += NT) {
        int j = at / D, c = at % D;
        if (j < d && c < d) state[(size_t)j * d + c] = sS[at];
    }
}

} /* namespace hct */
#endif
