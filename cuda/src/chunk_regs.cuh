/* cuda/src/chunk_regs.cuh — the chunked forward of the delta and Hebbian rules with the state in
 * registers (docs/CUDA.md "Chunked forward"; MATH §3.2, §3.4): one block per
 * sequence, each warp holding 16 of the state's columns as tensor-core accumulator tiles, which
 * the state's three products per chunk take as operands without a trip through shared memory
 * (mma.cuh: TF32 products in float32 accuracy; DECISIONS D83). */
#ifndef HECATE_CUDA_CHUNK_REGS_CUH
#define HECATE_CUDA_CHUNK_REGS_CUH
#include "chunk.cuh"
#include "mma.cuh"

namespace hct {

/* The block at padded width D: NT = 2 D threads, NW = D / 16 warps (one right-hand side of the
 * UT transform a thread).  Shared memory, in floats: token rows k, q (turns into Gamma Q), v
 * (turns into U) and W, each (C, P) with P = D + 8 (a lane's two adjacent floats of eight rows
 * fall in distinct banks); L and A (C, LP); the chunk's Decay: 38 KB at D = 128. */
template <int D> struct ChunkRegs {
    static constexpr int C = CHUNK, NT = 2 * D, NW = NT / 32, P = D + 8, LP = C + 4, NTILES = D / 8;
    static_assert(NW * 16 == D, "a warp holds 16 of the state's columns");
    static constexpr size_t K = 0, Q = K + C * P, V = Q + C * P, W = V + C * P, L = W + C * P, A = L + C * LP,
                            SC = A + C * LP, FLOATS = SC + Decay::FLOATS;
    /* Warp w's part of the state, S^T's rows 16 w .. 16 w + 15 as NTILES accumulator tiles of
     * 16 x 8: tile n, register r holds S[j][c] with j = 8 n + 2 i + r % 2, c = 16 w + g + 8 (r / 2)
     * (g = lane / 4, i = lane % 4).  Columns 2 i, 2 i + 1 of an accumulator tile are the places
     * i, i + 4 of an A fragment: a product over j may take j in that order (pairs of adjacent j). */
    __device__ static int row(int n, int r, int i) { return 8 * n + 2 * i + r % 2; }
    __device__ static int col(int r, int w, int g) { return 16 * w + g + 8 * (r / 2); }
};

/* The A fragment of rows g and g + 8 of a 16 x 8 block whose sum index k takes the fragment
 * places i, i + 4 as k = 2 i, 2 i + 1 (`top`, `bottom`: those rows at k = 2 i): every lane reads two
 * adjacent floats a row; the B fragment takes the same order. */
__device__ __forceinline__ FragA pair_frag(const float *top, const float *bottom) {
    const float2 a0 = *(const float2 *)top, a1 = *(const float2 *)bottom;
    FragA fa;
    fa.set(0, a0.x), fa.set(1, a1.x), fa.set(2, a0.y), fa.set(3, a1.y);
    return fa;
}

/* c += X Y^T for one warp's 16 x 8 tile: rows 0 .. 15 of X by rows n0 .. n0 + 7 of Y (pitch P),
 * over D: the accumulator's (g + 8 (r / 2), n0 + 2 i + r % 2) in c[r].  The sum over k takes k =
 * 2 i, 2 i + 1 in the fragment places of i, i + 4 (pair_frag). */
template <int D, int P>
__device__ __forceinline__ void tile_xyT(float (&c)[4], const float *X, const float *Y, int n0, int g, int i) {
    const float *top = X + g * P + 2 * i, *bottom = top + 8 * P, *right = Y + (n0 + g) * P + 2 * i;
#pragma unroll 4
    for (int k0 = 0; k0 < D; k0 += 8) {
        const FragA fa = pair_frag(top + k0, bottom + k0);
        const float2 b = *(const float2 *)(right + k0);
        FragB fb;
        fb.set(0, b.x), fb.set(1, b.y);
        mma3_tf32(c, fa, fb);
    }
}

/* The chunk's Gram products on the tensor cores, K K^T and Q K^T (C x C each, two 16 x 8 tiles
 * each, rows of pitch P), a tile a warp, into L and A (C x LP: chunk.cuh's l_entry, a_entry; on
 * the CUDA cores they ran the forward at 1/1.35 of the speed, D83), and K K^T itself into KK when
 * given. */
template <int D, int NT, int P, bool ERROR>
__device__ __forceinline__ void gram_tensor(const float *sK, const float *sQ, const Decay &s, float *L, float *A,
                                            int tid, float *KK = nullptr) {
    constexpr int LP = CHUNK + 4, NW = NT / 32;
    const int lane = tid % 32, g = lane / 4, i = lane % 4;
    for (int tile = tid / 32; tile < 4; tile += NW) {
        const bool qk = tile >= 2;
        const int n0 = 8 * (tile % 2);
        float c[4] = {};
        tile_xyT<D, P>(c, qk ? sQ : sK, sK, n0, g, i);
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int t = g + 8 * (r / 2), u = n0 + 2 * i + r % 2;
            if (qk) A[t * LP + u] = a_entry(s, t, u, c[r]);
            else {
                L[t * LP + u] = l_entry<ERROR>(s, t, u, c[r]);
                if (KK) KK[t * LP + u] = c[r];
            }
        }
    }
}

