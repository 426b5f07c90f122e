/* cuda/src/model_kernels.cuh — the element-wise and attention kernels of a
 * model step on the GPU for a batch of sessions (MATH §1, §2, §3.1, §4 MAG),
 * each over a block of tc tokens per session, rows ordered (session, token);
 * the projections are cuBLAS products (model.cu). */
#ifndef HECATE_CUDA_MODEL_KERNELS_CUH
#define HECATE_CUDA_MODEL_KERNELS_CUH
#include <cuda_runtime.h>
#include <stdint.h>

namespace hct {

/* x[row] = emb[tokens[row]] for rows = n_rows (MATH §1). */
void embed(const uint32_t *tokens, const float *emb, int d, int n_rows, float *x);

/* MATH §3.1 after the projections: L2-normalize km and qm rows in place
 * (when qk_norm), then gates[row][g] = act_g(<gate_w[g], [km, vm]> + gate_b[g]);
 * gate_kind: 0 sigmoid, 1 softplus (hecate rules' codes). */
void front_end(float *km, float *qm, const float *vm, const float *gate_w, const float *gate_b, const uint8_t *kinds,
               int n_gates, int d, int n_rows, bool qk_norm, float *gates);

/* Streaming window attention (MATH §2) of block rows (n_sessions, tc): token t
 * of session s sits at position pos[s] + t and attends to the w positions up
 * to it, earlier ones from the ring (slot = position % w, (n_sessions, w, d)). */
void window_attention(const float *q, const float *k, const float *v, const float *ring_k, const float *ring_v,
                      const uint64_t *pos, int n_sessions, int tc, int d, int n_heads, int w, float *a);

/* MAG (MATH §4): o = a * sigmoid(y), n values. */
void mag_gate(const float *a, const float *y, size_t n, float *o);

/* The block's last min(tc, w) keys and values into each session's ring. */
void ring_commit(const float *k, const float *v, const uint64_t *pos, int n_sessions, int tc, int d, int w,
                 float *ring_k, float *ring_v);

} /* namespace hct */
#endif
