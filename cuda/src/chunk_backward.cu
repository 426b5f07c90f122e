/* cuda/src/chunk_backward.cu — the chunked backward of the delta and Hebbian rules (docs/CUDA.md
 * "Chunked backward"; its float64 spec is hecate_edge/reference/chunked.py): the gradients of
 * sum(y * dy) of the chunked forward, in three launches (DECISIONS D85): the forward, storing the
 * state at every chunk's start and the chunk's writes U (chunk_regs.cuh); the reverse walk, storing
 * the state's gradient at every chunk's end and the writes' gradient dU (chunk_state_grad.cuh);
 * and this file's kernel, a block for every chunk of every sequence at once, through the chunk's
 * products with those two states, its triangular solves and decays. */
#include <climits>
#include "chunk_state_grad.cuh"

namespace hct {

/* The block at padded width D: NT = 2 D threads, NW = D / 16 warps.  Thread tid owns column
 * tid mod D of the chunk's (C, D) rows in the solves; warp w the outputs j = 16 w .. 16 w + 15 of
 * the chunk's products with S0 and dS, and of dk and dq.  Shared memory, in floats (P = D + 8,
 * chunk_regs.cuh's pitch): token rows k, q, v, dy (then U0), U (then W), dU, dW (C, P each); KK,
 * L (then the exponent gradients' sums), A, dA, dKK, dQK and two exponent gradients (C, LP); the
 * Decay; per-token sums and the warps' shares of them: 73 KB at D = 128 (its 128 registers a
 * thread, not the shared memory, keep it at two blocks an SM). */
template <int D> struct ChunkBack {
    static constexpr int C = CHUNK, NT = 2 * D, NW = NT / 32, P = D + 8, LP = C + 4;
    static_assert(NW * 16 == D, "a warp holds 16 outputs j");
    static constexpr size_t K = 0, Q = K + C * P, V = Q + C * P, DY = V + C * P, U = DY + C * P, DU = U + C * P,
                            DW = DU + C * P, KK = DW + C * P, L = KK + C * LP, A = L + C * LP, DA = A + C * LP,
                            DKK = DA + C * LP, DQK = DKK + C * LP, EX = DQK + C * LP, DX = EX + C * LP,
                            DEC = DX + C * LP, SUMS = DEC + Decay::FLOATS, PARTS = SUMS + 4 * C + 4,
                            FLOATS = PARTS + NW + 2 * NW * C;
    static_assert(FLOATS * sizeof(float) <= 232448, "more shared memory than a block gets");
};

/* The chunk's products with the state S0 at its start and the gradient dS of its end state (the
 * work buffer's, (D, D) row-major) on the tensor cores, warp w's outputs j = 16 w .. 16 w + 15:
 * into dq the state term of dq, Gamma dY S0^T, and into gk G = U dS^T (dk's end-state term is diag(F)
 * G), both as accumulator tiles (n-tile n, register r: token g + 8 (r / 2), j = 16 w + 8 n + 2 i +
 * r % 2); dW = -dU S0^T into sdW; each token's sums <q_t, dq_t> and <k_t, G_t> (= <(K dS)_t, U_t>)
 * over this warp's j into parts (NW x C each).  The sum over c in pair_frag's order.  Returns this
 * lane's share of <dS, S0> (every element is some lane's once). */
template <int D, int P>
__device__ __forceinline__ float state_products(float (&dq)[2][4], float (&gk)[2][4], const float *S0, const float *dS,
                                                const float *sDY, const float *sdU, const float *sU, const float *sQ,
                                                const float *sK, const Decay &dec, float *sdW, float *parts, int w,
                                                int lane) {
    constexpr int NW = D / 16;
    const int g = lane / 4, i = lane % 4;
    float dw[2][4] = {};
    float ss = 0.0f;
#pragma unroll 4
    for (int c0 = 0; c0 < D; c0 += 8) {
        const int top = g * P + c0 + 2 * i, bottom = top + 8 * P;
        const FragA fy = pair_frag(sDY + top, sDY + bottom), fdu = pair_frag(sdU + top, sdU + bottom),
                    fu = pair_frag(sU + top, sU + bottom);
#pragma unroll
        for (int n = 0; n < 2; n++) {
            const size_t at = (size_t)(16 * w + 8 * n + g) * D + c0 + 2 * i; /* b[k][n] = S[j][c] */
            const float2 s = *(const float2 *)(S0 + at), e = *(const float2 *)(dS + at);
            ss += s.x * e.x + s.y * e.y;
            FragB fs, fe;
            fs.set(0, s.x), fs.set(1, s.y);
            fe.set(0, e.x), fe.set(1, e.y);
            mma3_tf32(dq[n], fy, fs);
            mma3_tf32(dw[n], fdu, fs);
            mma3_tf32(gk[n], fu, fe);
        }
    }
    float qsum[2] = {}, fsum[2] = {}; /* tokens g, g + 8 */
#pragma unroll
    for (int n = 0; n < 2; n++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int t = g + 8 * (r / 2), j = 16 * w + 8 * n + 2 * i + r % 2;
            dq[n][r] *= dec.gam[t];
            sdW[t * P + j] = -dw[n][r];
            qsum[r / 2] += sQ[t * P + j] * dq[n][r];
            fsum[r / 2] += sK[t * P + j] * gk[n][r];
        }
#pragma unroll
    for (int h = 0; h < 2; h++) {
#pragma unroll
        for (int o = 1; o < 4; o <<= 1) {
            qsum[h] += __shfl_xor_sync(0xffffffffu, qsum[h], o);
            fsum[h] += __shfl_xor_sync(0xffffffffu, fsum[h], o);
        }
        if (i == 0) parts[w * CHUNK + g + 8 * h] = qsum[h], parts[(NW + w) * CHUNK + g + 8 * h] = fsum[h];
    }
    return ss;
}

/* <X_t, Y_u> over D for rows t, u of two (C, P) tiles. */
template <int D> __device__ __forceinline__ float row_dot(const float *X, const float *Y, int P, int t, int u) {
    float acc = 0.0f;
    for (int j = 0; j < D; j += 4) {
        float4 x = *(const float4 *)(X + t * P + j), y = *(const float4 *)(Y + u * P + j);
        acc += x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
    }
    return acc;
}

/* Block b runs chunk b mod nc of sequence b / nc (nc chunks a sequence): with S0 and dS from the
 * work buffer, dU from the reverse walk and U from the forward (the Hebbian rule's: V),
 *   dq   = diag(gamma) dY S0^T + dQK K,  dQK = Dm * (dY U^T)        (Dm: gamma_t / gamma_s, s <= t)
 *   dW   = -dU S0^T,  dR1 = (I + L)^-T dU,  dR2 = (I + L)^-T dW,  dv = diag(theta) dR1
 *   dL   = -(dR1 U0^T + dR2 W^T) below the diagonal,  dKK = diag(theta) E * dL
 *   dk   = diag(F) U dS^T + diag(theta gamma_prev) dR2 + (dKK + dKK^T) K + dQK^T Q
 * and the gates' gradients (docs/CUDA.md "Chunked backward"). */
template <int D, bool ERROR>
__global__ void __launch_bounds__(ChunkBack<D>::NT, 2) chunk_backward_kernel(RuleArgs a) {
    using B = ChunkBack<D>;
    constexpr int C = B::C, NT = B::NT, NW = B::NW, P = B::P, LP = B::LP;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sDY = sm + B::DY, *sU0 = sDY;
    float *sU = ERROR ? sm + B::U : sV, *sW = sm + B::U, *sdU = sm + B::DU, *sdW = sm + B::DW;
    float *sKK = sm + B::KK, *sL = sm + B::L, *sA = sm + B::A, *sdA = sm + B::DA;
    /* the Gram products' gradients, and the decays' exponent gradients (of gamma_{t-1} / gamma_s
     * and of gamma_t / gamma_s); then in L's place each (x, u)'s share of d log(1 - alpha_u) */
    float *sdKK = sm + B::DKK, *sdQK = sm + B::DQK, *sEx = sm + B::EX, *sDx = sm + B::DX, *sSpan = sL;
    const Decay dec = Decay::at(sm + B::DEC);
    float *sDbQ = sm + B::SUMS, *sDF = sDbQ + C, *sRV = sDF + C, *sRK = sRV + C, *sSS = sRK + C;
    float *sPart = sm + B::PARTS, *sTok = sPart + NW;
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, g = lane / 4, i = lane % 4;
    const int nc = chunks_of(T), ch = blockIdx.x % nc, t0 = ch * C;
    const size_t seq = blockIdx.x / nc, base = seq * (size_t)T * d, gbase = seq * (size_t)T * a.n_gates;
    const ChunkWork<D> work(a.work, seq, nc);
    const bool vec = rows_by_float4<D>(a) && ((uintptr_t)a.dy & 15) == 0;
    load_chunk<D, NT, ERROR>(a, seq, t0, vec, sK, P, sQ, P, sV, P, dec, tid);
    load_rows<D, NT>(sDY, P, a.dy + base, t0, T, d, vec, tid);
    if (ERROR) load_rows<D, NT>(sU, P, work.writes(ch), 0, C, D, true, tid);
    load_rows<D, NT>(sdU, P, work.write_grads(ch), 0, C, D, true, tid);
    __syncthreads();
    gram_tensor<D, NT, P, ERROR>(sK, sQ, dec, sL, sA, tid, sKK);
    float dq[2][4] = {}, gk[2][4] = {}; /* state_products' tiles, kept for dk and dq */
    {
        float ss = state_products<D, P>(dq, gk, work.state(ch), work.grad(ch), sDY, sdU, sU, sQ, sK, dec, sdW, sTok,
                                        w, lane);
#pragma unroll
        for (int o = 16; o; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (lane == 0) sPart[w] = ss;
    }
#pragma unroll
    for (int m = 0; m < 2; m++) /* dA = dY U^T on and below the diagonal: a tile each on the warps after gram_tensor's */
        if ((4 + m) % NW == w) {
            float c[4] = {};
            tile_xyT<D, P>(c, sDY, sU, 8 * m, g, i);
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int t = g + 8 * (r / 2), u = 8 * m + 2 * i + r % 2;
                sdA[t * LP + u] = u <= t ? c[r] : 0.0f;
            }
        }
    __syncthreads();
    {   /* column j: U0 (in dy's place) and W (in U's), then dR1 = (I + L)^-T dU (in place; dv =
         * theta dR1) and dR2 = (I + L)^-T dW */
        const bool is_w = tid >= D;
        const int j = is_w ? tid - D : tid;
        float x[C];
        float *out = ut_column<D, ERROR>(x, tid, sK, sV, P, dec, sL) ? sW : sU0;
#pragma unroll
        for (int u = 0; u < C; u++) out[u * P + j] = x[u];
        float *col = is_w ? sdW : sdU;
#pragma unroll
        for (int u = 0; u < C; u++) x[u] = col[u * P + j];
        if (ERROR) solve_upper(x, sL);
#pragma unroll
        for (int u = 0; u < C; u++) col[u * P + j] = x[u];
        if (!is_w && j < d)
            for (int u = 0; u < C && t0 + u < T; u++)
                a.dv[base + (size_t)(t0 + u) * d + j] = ERROR ? dec.theta[u] * x[u] : x[u];
    }
    if (tid < C) { /* the per-token sums over the warps, in a fixed order */
        float q = 0.0f, f = 0.0f;
        for (int x = 0; x < NW; x++) q += sTok[x * C + tid], f += sTok[(NW + x) * C + tid];
        sDbQ[tid] = q;
        sDF[tid] = f;
    } else if (tid == C) {
        float ss = 0.0f;
        for (int x = 0; x < NW; x++) ss += sPart[x];
        sSS[0] = ss;
    }
    for (int x = tid; x < C * C; x += NT) { /* the gradients through dA: of Q K^T and of the decays in A */
        const int t = x / C, u = x % C;
        const float dm = u <= t ? expf(dec.b[t] - dec.b[u]) : 0.0f, da = sdA[t * LP + u];
        sdQK[t * LP + u] = dm * da;
        sDx[t * LP + u] = sA[t * LP + u] * da; /* A = (gamma_t / gamma_s) <q_t, k_s> */
        if (!ERROR) sdKK[t * LP + u] = 0.0f;
    }
    __syncthreads();
    if (ERROR) {
#pragma unroll
        for (int m = 0; m < 2; m++) /* dL = -(dR1 U0^T + dR2 W^T) below the diagonal: a tile each on the last warps */
            if ((NW - 1 - m + NW) % NW == w) {
                float c[4] = {};
                tile_xyT<D, P>(c, sdU, sU0, 8 * m, g, i);
                tile_xyT<D, P>(c, sdW, sW, 8 * m, g, i);
#pragma unroll
                for (int r = 0; r < 4; r++) { /* the gradients through L: of K K^T, of the decays in L, of theta */
                    const int t = g + 8 * (r / 2), u = 8 * m + 2 * i + r % 2;
                    const float dl = u < t ? -c[r] : 0.0f;
                    const float e = u < t ? expf((t ? dec.b[t - 1] : 0.0f) - dec.b[u]) : 0.0f;
                    sdKK[t * LP + u] = dec.theta[t] * e * dl;
                    sEx[t * LP + u] = dec.theta[t] * sKK[t * LP + u] * dl * e;
                    sdA[t * LP + u] = e * sKK[t * LP + u] * dl; /* dtheta_t's share of pair (t, u) */
                }
            }
        if (tid < 2 * C) { /* <dR1_t, v_t> and <dR2_t, k_t> */
            const int t = tid % C;
            if (tid < C) sRV[t] = row_dot<D>(sdU, sV, P, t, t);
            else sRK[t] = row_dot<D>(sdW, sK, P, t, t);
        }
    }
    __syncthreads();
    for (int y = tid; y < C * C; y += NT) {
        /* d log(1 - alpha_u)'s share of the decays of token x >= u whose exponents span token u
         * (each holds the factor 1 - alpha_u already, so no large terms cancel; docs/CUDA.md) */
        const int x = y / C, u = y % C;
        float span = 0.0f;
        if (x >= u) {
            span = sDbQ[x];
            for (int s = 0; s < u; s++) span += sDx[x * LP + s];
            if (ERROR && x > u) {
                span += dec.gprev[x] * dec.theta[x] * sRK[x];
                for (int s = 0; s < u; s++) span += sEx[x * LP + s];
            }
        }
        sSpan[x * LP + u] = span;
    }
    {   /* dk, dq of this lane's tiles (tokens g + 8 h; outputs j = 16 w + 8 n + 2 i + p, register
         * 2 h + p): the Gram products' and the solve's shares, over the chunk's tokens u */
        float kacc[2][4], qacc[2][4];
#pragma unroll
        for (int n = 0; n < 2; n++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int t = g + 8 * (r / 2), j = 16 * w + 8 * n + 2 * i + r % 2;
                kacc[n][r] = dec.F[t] * gk[n][r] + (ERROR ? dec.theta[t] * dec.gprev[t] * sdW[t * P + j] : 0.0f);
                qacc[n][r] = dq[n][r];
            }
#pragma unroll 2
        for (int u = 0; u < C; u++) {
            float kk[2], qut[2], qtu[2];
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int t = g + 8 * h;
                kk[h] = sdKK[t * LP + u] + sdKK[u * LP + t];
                qut[h] = sdQK[u * LP + t];
                qtu[h] = sdQK[t * LP + u];
            }
#pragma unroll
            for (int n = 0; n < 2; n++) {
                const float2 ku = *(const float2 *)(sK + u * P + 16 * w + 8 * n + 2 * i),
                             qu = *(const float2 *)(sQ + u * P + 16 * w + 8 * n + 2 * i);
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    kacc[n][2 * h] += kk[h] * ku.x + qut[h] * qu.x;
                    kacc[n][2 * h + 1] += kk[h] * ku.y + qut[h] * qu.y;
                    qacc[n][2 * h] += qtu[h] * ku.x;
                    qacc[n][2 * h + 1] += qtu[h] * ku.y;
                }
            }
        }
#pragma unroll
        for (int n = 0; n < 2; n++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int t = g + 8 * (r / 2), j = 16 * w + 8 * n + 2 * i + r % 2;
                if (t0 + t < T && j < d) {
                    a.dk[base + (size_t)(t0 + t) * d + j] = kacc[n][r];
                    a.dq[base + (size_t)(t0 + t) * d + j] = qacc[n][r];
                }
            }
    }
    __syncthreads();
    if (tid < C && t0 + tid < T) { /* d alpha and d theta */
        const int u = tid;
        float dlk = dec.end[0] * sSS[0];
        for (int s = 0; s < u; s++) dlk += dec.F[s] * sDF[s];
        for (int x = u; x < C; x++) dlk += sSpan[x * LP + u];
        float *gr = a.dgates + gbase + (size_t)(t0 + u) * a.n_gates;
        gr[0] = dec.dlog[u] * dlk;
        if (ERROR) {
            float dth = sRV[u] + dec.gprev[u] * sRK[u];
            for (int s = 0; s < u; s++) dth += sdA[u * LP + s];
            gr[1] = dth;
        }
    }
}

