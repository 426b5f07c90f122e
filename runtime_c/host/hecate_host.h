/* hecate_host.h — optional host layer for hosted platforms (stdio + malloc):
 * load a model file from disk and build a model and a session in one call.
 * The core runtime (runtime_c/src) never uses this; firmware and the browser
 * build skip it. */
#ifndef HECATE_HOST_H
#define HECATE_HOST_H
#include "hecate.h"

/* A model loaded from a file, owning its memory. */
typedef struct hecate_host_model {
    void *file;           /* the file's bytes, 64-byte aligned */
    size_t file_bytes;
    void *model_mem;
    hecate_model *model;
} hecate_host_model;

/* Read `path` and open it.  Returns HECATE_E_IO if the file cannot be read
 * or memory cannot be allocated (details in errno), and the model's own
 * status otherwise.  On error nothing stays allocated. */
hecate_status hecate_host_load(const char *path, hecate_host_model *out);

/* Allocate and init a session for a loaded model; free with hecate_host_free. */
hecate_status hecate_host_session(const hecate_host_model *m, const hecate_session_opts *opts,
                                  hecate_session **out);

void hecate_host_free(void *p);
void hecate_host_unload(hecate_host_model *m);

#endif
