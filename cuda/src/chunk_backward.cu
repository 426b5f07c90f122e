/* cuda/src/chunk_backward.cu — the chunked backward of the delta and Hebbian rules (docs/CUDA.md
 * "Chunked backward"; its float64 spec is hecate_edge/reference/chunked.py): the gradients of
 * sum(y * dy) of the chunked forward, which first runs with a checkpoint of the state at every
 * chunk's start; then one block per sequence walks the chunks in reverse with the state's
 * gradient in shared memory, through the chunk's products, its triangular solves and decays. */
#include "chunk.cuh"

namespace hct {

/* The block at padded width D: NT = 2 D threads.  Thread tid owns column (or row) c = tid mod D
 * of the chunk's (C, D) products for tokens h C/2 .. h C/2 + C/2, h = tid / D; and a TJ x 4
 * tile of the (D, D) state gradient (Chunk<D>'s tile map).  Shared memory, in
 * floats (P = D + 4): S0 and dS (D, P); token rows k, q, v, dy, U0, U, W, dU, dW and a (C, D)
 * reduction buffer (C, P each); KK, L, A, dA, dKK, dQK and two exponent gradients (C, LP);
 * the Decay; per-token sums. */
template <int D> struct ChunkBack {
    static constexpr int C = CHUNK, NT = 2 * D, H = C / 2, P = D + 4, LP = C + 4;
    static constexpr size_t S0 = 0, DS = S0 + (size_t)D * P, K = DS + (size_t)D * P, Q = K + C * P, V = Q + C * P,
                            DY = V + C * P, U0 = DY + C * P, U = U0 + C * P, W = U + C * P, DU = W + C * P,
                            DW = DU + C * P, RED = DW + C * P, KK = RED + C * P, L = KK + C * LP, A = L + C * LP,
                            DA = A + C * LP, DKK = DA + C * LP, DQK = DKK + C * LP, EX = DQK + C * LP,
                            DX = EX + C * LP, DEC = DX + C * LP, SUMS = DEC + Decay::FLOATS,
                            FLOATS = SUMS + 4 * C + 4 + NT;
    static_assert(FLOATS * sizeof(float) <= 232448, "more shared memory than a block gets");
};

/* acc[x] += sum_j X[h0 + x][j] S[j][c], X rows of pitch P, S of pitch P (the chunk times S). */
template <int D, int N>
__device__ __forceinline__ void rows_times(float (&acc)[N], const float *X, int P, const float *S, int c, int h0) {
    for (int j = 0; j < D; j += 4) {
        const float s0 = S[j * P + c], s1 = S[(j + 1) * P + c], s2 = S[(j + 2) * P + c], s3 = S[(j + 3) * P + c];
#pragma unroll
        for (int x = 0; x < N; x++) {
            float4 r = *(const float4 *)(X + (h0 + x) * P + j);
            acc[x] += r.x * s0 + r.y * s1 + r.z * s2 + r.w * s3;
        }
    }
}

/* acc[x] += sum_i X[h0 + x][i] S[r][i] (the chunk times S^T, row r of S). */
template <int D, int N>
__device__ __forceinline__ void rows_times_t(float (&acc)[N], const float *X, int P, const float *S, int r, int h0) {
    for (int i = 0; i < D; i += 4) {
        const float4 s = *(const float4 *)(S + r * P + i);
#pragma unroll
        for (int x = 0; x < N; x++) {
            float4 v = *(const float4 *)(X + (h0 + x) * P + i);
            acc[x] += v.x * s.x + v.y * s.y + v.z * s.z + v.w * s.w;
        }
    }
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

template <int D, bool ERROR>
__global__ void __launch_bounds__(ChunkBack<D>::NT) chunk_backward_kernel(RuleArgs a) {
    using B = ChunkBack<D>;
    using Tile = Chunk<D>; /* the state gradient's tile map */
    constexpr int C = B::C, NT = B::NT, H = B::H, P = B::P, LP = B::LP;
    extern __shared__ float4 smem4[];
    float *sm = (float *)smem4;
    float *sS0 = sm + B::S0, *sdS = sm + B::DS, *sK = sm + B::K, *sQ = sm + B::Q, *sV = sm + B::V, *sDY = sm + B::DY;
    float *sU0 = sm + B::U0, *sU = sm + B::U, *sW = sm + B::W, *sdU = sm + B::DU, *sdW = sm + B::DW;
    float *sRed = sm + B::RED, *sKK = sm + B::KK, *sL = sm + B::L, *sA = sm + B::A, *sdA = sm + B::DA;
    /* the Gram products' gradients, and the decays' exponent gradients (of gamma_{t-1} / gamma_s
     * and of gamma_t / gamma_s) */
    float *sdKK = sm + B::DKK, *sdQK = sm + B::DQK, *sEx = sm + B::EX, *sDx = sm + B::DX;
    const Decay dec = Decay::at(sm + B::DEC);
    float *sDbQ = sm + B::SUMS, *sDF = sDbQ + C, *sRV = sDF + C, *sRK = sRV + C, *sSS = sRK + C, *sPart = sSS + 4;
    const int tid = threadIdx.x, d = a.d, T = a.T, lane = tid & 31, w = tid / 32, nc = chunks_of(T);
    const int c = tid % D, h0 = (tid / D) * H;
    const size_t seq = blockIdx.x, base = seq * (size_t)T * d, gbase = seq * (size_t)T * a.n_gates;
    const int tc = (w / Tile::WM) * Tile::LC + lane % Tile::LC, tm = (w % Tile::WM) * Tile::LM + lane / Tile::LC;
    const int c0 = 4 * tc, j0 = tm * Tile::TJ;
    const bool vec = rows_by_float4<D>(a) && ((uintptr_t)a.dy & 15) == 0;
    for (int at = tid; at < D * P; at += NT) sdS[at] = 0.0f;
    for (int ch = nc - 1; ch >= 0; ch--) {
        const int t0 = ch * C;
        __syncthreads();
        const float *ckpt = a.work + (seq * (size_t)nc + ch) * D * D;
        for (int at = tid; at < D * D / 4; at += NT)
            *(float4 *)(sS0 + (at / (D / 4)) * P + 4 * (at % (D / 4))) = ((const float4 *)ckpt)[at];
        load_chunk<D, NT, ERROR>(a, seq, t0, vec, sK, P, sQ, P, sV, P, dec, tid);
        load_rows<D, NT>(sDY, P, a.dy + base, t0, T, d, vec, tid);
        __syncthreads();
        gram<D, NT, ERROR>(sK, P, sQ, P, dec, sL, sA, sKK, tid);
        __syncthreads();
        {   /* U0 and W, natural layout */
            float x[C];
            float *out = ut_column<D, ERROR>(x, tid, sK, sV, P, dec, sL) ? sW : sU0;
#pragma unroll
            for (int u = 0; u < C; u++) out[u * P + c] = x[u];
        }
        __syncthreads();
        {   /* column c, tokens h0 ..: U = U0 - W S0; dP = K dS; the reads' state term's sum with dy
             * (the exponent gradient of gamma_t); dF partials; <dS, S0>'s share; dU = F dP + A^T dy */
            float ws[H] = {}, qs[H] = {}, dp[H] = {};
            rows_times<D, H>(ws, sW, P, sS0, c, h0);
            rows_times<D, H>(qs, sQ, P, sS0, c, h0);
            rows_times<D, H>(dp, sK, P, sdS, c, h0);
            float ss = 0.0f;
            if (h0 == 0)
                for (int j = 0; j < D; j++) ss += sdS[j * P + c] * sS0[j * P + c];
            sPart[tid] = ss;
#pragma unroll
            for (int x = 0; x < H; x++) {
                const int t = h0 + x;
                const float u = sU0[t * P + c] - ws[x], dyv = sDY[t * P + c];
                sU[t * P + c] = u;
                sRed[t * P + c] = dec.gam[t] * qs[x] * dyv;
                sdW[t * P + c] = dp[x] * u;
                float du = dec.F[t] * dp[x];
                for (int s = t; s < C; s++) du += sA[s * LP + t] * sDY[s * P + c];
                sdU[t * P + c] = du;
            }
        }
        __syncthreads();
        if (tid < C) { /* per-token sums in a fixed order */
            float q = 0.0f, f = 0.0f;
            for (int j = 0; j < D; j++) q += sRed[tid * P + j], f += sdW[tid * P + j];
            sDbQ[tid] = q;
            sDF[tid] = f;
        } else if (tid == C) {
            float ss = 0.0f;
            for (int i = 0; i < D; i++) ss += sPart[i];
            sSS[0] = ss;
        }
        for (int i = tid; i < C * C; i += NT) { /* dA[t][u] = <dy_t, U_u>, u <= t */
            const int t = i / C, u = i % C;
            sdA[t * LP + u] = u <= t ? row_dot<D>(sDY, sU, P, t, u) : 0.0f;
        }
        __syncthreads();
        /* row c of S0 and dS: dq's state term, dW = -dU S0^T, dk's end-state term F U dS^T */
        float dq[H] = {}, dk[H] = {}, dw[H] = {};
        rows_times_t<D, H>(dq, sDY, P, sS0, c, h0);
        rows_times_t<D, H>(dw, sdU, P, sS0, c, h0);
        rows_times_t<D, H>(dk, sU, P, sdS, c, h0);
#pragma unroll
        for (int x = 0; x < H; x++) {
            const int t = h0 + x;
            dq[x] *= dec.gam[t];
            dk[x] *= dec.F[t];
        }
        __syncthreads(); /* every read of dS (and of sdW's dF partials) is done */
#pragma unroll
        for (int x = 0; x < H; x++) sdW[(h0 + x) * P + c] = -dw[x];
        {   /* dS0 = gamma_last dS + sum_t q_t^T gamma_t dy_t - W^T dU (the forward's state tile) */
            float acc[Tile::TJ][4] = {};
            for (int t = 0; t < C; t++) {
                const float g = dec.gam[t];
                const float4 y4 = *(const float4 *)(sDY + t * P + c0), u4 = *(const float4 *)(sdU + t * P + c0);
                const float yv[4] = {g * y4.x, g * y4.y, g * y4.z, g * y4.w}, uv[4] = {u4.x, u4.y, u4.z, u4.w};
#pragma unroll
                for (int x = 0; x < Tile::TJ; x++) {
                    const float qv = sQ[t * P + j0 + x], wv = sW[t * P + j0 + x];
#pragma unroll
                    for (int y = 0; y < 4; y++) acc[x][y] += qv * yv[y] - wv * uv[y];
                }
            }
            const float g_end = dec.end[0];
#pragma unroll
            for (int x = 0; x < Tile::TJ; x++)
#pragma unroll
                for (int y = 0; y < 4; y++) {
                    float *s = sdS + (j0 + x) * P + c0 + y;
                    *s = g_end * *s + acc[x][y];
                }
        }
        __syncthreads();
        {   /* dR1 = (I + L)^-T dU (column tid, in place; dv = theta dR1), dR2 = (I + L)^-T dW */
            const bool is_w = tid >= D;
            const int j = is_w ? tid - D : tid;
            float *col = is_w ? sdW : sdU;
            float x[C];
#pragma unroll
            for (int u = 0; u < C; u++) x[u] = col[u * P + j];
            if (ERROR) solve_upper(x, sL);
#pragma unroll
            for (int u = 0; u < C; u++) col[u * P + j] = x[u];
            if (!is_w && j < d)
                for (int u = 0; u < C && t0 + u < T; u++)
                    a.dv[base + (size_t)(t0 + u) * d + j] = ERROR ? dec.theta[u] * x[u] : x[u];
        }
        __syncthreads();
        for (int i = tid; i < C * C; i += NT) { /* the decays' and the Gram products' gradients */
            const int t = i / C, u = i % C;
            float dl = 0.0f;
            if (ERROR && u < t) dl = -(row_dot<D>(sdU, sU0, P, t, u) + row_dot<D>(sdW, sW, P, t, u));
            const float e = u < t ? expf((t ? dec.b[t - 1] : 0.0f) - dec.b[u]) : 0.0f;
            const float dm = u <= t ? expf(dec.b[t] - dec.b[u]) : 0.0f;
            const float da = sdA[t * LP + u];
            sdKK[t * LP + u] = ERROR ? dec.theta[t] * e * dl : 0.0f;
            sdQK[t * LP + u] = dm * da;
            sEx[t * LP + u] = ERROR ? dec.theta[t] * sKK[t * LP + u] * dl * e : 0.0f;
            sDx[t * LP + u] = sA[t * LP + u] * da; /* A = (gamma_t / gamma_s) <q_t, k_s> */
            sdA[t * LP + u] = e * sKK[t * LP + u] * dl; /* dtheta_t's share of pair (t, u) */
        }
        if (ERROR && tid < 2 * C) { /* <dR1_t, v_t> and <dR2_t, k_t> */
            const int t = tid % C;
            if (tid < C) sRV[t] = row_dot<D>(sdU, sV, P, t, t);
            else sRK[t] = row_dot<D>(sdW, sK, P, t, t);
        }
        __syncthreads();
        if (tid < C && t0 + tid < T) {
            /* d log(1 - alpha_u): the shares of the decays whose exponents span token u (each holds
             * the factor 1 - alpha_u already, so no large terms cancel; docs/CUDA.md), then d alpha
             * and d theta */
            const int u = tid;
            float dlk = dec.end[0] * sSS[0];
            for (int s = 0; s < u; s++) dlk += dec.F[s] * sDF[s];
            for (int x = u; x < C; x++) {
                dlk += sDbQ[x];
                for (int s = 0; s < u; s++) dlk += sDx[x * LP + s];
                if (ERROR && x > u) {
                    dlk += dec.gprev[x] * dec.theta[x] * sRK[x];
                    for (int s = 0; s < u; s++) dlk += sEx[x * LP + s];
                }
            }
            float *g = a.dgates + gbase + (size_t)(t0 + u) * a.n_gates;
            g[0] = dec.dlog[u] * dlk;
            if (ERROR) {
                float dth = sRV[u] + dec.gprev[u] * sRK[u];
                for (int s = 0; s < u; s++) dth += sdA[u * LP + s];
                g[1] = dth;
            }
        }
        /* dk, dq of column c, tokens h0 ..: the Gram products' and the solve's shares */
#pragma unroll
        for (int x = 0; x < H; x++) {
            const int t = h0 + x;
            float k_acc = dk[x], q_acc = dq[x];
            if (ERROR) k_acc += dec.theta[t] * dec.gprev[t] * sdW[t * P + c];
            for (int u = 0; u < C; u++) {
                const float ku = sK[u * P + c];
                k_acc += (sdKK[t * LP + u] + sdKK[u * LP + t]) * ku + sdQK[u * LP + t] * sQ[u * P + c];
                q_acc += sdQK[t * LP + u] * ku;
            }
            if (t0 + t < T && c < d) {
                a.dk[base + (size_t)(t0 + t) * d + c] = k_acc;
                a.dq[base + (size_t)(t0 + t) * d + c] = q_acc;
            }
        }
    }
}

template <int RULE, int D> static cudaError_t chunk_backward_at(int n_seq, const RuleArgs &a) {
    RuleArgs fwd = a;
    fwd.state = nullptr; /* the forward only fills the checkpoints */
    fwd.y = nullptr;
    cudaError_t err = launch_chunk_forward(RULE, n_seq, fwd);
    if (err != cudaSuccess) return err;
    return launch_with_smem(chunk_backward_kernel<D, RULE == RULE_DELTA>, n_seq, ChunkBack<D>::NT,
                            ChunkBack<D>::FLOATS * sizeof(float), a);
}

struct ChunkBackLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (RULE == RULE_DELTA || RULE == RULE_HEBBIAN) return chunk_backward_at<RULE, D>(n_seq, a);
        else return cudaErrorInvalidValue;
    }
};

size_t chunk_backward_work(int d, int T, int n_seq) {
    size_t D = (size_t)padded_width(d);
    return (size_t)n_seq * chunks_of(T) * D * D;
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
