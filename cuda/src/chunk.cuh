/* cuda/src/chunk.cuh — what the chunked forward and backward (chunk_regs.cuh,
 * chunk_state_grad.cuh, chunk_backward.cu; docs/CUDA.md "Chunked forward") share: the chunk
 * length, the backward's work buffer layout, loading a chunk's token rows, the scan of its
 * decays, the entries of its Gram products and the triangular solves of the UT transform. */
#ifndef HECATE_CUDA_CHUNK_CUH
#define HECATE_CUDA_CHUNK_CUH
#include "dispatch.cuh"

namespace hct {

constexpr int CHUNK = 16;
constexpr float LOG_KEEP_MIN = -80.0f; /* log(1 - alpha) floor: alpha = 1 keeps e^-80 of the state */

/* Chunks of T tokens (T < 2^31: no overflow on the way). */
__host__ __device__ inline int chunks_of(int T) { return T > 0 ? (T - 1) / CHUNK + 1 : 0; }

/* Per-token scalars of a chunk (shared memory, CHUNK each): theta; b_t = sum_{s <= t}
 * log(1 - alpha_s); gamma_t = exp(b_t); gamma_{t-1} (1 at t = 0); gamma_last / gamma_t;
 * d b_t / d alpha_t (0 where the floor holds); and, in end[0], gamma_last. */
struct Decay {
    float *theta, *b, *gam, *gprev, *F, *dlog, *end;
    __device__ static Decay at(float *p) {
        return {p, p + CHUNK, p + 2 * CHUNK, p + 3 * CHUNK, p + 4 * CHUNK, p + 5 * CHUNK, p + 6 * CHUNK};
    }
    static constexpr int FLOATS = 6 * CHUNK + 4;
};

/* Where the chunked backward keeps chunk ch of a sequence in its work buffer (chunk_backward_work:
 * FLOATS a chunk and sequence, a sequence's chunks together): the state at the chunk's start
 * (the forward writes it) and the state's gradient at the chunk's end (the reverse walk), (D, D)
 * row-major each; the chunk's writes U (the forward; the delta rule's only: the Hebbian rule's
 * are v) and their gradient dU (the reverse walk), (CHUNK, D) row-major each. */
template <int D> struct ChunkWork {
    static constexpr size_t MAT = (size_t)D * D, ROWS = (size_t)CHUNK * D, FLOATS = 2 * MAT + 2 * ROWS;
    float *seq_at;
    size_t nc;
    __device__ ChunkWork(float *work, size_t seq, int n_chunks) : seq_at(work + seq * n_chunks * FLOATS), nc(n_chunks) {}
    __device__ float *state(int ch) const { return seq_at + ch * MAT; }
    __device__ float *grad(int ch) const { return seq_at + (nc + ch) * MAT; }
    __device__ float *writes(int ch) const { return seq_at + 2 * nc * MAT + ch * ROWS; }
    __device__ float *write_grads(int ch) const { return seq_at + 2 * nc * MAT + (nc + ch) * ROWS; }
};

/* Rows t0 .. t0+CHUNK of one sequence's (T, d) array `src` into a (CHUNK, pitch) tile, zeros
 * past T and d; `vec`: d == D and the array 16-byte aligned, so rows go by float4. */
template <int D, int NT>
__device__ __forceinline__ void load_rows(float *dst, int pitch, const float *src, int t0, int T, int d, bool vec,
                                          int tid) {
    if (vec) {
        for (int at = tid; at < CHUNK * D / 4; at += NT) {
            const int t = at / (D / 4), j = 4 * (at % (D / 4));
            *(float4 *)(dst + t * pitch + j) =
                t0 + t < T ? *(const float4 *)(src + (size_t)(t0 + t) * D + j) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
    } else {
        for (int at = tid; at < CHUNK * D; at += NT) {
            const int t = at / D, j = at % D;
            dst[t * pitch + j] = t0 + t < T && j < d ? src[(size_t)(t0 + t) * d + j] : 0.0f;
        }
    }
}

/* `bytes` from `src` into L2, one 128-byte line a thread at a time: the next chunk's rows,
 * fetched while this one computes, so that its loads wait on L2 rather than on memory. */
template <int NT> __device__ __forceinline__ void prefetch_l2(const float *src, size_t bytes, int tid) {
    const char *begin = (const char *)src;
    for (size_t off = (size_t)tid * 128; off < bytes; off += (size_t)NT * 128)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(begin + off));
}

/* prefetch_l2 of rows t0 .. t0+CHUNK of a (T, width) array (none when t0 >= T). */
template <int NT> __device__ __forceinline__ void prefetch_rows(const float *src, int t0, int T, int width, int tid) {
    if (t0 < T) prefetch_l2<NT>(src + (size_t)t0 * width, (size_t)min(CHUNK, T - t0) * width * sizeof(float), tid);
}

/* The chunk's decays (called by the first warp): b by a scan over the lanes (alpha after its
 * activation in gates[0], theta in gates[1] when ERROR), then the Decay tables. */
template <bool ERROR>
__device__ __forceinline__ void decay_scan(const Decay &s, const float *gates, int n_gates, int t0, int T, int lane) {
    const int t = t0 + lane;
    const float *g = gates + (size_t)t * n_gates;
    const bool in = lane < CHUNK && t < T;
    /* alpha > 1 (no sigmoid gives it) makes raw NaN, which the floor passes on */
    const float raw = in ? logf(1.0f - g[0]) : 0.0f, floored = raw < LOG_KEEP_MIN ? LOG_KEEP_MIN : raw;
    float b = floored;
#pragma unroll
    for (int o = 1; o < CHUNK; o <<= 1) {
        float up = __shfl_up_sync(0xffffffffu, b, o);
        if (lane >= o) b += up;
    }
    const float prev = __shfl_up_sync(0xffffffffu, b, 1), last = __shfl_sync(0xffffffffu, b, CHUNK - 1);
    if (lane < CHUNK) {
        s.theta[lane] = ERROR && in ? g[1] : 0.0f;
        s.b[lane] = b;
        s.gam[lane] = expf(b);
        s.gprev[lane] = lane ? expf(prev) : 1.0f;
        s.F[lane] = expf(last - b);
        s.dlog[lane] = in && raw >= LOG_KEEP_MIN ? -1.0f / (1.0f - g[0]) : 0.0f;
    }
    if (lane == 0) s.end[0] = expf(last);
}

/* Whether a chunk's rows of k, q and v go by float4: unpadded (d == D) and 16-byte aligned. */
template <int D> __device__ __forceinline__ bool rows_by_float4(const RuleArgs &a) {
    return a.d == D && (((uintptr_t)a.k | (uintptr_t)a.q | (uintptr_t)a.v) & 15) == 0;
}

/* Sequence seq's chunk at t0 into shared memory: its rows of k, q, v (pitches pk, pq, pv; by float4
 * when `vec`) and, by the first warp, its Decay. */
template <int D, int NT, bool ERROR>
__device__ __forceinline__ void load_chunk(const RuleArgs &a, size_t seq, int t0, bool vec, float *k, int pk,
                                           float *q, int pq, float *v, int pv, const Decay &dec, int tid) {
    const size_t base = seq * (size_t)a.T * a.d;
    load_rows<D, NT>(k, pk, a.k + base, t0, a.T, a.d, vec, tid);
    load_rows<D, NT>(q, pq, a.q + base, t0, a.T, a.d, vec, tid);
    load_rows<D, NT>(v, pv, a.v + base, t0, a.T, a.d, vec, tid);
    if (tid < 32) decay_scan<ERROR>(dec, a.gates + seq * (size_t)a.T * a.n_gates, a.n_gates, t0, a.T, tid);
}

/* The rows and gates load_chunk reads for the chunk at t0, into L2 (none past T). */
template <int NT> __device__ __forceinline__ void prefetch_chunk(const RuleArgs &a, size_t seq, int t0, int tid) {
    const size_t base = seq * (size_t)a.T * a.d;
    prefetch_rows<NT>(a.k + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.q + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.v + base, t0, a.T, a.d, tid);
    prefetch_rows<NT>(a.gates + seq * (size_t)a.T * a.n_gates, t0, a.T, a.n_gates, tid);
}

/* The chunk's L[t][u] from <k_t, k_u>: theta_t gamma_{t-1} / gamma_u <k_t, k_u> below the
 * diagonal, else 0; and A[t][u] from <q_t, k_u>: gamma_t / gamma_u <q_t, k_u> on and below it,
 * else 0 (chunk_regs.cuh's gram_tensor). */
template <bool ERROR> __device__ __forceinline__ float l_entry(const Decay &s, int t, int u, float kk) {
    const float prev = t ? s.b[t - 1] : 0.0f;
    return ERROR && u < t ? s.theta[t] * expf(prev - s.b[u]) * kk : 0.0f;
}
__device__ __forceinline__ float a_entry(const Decay &s, int t, int u, float qk) {
    return u <= t ? expf(s.b[t] - s.b[u]) * qk : 0.0f;
}

/* x <- (I + L)^-1 x (forward substitution over one right-hand side), four partial sums a
 * row for a shorter dependency chain. */
__device__ __forceinline__ void solve_lower(float (&x)[CHUNK], const float *L) {
    constexpr int LP = CHUNK + 4;
#pragma unroll
    for (int u = 1; u < CHUNK; u++) {
        float part[4] = {};
#pragma unroll
        for (int s = 0; s < u; s += 4) {
            float4 l = *(const float4 *)(L + u * LP + s);
            part[0] += l.x * x[s];
            if (s + 1 < u) part[1] += l.y * x[s + 1];
            if (s + 2 < u) part[2] += l.z * x[s + 2];
            if (s + 3 < u) part[3] += l.w * x[s + 3];
        }
        x[u] -= (part[0] + part[1]) + (part[2] + part[3]);
    }
}

/* Thread tid's column of the UT transform into x: column tid of U0 = (I + L)^-1 Theta V for
 * tid < D, else column tid - D of W = (I + L)^-1 Theta Gamma_prev K (the Hebbian rule: U0 = V,
 * W = 0).  Returns whether it is W's. */
template <int D, bool ERROR>
__device__ __forceinline__ bool ut_column(float (&x)[CHUNK], int tid, const float *sK, const float *sV, int P,
                                          const Decay &dec, const float *L) {
    const bool is_w = tid >= D;
    const int j = is_w ? tid - D : tid;
#pragma unroll
    for (int u = 0; u < CHUNK; u++)
        x[u] = !ERROR ? (is_w ? 0.0f : sV[u * P + j])
                      : is_w ? dec.theta[u] * dec.gprev[u] * sK[u * P + j] : dec.theta[u] * sV[u * P + j];
    if (ERROR) solve_lower(x, L);
    return is_w;
}

/* x <- (I + L)^-T x (back substitution: x_t -= sum_{s > t} L[s][t] x_s). */
__device__ __forceinline__ void solve_upper(float (&x)[CHUNK], const float *L) {
    constexpr int LP = CHUNK + 4;
#pragma unroll
    for (int u = CHUNK - 2; u >= 0; u--) {
        float part[4] = {};
#pragma unroll
        for (int s = u + 1; s < CHUNK; s++) part[s % 4] += L[s * LP + u] * x[s];
        x[u] -= (part[0] + part[1]) + (part[2] + part[3]);
    }
}

} /* namespace hct */
#endif
