/* cuda/src/model.cu — whole-model sessions on the GPU (hecate_cuda.h,
 * hecate_cuda_batch_*): the checks of what this backend runs, the model file
 * and every session's state in device memory, and the step over a block of
 * tokens (MATH §1-§4, MAG): embedding, cuBLAS projections, front end,
 * the rule kernel of forward.cu on a spare state, window attention, MAG
 * gate, output projection and LM head, then the commit (MATH §6). */
#include <cublas_v2.h>
#include <stdlib.h>
#include <string.h>

#include "errors.cuh"
#include "hecate_cuda.h"
#include "launch.cuh"
#include "model_kernels.cuh"

using hct::check_cuda;
using hct::fail;

struct hecate_cuda_batch {
    hecate_model_info info;
    hecate_rule_spec spec;
    uint32_t n_gates, n, chunk;
    size_t state_len;
    cublasHandle_t blas;
    unsigned char *file;   /* the model file on the device; weights point into it */
    const float *emb, *wq, *wk, *wv, *wo, *mk, *mv, *mq, *gate_w, *gate_b, *head;
    uint8_t *gate_kinds;   /* device, n_gates */
    float *state, *spare;  /* (n, state_len) */
    float *ring_k, *ring_v; /* (n, window, d) */
    uint64_t *pos_host, *pos_dev;
    uint32_t *tok_host, *tok_dev; /* (n, chunk) */
    float *x, *q, *k, *v, *km, *vm, *qm, *gates, *y, *a, *o, *p, *logits; /* rows (n, chunk) */
    float *scratch;        /* one allocation holding the rows above */
    float *init;           /* host: the rule's initial state of one session */
};

static uint32_t read_u32(const unsigned char *file, size_t at) {
    uint32_t v;
    memcpy(&v, file + at, sizeof v);
    return v;
}

static float read_f32(const unsigned char *file, size_t at) {
    float v;
    memcpy(&v, file + at, sizeof v);
    return v;
}

/* FORMAT.md header offsets the public info struct does not carry. */
enum { OFF_N_LAYERS = 64, OFF_RETENTION = 68, OFF_RULE_PARAMS = 104, OFF_RETENTION_PARAM = 136 };

/* Validate with the CPU runtime and check what this backend runs. */
static hecate_status open_checks(const void *file, size_t file_bytes, hecate_cuda_batch *b) {
    void *mem = aligned_alloc(64, (hecate_model_bytes() + 63) / 64 * 64);
    hecate_model *model = NULL;
    if (!mem) return fail(HECATE_E_IO, "out of host memory");
    hecate_status st = hecate_model_open(mem, hecate_model_bytes(), file, file_bytes, &model);
    if (st == HECATE_OK) st = hecate_model_get_info(model, &b->info);
    const char *names[] = {"emb", "blk0.attn.wq", "blk0.attn.wk", "blk0.attn.wv", "blk0.attn.wo", "blk0.mem0.wk",
                           "blk0.mem0.wv", "blk0.mem0.wq", "blk0.mem0.gate_w", "blk0.mem0.gate_b", "head"};
    size_t offsets[11] = {0};
    bool int8 = false;
    for (uint32_t i = 0; st == HECATE_OK && i < b->info.n_tensors; i++) {
        hecate_tensor_info t;
        st = hecate_model_tensor(model, i, &t);
        int8 |= st == HECATE_OK && t.dtype != 0;
        for (int w = 0; st == HECATE_OK && w < 11; w++)
            if (strcmp(t.name, names[w]) == 0) offsets[w] = (size_t)t.file_offset;
    }
    free(mem);
    if (st != HECATE_OK) return fail(st, "the model file is invalid: %s", hecate_status_str(st));
    const unsigned char *f = (const unsigned char *)file;
    if (b->info.real_bytes != 4) return fail(HECATE_E_UNSUPPORTED, "CUDA sessions run float32 model files only");
    if (int8) return fail(HECATE_E_UNSUPPORTED, "int8 weights are not implemented on CUDA (export float32)");
    if (b->info.composition != 0)
        return fail(HECATE_E_UNSUPPORTED, "composition id %u is not implemented on CUDA (mag is)", b->info.composition);
    if (b->info.flags & 8u) /* header flag bit 3: rotary positions in window attention (MATH §2) */
        return fail(HECATE_E_UNSUPPORTED, "rotary positions (flag bit 3) are not implemented on CUDA");
    if (b->info.n_levels != 1 || read_u32(f, OFF_N_LAYERS) != 1)
        return fail(HECATE_E_UNSUPPORTED, "CUDA sessions run one layer with one memory level (file: %u layers, %u "
                    "levels)", read_u32(f, OFF_N_LAYERS), b->info.n_levels);
    if (b->info.flags & 4u) /* FORMAT.md flag bit 2, MATH §3.1 */
        return fail(HECATE_E_UNSUPPORTED, "the short convolution in the memory front end (flag bit 2) is not "
                    "implemented on CUDA");
    if (b->info.flags & ~1u) /* docs/FORMAT.md flags: only bit 0 (q/k normalization) runs here */
        return fail(HECATE_E_UNSUPPORTED, "header flags %#x: the CUDA kernels implement flag bit 0 (q/k "
                    "normalization) only", b->info.flags);
    for (int w = 0; w < 11; w++)
        if (offsets[w] == 0) return fail(HECATE_E_UNSUPPORTED, "CUDA sessions need tensor %s", names[w]);
    memset(&b->spec, 0, sizeof b->spec);
    b->spec.rule = b->info.rule;
    b->spec.d = b->info.d_model;
    for (int i = 0; i < HECATE_RULE_PARAMS; i++) b->spec.params[i] = read_f32(f, OFF_RULE_PARAMS + 4 * i);
    b->spec.retention = read_u32(f, OFF_RETENTION);
    b->spec.retention_param = read_f32(f, OFF_RETENTION_PARAM);
    st = hecate_cuda_rule_check(&b->spec, &b->n_gates, &b->state_len);
    if (st != HECATE_OK) return st;
    const float **weights[] = {&b->emb, &b->wq, &b->wk, &b->wv, &b->wo, &b->mk, &b->mv, &b->mq, &b->gate_w, &b->gate_b,
                               &b->head};
    for (int w = 0; w < 11; w++) *weights[w] = (const float *)(void *)offsets[w]; /* offsets until the upload */
    return HECATE_OK;
}