/* The reads' second term for this lane's eight outputs, over s <= t on the CUDA cores: out[e] =
 * sum_{s <= t} A[t][s] U[s][c] with t = 8 (e / 4) + 2 i + e % 2, c = c_lo + 8 (e % 4 / 2).  Not
 * unrolled, into local memory: the rare path (a NaN or Inf in U) adds no registers to the
 * kernel's (unrolled, it took 40 more at D = 128: one block an SM instead of two). */
template <int LP, int P>
__device__ __forceinline__ void reads_below_diagonal(float (&out)[8], const float *sA, const float *sU, int c_lo,
                                                     int i) {
#pragma unroll 1
    for (int e = 0; e < 8; e++) {
        const int t = 8 * (e / 4) + 2 * i + e % 2, c = c_lo + 8 * (e % 4 / 2);
        float sum = 0.0f;
#pragma unroll 1
        for (int s = 0; s <= t; s++) sum += sA[t * LP + s] * sU[s * P + c];
        out[e] = sum;
    }
}

/* acc[2 + m][r] (m = 0, 1: the chunk's tokens 8 m + 2 i + r % 2; columns c_lo + 8 (r / 2)) += the
 * reads' second term, (A U)[t][c] = sum_{s <= t} A[t][s] U[s][c], A lower triangular.  On the
 * tensor cores as U^T A^T, U^T's fragments fu (`finite`: this lane's are); where a warp's
 * fragments hold a NaN or Inf, A's zeros above the diagonal times it would be NaN in every token
 * of the product, so that warp sums over s <= t on the CUDA cores and the tokens before the bad
 * row keep their values (test_chunked_forward_passes_nan_on). */
template <int LP, int P>
__device__ __forceinline__ void add_reads(float (&acc)[4][4], const FragA (&fu)[2], bool finite, const float *sA,
                                          const float *sU, int c_lo, int g, int i) {
    if (__all_sync(0xffffffffu, finite)) {
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int s = 0; s < 2; s++) {
                const float *at = sA + (8 * m + g) * LP + 8 * s + i; /* A^T[k][n] = A[n][k] */
                FragB fb;
                fb.set(0, at[0]), fb.set(1, at[4]);
                mma3_tf32(acc[2 + m], fu[s], fb);
            }
        return;
    }
    float out[8];
    reads_below_diagonal<LP, P>(out, sA, sU, c_lo, i);
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int r = 0; r < 4; r++) acc[2 + m][r] += out[4 * m + r];
}

/* X^T's A fragments for one warp (fx[s], s = 0, 1: the chunk's tokens 8 s + i, 8 s + i + 4 as k;
 * the warp's columns c_lo, c_lo + 8 of the (C, P) rows X); returns whether this lane's values are
 * finite. */
template <int P> __device__ __forceinline__ bool column_frags(FragA (&fx)[2], const float *X, int c_lo, int i) {
    bool finite = true;
#pragma unroll
    for (int s = 0; s < 2; s++) {
        const float *xs = X + (8 * s + i) * P + c_lo;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const float x = xs[(r / 2) * 4 * P + 8 * (r % 2)]; /* X[8 s + i (+4)][c_lo (+8)] */
            finite = finite && isfinite(x);
            fx[s].set(r, x);
        }
    }
    return finite;
}

/* st = gamma st + X^T diag(scale) Y on one warp's accumulator tiles (the state's layout,
 * ChunkRegs::row/col): X^T's fragments fx (column_frags), the chunk's (C, P) rows Y, token
 * 8 s + i (+4) scaled by scale[2 s (+1)].  The forward's S^T = gamma_last S_0^T + U^T diag(F) K
 * and the reverse walk's first term of dS_0^T, gamma_last dS^T + dY^T Gamma Q. */
