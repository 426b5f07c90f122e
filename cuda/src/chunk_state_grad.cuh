/* cuda/src/chunk_state_grad.cuh — the chunked backward's reverse walk (docs/CUDA.md "Chunked
 * backward"): one block per sequence carries the gradient dS of the state from the last chunk to
 * the first, in registers as the forward carries the state (chunk_regs.cuh, DECISIONS D85), and
 * stores per chunk dS at the chunk's end and the gradient dU of the chunk's writes, from which
 * chunk_backward.cu's kernel computes the rest of every chunk at once. */
#ifndef HECATE_CUDA_CHUNK_STATE_GRAD_CUH
#define HECATE_CUDA_CHUNK_STATE_GRAD_CUH
#include "chunk_regs.cuh"

namespace hct {

/* The rows and gates of the chunk at t0 that the walk reads, into L2 (none before the first). */
template <int NT> __device__ __forceinline__ void prefetch_walk(const RuleArgs &a, size_t seq, int t0, int tid) {
    if (t0 < 0) return;
    const size_t base = seq * (size_t)a.T * a.d;
    prefetch_rows<NT>(a.k + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.q + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.dy + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.gates + seq * (size_t)a.T * a.n_gates, t0, a.T, a.n_gates, tid);
}

/* Block b walks sequence b's chunks in reverse.  With dS the gradient of the chunk's end state
 * (zero after the last chunk), the forward's products (chunk_regs.cuh) give
 *   dU   = diag(F) K dS + A^T dY                    (through the end state and the reads)
 *   dS_0 = gamma_last dS + (Gamma Q)^T dY - W^T dU  (the gradient of the chunk's start state)
 * run transposed as the forward's, the state's columns as rows: dU^T = dS^T (F K)^T + dY^T A and
 * dS_0^T = gamma_last dS^T + dY^T Gamma Q - dU^T W; dS^T's tiles are the forward's layout
 * (ChunkRegs), so each warp's 16 columns of dU and dS_0 need no other warp's.  Shared memory as
 * the forward's, dy in v's place.  A NaN or Inf in a chunk's dy (value column c) reaches column c
 * of every dU of the chunk (A's zeros above the diagonal times it), where the token-by-token
 * backward keeps the tokens after it finite; column c of dS_0, and so of every chunk before, is
 * NaN in both (test_chunked_backward_keeps_a_nan_in_its_sequence_and_chunks). */
template <int D, bool ERROR>
__global__ void __launch_bounds__(ChunkRegs<D>::NT, 2) chunk_state_grad_kernel(RuleArgs a) {
    using B = ChunkRegs<D>;
    constexpr int C = B::C, NT = B::NT, P = B::P, LP = B::LP, NTILES = B::NTILES;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sK = sm + B::K, *sQ = sm + B::Q, *sDY = sm + B::V, *sW = sm + B::W, *sL = sm + B::L, *sA = sm + B::A;
    const Decay dec = Decay::at(sm + B::SC);
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, g = lane / 4, i = lane % 4;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d;
    const int c_lo = 16 * w + g, nc = chunks_of(T);
    const ChunkWork<D> work(a.work, seq, nc);
    const bool vec = rows_by_float4<D>(a) && ((uintptr_t)a.dy & 15) == 0;
    float ds[NTILES][4] = {}; /* dS^T, as the forward's st */
    for (int ch = nc - 1; ch >= 0; ch--) {
        const int t0 = ch * C;
        __syncthreads();
        float *grad = work.grad(ch);
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int r = 0; r < 4; r++) grad[B::row(n, r, i) * D + B::col(r, w, g)] = ds[n][r];
        load_rows<D, NT>(sK, P, a.k + base, t0, T, d, vec, tid);
        load_rows<D, NT>(sQ, P, a.q + base, t0, T, d, vec, tid);
        load_rows<D, NT>(sDY, P, a.dy + base, t0, T, d, vec, tid);
        if (tid < 32) decay_scan<ERROR>(dec, a.gates + seq * (size_t)T * a.n_gates, a.n_gates, t0, T, tid);
        prefetch_walk<NT>(a, seq, t0 - C, tid); /* the next chunk's, while this one computes */
        __syncthreads();
        gram_tensor<D, NT, P, ERROR>(sK, sQ, dec, sL, sA, tid);
        __syncthreads();
        {
            /* W's column j = tid (the delta rule), then k's column j scaled into F K's; q's column
             * tid - D into Gamma Q's */
            const int j = tid % D;
            if (tid < D) {
                if (ERROR) {
                    float x[C];
#pragma unroll
                    for (int u = 0; u < C; u++) x[u] = dec.theta[u] * dec.gprev[u] * sK[u * P + j];
                    solve_lower(x, sL);
#pragma unroll
                    for (int u = 0; u < C; u++) sW[u * P + j] = x[u];
                }
#pragma unroll
                for (int u = 0; u < C; u++) sK[u * P + j] *= dec.F[u];
            } else {
#pragma unroll
                for (int u = 0; u < C; u++) sQ[u * P + j] *= dec.gam[u];
            }
        }
        __syncthreads();
        /* dU^T = dS^T (F K)^T + dY^T A: acc[m][r] is dU[t][c], t = 8 m + 2 i + r % 2, c = c_lo + 8 (r / 2) */
        float acc[2][4] = {};
#pragma unroll
        for (int n = 0; n < NTILES; n++) {
            FragA fa;
            fa.set(0, ds[n][0]), fa.set(1, ds[n][2]), fa.set(2, ds[n][1]), fa.set(3, ds[n][3]);
#pragma unroll
            for (int m = 0; m < 2; m++) {
                const float2 x = *(const float2 *)(sK + (8 * m + g) * P + 8 * n + 2 * i);
                FragB fb;
                fb.set(0, x.x), fb.set(1, x.y);
                mma3_tf32(acc[m], fa, fb);
            }
        }
        FragA fy[2]; /* dY^T's fragments: this warp's 16 columns of dy, the chunk's tokens as k */
        column_frags<P>(fy, sDY, c_lo, i);
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int s = 0; s < 2; s++) {
                const float *at = sA + (8 * s + i) * LP + 8 * m + g; /* b[k][n] = A[k][n] */
                FragB fb;
                fb.set(0, at[0]), fb.set(1, at[4 * LP]);
                mma3_tf32(acc[m], fy[s], fb);
            }
        float *du = work.write_grads(ch);
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int r = 0; r < 4; r++) du[(8 * m + 2 * i + r % 2) * D + c_lo + 8 * (r / 2)] = acc[m][r];
        /* dS_0^T = gamma_last dS^T + dY^T Gamma Q, then - dU^T W with -dU^T's fragments straight
         * from acc (its columns 2 i, 2 i + 1 as the places i, i + 4: W's rows in that order); two
         * passes, so that dY^T's and dU^T's fragments are not live at once */
        const float ones[4] = {1.0f, 1.0f, 1.0f, 1.0f}; /* Gamma Q is scaled in place already */
        decay_add<NTILES, P>(ds, dec.end[0], fy, sQ, ones, g, i);
        if (ERROR) {
            FragA fu[2];
#pragma unroll
            for (int m = 0; m < 2; m++)
                fu[m].set(0, -acc[m][0]), fu[m].set(1, -acc[m][2]), fu[m].set(2, -acc[m][1]), fu[m].set(3, -acc[m][3]);
#pragma unroll
            for (int n = 0; n < NTILES; n++)
#pragma unroll
                for (int s = 0; s < 2; s++) {
                    const float *wr = sW + (8 * s + 2 * i) * P + 8 * n + g;
                    FragB fw;
                    fw.set(0, wr[0]), fw.set(1, wr[P]);
                    mma3_tf32(ds[n], fu[s], fw);
                }
        }
    }
}

} /* namespace hct */
#endif