/* Device memory of the batch: the file, states, rings, positions, tokens, block rows. */
static hecate_status allocate(hecate_cuda_batch *b, const void *file, size_t file_bytes) {
    const hecate_model_info *in = &b->info;
    size_t n = b->n, d = in->d_model, rows = n * b->chunk, V = in->vocab;
    hecate_status st = check_cuda(cudaMalloc((void **)&b->file, file_bytes), "cudaMalloc (model)");
    if (st == HECATE_OK) st = check_cuda(cudaMemcpy(b->file, file, file_bytes, cudaMemcpyHostToDevice), "model upload");
    const float **weights[] = {&b->emb, &b->wq, &b->wk, &b->wv, &b->wo, &b->mk, &b->mv, &b->mq, &b->gate_w, &b->gate_b,
                               &b->head};
    for (int w = 0; w < 11; w++) *weights[w] = (const float *)(b->file + (size_t)*weights[w]);
    uint8_t kinds[4] = {0, 1, 0, 0}; /* gate 1 (theta) is the softplus one in every rule this backend runs */
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->gate_kinds, 4), "cudaMalloc");
    if (st == HECATE_OK) st = check_cuda(cudaMemcpy(b->gate_kinds, kinds, 4, cudaMemcpyHostToDevice), "upload");
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->state, 2 * n * b->state_len * 4), "cudaMalloc (states)");
    b->spare = b->state ? b->state + n * b->state_len : NULL;
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->ring_k, 2 * n * in->window * d * 4), "cudaMalloc (window)");
    b->ring_v = b->ring_k ? b->ring_k + n * in->window * d : NULL;
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->pos_dev, n * 8), "cudaMalloc");
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->tok_dev, rows * 4), "cudaMalloc");
    size_t per_row = 11 * d + 4 + V;
    if (st == HECATE_OK) st = check_cuda(cudaMalloc((void **)&b->scratch, rows * per_row * 4), "cudaMalloc (scratch)");
    if (st != HECATE_OK) return st;
    float **row_arrays[] = {&b->x, &b->q, &b->k, &b->v, &b->km, &b->vm, &b->qm, &b->y, &b->a, &b->o, &b->p};
    for (int i = 0; i < 11; i++) *row_arrays[i] = b->scratch + (size_t)i * rows * d;
    b->gates = b->scratch + 11 * rows * d;
    b->logits = b->gates + 4 * rows;
    b->pos_host = (uint64_t *)calloc(n, 8);
    b->tok_host = (uint32_t *)calloc(rows, 4);
    b->init = (float *)calloc(b->state_len, 4);
    if (!b->pos_host || !b->tok_host || !b->init) return fail(HECATE_E_IO, "out of host memory");
    st = hecate_rule_init(&b->spec, b->init);
    if (st == HECATE_OK && cublasCreate(&b->blas) != CUBLAS_STATUS_SUCCESS)
        st = fail(HECATE_E_DEVICE, "cublasCreate failed");
    if (st == HECATE_OK && cublasSetMathMode(b->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)
        st = fail(HECATE_E_DEVICE, "cublasSetMathMode failed"); /* float32 products, no TF32 */
    return st;
}

