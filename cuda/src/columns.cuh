/* cuda/src/columns.cuh — the on-chip layout every rule kernel shares: one
 * sequence per block, each d x d matrix of its state (row-major S[j][i],
 * zero-padded to D) in registers, thread (i, p) holding column i at rows
 * j = r P + p (r < R, P = D / R lanes per column, adjacent in a warp), the
 * token tile staged in shared memory, and the three reductions: over a
 * column's lanes, over the columns of a row, over the whole block. */
#ifndef HECATE_CUDA_COLUMNS_CUH
#define HECATE_CUDA_COLUMNS_CUH
#include <cuda_runtime.h>
#include <stdint.h>

namespace hct {

constexpr int R = 16;    /* rows of one column a thread holds */
constexpr int TILE = 16; /* tokens staged per shared-memory load (and backward checkpoint interval) */
constexpr int GATE_SLOTS = 4;

template <int D> struct Cols {
    static constexpr int P = D / R;                 /* lanes per column */
    static constexpr int THREADS = D * P;           /* one block */
    static constexpr int WARP = THREADS < 32 ? THREADS : 32;
    static constexpr unsigned MASK = THREADS < 32 ? (1u << THREADS) - 1u : 0xffffffffu;
};

/* One launch: n_seq sequences of T tokens, every array (n_seq, T, d) except
 * gates (n_seq, T, n_gates); window: Atlas' c (0 for the other rules);
 * stream: the stream it is launched on (0: the legacy default stream). */
struct RuleArgs {
    int d, T, n_gates, window;
    size_t state_len;
    const float *k, *v, *q, *gates, *dy;
    const float *state_in;
    float *state, *y, *dk, *dv, *dq, *dgates, *work;
    cudaStream_t stream;
};

/* Sum over the P lanes of a column (every lane gets it). */
template <int D> __device__ __forceinline__ float column_sum(float x) {
#pragma unroll
    for (int o = Cols<D>::P / 2; o > 0; o >>= 1) x += __shfl_xor_sync(Cols<D>::MASK, x, o);
    return x;
}

/* red[j] += sum over columns of x, x being this thread's value for its row
 * r: a warp sums its columns, its first column's lanes add to shared memory. */
template <int D> __device__ __forceinline__ void row_add(float x, int r, int p, int lane, float *red) {
#pragma unroll
    for (int o = Cols<D>::P; o < Cols<D>::WARP; o <<= 1) x += __shfl_xor_sync(Cols<D>::MASK, x, o);
    if (lane < Cols<D>::P) atomicAdd(&red[r * Cols<D>::P + p], x);
}

/* *red += sum over the block of x. */
template <int D> __device__ __forceinline__ void block_add(float x, int lane, float *red) {
#pragma unroll
    for (int o = Cols<D>::WARP / 2; o > 0; o >>= 1) x += __shfl_xor_sync(Cols<D>::MASK, x, o);
    if (lane == 0) atomicAdd(red, x);
}

/* Matrix m of a sequence's state (row-major d x d) into / out of registers. */
template <int D> __device__ __forceinline__ void load_matrix(float (&S)[R], const float *src, int d, int i, int p) {
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = r * Cols<D>::P + p;
        S[r] = (i < d && j < d) ? src[(size_t)j * d + i] : 0.0f;
    }
}

template <int D> __device__ __forceinline__ void store_matrix(const float (&S)[R], float *dst, int d, int i, int p) {
#pragma unroll
    for (int r = 0; r < R; r++) {
        int j = r * Cols<D>::P + p;
        if (i < d && j < d) dst[(size_t)j * d + i] = S[r];
    }
}

/* Registers to / from a thread-major work slot (coalesced; each thread reads back its own). */
template <int D> __device__ __forceinline__ void spill(const float (&S)[R], float *slot, int tid) {
#pragma unroll
    for (int r = 0; r < R; r++) slot[r * Cols<D>::THREADS + tid] = S[r];
}

template <int D> __device__ __forceinline__ void unspill(float (&S)[R], const float *slot, int tid) {
#pragma unroll
    for (int r = 0; r < R; r++) S[r] = slot[r * Cols<D>::THREADS + tid];
}

/* Tokens t0 .. t0+TILE of one sequence's (T, width) array into a (TILE, pitch)
 * shared tile, zeros past T and past width. */
__device__ __forceinline__ void load_tile(float *dst, const float *src, int t0, int T, int width, int pitch,
                                          int tid, int nthreads) {
    for (int at = tid; at < TILE * pitch; at += nthreads) {
        int tt = at / pitch, c = at % pitch, t = t0 + tt;
        dst[at] = (t < T && c < width) ? src[(size_t)t * width + c] : 0.0f;
    }
}

__device__ __forceinline__ void store_tile(float *dst, const float *src, int t0, int T, int width, int pitch,
                                           int tid, int nthreads) {
    for (int at = tid; at < TILE * pitch; at += nthreads) {
        int tt = at / pitch, c = at % pitch, t = t0 + tt;
        if (t < T && c < width) dst[(size_t)t * width + c] = src[at];
    }
}

/* The row j this thread holds as its r-th value. */
template <int D> __device__ __forceinline__ int row_of(int r, int p) { return r * Cols<D>::P + p; }

} /* namespace hct */
#endif
