/* cuda/src/columns.cuh — the on-chip layout every rule kernel shares: each
 * d x d matrix of a sequence's state (row-major S[j][i], zero-padded to D) in
 * registers, thread (i, p) holding column i at rows j = r P + p (r < R,
 * P = D / R lanes per column, in one warp; col_of / lane_of say which thread
 * is which); a sequence's columns in one
 * block or split over several (the rules' steps never mix columns: only the
 * backward's row and gate sums do, and a split block leaves those as partials); the token
 * tile staged in shared memory, and the three reductions: over a column's
 * lanes, over the block's columns of a row, over the whole block. */
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
    static constexpr int THREADS = D * P;           /* one block of all columns */
    static constexpr int WARP = THREADS < 32 ? THREADS : 32;
    static constexpr unsigned MASK = THREADS < 32 ? (1u << THREADS) - 1u : 0xffffffffu;
};

/* A sequence's columns split over PARTS blocks of COLS columns each (PARTS = 1: one block
 * of all of them).  A split block has at least a warp, so Cols' WARP and MASK hold for it,
 * and at least D threads, so it can write a row of D in one pass (window rows). */
template <int D, int PARTS> struct Split {
    static constexpr int COLS = D / PARTS;
    static constexpr int THREADS = COLS * Cols<D>::P;
    static_assert(PARTS == 1 || (THREADS >= 32 && THREADS >= D), "a split block too small");
};

/* The split of D = 128 (DECISIONS D61): one block of all columns is 1024 threads, capped at
 * 64 registers, and spills the state arrays; a quarter of the columns is 256 threads and
 * does not.  Used for fewer than SPLIT_BELOW sequences (about the SM count of an H100 or
 * H200), where one block per sequence would leave SMs idle; with more, the whole-column
 * blocks measured faster (fewer registers per thread, more blocks per SM, no partial sums).
 * The forward of a rule with a window (Atlas) is never split (forward.cu). */
constexpr int SPLIT_PARTS = 4, SPLIT_BELOW = 128;
inline int parts_for(int D, int n_seq) { return D == 128 && n_seq < SPLIT_BELOW ? SPLIT_PARTS : 1; }

/* Scalars of one block's partial sums in the backward's work when a sequence is split:
 * its dq, dk (T x d each) and gate gradients (T x GATE_SLOTS at most). */
__host__ __device__ inline size_t partial_len(int T, int d) { return (size_t)T * (2 * (size_t)d + GATE_SLOTS); }

/* The sequence, and the first of the columns, block b works on. */
template <int PARTS> __device__ __forceinline__ size_t seq_of(int b) { return (size_t)(b / PARTS); }
template <int D, int PARTS> __device__ __forceinline__ int first_col(int b) {
    return (b % PARTS) * Split<D, PARTS>::COLS;
}

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

/* Thread tid of a block holds column col_of(tid) of the block's columns at lane lane_of(tid):
 * bit 0 of tid picks one column of a pair, the next log2(P) bits the lane, the bits above the
 * pair.  The two threads of a pair read the same rows of k and q from shared memory every
 * token, which the load pipe returns at twice the rate of two addresses (D73). */
template <int D> __device__ __forceinline__ int col_of(int tid) {
    return (tid / (2 * Cols<D>::P)) * 2 + (tid & 1);
}
template <int D> __device__ __forceinline__ int lane_of(int tid) { return (tid >> 1) % Cols<D>::P; }

/* Sum over the P lanes of a column (every lane gets it): the lane bits of tid are 1 .. log2 P. */
template <int D> __device__ __forceinline__ float column_sum(float x) {
#pragma unroll
    for (int o = Cols<D>::P; o > 1; o >>= 1) x += __shfl_xor_sync(Cols<D>::MASK, x, o);
    return x;
}

/* red[j] += sum over columns of x, x being this thread's value for its row
 * r: a warp sums its columns (tid bit 0 and the bits above the lane's), the
 * lanes of its first column add to shared memory. */
template <int D> __device__ __forceinline__ void row_add(float x, int r, int p, int lane, float *red) {
    x += __shfl_xor_sync(Cols<D>::MASK, x, 1);
#pragma unroll
    for (int o = 2 * Cols<D>::P; o < Cols<D>::WARP; o <<= 1) x += __shfl_xor_sync(Cols<D>::MASK, x, o);
    if ((lane & 1) == 0 && lane < 2 * Cols<D>::P) atomicAdd(&red[r * Cols<D>::P + p], x);
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

/* Registers to / from a thread-major work slot of a block of NT threads (coalesced; each
 * thread reads back its own). */
template <int NT> __device__ __forceinline__ void spill(const float (&S)[R], float *slot, int tid) {
#pragma unroll
    for (int r = 0; r < R; r++) slot[r * NT + tid] = S[r];
}

template <int NT> __device__ __forceinline__ void unspill(float (&S)[R], const float *slot, int tid) {
#pragma unroll
    for (int r = 0; r < R; r++) S[r] = slot[r * NT + tid];
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

/* Columns c0 .. c0+n of a (TILE, pitch) shared tile into tokens t0 .. t0+TILE
 * of one sequence's (T, width) array, none past T or width. */
__device__ __forceinline__ void store_tile(float *dst, const float *src, int t0, int T, int width, int pitch, int c0,
                                           int n, int tid, int nthreads) {
    for (int at = tid; at < TILE * n; at += nthreads) {
        int tt = at / n, c = c0 + at % n, t = t0 + tt;
        if (t < T && c < width) dst[(size_t)t * width + c] = src[tt * pitch + c];
    }
}

/* The row j this thread holds as its r-th value. */
template <int D> __device__ __forceinline__ int row_of(int r, int p) { return r * Cols<D>::P + p; }

} /* namespace hct */
#endif