extern "C" {

hecate_status hecate_cuda_batch_close(hecate_cuda_batch *b) {
    if (!b) return HECATE_OK;
    if (b->blas) cublasDestroy(b->blas);
    void *device[] = {b->file, b->gate_kinds, b->state, b->ring_k, b->pos_dev, b->tok_dev, b->scratch};
    for (void *ptr : device) cudaFree(ptr);
    free(b->pos_host);
    free(b->tok_host);
    free(b->init);
    free(b);
    return HECATE_OK;
}

hecate_status hecate_cuda_batch_reset(hecate_cuda_batch *b, int32_t session) {
    if (!b) return HECATE_E_NULL_ARG;
    if (session != HECATE_CUDA_ALL_SESSIONS && (session < 0 || (uint32_t)session >= b->n))
        return fail(HECATE_E_BAD_ARG, "session %d of a batch of %u", session, b->n);
    uint32_t first = session < 0 ? 0 : (uint32_t)session, last = session < 0 ? b->n : first + 1;
    hecate_status st = HECATE_OK;
    for (uint32_t s = first; st == HECATE_OK && s < last; s++) {
        st = check_cuda(cudaMemcpy(b->state + s * b->state_len, b->init, b->state_len * 4, cudaMemcpyHostToDevice),
                        "reset");
        b->pos_host[s] = 0;
    }
    return st;
}

hecate_status hecate_cuda_batch_open(const void *file, size_t file_bytes, uint32_t n_sessions, uint32_t max_chunk,
                                     hecate_cuda_batch **out) {
    if (!file || !out) return HECATE_E_NULL_ARG;
    *out = NULL;
    if (n_sessions == 0 || max_chunk > 4096) return fail(HECATE_E_BAD_ARG, "n_sessions >= 1, max_chunk <= 4096");
    hecate_status st = hecate_cuda_probe();
    if (st != HECATE_OK) return st;
    hecate_cuda_batch *b = (hecate_cuda_batch *)calloc(1, sizeof *b);
    if (!b) return fail(HECATE_E_IO, "out of host memory");
    b->n = n_sessions;
    b->chunk = max_chunk ? max_chunk : 64;
    st = open_checks(file, file_bytes, b);
    if (st == HECATE_OK) st = allocate(b, file, file_bytes);
    if (st == HECATE_OK) st = hecate_cuda_batch_reset(b, HECATE_CUDA_ALL_SESSIONS);
    if (st != HECATE_OK) {
        hecate_cuda_batch_close(b);
        return st;
    }
    *out = b;
    return HECATE_OK;
}

} /* extern "C" */

/* y (rows, dout) = x (rows, din) W (din, dout), row-major (MATH: W input-major). */
static hecate_status linear(const hecate_cuda_batch *b, const float *x, const float *W, int rows, int din, int dout,
                            float *y) {
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = cublasSgemm(b->blas, CUBLAS_OP_N, CUBLAS_OP_N, dout, rows, din, &one, W, dout, x, din, &zero, y,
                                   dout);
    return s == CUBLAS_STATUS_SUCCESS ? HECATE_OK : fail(HECATE_E_DEVICE, "cublasSgemm failed (%d)", (int)s);
}

