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
 * the work is done (the _async launches excepted).  Not thread-safe: one host thread at a time.
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
 * when none failed yet), e.g. "no CUDA device is visible" or "d = 256: the
 * CUDA kernels hold the state on chip for d <= 128 only". */
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

/* Whether this backend runs `spec` (forward and backward), and the rule's
 * gate count and state scalars per sequence.  HECATE_E_BAD_ARG where
 * hecate_rule_shape says so; HECATE_E_UNSUPPORTED for a rule other than
 * delta/titans/hebbian/atlas, a retention other than L2, Atlas with
 * Newton-Schulz steps, or d > 128. */
hecate_status hecate_cuda_rule_check(const hecate_rule_spec *spec, uint32_t *n_gates, size_t *state_len);

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

/* The two calls above as launches on `stream` (a cudaStream_t; NULL: the
 * legacy default stream) that return once the kernel is queued, for a
 * framework that orders work on its own streams or captures it into a CUDA
 * graph (hecate_edge.torch).  They make no device call besides the launch:
 * no probe, no copy, no sync and no check of the incoming state, so a NaN or
 * Inf there gives non-finite outputs instead of HECATE_E_NONFINITE.  The
 * spec is checked as above; an error of the kernel's run surfaces at the
 * caller's next synchronization of the stream. */
hecate_status hecate_cuda_rule_forward_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                             const float *k, const float *v, const float *q, const float *gates,
                                             float *state, float *y, void *stream);
hecate_status hecate_cuda_rule_backward_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                              const float *k, const float *v, const float *q, const float *gates,
                                              const float *state, const float *dy, float *dk, float *dv,
                                              float *dq, float *dgates, float *work, void *stream);

/* ---- Chunked forward (delta and Hebbian rules) -----------------------
 * hecate_cuda_rule_forward computed 16 tokens at a time as matrix products
 * (docs/CUDA.md "Chunked forward"), one block per sequence: the same y and
 * final state up to float32 rounding (~1e-7 relative; ~1e-6 at widths above
 * 64, whose products run on the tensor cores split in three TF32 products),
 * faster for long sequences.  Unlike the
 * token-by-token kernels its rounding depends on where the call's chunks
 * fall, so splitting a sequence over calls can change the low bits (the
 * token-by-token forward gives the same bits however the calls split).
 * Arguments, gates and statuses as hecate_cuda_rule_forward; alpha must lie
 * in [0, 1] (a sigmoid's range: above 1 the outputs are NaN, where the
 * token-by-token forward would flip the state's sign); alpha = 1 (nothing
 * kept) counts as keeping e^-80 of the state.  Other rules, and a GPU whose
 * blocks cannot hold the kernel's shared memory at this width (~100 KB at
 * widths above 64: not sm_86, sm_89): HECATE_E_UNSUPPORTED.  Its gradients:
 * hecate_cuda_rule_backward_chunked (below) or hecate_cuda_rule_backward. */
hecate_status hecate_cuda_rule_forward_chunked(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                               const float *k, const float *v, const float *q, const float *gates,
                                               float *state, float *y);

/* The call above as a launch on `stream`, as hecate_cuda_rule_forward_async. */
hecate_status hecate_cuda_rule_forward_chunked_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                     const float *k, const float *v, const float *q,
                                                     const float *gates, float *state, float *y, void *stream);

/* The gradients of sum(y * dy) of the chunked forward (hecate_cuda_rule_backward's
 * arguments, outputs and statuses; equal to its results up to float32 rounding), computed
 * chunk by chunk (docs/CUDA.md "Chunked backward"): a chunked forward stores the state at every
 * chunk's start and the chunk's writes in `work`, a reverse walk the state's gradient at every
 * chunk's end and the writes' gradients, then every chunk's gradients are computed at once
 * (backward_chunked_len scalars: 2 d_pad^2 + 32 d_pad a chunk of 16 tokens and sequence, d_pad
 * the width padded to 16, 32, 64 or 128; 16-byte aligned, else HECATE_E_BAD_ARG).  Where alpha
 * = 1 (the e^-80 floor), d alpha is 0.  The _len call also says whether the current GPU runs
 * the pair at this width: HECATE_E_UNSUPPORTED where its blocks cannot hold the backward's
 * shared memory (73 KB at widths above 64, 43 KB at 33-64: every GPU of compute capability 8.0
 * or later holds it). */