template <int RULE, int D> static cudaError_t chunk_backward_at(int n_seq, const RuleArgs &a) {
    constexpr bool ERROR = RULE == RULE_DELTA;
    const size_t blocks = (size_t)n_seq * chunks_of(a.T);
    if (blocks > (size_t)INT_MAX) return cudaErrorInvalidValue;
    RuleArgs fwd = a;
    fwd.state = nullptr; /* the forward only fills the work buffer's states and writes */
    fwd.y = nullptr;
    cudaError_t err = launch_chunk_forward(RULE, n_seq, fwd);
    if (err == cudaSuccess)
        err = launch_with_smem(chunk_state_grad_kernel<D, ERROR>, n_seq, ChunkRegs<D>::NT,
                               ChunkRegs<D>::FLOATS * sizeof(float), a);
    if (err == cudaSuccess)
        err = launch_with_smem(chunk_backward_kernel<D, ERROR>, (int)blocks, ChunkBack<D>::NT,
                               ChunkBack<D>::FLOATS * sizeof(float), a);
    return err;
}

struct ChunkBackLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (RULE == RULE_DELTA || RULE == RULE_HEBBIAN) return chunk_backward_at<RULE, D>(n_seq, a);
        else return cudaErrorInvalidValue;
    }
};

size_t chunk_backward_work(int d, int T, int n_seq) {
    const size_t D = (size_t)padded_width(d); /* ChunkWork<D>::FLOATS a chunk and sequence */
    return (size_t)n_seq * chunks_of(T) * (2 * D * D + 2 * (size_t)CHUNK * D);
}

cudaError_t launch_chunk_backward(int rule, int n_seq, const RuleArgs &a) {
    return by_rule<ChunkBackLaunch>(rule, n_seq, a);
}

size_t chunk_backward_smem(int d) {
    switch (padded_width(d)) {
    case 16: return ChunkBack<16>::FLOATS * sizeof(float);
    case 32: return ChunkBack<32>::FLOATS * sizeof(float);
    case 64: return ChunkBack<64>::FLOATS * sizeof(float);
    case 128: return ChunkBack<128>::FLOATS * sizeof(float);
    default: return 0;
    }
}

} /* namespace hct */
