/* cuda/src/window.cuh — Atlas' window of c key/value rows in shared memory: the forward's
 * ring (loaded from the state, one push per token, written back oldest-first) and the
 * backward's copy rebuilt for each token from the sequence's keys/values. */
#ifndef HECATE_CUDA_WINDOW_CUH
#define HECATE_CUDA_WINDOW_CUH
#include "columns.cuh"

namespace hct {

/* The forward's window: c rows of D keys (K) and values (V), slot `head` the oldest. */
struct Ring {
    float *K, *V;
    int c, head;
};

/* The backward's window: K, V rebuilt per token from the sequence's keys k and values v
 * (and the incoming state's window rows `init` before token 0); gK, gV the ring of the
 * window rows' gradients (slot = token mod c). */
struct Window {
    float *K, *V, *gK, *gV;
    const float *k, *v, *init;
    int c, d;
};

/* The window rows of a sequence's state (keys then values, after its two d x d matrices
 * of dd scalars each) into the ring, oldest row at slot 0. */
template <int D> __device__ __forceinline__ void ring_load(Ring &w, const float *state, size_t dd, int d, int tid) {
    const int c = w.c;
    for (int at = tid; at < c * D; at += blockDim.x) {
        int r = at / D, col = at % D;
        w.K[at] = col < d ? state[2 * dd + (size_t)r * d + col] : 0.0f;
        w.V[at] = col < d ? state[2 * dd + (size_t)(c + r) * d + col] : 0.0f;
    }
}

/* The token's key and value replace the oldest row, which every thread is done with. */
template <int D> __device__ __forceinline__ void ring_push(Ring &w, const float *k, const float *v, int tid) {
    __syncthreads();
    if (tid < D) {
        w.K[w.head * D + tid] = k[tid];
        w.V[w.head * D + tid] = v[tid];
    }
    w.head = w.head + 1 == w.c ? 0 : w.head + 1;
    __syncthreads();
}

/* The ring back into the state, oldest row first. */
template <int D> __device__ __forceinline__ void ring_store(const Ring &w, float *state, size_t dd, int d, int tid) {
    const int c = w.c;
    for (int at = tid; at < c * d; at += blockDim.x) {
        int r = at / d, col = at % d, slot = (w.head + r) % c;
        state[2 * dd + at] = w.K[slot * D + col];
        state[2 * dd + (size_t)c * d + at] = w.V[slot * D + col];
    }
}

/* Atlas' window after token t's push, from the sequence's keys/values and,
 * for rows before token 0, the incoming state's window (oldest row first). */
template <int D>
__device__ __forceinline__ void fill_window(float *wK, float *wV, const float *k, const float *v, const float *window0,
                                            int t, int c, int d, int tid) {
    __syncthreads();
    for (int at = tid; at < c * D; at += blockDim.x) {
        int r = at / D, col = at % D, u = t - c + 1 + r;
        float kv = 0.0f, vv = 0.0f;
        if (col < d && u >= 0) {
            kv = k[(size_t)u * d + col];
            vv = v[(size_t)u * d + col];
        } else if (col < d) {
            kv = window0[(size_t)(c + u) * d + col];
            vv = window0[(size_t)(2 * c + u) * d + col];
        }
        wK[at] = kv;
        wV[at] = vv;
    }
    __syncthreads();
}

} /* namespace hct */
#endif
