/* cuda/src/backward.cu — the backward kernels (each rule's reverse step through
 * RuleOps, rule_ops.cuh; MATH §7): the blocks of a sequence (one, or PARTS of its
 * columns each: columns.cuh; their partial row and gate sums are added in part
 * order by a second kernel, so every output is one fixed sum).  A forward sweep keeps a
 * checkpoint of the state every TILE tokens in the work buffer; the reverse
 * sweep recomputes each tile's states from its checkpoint into a TILE+1 slot
 * buffer (thread-major, each thread reads back only what it wrote) and walks
 * them backwards with the state gradient in registers for all T tokens.
 * Row sums (dq, dk) and gate gradients collect in shared memory per tile;
 * a window rule (Atlas) rebuilds each token's window from the key/value arrays
 * and keeps the window's gradients as a ring of c rows in shared memory. */
#include "dispatch.cuh"

namespace hct {

template <int RULE, int D, int PARTS>
__global__ void __launch_bounds__(Split<D, PARTS>::THREADS) backward_kernel(RuleArgs a) {
    using Ops = RuleOps<RULE>;
    constexpr int NT = Split<D, PARTS>::THREADS, NM = Ops::MATS;
    constexpr size_t SLOT = (size_t)NM * R * NT;
    extern __shared__ float smem[];
    float *sk = smem, *sv = sk + TILE * D, *sq = sv + TILE * D, *sdy = sq + TILE * D;
    float *rdq = sdy + TILE * D, *rdk = rdq + TILE * D, *sdv = rdk + TILE * D, *sg = sdv + TILE * D;
    float *rsc = sg + TILE * GATE_SLOTS;
    float *wK = rsc + TILE * GATE_SLOTS, *wV = wK + a.window * D, *gK = wV + a.window * D, *gV = gK + a.window * D;
    const int c0 = first_col<D, PARTS>(blockIdx.x), tid = threadIdx.x, i = c0 + col_of<D>(tid), p = lane_of<D>(tid);
    const int lane = tid & 31, d = a.d, T = a.T, c = a.window;
    const size_t seq = seq_of<PARTS>(blockIdx.x);
    const int nc = (T + TILE - 1) / TILE;
    float *ckpt = a.work + blockIdx.x * (size_t)(nc + TILE + 1) * SLOT, *buf = ckpt + (size_t)nc * SLOT;
    const size_t base = seq * (size_t)T * d, gbase = seq * (size_t)T * a.n_gates;
    /* where this block's dq, dk and gate gradients go: the outputs, or its partial sums
     * (dv is per column: each block writes its own columns) */
    float *out_dq = a.dq + base, *out_dk = a.dk + base, *out_dg = a.dgates + gbase;
    if (PARTS > 1) {
        out_dq = a.work + gridDim.x * (size_t)(nc + TILE + 1) * SLOT + blockIdx.x * partial_len(T, d);
        out_dk = out_dq + (size_t)T * d;
        out_dg = out_dk + (size_t)T * d;
    }
    const float *state = a.state_in + seq * a.state_len, *window0 = state + 2 * (size_t)d * d;
    const float *kseq = a.k + base, *vseq = a.v + base;
    for (int at = tid; at < 2 * c * D; at += NT) gK[at] = 0.0f; /* gK and gV */
    const Window win = {wK, wV, gK, gV, kseq, vseq, window0, c, d};
    float M[R], Z[R];
    load_matrix<D>(M, state, d, i, p);
    if (NM == 2) load_matrix<D>(Z, state + (size_t)d * d, d, i, p);

    /* forward sweep: checkpoint `chunk` is the state before token chunk TILE */
    for (int chunk = 0; chunk < nc; chunk++) {
        spill<NT>(M, ckpt + chunk * SLOT, tid);
        if (NM == 2) spill<NT>(Z, ckpt + chunk * SLOT + R * NT, tid);
        if (chunk == nc - 1) break;
        int t0 = chunk * TILE;
        __syncthreads();
        load_tile(sk, a.k + base, t0, T, d, D, tid, NT);
        load_tile(sv, a.v + base, t0, T, d, D, tid, NT);
        load_tile(sq, a.q + base, t0, T, d, D, tid, NT);
        load_tile(sg, a.gates + gbase, t0, T, a.n_gates, GATE_SLOTS, tid, NT);
        __syncthreads();
        for (int tt = 0; tt < TILE; tt++) {
            const float *k = sk + tt * D, *v = sv + tt * D, *q = sq + tt * D, *g = sg + tt * GATE_SLOTS;
            Ops::template replay<D>(M, Z, k, v, q, g, i, p, tid, t0 + tt, win);
        }
    }

    /* reverse sweep, tile by tile */
    float dM[R], dZ[R];
#pragma unroll
    for (int r = 0; r < R; r++) dM[r] = dZ[r] = 0.0f;
    for (int chunk = nc - 1; chunk >= 0; chunk--) {
        int t0 = chunk * TILE, n = T - t0 < TILE ? T - t0 : TILE;
        __syncthreads();
        load_tile(sk, a.k + base, t0, T, d, D, tid, NT);
        load_tile(sv, a.v + base, t0, T, d, D, tid, NT);
        load_tile(sq, a.q + base, t0, T, d, D, tid, NT);
        load_tile(sdy, a.dy + base, t0, T, d, D, tid, NT);
        load_tile(sg, a.gates + gbase, t0, T, a.n_gates, GATE_SLOTS, tid, NT);
        for (int at = tid; at < TILE * D; at += NT) rdq[at] = rdk[at] = sdv[at] = 0.0f;
        for (int at = tid; at < TILE * GATE_SLOTS; at += NT) rsc[at] = 0.0f;
        __syncthreads();
        unspill<NT>(M, ckpt + chunk * SLOT, tid);
        if (NM == 2) unspill<NT>(Z, ckpt + chunk * SLOT + R * NT, tid);
        for (int tt = 0; tt < n; tt++) {
            const float *k = sk + tt * D, *v = sv + tt * D, *q = sq + tt * D, *g = sg + tt * GATE_SLOTS;
            spill<NT>(M, buf + tt * SLOT, tid);
            if (NM == 2) spill<NT>(Z, buf + tt * SLOT + R * NT, tid);
            Ops::template replay<D>(M, Z, k, v, q, g, i, p, tid, t0 + tt, win);
        }
        float S1[R], S0[R], Z0[R]; /* the state after and before the token being reversed */
#pragma unroll
        for (int r = 0; r < R; r++) S1[r] = M[r];
        for (int tt = n - 1; tt >= 0; tt--) {
            const float *k = sk + tt * D, *v = sv + tt * D, *q = sq + tt * D, *g = sg + tt * GATE_SLOTS;
            float dyi = sdy[tt * D + i];
            TokenGrad o = {rdq + tt * D, rdk + tt * D, sdv + tt * D, rsc + tt * GATE_SLOTS};
            unspill<NT>(S0, buf + tt * SLOT, tid);
            if (NM == 2) unspill<NT>(Z0, buf + tt * SLOT + R * NT, tid);
            Ops::template back<D>(S0, Z0, S1, dM, dZ, k, v, q, dyi, g, i, p, lane, tid, t0 + tt, o, win);
            if (Ops::WINDOW) { /* the newest window row's gradients are complete: they are this token's dk, dv */
                __syncthreads();
                int slot = (t0 + tt) % c;
                if (tid < D) {
                    o.dk[tid] = gK[slot * D + tid];
                    o.dv[tid] = gV[slot * D + tid];
                    gK[slot * D + tid] = gV[slot * D + tid] = 0.0f; /* now the row of token t - c */
                }
            }
#pragma unroll
            for (int r = 0; r < R; r++) S1[r] = S0[r];
        }
        __syncthreads();
        store_tile(out_dq, rdq, t0, T, d, D, 0, D, tid, NT);
        store_tile(out_dk, rdk, t0, T, d, D, 0, D, tid, NT);
        store_tile(a.dv + base, sdv, t0, T, d, D, c0, Split<D, PARTS>::COLS, tid, NT);
        store_tile(out_dg, rsc, t0, T, a.n_gates, GATE_SLOTS, 0, GATE_SLOTS, tid, NT);
    }
}

/* dq, dk and the gate gradients of a split sequence: the sums of its PARTS blocks' partials
 * (backward_kernel's out_*), added in part order. */
template <int PARTS> __global__ void sum_parts(RuleArgs a, size_t n_seq, size_t ckpt_len) {
    const size_t Td = (size_t)a.T * a.d, per_seq = 2 * Td + (size_t)a.T * a.n_gates;
    const size_t len = partial_len(a.T, a.d);
    const float *partials = a.work + ckpt_len;
    for (size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x; at < n_seq * per_seq;
         at += (size_t)gridDim.x * blockDim.x) {
        size_t seq = at / per_seq, e = at % per_seq;
        const float *src = partials + seq * PARTS * len + e;
        float sum = src[0];
        for (int part = 1; part < PARTS; part++) sum += src[part * len];
        float *dst = e < Td ? a.dq + seq * Td + e
                   : e < 2 * Td ? a.dk + seq * Td + (e - Td)
                   : a.dgates + seq * (size_t)a.T * a.n_gates + (e - 2 * Td);
        *dst = sum;
    }
}

/* Work scalars of each block's checkpoints and replay slots. */
static size_t ckpt_per_seq(int rule, int D, int T) {
    size_t nc = ((size_t)T + TILE - 1) / TILE;
    return (nc + TILE + 1) * (size_t)rule_mats(rule) * D * D;
}

size_t backward_work(int rule, int d, int T, int n_seq) {
    int D = padded_width(d), parts = parts_for(D, n_seq);
    return (size_t)n_seq * (ckpt_per_seq(rule, D, T) + (parts > 1 ? (size_t)parts * partial_len(T, d) : 0));
}

template <int RULE, int D, int PARTS> static cudaError_t backward_parts(int n_seq, const RuleArgs &a) {
    size_t smem = ((size_t)7 * TILE * D + 2 * TILE * GATE_SLOTS + 4 * (size_t)a.window * D) * sizeof(float);
    cudaError_t err = launch_with_smem(backward_kernel<RULE, D, PARTS>, n_seq * PARTS, Split<D, PARTS>::THREADS,
                                       smem, a);
    if constexpr (PARTS > 1) {
        if (err != cudaSuccess) return err;
        size_t n = (size_t)n_seq * (2 * (size_t)a.T * a.d + (size_t)a.T * a.n_gates);
        int blocks = (int)((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096);
        sum_parts<PARTS><<<blocks, 256, 0, a.stream>>>(a, (size_t)n_seq, (size_t)n_seq * ckpt_per_seq(RULE, D, a.T));
        err = cudaGetLastError();
    }
    return err;
}

struct BackwardLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (D == 128)
            if (parts_for(D, n_seq) == SPLIT_PARTS) return backward_parts<RULE, D, SPLIT_PARTS>(n_seq, a);
        return backward_parts<RULE, D, 1>(n_seq, a);
    }
};

cudaError_t launch_backward(int rule, int n_seq, const RuleArgs &a) { return by_rule<BackwardLaunch>(rule, n_seq, a); }

} /* namespace hct */
