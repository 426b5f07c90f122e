/* cuda/src/chunk_tensor.cuh — the chunked forward of the delta and Hebbian rules with its three
 * state products on the tensor cores in float32 accuracy (docs/CUDA.md "Tensor cores in float32
 * accuracy"; DECISIONS D76), for padded width 128 (chunk_forward.cu picks it; at 64 the CUDA-core
 * form measured faster): one block per sequence holds the whole state in shared memory. */
#ifndef HECATE_CUDA_CHUNK_TENSOR_CUH
#define HECATE_CUDA_CHUNK_TENSOR_CUH
#include "chunk.cuh"
#include "mma.cuh"

namespace hct {

/* The block at padded width D: NT = 2 D threads, NW = D / 16 warps.  Shared memory, in floats:
 * the state (D, D), its row j's columns permuted by c -> c ^ 8 (j mod 4) (D >= 32; j mod 2
 * below) so that the tensor-core fragments read it without bank conflicts; token rows k and v
 * (v turns into U) of pitch PB = D + 8 (read as 8 x 8 B fragments: rows i, columns g); q (turns
 * into Gamma Q) and W of pitch PA = D + 4 (read as A fragments: rows g, columns i); L and A
 * (C, LP); the chunk's Decay.  At D = 128 the block takes 103 KB: two fit an SM. */
template <int D> struct ChunkFwd {
    static constexpr int C = CHUNK, NT = 2 * D, NW = NT / 32, PA = D + 4, PB = D + 8, LP = C + 4;
    static constexpr int SWIZZLE = D >= 32 ? 3 : 1, NTILES = D / 8; /* n-tiles of 8 columns a row strip */
    static_assert(NW * 32 == NT && 4 * NW == 2 * NTILES, "four tiles of [W; Gamma Q] S_0 a warp");
    static constexpr size_t S = 0, K = S + (size_t)D * D, V = K + C * PB, Q = V + C * PB, W = Q + C * PA,
                            L = W + C * PA, A = L + C * LP, SC = A + C * LP, FLOATS = SC + Decay::FLOATS;
    /* where element (j, c) of the state lives */
    __device__ static int at(int j, int c) { return j * D + (c ^ ((j & SWIZZLE) << 3)); }
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
__global__ void __launch_bounds__(ChunkFwd<D>::NT) chunk_tensor_kernel(RuleArgs a) {
    using B = ChunkFwd<D>;
    constexpr int C = B::C, NT = B::NT, PA = B::PA, PB = B::PB, LP = B::LP, NTILES = B::NTILES;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sS = sm + B::S, *sK = sm + B::K, *sV = sm + B::V, *sU = sV, *sQ = sm + B::Q, *sW = sm + B::W;
    float *sL = sm + B::L, *sA = sm + B::A;
    const Decay dec = Decay::at(sm + B::SC);
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, g = lane / 4, i = lane % 4;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    const float *state0 = a.state_in + seq * a.state_len;
    /* whole rows by float4 where the state is unpadded and 16-byte aligned */
    const bool state_vec = d == D && ((uintptr_t)state0 & 15) == 0;
    if (state_vec) {
#pragma unroll
        for (int r = 0; r < D * D / 4 / NT; r++) {
            const int at = tid + r * NT, j = at / (D / 4), c = 4 * (at % (D / 4));
            *(float4 *)(sS + B::at(j, c)) = ((const float4 *)state0)[at];
        }
    } else {
        for (int at = tid; at < D * D; at += NT) {
            const int j = at / D, c = at % D;
            sS[B::at(j, c)] = j < d && c < d ? state0[(size_t)j * d + c] : 0.0f;
        }
    }
    const bool vec = rows_by_float4<D>(a);
    const bool y_pairs = d % 2 == 0 && ((uintptr_t)a.y & 7) == 0;
    for (int t0 = 0, ch = 0; t0 < T; t0 += C, ch++) {
        __syncthreads();
        if (a.work) { /* the backward's checkpoint: the state at the chunk's start, rows in order */
            float4 *out = (float4 *)(a.work + (seq * (size_t)chunks_of(T) + ch) * D * D);
#pragma unroll
            for (int r = 0; r < D * D / 4 / NT; r++) {
                const int at = tid + r * NT;
                out[at] = *(const float4 *)(sS + B::at(at / (D / 4), 4 * (at % (D / 4))));
            }
        }
        load_chunk<D, NT, ERROR>(a, seq, t0, vec, sK, PB, sQ, PA, sV, PB, dec, tid);
        prefetch_chunk<NT>(a, seq, t0 + C, tid); /* the next chunk's, while this one computes */
        __syncthreads();
        gram<D, NT, ERROR>(sK, PB, sQ, PA, dec, sL, sA, false, nullptr, tid);
        __syncthreads();
        {
            /* one right-hand side per thread: U0's column tid (in place of v's; then q's column
             * scaled into Gamma Q's), or W's column tid - D */
            float x[C];
            const int j = tid % D;
            if (ut_column<D, ERROR>(x, tid, sK, sV, PB, dec, sL)) {
#pragma unroll
                for (int u = 0; u < C; u++) sW[u * PA + j] = x[u];
            } else {
#pragma unroll
                for (int u = 0; u < C; u++) {
                    sU[u * PB + j] = x[u];
                    sQ[u * PA + j] *= dec.gam[u];
                }
            }
        }
        __syncthreads();
        /* [W; Gamma Q] S_0, (2C, D): tiles of 16 rows by 8 columns, four a warp; row strip 0 (W S_0)
         * turns U0 into U, strip 1 starts the reads */
        float acc[4][4] = {};
#pragma unroll 2
        for (int k0 = 0; k0 < D; k0 += 8) {
            FragA fa;
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int tile = 4 * w + r, strip = tile / NTILES, n0 = 8 * (tile % NTILES);
                if (!ERROR && strip == 0) continue; /* W = 0 */
                if (r == 0 || (NTILES < 4 && tile % NTILES == 0)) {
                    const float *lhs = strip ? sQ : sW;
                    fa.set(0, lhs[g * PA + k0 + i]);
                    fa.set(1, lhs[(g + 8) * PA + k0 + i]);
                    fa.set(2, lhs[g * PA + k0 + i + 4]);
                    fa.set(3, lhs[(g + 8) * PA + k0 + i + 4]);
                }
                FragB fb;
                fb.set(0, sS[B::at(k0 + i, n0 + g)]);
                fb.set(1, sS[B::at(k0 + i + 4, n0 + g)]);
                mma3_tf32(acc[r], fa, fb);
            }
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int tile = 4 * w + r, n0 = 8 * (tile % NTILES);
            if (ERROR && tile / NTILES == 0) {
                float *u0 = sU + g * PB + n0 + 2 * i, *u8 = u0 + 8 * PB;
                u0[0] -= acc[r][0], u0[1] -= acc[r][1], u8[0] -= acc[r][2], u8[1] -= acc[r][3];
            }
        }
        __syncthreads();
        /* the reads: y = Gamma Q S_0 + A U, A (C, C) lower triangular */
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int tile = 4 * w + r, n0 = 8 * (tile % NTILES);
            if (tile / NTILES != 1 || !a.y) continue;
            /* U's rows k0 + i, k0 + i + 4 in column n0 + g: this lane's B fragments */
            const float ub[4] = {sU[i * PB + n0 + g], sU[(i + 4) * PB + n0 + g], sU[(8 + i) * PB + n0 + g],
                                 sU[(12 + i) * PB + n0 + g]};
            const bool finite = isfinite(ub[0]) && isfinite(ub[1]) && isfinite(ub[2]) && isfinite(ub[3]);
            if (__all_sync(0xffffffffu, finite)) {
#pragma unroll
                for (int k0 = 0; k0 < C; k0 += 8) {
                    FragA fa;
                    fa.set(0, sA[g * LP + k0 + i]);
                    fa.set(1, sA[(g + 8) * LP + k0 + i]);
                    fa.set(2, sA[g * LP + k0 + i + 4]);
                    fa.set(3, sA[(g + 8) * LP + k0 + i + 4]);
                    FragB fb;
                    fb.set(0, ub[k0 / 4]);
                    fb.set(1, ub[k0 / 4 + 1]);
                    mma3_tf32(acc[r], fa, fb);
                }
            } else {
                /* A's zeros above the diagonal times a NaN or Inf row of U would be NaN in every
                 * row of the product: the tile's reads over s <= t only, so that the tokens
                 * before that row keep their values (test_chunked_forward_passes_nan_on) */
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int t = g + 8 * (e / 2), c = n0 + 2 * i + e % 2;
                    for (int u = 0; u <= t; u++) acc[r][e] += sA[t * LP + u] * sU[u * PB + c];
                }
            }
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int t = t0 + g + 8 * h, c = n0 + 2 * i;
                if (t >= T) continue;
                float *out = a.y + base + (size_t)t * d + c;
                if (y_pairs && c < d) {
                    *(float2 *)out = make_float2(acc[r][2 * h], acc[r][2 * h + 1]);
                } else {
                    if (c < d) out[0] = acc[r][2 * h];
                    if (c + 1 < d) out[1] = acc[r][2 * h + 1];
                }
            }
        }
        /* S = gamma_last S_0 + K^T diag(F) U: warp w's 16 rows m0 .., every column (every read of
         * S_0 was before the sync) */
        const int m0 = 16 * w;
        FragA fk[2];
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const int k0 = 8 * s;
            fk[s].set(0, sK[(k0 + i) * PB + m0 + g]);
            fk[s].set(1, sK[(k0 + i) * PB + m0 + g + 8]);
            fk[s].set(2, sK[(k0 + i + 4) * PB + m0 + g]);
            fk[s].set(3, sK[(k0 + i + 4) * PB + m0 + g + 8]);
        }
        const float gamma = dec.end[0], f[4] = {dec.F[i], dec.F[i + 4], dec.F[i + 8], dec.F[i + 12]};
