/* hecate_host.c — file loading and heap-owned sessions for hosted platforms. */
#define _POSIX_C_SOURCE 200112L
#include "hecate_host.h"
#include <stdio.h>
#include <stdlib.h>

static void *alloc64(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) return NULL;
    return p;
}

hecate_status hecate_host_load(const char *path, hecate_host_model *out) {
    if (!path || !out) return HECATE_E_NULL_ARG;
    out->file = out->model_mem = NULL;
    out->model = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return HECATE_E_IO;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return HECATE_E_IO; }
    out->file_bytes = (size_t)len;
    out->file = alloc64((size_t)len);
    out->model_mem = alloc64(hecate_model_bytes());
    if (!out->file || !out->model_mem || fread(out->file, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        hecate_host_unload(out);
        return HECATE_E_IO;
    }
    fclose(f);
    hecate_status st = hecate_model_open(out->model_mem, hecate_model_bytes(), out->file, out->file_bytes,
                                         &out->model);
    if (st != HECATE_OK) hecate_host_unload(out);
    return st;
}

hecate_status hecate_host_session(const hecate_host_model *m, const hecate_session_opts *opts,
                                  hecate_session **out) {
    if (!m || !out) return HECATE_E_NULL_ARG;
    size_t bytes = 0;
    hecate_status st = hecate_session_bytes(m->model, opts, &bytes);
    if (st != HECATE_OK) return st;
    void *mem = alloc64(bytes);
    if (!mem) return HECATE_E_IO;
    st = hecate_session_init(mem, bytes, m->model, opts, out);
    if (st != HECATE_OK) free(mem);
    return st;
}

void hecate_host_free(void *p) { free(p); }

void hecate_host_unload(hecate_host_model *m) {
    if (!m) return;
    free(m->file);
    free(m->model_mem);
    m->file = m->model_mem = NULL;
    m->model = NULL;
}
