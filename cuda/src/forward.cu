/* cuda/src/forward.cu — the forward kernels: the blocks of a sequence (one, or
 * PARTS of its columns each: columns.cuh) walk its T tokens with the state in
 * registers (each rule's step: rule_ops.cuh), tokens staged TILE at a time in
 * shared memory, reads of the block's columns written back a tile at a time;
 * a window (Atlas) lives as a ring in shared memory (window.cuh); a rule with one is
 * never split here (its backward may be: it only reads the incoming state). */
#include "dispatch.cuh"

namespace hct {

template <int RULE, int D, int PARTS>
__global__ void __launch_bounds__(Split<D, PARTS>::THREADS) forward_kernel(RuleArgs a) {
    using Ops = RuleOps<RULE>;
    /* a window is read from the state at the start and written back at the end: split, one
     * block could write it back before another of the sequence had read it */
    static_assert(PARTS == 1 || !Ops::WINDOW, "a rule with a window runs one block per sequence");
    constexpr int NT = Split<D, PARTS>::THREADS;
    extern __shared__ float smem[];
    float *sk = smem, *sv = sk + TILE * D, *sq = sv + TILE * D, *sy = sq + TILE * D, *sg = sy + TILE * D;
    float *wK = sg + TILE * GATE_SLOTS, *wV = wK + a.window * D;
    const int c0 = first_col<D, PARTS>(blockIdx.x), tid = threadIdx.x, i = c0 + col_of<D>(tid), p = lane_of<D>(tid);
    const int d = a.d, T = a.T;
    const size_t seq = seq_of<PARTS>(blockIdx.x), dd = (size_t)d * d;
    float *state = a.state + seq * a.state_len;
    float M[R], Z[R];
    load_matrix<D>(M, state, d, i, p);
    if (Ops::MATS == 2) load_matrix<D>(Z, state + dd, d, i, p);
    Ring ring = {wK, wV, a.window, 0};
    Ops::template ring_load<D>(ring, state, dd, d, tid);
    const size_t base = seq * (size_t)T * d, gbase = seq * (size_t)T * a.n_gates;
    for (int t0 = 0; t0 < T; t0 += TILE) {
        __syncthreads();
        load_tile(sk, a.k + base, t0, T, d, D, tid, NT);
        load_tile(sv, a.v + base, t0, T, d, D, tid, NT);
        load_tile(sq, a.q + base, t0, T, d, D, tid, NT);
        load_tile(sg, a.gates + gbase, t0, T, a.n_gates, GATE_SLOTS, tid, NT);
        __syncthreads();
        int n = T - t0 < TILE ? T - t0 : TILE;
        for (int tt = 0; tt < n; tt++) {
            const float *k = sk + tt * D, *v = sv + tt * D, *q = sq + tt * D, *g = sg + tt * GATE_SLOTS;
            float y = Ops::template step<D>(M, Z, k, v, q, g, i, p, tid, ring);
            if (p == 0) sy[tt * D + i] = y;
        }
        __syncthreads();
        store_tile(a.y + base, sy, t0, T, d, D, c0, Split<D, PARTS>::COLS, tid, NT);
    }
    store_matrix<D>(M, state, d, i, p);
    if (Ops::MATS == 2) store_matrix<D>(Z, state + dd, d, i, p);
    Ops::template ring_store<D>(ring, state, dd, d, tid);
}

template <int RULE, int D, int PARTS> static cudaError_t forward_parts(int n_seq, const RuleArgs &a) {
    size_t smem = ((size_t)4 * TILE * D + TILE * GATE_SLOTS + 2 * (size_t)a.window * D) * sizeof(float);
    return launch_with_smem(forward_kernel<RULE, D, PARTS>, n_seq * PARTS, Split<D, PARTS>::THREADS, smem, a);
}

struct ForwardLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (D == 128 && !RuleOps<RULE>::WINDOW)
            if (parts_for(D, n_seq) == SPLIT_PARTS) return forward_parts<RULE, D, SPLIT_PARTS>(n_seq, a);
        return forward_parts<RULE, D, 1>(n_seq, a);
    }
};

cudaError_t launch_forward(int rule, int n_seq, const RuleArgs &a) { return by_rule<ForwardLaunch>(rule, n_seq, a); }

} /* namespace hct */
