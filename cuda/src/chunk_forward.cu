/* cuda/src/chunk_forward.cu — the chunked forward of the delta and Hebbian rules (docs/CUDA.md
 * "Chunked forward"; MATH §3.2, §3.4): the outputs and final state of forward.cu's token-by-token
 * kernels, computed CHUNK tokens at a time as matrix products.  One block per sequence holds the
 * whole state in shared memory; per chunk it forms the chunk's state-independent terms (the UT
 * transform of its keys: a triangular solve) and then three products with the state. */
#include "dispatch.cuh"

namespace hct {

constexpr int CHUNK = 16;
constexpr float LOG_KEEP_MIN = -80.0f; /* log(1 - alpha) floor: alpha = 1 keeps e^-80 of the state */

/* The block at padded width D: NT = C D / 8 threads.  In the products each holds a 4 x 4 tile
 * of [W; Gamma Q] S_0 (C / 2 row tiles of four rows, TC = D / 4 column tiles) and a TJ x 4
 * tile of the state (C / 2 row tiles of TJ rows), a warp's 32 tiles LC column tiles by
 * LM row tiles, so that a warp reads at most 8 float4 of a shared row at once (one shared-
 * memory wavefront).  In the triangular solve each thread takes one of the 2 D right-hand
 * sides, in the Gram products PR pairs (t, s).  P, LP: row pitches of the token rows and of L
 * (float4-aligned).  At D = 128 the block takes about 108 KB of shared memory: two fit an SM. */
template <int D> struct Chunk {
    static constexpr int C = CHUNK, NT = C * D / 8, TC = D / 4, TJ = 2 * D / C, NW = NT / 32;
    static constexpr int LC = TC < 8 ? TC : 8, LM = 32 / LC, WM = (C / 2) / LM, PR = C * C / NT;
    static constexpr int P = D + 4, LP = C + 4;
    static_assert((C / 2) * TC == NT && NT == 2 * D && NW * 32 == NT && WM * LM == C / 2 && PR * NT == C * C,
                  "one tile of each kind per thread");
    /* shared memory, in floats: the state, token rows k, q, v (v turns into U), W^T and
     * (Gamma Q)^T, L, A^T, and per-token scalars (theta, b, gamma, theta gamma_prev, F, then G) */
    static constexpr size_t S = 0, K = S + (size_t)D * D, Q = K + C * P, V = Q + C * P, WT = V + C * P,
                            QT = WT + (size_t)D * C, L = QT + (size_t)D * C, AT = L + C * LP, SC = AT + C * C,
                            FLOATS = SC + 5 * C + 4;
};

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
__global__ void __launch_bounds__(Chunk<D>::NT) chunk_kernel(RuleArgs a) {
    using B = Chunk<D>;
    constexpr int C = B::C, NT = B::NT, TJ = B::TJ, P = B::P, LP = B::LP;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sS = sm + B::S, *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sU = sV;
    float *sWT = sm + B::WT, *sQT = sm + B::QT, *sL = sm + B::L, *sAT = sm + B::AT;
    float *sth = sm + B::SC, *sb = sth + C, *sgam = sb + C, *swk = sgam + C, *sF = swk + C;
    float *sG = sF + C;
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    float *state = a.state + seq * a.state_len;
    for (int at = tid; at < D * D; at += NT) {
        int j = at / D, c = at % D;
        sS[at] = j < d && c < d ? state[(size_t)j * d + c] : 0.0f;
    }
    const int tc = (w / B::WM) * B::LC + lane % B::LC, tm = (w % B::WM) * B::LM + lane / B::LC;
    const int c0 = 4 * tc, m0 = 4 * tm, j0 = tm * TJ;
    /* token rows by float4 where they are unpadded and 16-byte aligned */
    const bool vec = d == D && (((uintptr_t)a.k | (uintptr_t)a.q | (uintptr_t)a.v) & 15) == 0;
    for (int t0 = 0; t0 < T; t0 += C) {
        __syncthreads();
        if (vec) {
            for (int at = tid; at < C * D / 4; at += NT) {
                const int t = at / (D / 4), j = 4 * (at % (D / 4));
                const bool in = t0 + t < T;
                const size_t src = base + (size_t)(t0 + t) * D + j;
                const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                *(float4 *)(sK + t * P + j) = in ? *(const float4 *)(a.k + src) : zero;
                *(float4 *)(sQ + t * P + j) = in ? *(const float4 *)(a.q + src) : zero;
                *(float4 *)(sV + t * P + j) = in ? *(const float4 *)(a.v + src) : zero;
            }
        } else {
            for (int at = tid; at < C * D; at += NT) {
                const int t = at / D, j = at % D;
                const bool in = t0 + t < T && j < d;
                const size_t src = base + (size_t)(t0 + t) * d + j;
                sK[t * P + j] = in ? a.k[src] : 0.0f;
                sQ[t * P + j] = in ? a.q[src] : 0.0f;
                sV[t * P + j] = in ? a.v[src] : 0.0f;
            }
        }
        if (tid < 32) {
            /* the chunk's decay: b_t = sum_{s <= t} log(1 - alpha_s) by a scan over the first warp's lanes */
            const int t = t0 + lane;
            const float *g = a.gates + (seq * (size_t)T + t) * a.n_gates;
            const bool in = lane < C && t < T;
            float b = in ? fmaxf(logf(1.0f - g[0]), LOG_KEEP_MIN) : 0.0f;
#pragma unroll
            for (int o = 1; o < C; o <<= 1) {
                float up = __shfl_up_sync(0xffffffffu, b, o);
                if (lane >= o) b += up;
            }
            const float prev = __shfl_up_sync(0xffffffffu, b, 1), last = __shfl_sync(0xffffffffu, b, C - 1);
            if (lane < C) {
                const float theta = ERROR && in ? g[1] : 0.0f;
                sth[lane] = theta;
                sb[lane] = b;
                sgam[lane] = expf(b);                                /* gamma_t */
                swk[lane] = theta * (lane ? expf(prev) : 1.0f);      /* theta_t gamma_{t-1} */
                sF[lane] = expf(last - b);                           /* gamma_last / gamma_t */
            }
            if (lane == 0) sG[0] = expf(last);
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < B::PR; r++) {
            /* <k_t, k_s> and <q_t, k_s> of pair (t, s) -> L and A^T */
            const int t = tid % C, s = tid / C + (NT / C) * r;
            float kk = 0.0f, qk = 0.0f;
            for (int j = 0; j < D; j += 4) {
                float4 kt = *(const float4 *)(sK + t * P + j), qt = *(const float4 *)(sQ + t * P + j);
                float4 ks = *(const float4 *)(sK + s * P + j);
                kk += kt.x * ks.x + kt.y * ks.y + kt.z * ks.z + kt.w * ks.w;
                qk += qt.x * ks.x + qt.y * ks.y + qt.z * ks.z + qt.w * ks.w;
            }
            const float prev = t ? sb[t - 1] : 0.0f;
            sL[t * LP + s] = ERROR && s < t ? sth[t] * expf(prev - sb[s]) * kk : 0.0f;
            sAT[s * C + t] = s <= t ? expf(sb[t] - sb[s]) * qk : 0.0f;
        }
        __syncthreads();
        {
            /* forward substitution, one right-hand side per thread: U0's column tid (in place of
             * v's, then (Gamma Q)^T's row tid), or W's row tid - D (into W^T); four partial sums
             * per row for a shorter dependency chain */
            const bool is_w = tid >= D;
            const int j = is_w ? tid - D : tid;
            float x[C];
#pragma unroll
            for (int u = 0; u < C; u++)
                x[u] = !ERROR ? (is_w ? 0.0f : sV[u * P + j]) : is_w ? swk[u] * sK[u * P + j] : sth[u] * sV[u * P + j];
            if (ERROR) {
#pragma unroll
                for (int u = 1; u < C; u++) {
                    float part[4] = {};
#pragma unroll
                    for (int s = 0; s < u; s += 4) {
                        float4 l = *(const float4 *)(sL + u * LP + s);
                        part[0] += l.x * x[s];
                        if (s + 1 < u) part[1] += l.y * x[s + 1];
                        if (s + 2 < u) part[2] += l.z * x[s + 2];
                        if (s + 3 < u) part[3] += l.w * x[s + 3];
                    }
                    x[u] -= (part[0] + part[1]) + (part[2] + part[3]);
                }
            }
            if (is_w) {
#pragma unroll
                for (int u = 0; u < C; u += 4) *(float4 *)(sWT + j * C + u) = make_float4(x[u], x[u + 1], x[u + 2], x[u + 3]);
            } else {
#pragma unroll
                for (int u = 0; u < C; u++) sU[u * P + j] = x[u];
#pragma unroll
                for (int u = 0; u < C; u += 4)
                    *(float4 *)(sQT + j * C + u) = make_float4(sgam[u] * sQ[u * P + j], sgam[u + 1] * sQ[(u + 1) * P + j],
                                                               sgam[u + 2] * sQ[(u + 2) * P + j],
                                                               sgam[u + 3] * sQ[(u + 3) * P + j]);
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
        if (m0 >= C) {
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
                if (d % 4 == 0 && c0 + 4 <= d) {
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
            const float f = sF[s];
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
        const float gamma = sG[0];
#pragma unroll
        for (int x = 0; x < TJ; x++)
#pragma unroll
            for (int y = 0; y < 4; y++) {
                float *s = sS + (j0 + x) * D + c0 + y;
                *s = gamma * *s + upd[x][y];
            }
    }
    __syncthreads();
    for (int at = tid; at < D * D; at += NT) {
        int j = at / D, c = at % D;
        if (j < d && c < d) state[(size_t)j * d + c] = sS[at];
    }
}

template <int D, bool ERROR> static cudaError_t chunk_forward_at(int n_seq, const RuleArgs &a) {
    return launch_with_smem(chunk_kernel<D, ERROR>, n_seq, Chunk<D>::NT, Chunk<D>::FLOATS * sizeof(float), a);
}

struct ChunkLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (RULE == RULE_DELTA) return chunk_forward_at<D, true>(n_seq, a);
        else if constexpr (RULE == RULE_HEBBIAN) return chunk_forward_at<D, false>(n_seq, a);
        else return cudaErrorInvalidValue;
    }
};

bool chunk_forward_runs(int rule) { return rule == RULE_DELTA || rule == RULE_HEBBIAN; }

cudaError_t launch_chunk_forward(int rule, int n_seq, const RuleArgs &a) {
    return by_rule<ChunkLaunch>(rule, n_seq, a);
}

} /* namespace hct */
