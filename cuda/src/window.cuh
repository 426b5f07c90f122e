/* cuda/src/window.cuh — Atlas' window of c key/value rows in shared memory, as the
 * backward rebuilds it for each token from the sequence's keys/values and the incoming
 * state's window. */
#ifndef HECATE_CUDA_WINDOW_CUH
#define HECATE_CUDA_WINDOW_CUH
#include "columns.cuh"

namespace hct {

/* Atlas' window after token t's push, from the sequence's keys/values and,
 * for rows before token 0, the incoming state's window (oldest row first). */
template <int D>
__device__ __forceinline__ void fill_window(float *wK, float *wV, const float *k, const float *v, const float *window0,
                                            int t, int c, int d, int tid) {
    __syncthreads();
    for (int at = tid; at < c * D; at += Cols<D>::THREADS) {
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
