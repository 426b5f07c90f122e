/* cuda/src/model_kernels.cu — the kernels of model_kernels.cuh (one launch
 * each, on the default stream; errors surface at the caller's sync). */
#include "model_kernels.cuh"

namespace hct {

static unsigned blocks_for(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

__global__ static void embed_kernel(const uint32_t *tokens, const float *emb, int d, size_t n, float *x) {
    size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (at < n) x[at] = emb[(size_t)tokens[at / d] * d + at % d];
}

void embed(const uint32_t *tokens, const float *emb, int d, int n_rows, float *x) {
    size_t n = (size_t)n_rows * d;
    embed_kernel<<<blocks_for(n, 256), 256>>>(tokens, emb, d, n, x);
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it. */
__device__ static float block_sum(float x, float *shared32) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) shared32[threadIdx.x >> 5] = x;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) total += shared32[w];
    return total;
}

__device__ static float sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

__device__ static float softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* One block per row. */
__global__ static void front_end_kernel(float *km, float *qm, const float *vm, const float *gate_w,
                                        const float *gate_b, const uint8_t *kinds, int n_gates, int d, bool qk_norm,
                                        float *gates) {
    __shared__ float red[32];
    size_t row = blockIdx.x;
    float *k = km + row * d, *q = qm + row * d;
    const float *v = vm + row * d;
    if (qk_norm) {
        float sk = 0.0f, sq = 0.0f;
        for (int i = threadIdx.x; i < d; i += blockDim.x) {
            sk += k[i] * k[i];
            sq += q[i] * q[i];
        }
        float nk = sqrtf(block_sum(sk, red)), nq = sqrtf(block_sum(sq, red));
        float ik = 1.0f / fmaxf(nk, 1e-8f), iq = 1.0f / fmaxf(nq, 1e-8f);
        __syncthreads(); /* every thread has read the sums before k changes */
        for (int i = threadIdx.x; i < d; i += blockDim.x) {
            k[i] *= ik;
            q[i] *= iq;
        }
        __syncthreads();
    }
    for (int g = 0; g < n_gates; g++) {
        const float *w = gate_w + (size_t)g * 2 * d;
        float part = 0.0f;
        for (int i = threadIdx.x; i < d; i += blockDim.x) part += w[i] * k[i] + w[d + i] * v[i];
        float pre = block_sum(part, red) + gate_b[g];
        if (threadIdx.x == 0) gates[row * n_gates + g] = kinds[g] == 1 ? softplus(pre) : sigmoid(pre);
    }
}

void front_end(float *km, float *qm, const float *vm, const float *gate_w, const float *gate_b, const uint8_t *kinds,
               int n_gates, int d, int n_rows, bool qk_norm, float *gates) {
    front_end_kernel<<<n_rows, 128>>>(km, qm, vm, gate_w, gate_b, kinds, n_gates, d, qk_norm, gates);
}

/* One block per (row, head): scores over the window in shared memory, softmax, weighted values. */
__global__ static void window_kernel(const float *q, const float *k, const float *v, const float *ring_k,
                                     const float *ring_v, const uint64_t *pos, int tc, int d, int n_heads, int w,
                                     float *a) {
    extern __shared__ float scores[]; /* w, then 32 for reductions */
    float *red = scores + w;
    int head = blockIdx.x % n_heads, hd = d / n_heads;
    size_t row = blockIdx.x / n_heads;
    int s = (int)(row / tc), t = (int)(row % tc);
    uint64_t p0 = pos[s], p = p0 + t, j0 = p + 1 > (uint64_t)w ? p + 1 - w : 0;
    int n = (int)(p - j0 + 1);
    float scale = 1.0f / sqrtf((float)hd);
    const float *qh = q + row * d + head * hd;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        uint64_t j = j0 + i;
        const float *kr = j >= p0 ? k + ((size_t)s * tc + (j - p0)) * d : ring_k + ((size_t)s * w + j % w) * d;
        float dot = 0.0f;
        for (int c = 0; c < hd; c++) dot += qh[c] * kr[head * hd + c];
        scores[i] = scale * dot;
    }
    __syncthreads();
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, scores[i]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int x = 0; x < (int)(blockDim.x >> 5); x++) mx = fmaxf(mx, red[x]);
    float part = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        scores[i] = expf(scores[i] - mx);
        part += scores[i];
    }
    float inv = 1.0f / block_sum(part, red);
    for (int c = threadIdx.x; c < hd; c += blockDim.x) {
        float acc = 0.0f;
        for (int i = 0; i < n; i++) {
            uint64_t j = j0 + i;
            const float *vr = j >= p0 ? v + ((size_t)s * tc + (j - p0)) * d : ring_v + ((size_t)s * w + j % w) * d;
            acc += scores[i] * vr[head * hd + c];
        }
        a[row * d + head * hd + c] = acc * inv;
    }
}

void window_attention(const float *q, const float *k, const float *v, const float *ring_k, const float *ring_v,
                      const uint64_t *pos, int n_sessions, int tc, int d, int n_heads, int w, float *a) {
    size_t smem = ((size_t)w + 32) * sizeof(float);
    if (smem > 48 * 1024) cudaFuncSetAttribute(window_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    window_kernel<<<n_sessions * tc * n_heads, 128, smem>>>(q, k, v, ring_k, ring_v, pos, tc, d, n_heads, w, a);
}

__global__ static void mag_kernel(const float *a, const float *y, size_t n, float *o) {
    size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (at < n) o[at] = a[at] * sigmoid(y[at]);
}

void mag_gate(const float *a, const float *y, size_t n, float *o) { mag_kernel<<<blocks_for(n, 256), 256>>>(a, y, n, o); }

__global__ static void ring_kernel(const float *k, const float *v, const uint64_t *pos, int tc, int d, int w,
                                   int kept, size_t n, float *ring_k, float *ring_v) {
    size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (at >= n) return;
    int c = (int)(at % d);
    size_t r = at / d;
    int s = (int)(r / kept), t = tc - kept + (int)(r % kept);
    size_t src = ((size_t)s * tc + t) * d + c, dst = ((size_t)s * w + (pos[s] + t) % w) * d + c;
    ring_k[dst] = k[src];
    ring_v[dst] = v[src];
}

void ring_commit(const float *k, const float *v, const uint64_t *pos, int n_sessions, int tc, int d, int w,
                 float *ring_k, float *ring_v) {
    int kept = tc < w ? tc : w;
    size_t n = (size_t)n_sessions * kept * d;
    ring_kernel<<<blocks_for(n, 256), 256>>>(k, v, pos, tc, d, w, kept, n, ring_k, ring_v);
}

} /* namespace hct */
