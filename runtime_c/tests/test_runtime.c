/* test_runtime.c — C-level checks of the runtime on a model file given as
 * argv[1]: chunking invariance (MATH §6), state save/load, and rejection of
 * corrupt inputs without side effects.  Prints one sentinel line on success
 * so the same binary can be judged on host, under QEMU or in WASM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hecate.h"
#include "../host/hecate_host.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                        \
    do {                                                                         \
        if (cond) passed++;                                                      \
        else { failed++; fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, what); } \
    } while (0)

static void blob(hecate_session *s, unsigned char **out, size_t *n) {
    hecate_state_bytes(s, n);
    *out = malloc(*n);
    size_t w = 0;
    hecate_state_save(s, *out, *n, &w);
}

static int blobs_equal(hecate_session *a, hecate_session *b) {
    unsigned char *x, *y;
    size_t nx, ny;
    blob(a, &x, &nx);
    blob(b, &y, &ny);
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return eq;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL_FILE\n", argv[0]); return 2; }
    hecate_host_model hm;
    hecate_status st = hecate_host_load(argv[1], &hm);
    if (st != HECATE_OK) { fprintf(stderr, "load: %s\n", hecate_status_str(st)); return 1; }
    hecate_model_info info;
    hecate_model_get_info(hm.model, &info);
    const uint32_t V = info.vocab;
    enum { N = 97 };
    uint32_t tok[N];
    uint32_t seed = 12345u;
    for (int i = 0; i < N; i++) { seed = seed * 1664525u + 1013904223u; tok[i] = (seed >> 8) % V; }

    /* chunking invariance: step-by-step vs process in uneven chunks with a small block */
    hecate_session *a, *b;
    hecate_session_opts small = {5, 0, 0};
    hecate_host_session(&hm, NULL, &a);
    hecate_host_session(&hm, &small, &b);
    hecate_real *la = malloc(sizeof(hecate_real) * N * V), *lb = malloc(sizeof(hecate_real) * N * V);
    for (int i = 0; i < N; i++) CHECK(hecate_step(a, tok[i], la + (size_t)i * V) == HECATE_OK, "step");
    static const int chunks[] = {1, 3, 7, 16, 33, 37};
    int at = 0;
    for (int c = 0; at < N; c++) {
        int n = chunks[c % 6] < N - at ? chunks[c % 6] : N - at;
        CHECK(hecate_process(b, tok + at, (size_t)n, lb + (size_t)at * V) == HECATE_OK, "process");
        at += n;
    }
    CHECK(memcmp(la, lb, sizeof(hecate_real) * N * V) == 0, "chunked logits bit-identical to step");
    CHECK(blobs_equal(a, b), "chunked state bit-identical to step");

    /* save / load resumes exactly */
    unsigned char *saved;
    size_t n_saved;
    blob(a, &saved, &n_saved);
    hecate_session *c;
    hecate_host_session(&hm, NULL, &c);
    CHECK(hecate_state_load(c, saved, n_saved) == HECATE_OK, "state load");
    CHECK(blobs_equal(a, c), "loaded state equals saved");
    hecate_step(a, tok[0], la);
    hecate_step(c, tok[0], lb);
    CHECK(memcmp(la, lb, sizeof(hecate_real) * V) == 0, "resumed session continues identically");

    /* a corrupt blob is rejected and changes nothing */
    hecate_session_reset(c);
    saved[n_saved / 2] ^= 0x40;
    CHECK(hecate_state_load(c, saved, n_saved) == HECATE_E_STATE_CRC, "corrupt blob -> STATE_CRC");
    uint64_t pos = 1;
    hecate_session_position(c, &pos);
    CHECK(pos == 0, "rejected blob left the session untouched");
    CHECK(hecate_state_load(c, saved, 20) == HECATE_E_STATE_TRUNCATED, "short blob -> TRUNCATED");

    /* bad token: nothing consumed */
    uint32_t bad[2] = {1, V};
    CHECK(hecate_process(c, bad, 2, NULL) == HECATE_E_TOKEN_RANGE, "token >= vocab rejected");
    hecate_session_position(c, &pos);
    CHECK(pos == 0, "rejected tokens not consumed");

    /* a flipped byte in the model is caught by the CRC */
    unsigned char *copy = NULL;
    CHECK(posix_memalign((void **)&copy, 64, hm.file_bytes) == 0, "alloc");
    memcpy(copy, hm.file, hm.file_bytes);
    copy[hm.file_bytes - 3] ^= 1;
    void *mm = malloc(hecate_model_bytes());
    hecate_model *bad_model = NULL;
    CHECK(hecate_model_open(mm, hecate_model_bytes(), copy, hm.file_bytes, &bad_model) == HECATE_E_FILE_CRC,
          "flipped byte -> FILE_CRC");
    CHECK(bad_model == NULL, "no handle on error");

    free(mm); free(copy); free(saved); free(la); free(lb);
    hecate_host_free(a); hecate_host_free(b); hecate_host_free(c);
    hecate_host_unload(&hm);
    printf("%d passed, %d failed\n", passed, failed);
    if (failed == 0) printf("~~~ALL TESTS PASSED~~~\n");
    return failed != 0;
}