/* One block of tc tokens per session from tokens (n, T) at column t0. */
static hecate_status block_step(hecate_cuda_batch *b, const uint32_t *tokens, uint32_t T, uint32_t t0, int tc,
                                float *logits) {
    const hecate_model_info *in = &b->info;
    int n = (int)b->n, d = (int)in->d_model, V = (int)in->vocab, rows = n * tc;
    for (int s = 0; s < n; s++) memcpy(b->tok_host + (size_t)s * tc, tokens + (size_t)s * T + t0, (size_t)tc * 4);
    hecate_status st = check_cuda(cudaMemcpy(b->tok_dev, b->tok_host, (size_t)rows * 4, cudaMemcpyHostToDevice), "upload");
    if (st == HECATE_OK)
        st = check_cuda(cudaMemcpy(b->pos_dev, b->pos_host, (size_t)n * 8, cudaMemcpyHostToDevice), "upload");
    if (st != HECATE_OK) return st;
    hct::embed(b->tok_dev, b->emb, d, rows, b->x);
    const float *W[] = {b->wq, b->wk, b->wv, b->mk, b->mv, b->mq};
    float *Y[] = {b->q, b->k, b->v, b->km, b->vm, b->qm};
    for (int i = 0; st == HECATE_OK && i < 6; i++) st = linear(b, b->x, W[i], rows, d, d, Y[i]);
    if (st != HECATE_OK) return st;
    hct::front_end(b->km, b->qm, b->vm, b->gate_w, b->gate_b, b->gate_kinds, (int)b->n_gates, d, rows,
                   (in->flags & 1u) != 0, b->gates);
    st = check_cuda(cudaMemcpy(b->spare, b->state, (size_t)n * b->state_len * 4, cudaMemcpyDeviceToDevice), "state copy");
    if (st != HECATE_OK) return st;
    hct::RuleArgs ra{};
    ra.d = d;
    ra.T = tc;
    ra.n_gates = (int)b->n_gates;
    ra.window = hct::rule_window(b->spec);
    ra.state_len = b->state_len;
    ra.k = b->km;
    ra.v = b->vm;
    ra.q = b->qm;
    ra.gates = b->gates;
    ra.state = b->spare;
    ra.y = b->y;
    st = check_cuda(hct::launch_forward((int)b->spec.rule, n, ra), "memory rule launch");
    if (st != HECATE_OK) return st;
    hct::window_attention(b->q, b->k, b->v, b->ring_k, b->ring_v, b->pos_dev, n, tc, d, (int)in->n_heads,
                          (int)in->window, b->a);
    if (logits) {
        hct::mag_gate(b->a, b->y, (size_t)rows * d, b->o);
        st = linear(b, b->o, b->wo, rows, d, d, b->p);
        if (st == HECATE_OK) st = linear(b, b->p, b->head, rows, d, V, b->logits);
    }
    if (st == HECATE_OK) st = check_cuda(cudaDeviceSynchronize(), "model step");
    if (st == HECATE_OK) st = hct::all_finite(b->spare, (size_t)n * b->state_len, "the memory state");
    if (st == HECATE_OK && logits) st = hct::all_finite(b->logits, (size_t)rows * V, "the logits");
    if (st != HECATE_OK) return st; /* nothing committed */
    hct::ring_commit(b->k, b->v, b->pos_dev, n, tc, d, (int)in->window, b->ring_k, b->ring_v);
    float *tmp = b->state;
    b->state = b->spare;
    b->spare = tmp;
    for (int s = 0; s < n; s++) b->pos_host[s] += (uint64_t)tc;
    if (logits)
        st = check_cuda(cudaMemcpy2D(logits + (size_t)t0 * V, (size_t)T * V * 4, b->logits, (size_t)tc * V * 4,
                                     (size_t)tc * V * 4, (size_t)n, cudaMemcpyDeviceToHost), "logits download");
    return st == HECATE_OK ? check_cuda(cudaDeviceSynchronize(), "commit") : st;
}

extern "C" {

hecate_status hecate_cuda_batch_process(hecate_cuda_batch *b, const uint32_t *tokens, uint32_t T, float *logits) {
    if (!b || (T > 0 && !tokens)) return HECATE_E_NULL_ARG;
    for (size_t i = 0; i < (size_t)b->n * T; i++)
        if (tokens[i] >= b->info.vocab)
            return fail(HECATE_E_TOKEN_RANGE, "token %u at (session %zu, t %zu) is not below vocab %u", tokens[i],
                        i / T, i % T, b->info.vocab);
    for (uint32_t t0 = 0; t0 < T; t0 += b->chunk) {
        int tc = (int)(T - t0 < b->chunk ? T - t0 : b->chunk);
        hecate_status st = block_step(b, tokens, T, t0, tc, logits);
        if (st != HECATE_OK) return st;
    }
    return HECATE_OK;
}

hecate_status hecate_cuda_batch_memory(const hecate_cuda_batch *b, uint32_t session, float *state, size_t state_len) {
    if (!b || !state) return HECATE_E_NULL_ARG;
    if (session >= b->n) return fail(HECATE_E_BAD_ARG, "session %u of a batch of %u", session, b->n);
    if (state_len != b->state_len)
        return fail(HECATE_E_BUFFER_TOO_SMALL, "the memory state has %zu scalars, not %zu", b->state_len, state_len);
    return check_cuda(cudaMemcpy(state, b->state + (size_t)session * b->state_len, state_len * 4,
                                 cudaMemcpyDeviceToHost), "state download");
}

hecate_status hecate_cuda_batch_position(const hecate_cuda_batch *b, uint32_t session, uint64_t *position) {
    if (!b || !position) return HECATE_E_NULL_ARG;
    if (session >= b->n) return fail(HECATE_E_BAD_ARG, "session %u of a batch of %u", session, b->n);
    *position = b->pos_host[session];
    return HECATE_OK;
}

} /* extern "C" */