template <int NTILES, int P>
__device__ __forceinline__ void decay_add(float (&st)[NTILES][4], float gamma, const FragA (&fx)[2], const float *Y,
                                          const float (&scale)[4], int g, int i) {
#pragma unroll
    for (int n = 0; n < NTILES; n++) {
#pragma unroll
        for (int r = 0; r < 4; r++) st[n][r] *= gamma;
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const float *y = Y + (8 * s + i) * P + 8 * n + g;
            FragB fb;
            fb.set(0, scale[2 * s] * y[0]), fb.set(1, scale[2 * s + 1] * y[4 * P]);
            mma3_tf32(st[n], fx[s], fb);
        }
    }
}

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
__global__ void __launch_bounds__(ChunkRegs<D>::NT) chunk_regs_kernel(RuleArgs a) {
    using B = ChunkRegs<D>;
    constexpr int C = B::C, NT = B::NT, P = B::P, LP = B::LP, NTILES = B::NTILES;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sU = sV, *sW = sm + B::W;
    float *sL = sm + B::L, *sA = sm + B::A;
    const Decay dec = Decay::at(sm + B::SC);
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, g = lane / 4, i = lane % 4;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    const int c_lo = 16 * w + g; /* this lane's state columns: c_lo, c_lo + 8 */
    float st[NTILES][4];
    {
        const float *state0 = a.state_in + seq * a.state_len;
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int j = B::row(n, r, i), c = B::col(r, w, g);
                st[n][r] = j < d && c < d ? state0[(size_t)j * d + c] : 0.0f;
            }
    }
    const bool vec = rows_by_float4<D>(a);
    for (int t0 = 0, ch = 0; t0 < T; t0 += C, ch++) {
        __syncthreads();
        if (a.work) { /* the backward's checkpoint: the state at the chunk's start */
            float *out = ChunkWork<D>(a.work, seq, chunks_of(T)).state(ch);
#pragma unroll
            for (int n = 0; n < NTILES; n++)
#pragma unroll
                for (int r = 0; r < 4; r++) out[B::row(n, r, i) * D + B::col(r, w, g)] = st[n][r];
        }
        load_chunk<D, NT, ERROR>(a, seq, t0, vec, sK, P, sQ, P, sV, P, dec, tid);
        prefetch_chunk<NT>(a, seq, t0 + C, tid); /* the next chunk's, while this one computes */
        __syncthreads();
        gram_tensor<D, NT, P, ERROR>(sK, sQ, dec, sL, sA, tid);
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
         * tiles as A fragments, [W; Gamma Q]'s columns 2 i, 2 i + 1 as B fragments */
        float acc[4][4] = {};
#pragma unroll /* st stays in registers only under constant indices */
        for (int n = 0; n < NTILES; n++) {
            FragA fa;
            fa.set(0, st[n][0]), fa.set(1, st[n][2]), fa.set(2, st[n][1]), fa.set(3, st[n][3]);
#pragma unroll
            for (int m = ERROR ? 0 : 2; m < 4; m++) { /* W = 0 for the Hebbian rule */
                const float2 x = *(const float2 *)((m < 2 ? sW : sQ) + (8 * (m % 2) + g) * P + 8 * n + 2 * i);
                FragB fb;
                fb.set(0, x.x), fb.set(1, x.y);
                mma3_tf32(acc[m], fa, fb);
            }
        }
        if (ERROR) { /* U = U0 - W S_0: acc[m][r] is (W S_0)[t][c], t = 8 m + 2 i + r % 2; and the backward's U */
            float *keep = a.work ? ChunkWork<D>(a.work, seq, chunks_of(T)).writes(ch) : nullptr;
#pragma unroll
            for (int m = 0; m < 2; m++)
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int t = 8 * m + 2 * i + r % 2, c = c_lo + 8 * (r / 2);
                    const float u = sU[t * P + c] - acc[m][r];
                    sU[t * P + c] = u;
                    if (keep) keep[t * D + c] = u;
                }
        }
        __syncthreads();
        /* U^T's fragments (this warp's 16 columns of U, the chunk's tokens as k) for the reads and
         * the state update */
        FragA fu[2];
        const bool finite = column_frags<P>(fu, sU, c_lo, i);
        if (a.y) { /* y^T = (Gamma Q S_0)^T + U^T A^T */
            add_reads<LP, P>(acc, fu, finite, sA, sU, c_lo, g, i);
#pragma unroll
            for (int m = 0; m < 2; m++)
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int t = t0 + 8 * m + 2 * i + r % 2, c = c_lo + 8 * (r / 2);
                    if (t < T && c < d) a.y[base + (size_t)t * d + c] = acc[2 + m][r];
                }
        }
        /* S^T = gamma_last S_0^T + U^T diag(F) K */
        const float f[4] = {dec.F[i], dec.F[i + 4], dec.F[i + 8], dec.F[i + 12]};
        decay_add<NTILES, P>(st, dec.end[0], fu, sK, f, g, i);
    }
    if (!a.state) return;
    float *state = a.state + seq * a.state_len;
#pragma unroll
    for (int n = 0; n < NTILES; n++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int j = B::row(n, r, i), c = B::col(r, w, g);
            if (j < d && c < d) state[(size_t)j * d + c] = st[n][r];
        }
}

} /* namespace hct */
#endif