hecate_status hecate_cuda_rule_backward_chunked_len(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                    size_t *work_len);
hecate_status hecate_cuda_rule_backward_chunked(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                const float *k, const float *v, const float *q, const float *gates,
                                                const float *state, const float *dy, float *dk, float *dv,
                                                float *dq, float *dgates, float *work);
hecate_status hecate_cuda_rule_backward_chunked_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                      const float *k, const float *v, const float *q,
                                                      const float *gates, const float *state, const float *dy,
                                                      float *dk, float *dv, float *dq, float *dgates, float *work,
                                                      void *stream);

/* ---- Whole-model sessions: a batch of sessions of one model file ------
 * A batch holds n_sessions independent sessions (own memory state, window
 * cache and position) of a float32 model file on the GPU and feeds them
 * tokens together (MATH §1-§4: embedding, projections by cuBLAS, streaming
 * window attention, the memory rule with its state on chip, MAG, LM head).
 * The file must use the MAG composition, one layer and one memory level and
 * a rule hecate_cuda_rule_check accepts; anything else is HECATE_E_UNSUPPORTED
 * naming what.  Unlike the CPU runtime the batch allocates (device memory
 * and a host struct) and must be closed. */
typedef struct hecate_cuda_batch hecate_cuda_batch;

enum { HECATE_CUDA_ALL_SESSIONS = -1 };

/* Validate `file` (file_bytes, 8-byte aligned; checked by the CPU runtime's
 * hecate_model_open, every FORMAT.md check), copy it to the GPU and make
 * n_sessions (>= 1) reset sessions fed in blocks of at most max_chunk tokens
 * per session (0: 64).  The file buffer may be freed afterwards. */
hecate_status hecate_cuda_batch_open(const void *file, size_t file_bytes, uint32_t n_sessions, uint32_t max_chunk,
                                     hecate_cuda_batch **out);

/* Free everything of the batch (NULL is a no-op). */
hecate_status hecate_cuda_batch_close(hecate_cuda_batch *batch);

/* Reset one session (0 <= session < n_sessions) or all (HECATE_CUDA_ALL_SESSIONS). */
hecate_status hecate_cuda_batch_reset(hecate_cuda_batch *batch, int32_t session);

/* Feed T tokens to every session: tokens (n_sessions, T) host array, each
 * < vocab (all checked first: HECATE_E_TOKEN_RANGE); logits (n_sessions, T,
 * vocab) host array or NULL.  Equal, up to float32 summation order, to
 * hecate_process of each session's row on the CPU.  HECATE_E_NONFINITE: the
 * failing block is not committed, earlier blocks are (as hecate_process). */
hecate_status hecate_cuda_batch_process(hecate_cuda_batch *batch, const uint32_t *tokens, uint32_t T,
                                        float *logits);

/* Copy session `session`'s memory state (the layout hecate_session_memory
 * gives, state_len scalars) into host `state`; HECATE_E_BUFFER_TOO_SMALL
 * when state_len differs from the rule's. */
hecate_status hecate_cuda_batch_memory(const hecate_cuda_batch *batch, uint32_t session, float *state,
                                       size_t state_len);

/* Tokens session `session` consumed since its last reset. */
hecate_status hecate_cuda_batch_position(const hecate_cuda_batch *batch, uint32_t session, uint64_t *position);

#ifdef __cplusplus
}
#endif
#endif /* HECATE_CUDA_H */
