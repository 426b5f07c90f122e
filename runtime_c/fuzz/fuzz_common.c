/* fuzz_common.c — the helpers the libFuzzer harnesses share (fuzz_common.h). */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal.h"

unsigned char *fuzz_copy(const uint8_t *data, size_t n) {
    void *p = NULL;
    fuzz_require(posix_memalign(&p, 64, n ? n : 1) == 0, "out of memory");
    if (n) memcpy(p, data, n);
    return p;
}

uint64_t fuzz_rd64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void fuzz_fix_crc(unsigned char *p, size_t n) {
    if (n < 28) return;
    uint64_t size = fuzz_rd64(p + 16);
    if (size < 28 || size > n) return;
    uint32_t crc = hct_crc32(p + 28, (size_t)size - 28);
    for (int i = 0; i < 4; i++) p[24 + i] = (unsigned char)(crc >> (8 * i));
}

hecate_status fuzz_model_open(fuzz_model *m, const unsigned char *file, size_t n) {
    memset(m, 0, sizeof *m);
    fuzz_require(posix_memalign(&m->mem, 16, hecate_model_bytes()) == 0, "out of memory");
    hecate_status st = hecate_model_open(m->mem, hecate_model_bytes(), file, n, &m->model);
    if (st != HECATE_OK) {
        fuzz_require(m->model == NULL, "a refused model file left a handle");
        return st;
    }
    fuzz_require(hecate_model_get_info(m->model, &m->info) == HECATE_OK, "model info");
    for (uint32_t i = 0; i < m->info.n_tensors; i++) {
        hecate_tensor_info t;
        fuzz_require(hecate_model_tensor(m->model, i, &t) == HECATE_OK, "tensor info");
        uint64_t bytes = t.dtype >= FUZZ_DTYPE_INT8 ? 4u * (uint64_t)t.shape[0] + t.n_elems
                                                    : t.n_elems * sizeof(hecate_real);
        fuzz_require(t.file_offset + bytes <= n, "a tensor ends past the file");
        m->has_int8 |= t.dtype >= FUZZ_DTYPE_INT8;
    }
    fuzz_require(hecate_model_tensor(m->model, m->info.n_tensors, &(hecate_tensor_info){0}) == HECATE_E_BAD_ARG,
                 "a tensor index past the count");
    return HECATE_OK;
}

void fuzz_model_close(fuzz_model *m) { free(m->mem); }

hecate_session *fuzz_session(const fuzz_model *m, uint32_t max_train_tokens, void **arena) {
    hecate_session_opts opts = {4, max_train_tokens, 0};
    size_t bytes;
    hecate_session *s = NULL;
    *arena = NULL;
    fuzz_require(hecate_session_bytes(m->model, &opts, &bytes) == HECATE_OK, "session size of an open model");
    if (bytes > FUZZ_MAX_ARENA) return NULL;
    fuzz_require(posix_memalign(arena, 16, bytes) == 0, "out of memory");
    fuzz_require(hecate_session_init(*arena, bytes, m->model, &opts, &s) == HECATE_OK, "session init");
    return s;
}

unsigned char *fuzz_save(const hecate_session *s, size_t *len) {
    size_t bytes, written;
    fuzz_require(hecate_state_bytes(s, &bytes) == HECATE_OK, "state size");
    unsigned char *blob = malloc(bytes);
    fuzz_require(blob && hecate_state_save(s, blob, bytes, &written) == HECATE_OK && written == bytes,
                 "state save");
    *len = bytes;
    return blob;
}

void fuzz_require(int cond, const char *what) {
    if (cond) return;
    fprintf(stderr, "hecate fuzz: broken promise: %s\n", what);
    abort();
}

int fuzz_finite(const hecate_real *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(x[i] - x[i] == 0)) return 0;
    return 1;
}
