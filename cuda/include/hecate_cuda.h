/* hecate_cuda.h — public API of libhecate_cuda, the CUDA backend of hecate_edge:
 * the matrix-memory rules (delta, Titans, Hebbian, Atlas) over a batch of
 * sequences (B sessions x H heads) on one GPU, forward and backward, with
 * the semantics of hecate_rule_forward / hecate_rule_backward (hecate.h).
 *
 * Plain C, statuses as in hecate.h (HECATE_E_DEVICE: no GPU/driver or a CUDA
 * call failed; HECATE_E_UNSUPPORTED: a rule, retention, option or width this
 * backend does not implement); hecate_cuda_last_error() says which, in words.
 * Array arguments of the rule calls are DEVICE pointers (cudaMalloc'd, or a
 * framework tensor's data pointer), float32, contiguous; the memory helpers
 * below move host arrays.  Calls run on the default stream and return after
 * the work is done.  Not thread-safe: one host thread at a time.
 * Like hecate.h it is read by cffi (hecate_edge/cuda.py): plain declarations.
 */
#ifndef HECATE_CUDA_H
#define HECATE_CUDA_H

#ifndef HECATE_CDEF
#include "hecate.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* HECATE_OK when a CUDA device and a driver that can run this library's code
 * are present, else HECATE_E_DEVICE (the reason in hecate_cuda_last_error). */
hecate_status hecate_cuda_probe(void);

/* The detail of the last failing call of this library (static storage, ""
 * when none failed yet), e.g. "CUDA driver not found" or "atlas backward
 * is not implemented on CUDA". */
const char *hecate_cuda_last_error(void);

/* Name and compute capability of device 0 into buf (at most buf_len bytes,
 * NUL-terminated). */
hecate_status hecate_cuda_device_name(char *buf, size_t buf_len);

/* Device memory: allocate `bytes` (>0) into *ptr; free (NULL is a no-op);
 * copy host -> device and device -> host; fill with zero bytes. */
hecate_status hecate_cuda_alloc(size_t bytes, void **ptr);
hecate_status hecate_cuda_free(void *ptr);
hecate_status hecate_cuda_to_device(void *device_dst, const void *host_src, size_t bytes);
hecate_status hecate_cuda_to_host(void *host_dst, const void *device_src, size_t bytes);
hecate_status hecate_cuda_zero(void *device_ptr, size_t bytes);

/* Whether this backend runs `spec` (backward != 0: also its backward), and
 * the rule's gate count and state scalars per sequence.  HECATE_E_BAD_ARG
 * where hecate_rule_shape says so; HECATE_E_UNSUPPORTED for a rule other
 * than delta/titans/hebbian/atlas, a retention other than L2, Atlas with
 * Newton-Schulz steps, d > 128, or the backward of Atlas. */
hecate_status hecate_cuda_rule_check(const hecate_rule_spec *spec, int backward, uint32_t *n_gates,
                                     size_t *state_len);

/* n_seq independent sequences (b * H + h order) of T tokens:
 * k, v, q (n_seq, T, d); gates (n_seq, T, n_gates) after activation;
 * state (n_seq, state_len) in, overwritten with the state after token T-1;
 * y (n_seq, T, d) receives the read after each token's write.  The state
 * stays on chip across the T tokens.  HECATE_E_NONFINITE (state unchanged)
 * when an incoming state holds NaN/Inf. */
hecate_status hecate_cuda_rule_forward(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                       const float *k, const float *v, const float *q, const float *gates,
                                       float *state, float *y);

/* Scalars of device `work` hecate_cuda_rule_backward needs. */
hecate_status hecate_cuda_rule_backward_len(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                            size_t *work_len);

/* Gradients of sum(y * dy) of the hecate_cuda_rule_forward call with the
 * same arguments and incoming `state` (read only): dk, dv, dq (n_seq, T, d)
 * and dgates (n_seq, T, n_gates) overwritten; the incoming state is a
 * constant (as hecate_rule_backward).  work: backward_len scalars. */
hecate_status hecate_cuda_rule_backward(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                        const float *k, const float *v, const float *q, const float *gates,
                                        const float *state, const float *dy, float *dk, float *dv, float *dq,
                                        float *dgates, float *work);

#ifdef __cplusplus
}
#endif
#endif /* HECATE_CUDA_H */
