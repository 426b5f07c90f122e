/* cuda/src/api.cu — the C API of hecate_cuda.h: device detection, the spec
 * checks (what the CUDA kernels implement, in words when they do not), the
 * memory helpers and the launches, every failure a status plus a message. */
#include <stdarg.h>
#include <atomic>
#include <stdio.h>

#include "errors.cuh"
#include "hecate_cuda.h"
#include "launch.cuh"

static char g_error[256] = "";

namespace hct {

hecate_status fail(hecate_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return status;
}

hecate_status check_cuda(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return HECATE_OK;
    return fail(HECATE_E_DEVICE, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

/* Sets *flag (device int) when any of the n values is NaN or Inf: a float4 at a time where x is
 * 16-byte aligned (a batch's states, hundreds of MB, checked at memory speed), each block's
 * verdict gathered before one write. */
__global__ static void find_nonfinite(const float *x, size_t n, int *flag) {
    const size_t stride = (size_t)gridDim.x * blockDim.x, first = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    size_t tail = 0;
    bool bad = false;
    if (((uintptr_t)x & 15) == 0) {
        const float4 *x4 = (const float4 *)x;
        for (size_t at = first; at < n / 4; at += stride) {
            const float4 v = x4[at];
            bad |= !isfinite(v.x) || !isfinite(v.y) || !isfinite(v.z) || !isfinite(v.w);
        }
        tail = n / 4 * 4;
    }
    for (size_t at = tail + first; at < n; at += stride) bad |= !isfinite(x[at]);
    if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1;
}

hecate_status all_finite(const float *x, size_t n, const char *what) {
    int *flag = NULL, found = 0;
    hecate_status st = check_cuda(cudaMalloc((void **)&flag, sizeof(int)), "cudaMalloc");
    if (st != HECATE_OK) return st;
    st = check_cuda(cudaMemset(flag, 0, sizeof(int)), "cudaMemset");
    if (st == HECATE_OK) {
        /* a block per 1024 values up to 2048 blocks: every SM keeps many loads in flight */
        const size_t blocks = (n / 4 + 255) / 256;
        find_nonfinite<<<(unsigned)(blocks < 2048 ? (blocks ? blocks : 1) : 2048), 256>>>(x, n, flag);
        st = check_cuda(cudaGetLastError(), "finite check launch"); /* else a kernel that never ran reads as "finite" */
        if (st == HECATE_OK)
            st = check_cuda(cudaMemcpy(&found, flag, sizeof(int), cudaMemcpyDeviceToHost), "finite check");
    }
    cudaFree(flag);
    if (st == HECATE_OK && found) return fail(HECATE_E_NONFINITE, "%s holds NaN or Inf", what);
    return st;
}

} /* namespace hct */

using hct::check_cuda;
using hct::fail;

extern "C" {

const char *hecate_cuda_last_error(void) { return g_error; }

hecate_status hecate_cuda_probe(void) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess)
        return fail(HECATE_E_DEVICE, "no usable CUDA device: %s (%s); is an NVIDIA driver installed and a GPU visible?",
                    cudaGetErrorString(err), cudaGetErrorName(err));
    if (count == 0) return fail(HECATE_E_DEVICE, "no CUDA device is visible");
    cudaDeviceProp prop;
    hecate_status st = check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    if (st != HECATE_OK) return st;
    if (prop.major < 8)
        return fail(HECATE_E_DEVICE, "GPU %s has compute capability %d.%d; libhecate_cuda is built for 8.0 and newer",
                    prop.name, prop.major, prop.minor);
    return HECATE_OK;
}

hecate_status hecate_cuda_device_name(char *buf, size_t buf_len) {
    if (!buf || buf_len == 0) return HECATE_E_NULL_ARG;
    hecate_status st = hecate_cuda_probe();
    if (st != HECATE_OK) return st;
    cudaDeviceProp prop;
    st = check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    if (st == HECATE_OK)
        snprintf(buf, buf_len, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    return st;
}

hecate_status hecate_cuda_alloc(size_t bytes, void **ptr) {
    if (!ptr) return HECATE_E_NULL_ARG;
    *ptr = NULL;
    if (bytes == 0) return fail(HECATE_E_BAD_ARG, "hecate_cuda_alloc of 0 bytes");
    return check_cuda(cudaMalloc(ptr, bytes), "cudaMalloc");
}

hecate_status hecate_cuda_free(void *ptr) { return ptr ? check_cuda(cudaFree(ptr), "cudaFree") : HECATE_OK; }

hecate_status hecate_cuda_to_device(void *device_dst, const void *host_src, size_t bytes) {
    if (bytes && (!device_dst || !host_src)) return HECATE_E_NULL_ARG;
    return check_cuda(cudaMemcpy(device_dst, host_src, bytes, cudaMemcpyHostToDevice), "copy to device");
}

hecate_status hecate_cuda_to_host(void *host_dst, const void *device_src, size_t bytes) {
    if (bytes && (!host_dst || !device_src)) return HECATE_E_NULL_ARG;
    return check_cuda(cudaMemcpy(host_dst, device_src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}

hecate_status hecate_cuda_zero(void *device_ptr, size_t bytes) {
    if (bytes && !device_ptr) return HECATE_E_NULL_ARG;
    return check_cuda(cudaMemset(device_ptr, 0, bytes), "cudaMemset");
}

hecate_status hecate_cuda_rule_check(const hecate_rule_spec *spec, uint32_t *n_gates, size_t *state_len) {
    size_t scratch = 0;
    if (!spec || !n_gates || !state_len) return HECATE_E_NULL_ARG;
    hecate_status st = hecate_rule_shape(spec, n_gates, state_len, &scratch);
    if (st != HECATE_OK) return fail(st, "invalid rule spec: %s", hecate_status_str(st));
    if (hct::rule_mats((int)spec->rule) == 0)
        return fail(HECATE_E_UNSUPPORTED, "memory rule id %u is not implemented on CUDA (%s are)", spec->rule,
                    hct::rule_names());
    if (spec->period > 1)
        return fail(HECATE_E_UNSUPPORTED, "CMS period %u: the CUDA kernels run per-token levels (period 1) only",
                    spec->period);
    if (spec->retention > 1)
        return fail(HECATE_E_UNSUPPORTED, "retention id %u is not implemented on CUDA (L2 only)", spec->retention);
    const char *refused = hct::rule_refusal(*spec);
    if (refused) return fail(HECATE_E_UNSUPPORTED, "%s", refused);
    if (hct::padded_width((int)spec->d) == 0)
        return fail(HECATE_E_UNSUPPORTED, "d = %u: the CUDA kernels hold the state on chip for d <= 128 only", spec->d);
    return HECATE_OK;
}

/* n_seq and T as the kernels count them: ints, T stepped 16 tokens at a time (T + 16 an int). */
static bool counts_fit(uint32_t n_seq, uint32_t T) { return n_seq <= 0x7fffffffu && T <= 0x7fffffefu; }
static hecate_status counts_refused(void) {
    return fail(HECATE_E_BAD_ARG, "n_seq must be below 2^31 and T below 2^31 - 16");
}

/* Check the spec and the pointers, fill the launch arguments shared by both
 * directions (host work only: no device call, so it may run while a stream
 * is being captured into a CUDA graph). */
static hecate_status fill_args(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                               const float *k, const float *v, const float *q, const float *gates,
                               const float *state, cudaStream_t stream, hct::RuleArgs *a) {
    uint32_t n_gates = 0;
    size_t state_len = 0;
    if (!spec || !state) return HECATE_E_NULL_ARG;
    if (n_seq && T && (!k || !v || !q || !gates)) return HECATE_E_NULL_ARG;
    if (!counts_fit(n_seq, T)) return counts_refused();
    hecate_status st = hecate_cuda_rule_check(spec, &n_gates, &state_len);
    if (st != HECATE_OK) return st;
    *a = hct::RuleArgs{};
    a->d = (int)spec->d;
    a->T = (int)T;
    a->n_gates = (int)n_gates;
    a->window = hct::rule_window(*spec);
    a->state_len = state_len;
    a->k = k;
    a->v = v;
    a->q = q;
    a->gates = gates;
    a->state_in = state;
    a->stream = stream;
    return HECATE_OK;
}

/* fill_args after probing the device and checking the incoming state is finite. */
static hecate_status prepare(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                             const float *k, const float *v, const float *q, const float *gates,
                             const float *state, hct::RuleArgs *a) {
    hecate_status st = hecate_cuda_probe();
    if (st == HECATE_OK) st = fill_args(spec, n_seq, T, k, v, q, gates, state, 0, a);
    if (st == HECATE_OK && n_seq) st = hct::all_finite(state, (size_t)n_seq * a->state_len, "the incoming state");
    return st;
}

/* What the chunked forms ask beyond a spec's rule check: a rule they run, and a device whose
 * blocks hold their shared memory at this width: the forward's, and with `backward` the
 * backward's too (its call runs both).  At width 128 the chunked backward needs 73 KB, the
 * forward 38 KB (every GPU the library is built for holds them); where they do not fit,
 * HECATE_E_UNSUPPORTED (the token-by-token calls run there). */
static hecate_status chunk_supported(const hecate_rule_spec *spec, bool backward) {
    if (!hct::chunk_forward_runs((int)spec->rule))
        return fail(HECATE_E_UNSUPPORTED, "the chunked forward runs the delta and hebbian rules, not rule id %u",
                    spec->rule);
    /* each device's limit, asked once (before a CUDA graph's capture, where the first calls warm up) */
    static std::atomic<int> limits[64];
    int device = 0, have = 0;
    hecate_status st = check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    if (st != HECATE_OK) return st;
    std::atomic<int> *known = device >= 0 && device < 64 ? &limits[device] : nullptr;
    if (known) have = known->load(std::memory_order_relaxed);
    if (have == 0) {
        st = check_cuda(cudaDeviceGetAttribute(&have, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                        "cudaDeviceGetAttribute");
        if (st != HECATE_OK) return st;
        if (known) known->store(have, std::memory_order_relaxed);
    }
    const int d = (int)spec->d;
    const size_t fwd = hct::chunk_forward_smem(d), bwd = backward ? hct::chunk_backward_smem(d) : 0;
    const size_t need = fwd > bwd ? fwd : bwd;
    if (need > (size_t)have)
        return fail(HECATE_E_UNSUPPORTED,
                    "the chunked %s at width %d needs %zu bytes of shared memory a block; this GPU gives %d "
                    "(the token-by-token calls run here)",
                    backward ? "backward" : "forward", d, need, have);
    return HECATE_OK;
}

/* How a call runs: `sync` probes the device, checks the incoming state, launches on the default
 * stream and waits (the plain calls); else it only launches on `stream` (the _async calls).
 * `chunked`: the chunked kernels (chunk_forward.cu, chunk_backward.cu), chunk_supported checked. */
struct Mode {
    bool sync, chunked;
    cudaStream_t stream;
};

/* The arguments of a call (a backward's when `backward`) checked and filled as its mode asks
 * (prepare or fill_args). */
static hecate_status begin(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T, const float *k,
                           const float *v, const float *q, const float *gates, const float *state, Mode m,
                           bool backward, hct::RuleArgs *a) {
    hecate_status st = m.sync ? prepare(spec, n_seq, T, k, v, q, gates, state, a)
                              : fill_args(spec, n_seq, T, k, v, q, gates, state, m.stream, a);
    return st == HECATE_OK && m.chunked ? chunk_supported(spec, backward) : st;
}

/* A launch's CUDA error as a status, then (sync) the wait for its kernels. */
static hecate_status finish(cudaError_t launched, Mode m, const char *what) {
    char label[64];
    snprintf(label, sizeof label, "%s%s launch", m.chunked ? "chunked " : "", what);
    hecate_status st = check_cuda(launched, label);
    if (st != HECATE_OK || !m.sync) return st;
    snprintf(label, sizeof label, "%s%s", m.chunked ? "chunked " : "", what);
    return check_cuda(cudaDeviceSynchronize(), label);
}

/* The four public forwards. */
static hecate_status forward_call(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T, const float *k,
                                  const float *v, const float *q, const float *gates, float *state, float *y,
                                  Mode m) {
    hct::RuleArgs a;
    if (n_seq && T && !y) return HECATE_E_NULL_ARG;
    hecate_status st = begin(spec, n_seq, T, k, v, q, gates, state, m, false, &a);
    if (st != HECATE_OK || n_seq == 0 || T == 0) return st;
    a.state = state;
    a.y = y;
    int rule = (int)spec->rule;
    return finish(m.chunked ? hct::launch_chunk_forward(rule, (int)n_seq, a) : hct::launch_forward(rule, (int)n_seq, a),
                  m, "forward");
}

/* The four public backwards. */
static hecate_status backward_call(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T, const float *k,
                                   const float *v, const float *q, const float *gates, const float *state,
                                   const float *dy, float *dk, float *dv, float *dq, float *dgates, float *work,
                                   Mode m) {
    hct::RuleArgs a;
    if (n_seq && T && (!dy || !dk || !dv || !dq || !dgates || !work)) return HECATE_E_NULL_ARG;
    hecate_status st = begin(spec, n_seq, T, k, v, q, gates, state, m, true, &a);
    if (st != HECATE_OK || n_seq == 0 || T == 0) return st;
    if (m.chunked && ((uintptr_t)work & 15) != 0)
        return fail(HECATE_E_BAD_ARG, "the chunked backward's work must be 16-byte aligned (cudaMalloc's is)");
    a.dy = dy;
    a.dk = dk;
    a.dv = dv;
    a.dq = dq;
    a.dgates = dgates;
    a.work = work;
    int rule = (int)spec->rule;
    return finish(m.chunked ? hct::launch_chunk_backward(rule, (int)n_seq, a) : hct::launch_backward(rule, (int)n_seq, a),
                  m, "backward");
}

hecate_status hecate_cuda_rule_forward(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                       const float *k, const float *v, const float *q, const float *gates,
                                       float *state, float *y) {
    return forward_call(spec, n_seq, T, k, v, q, gates, state, y, Mode{true, false, 0});
}

hecate_status hecate_cuda_rule_forward_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                             const float *k, const float *v, const float *q, const float *gates,
                                             float *state, float *y, void *stream) {
    return forward_call(spec, n_seq, T, k, v, q, gates, state, y, Mode{false, false, (cudaStream_t)stream});
}

hecate_status hecate_cuda_rule_forward_chunked(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                               const float *k, const float *v, const float *q, const float *gates,
                                               float *state, float *y) {
    return forward_call(spec, n_seq, T, k, v, q, gates, state, y, Mode{true, true, 0});
}

hecate_status hecate_cuda_rule_forward_chunked_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                     const float *k, const float *v, const float *q,
                                                     const float *gates, float *state, float *y, void *stream) {
    return forward_call(spec, n_seq, T, k, v, q, gates, state, y, Mode{false, true, (cudaStream_t)stream});
}

hecate_status hecate_cuda_rule_backward_len(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                            size_t *work_len) {
    uint32_t n_gates = 0;
    size_t state_len = 0;
    if (!work_len) return HECATE_E_NULL_ARG;
    if (!counts_fit(n_seq, T)) return counts_refused();
    hecate_status st = hecate_cuda_rule_check(spec, &n_gates, &state_len);
    if (st != HECATE_OK) return st;
    *work_len = hct::backward_work((int)spec->rule, (int)spec->d, (int)T, (int)n_seq);
    return HECATE_OK;
}

hecate_status hecate_cuda_rule_backward_chunked_len(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                    size_t *work_len) {
    uint32_t n_gates = 0;
    size_t state_len = 0;
    if (!spec || !work_len) return HECATE_E_NULL_ARG;
    if (!counts_fit(n_seq, T)) return counts_refused();
    hecate_status st = hecate_cuda_rule_check(spec, &n_gates, &state_len);
    if (st == HECATE_OK) st = chunk_supported(spec, true);
    if (st == HECATE_OK) *work_len = hct::chunk_backward_work((int)spec->d, (int)T, (int)n_seq);
    return st;
}

hecate_status hecate_cuda_rule_backward(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                        const float *k, const float *v, const float *q, const float *gates,
                                        const float *state, const float *dy, float *dk, float *dv, float *dq,
                                        float *dgates, float *work) {
    return backward_call(spec, n_seq, T, k, v, q, gates, state, dy, dk, dv, dq, dgates, work, Mode{true, false, 0});
}

hecate_status hecate_cuda_rule_backward_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                              const float *k, const float *v, const float *q, const float *gates,
                                              const float *state, const float *dy, float *dk, float *dv,
                                              float *dq, float *dgates, float *work, void *stream) {
    return backward_call(spec, n_seq, T, k, v, q, gates, state, dy, dk, dv, dq, dgates, work,
                         Mode{false, false, (cudaStream_t)stream});
}

hecate_status hecate_cuda_rule_backward_chunked(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                const float *k, const float *v, const float *q, const float *gates,
                                                const float *state, const float *dy, float *dk, float *dv,
                                                float *dq, float *dgates, float *work) {
    return backward_call(spec, n_seq, T, k, v, q, gates, state, dy, dk, dv, dq, dgates, work, Mode{true, true, 0});
}

hecate_status hecate_cuda_rule_backward_chunked_async(const hecate_rule_spec *spec, uint32_t n_seq, uint32_t T,
                                                      const float *k, const float *v, const float *q,
                                                      const float *gates, const float *state, const float *dy,
                                                      float *dk, float *dv, float *dq, float *dgates, float *work,
                                                      void *stream) {
    return backward_call(spec, n_seq, T, k, v, q, gates, state, dy, dk, dv, dq, dgates, work,
                         Mode{false, true, (cudaStream_t)stream});
}

} /* extern "C" */