#pragma unroll 4
        for (int n = 0; n < NTILES; n++) {
            const int n0 = 8 * n;
            float2 *row0 = (float2 *)(sS + B::at(m0 + g, n0 + 2 * i)), *row8 = (float2 *)(sS + B::at(m0 + g + 8, n0 + 2 * i));
            const float2 s0 = *row0, s8 = *row8;
            float c4[4] = {gamma * s0.x, gamma * s0.y, gamma * s8.x, gamma * s8.y};
#pragma unroll
            for (int s = 0; s < 2; s++) {
                FragB fb;
                fb.set(0, f[2 * s] * sU[(8 * s + i) * PB + n0 + g]);
                fb.set(1, f[2 * s + 1] * sU[(8 * s + i + 4) * PB + n0 + g]);
                mma3_tf32(c4, fk[s], fb);
            }
            *row0 = make_float2(c4[0], c4[1]);
            *row8 = make_float2(c4[2], c4[3]);
        }
    }
    __syncthreads();
    if (!a.state) return;
    float *state = a.state + seq * a.state_len;
    if (d == D && ((uintptr_t)state & 15) == 0) {
#pragma unroll
        for (int r = 0; r < D * D / 4 / NT; r++) {
            const int at = tid + r * NT;
            ((float4 *)state)[at] = *(const float4 *)(sS + B::at(at / (D / 4), 4 * (at % (D / 4))));
        }
    } else {
        for (int at = tid; at < D * D; at += NT) {
            const int j = at / D, c = at % D;
            if (j < d && c < d) state[(size_t)j * d + c] = sS[B::at(j, c)];
        }
    }
}

} /* namespace hct */
#endif
