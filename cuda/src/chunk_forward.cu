/* cuda/src/chunk_forward.cu — the chunked forward of the delta and Hebbian rules (docs/CUDA.md
 * "Chunked forward"; MATH §3.2, §3.4): the outputs and final state of forward.cu's token-by-token
 * kernels, computed CHUNK tokens at a time as matrix products.  One block per sequence holds the
 * whole state in its registers; per chunk it forms the chunk's state-independent terms (the UT
 * transform of its keys: a triangular solve) and then three products with the state, on the
 * tensor cores in float32 accuracy (mma.cuh; docs/CUDA.md "Tensor cores"). */
#include "chunk.cuh"

namespace hct {

/* The block at padded width D: NT = 2 D threads, NW = D / 16 warps.  The state lives in
 * registers, transposed: warp w holds S^T's rows c = 16 w .. 16 w + 15 (the state's columns) as
 * D / 8 accumulator tiles of the tensor cores' 16 x 8 products (ST below), which the state's
 * products take as their A fragments directly (mma.cuh, "paired k").  Shared memory, in floats:
 * token rows k, q (turns into Gamma Q), v (turns into U) and W, each (C, P) with P = D + 8 (a
 * lane's two adjacent floats of eight rows fall in distinct banks); L and A (C, LP); the Decay:
 * 39 KB at D = 128. */
template <int D> struct ChunkFwd {
    static constexpr int C = CHUNK, NT = 2 * D, NW = NT / 32, P = D + 8, LP = C + 4, NTILES = D / 8;
    static_assert(NW * 16 == D, "a warp holds 16 rows of S^T");
    static constexpr size_t K = 0, Q = K + C * P, V = Q + C * P, W = V + C * P, L = W + C * P, A = L + C * LP,
                            SC = A + C * LP, FLOATS = SC + Decay::FLOATS;
};

/* Warp w's part of the state in the accumulator layout (mma.cuh): tile n, register r holds
 * S[j][c] with j = 8 n + 2 i + r % 2, c = 16 w + g + 8 (r / 2). */
template <int D> struct StateRegs {
    float t[D / 8][4];
    /* (j, c) of tile n, register r */
    __device__ static int row(int n, int r, int i) { return 8 * n + 2 * i + r % 2; }
    __device__ static int col(int r, int w, int g) { return 16 * w + g + 8 * (r / 2); }
};

/* Block b runs sequence b.  With gamma_t = prod_{s <= t} (1 - alpha_s) inside a chunk (exp of a
 * prefix sum b_t of logs, so each ratio gamma_t / gamma_s, s <= t, is exp of a difference <= 0)
 * and u_t = theta_t (v_t - k_t S_{t-1}) token t's write (S_t = (1 - alpha_t) S_{t-1} + k_t^T u_t),
 * the chunk's writes solve
 *   (I + L) U = Theta V - Theta Gamma_prev K S_0,   L[t][s] = theta_t gamma_{t-1} / gamma_s <k_t, k_s> (s < t)
 * so U = U0 - W S_0 with U0, W the forward substitutions of Theta V and Theta Gamma_prev K; then
 *   y_t = gamma_t q_t S_0 + sum_{s <= t} gamma_t / gamma_s <q_t, k_s> u_s
 *   S   = gamma_last S_0 + sum_s gamma_last / gamma_s k_s^T u_s.
 * The products run transposed, the state's columns as rows: [W; Gamma Q] S_0 as S_0^T [W; Gamma
 * Q]^T, A U as U^T A^T, the state update as S^T = gamma_last S_0^T + U^T diag(F) K.
 * The Hebbian rule writes u_t = v_t: L = 0, W = 0, U0 = V. */
template <int D, bool ERROR>
__global__ void __launch_bounds__(ChunkFwd<D>::NT) chunk_kernel(RuleArgs a) {
    using B = ChunkFwd<D>;
    using SR = StateRegs<D>;
    constexpr int C = B::C, NT = B::NT, P = B::P, LP = B::LP, NTILES = B::NTILES;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sU = sV, *sW = sm + B::W;
    float *sL = sm + B::L, *sA = sm + B::A;
    const Decay dec = Decay::at(sm + B::SC);
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, g = lane / 4, i = lane % 4;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    const int c_lo = 16 * w + g; /* this lane's state columns: c_lo, c_lo + 8 */
    SR st;
    {
        const float *state0 = a.state_in + seq * a.state_len;
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int j = SR::row(n, r, i), c = SR::col(r, w, g);
                st.t[n][r] = j < d && c < d ? state0[(size_t)j * d + c] : 0.0f;
            }
    }
    /* token rows by float4 where they are unpadded and 16-byte aligned */
    const bool vec = d == D && (((uintptr_t)a.k | (uintptr_t)a.q | (uintptr_t)a.v) & 15) == 0;
    for (int t0 = 0, ch = 0; t0 < T; t0 += C, ch++) {
        __syncthreads();
        if (a.work) { /* the backward's checkpoint: the state at the chunk's start, (D, D) row-major */
            float *out = a.work + (seq * (size_t)chunks_of(T) + ch) * D * D;
#pragma unroll
            for (int n = 0; n < NTILES; n++)
#pragma unroll
                for (int r = 0; r < 4; r++) out[SR::row(n, r, i) * D + SR::col(r, w, g)] = st.t[n][r];
        }
        const float *gates = a.gates + seq * (size_t)T * a.n_gates;
        load_rows<D, NT>(sK, P, a.k + base, t0, T, d, vec, tid);
        load_rows<D, NT>(sQ, P, a.q + base, t0, T, d, vec, tid);
        load_rows<D, NT>(sV, P, a.v + base, t0, T, d, vec, tid);
        if (tid < 32) decay_scan<ERROR>(dec, gates, a.n_gates, t0, T, lane);
        prefetch_rows<NT>(a.k + base, t0 + C, T, d, tid);
        prefetch_rows<NT>(a.q + base, t0 + C, T, d, tid);
        prefetch_rows<NT>(a.v + base, t0 + C, T, d, tid);
        prefetch_rows<NT>(gates, t0 + C, T, a.n_gates, tid);
        __syncthreads();
        gram<D, NT, ERROR>(sK, P, sQ, P, dec, sL, sA, nullptr, tid);
        __syncthreads();
        {
            /* one right-hand side per thread: U0's column tid (in place of v's; then q's column
             * scaled into Gamma Q's), or W's column tid - D */
            float x[C];
            const int j = tid % D;
            if (ut_column<D, ERROR>(x, tid, sK, sV, P, dec, sL)) {
#pragma unroll
                for (int u = 0; u < C; u++) sW[u * P + j] = x[u];
            } else {
#pragma unroll
                for (int u = 0; u < C; u++) {
                    sU[u * P + j] = x[u];
                    sQ[u * P + j] *= dec.gam[u];
                }
            }
        }
        __syncthreads();
        /* S_0^T [W; Gamma Q]^T: this warp's 16 state columns by the 2C rows of [W; Gamma Q] (n-tiles
         * 0, 1: W's, turning U0 into U; 2, 3: Gamma Q's, the reads' first term), the state's
         * tiles as A fragments, [W; Gamma Q]'s rows j = 2 i, 2 i + 1 as B fragments */
        float acc[4][4] = {};
#pragma unroll /* st.t stays in registers only under constant indices */
        for (int n = 0; n < NTILES; n++) {
            FragA fa;
            fa.set(0, st.t[n][0]), fa.set(1, st.t[n][2]), fa.set(2, st.t[n][1]), fa.set(3, st.t[n][3]);
#pragma unroll
            for (int m = ERROR ? 0 : 2; m < 4; m++) { /* W = 0 for the Hebbian rule */
                const float2 x = *(const float2 *)((m < 2 ? sW : sQ) + (8 * (m % 2) + g) * P + 8 * n + 2 * i);
                FragB fb;
                fb.set(0, x.x), fb.set(1, x.y);
                mma3_tf32(acc[m], fa, fb);
            }
        }
        if (ERROR) /* U = U0 - W S_0: acc[m][r] is (W S_0)[t][c], t = 8 m + 2 i + r % 2 */
#pragma unroll
            for (int m = 0; m < 2; m++)
#pragma unroll
                for (int r = 0; r < 4; r++) sU[(8 * m + 2 * i + r % 2) * P + c_lo + 8 * (r / 2)] -= acc[m][r];
        __syncthreads();
        /* U^T's fragments (this warp's 16 columns of U, the chunk's tokens as k) for the reads and
         * the state update */
        FragA fu[2];
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const float *u = sU + (8 * s + i) * P + c_lo;
            fu[s].set(0, u[0]), fu[s].set(1, u[8]), fu[s].set(2, u[4 * P]), fu[s].set(3, u[4 * P + 8]);
        }
        if (a.y) { /* y^T = (Gamma Q S_0)^T + U^T A^T, A (C, C) lower triangular */
#pragma unroll
            for (int m = 2; m < 4; m++) {
#pragma unroll
                for (int s = 0; s < 2; s++) {
                    const float *at = sA + (8 * (m - 2) + g) * LP + 8 * s + i; /* A^T[k][n] = A[n][k] */
                    FragB fb;
                    fb.set(0, at[0]), fb.set(1, at[4]);
                    mma3_tf32(acc[m], fu[s], fb);
                }
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int t = t0 + 8 * (m - 2) + 2 * i + r % 2, c = c_lo + 8 * (r / 2);
                    if (t < T && c < d) a.y[base + (size_t)t * d + c] = acc[m][r];
                }
            }
        }
        /* S^T = gamma_last S_0^T + U^T diag(F) K */
        const float gamma = dec.end[0], f[4] = {dec.F[i], dec.F[i + 4], dec.F[i + 8], dec.F[i + 12]};
#pragma unroll
        for (int n = 0; n < NTILES; n++) {
#pragma unroll
            for (int r = 0; r < 4; r++) st.t[n][r] *= gamma;
#pragma unroll
            for (int s = 0; s < 2; s++) {
                const float *k = sK + (8 * s + i) * P + 8 * n + g;
                FragB fb;
                fb.set(0, f[2 * s] * k[0]), fb.set(1, f[2 * s + 1] * k[4 * P]);
                mma3_tf32(st.t[n], fu[s], fb);
            }
        }
    }
    if (!a.state) return;
    float *state = a.state + seq * a.state_len;
#pragma unroll
    for (int n = 0; n < NTILES; n++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int j = SR::row(n, r, i), c = SR::col(r, w, g);
            if (j < d && c < d) state[(size_t)j * d + c] = st.t[n][r];
        }
}

template <int D, bool ERROR> static cudaError_t chunk_forward_at(int n_seq, const RuleArgs &a) {
    return launch_with_smem(chunk_kernel<D, ERROR>, n_seq, ChunkFwd<D>::NT, ChunkFwd<D>::FLOATS * sizeof(float), a);
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
