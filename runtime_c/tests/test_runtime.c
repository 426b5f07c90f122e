/* test_runtime.c — C-level checks of the runtime on a model file given as
 * argv[1]: chunking invariance (MATH §6), state save/load, and rejection of
 * corrupt inputs without side effects.  Prints one sentinel line on success
 * so the same binary can be judged on host, under QEMU or in WASM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hecate.h"
#include "../host/hecate_host.h"
#include "check.h"


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

/* Every public function rejects NULL, a non-handle, short and misaligned
 * memory with its documented status, and writes nothing it should not. */
static void check_bad_arguments(const hecate_host_model *hm) {
    static unsigned char junk[16384] __attribute__((aligned(64)));
    hecate_model *fake_model = (hecate_model *)(void *)junk;    /* zeros: not a handle */
    hecate_session *fake_session = (hecate_session *)(void *)junk;
    hecate_model *m = NULL;
    hecate_session *s = NULL;
    size_t n = 0;
    hecate_real x = 0;
    uint64_t pos = 0;
    uint32_t tok = 0;
    CHECK(hecate_model_open(junk, sizeof junk, NULL, hm->file_bytes, &m) == HECATE_E_NULL_ARG, "open NULL file");
    CHECK(hecate_model_open(NULL, sizeof junk, hm->file, hm->file_bytes, &m) == HECATE_E_NULL_ARG, "open NULL mem");
    CHECK(hecate_model_open(junk, sizeof junk, hm->file, hm->file_bytes, NULL) == HECATE_E_NULL_ARG, "open NULL out");
    CHECK(hecate_model_open(junk, 8, hm->file, hm->file_bytes, &m) == HECATE_E_BUFFER_TOO_SMALL, "open small mem");
    CHECK(hecate_model_open(junk + 4, sizeof junk - 4, hm->file, hm->file_bytes, &m) == HECATE_E_BUFFER_ALIGN,
          "open misaligned mem");
    CHECK(hecate_model_open(junk, sizeof junk, (const unsigned char *)hm->file + 4, hm->file_bytes - 4, &m) ==
              HECATE_E_BUFFER_ALIGN, "open misaligned file");
    CHECK(m == NULL, "no handle after failed opens");
    hecate_model_info info;
    hecate_tensor_info ti;
    CHECK(hecate_model_get_info(fake_model, &info) == HECATE_E_NULL_ARG, "info on a non-handle");
    CHECK(hecate_model_get_info(hm->model, NULL) == HECATE_E_NULL_ARG, "info NULL out");
    CHECK(hecate_model_tensor(hm->model, 9999, &ti) == HECATE_E_BAD_ARG, "tensor index out of range");
    CHECK(hecate_model_tensor(NULL, 0, &ti) == HECATE_E_NULL_ARG, "tensor NULL model");
    hecate_session_opts too_big = {HECATE_MAX_CHUNK + 1, 0, 0}, bad_flag = {16, 0, 0x80};
    CHECK(hecate_session_bytes(hm->model, &too_big, &n) == HECATE_E_BAD_ARG, "max_chunk above the limit");
    CHECK(hecate_session_bytes(hm->model, &bad_flag, &n) == HECATE_E_BAD_ARG, "unknown session flag");
    CHECK(hecate_session_bytes(fake_model, NULL, &n) == HECATE_E_NULL_ARG, "session bytes on a non-handle");
    CHECK(hecate_session_bytes(hm->model, NULL, &n) == HECATE_OK, "session bytes");
    CHECK(hecate_session_init(junk, 16, hm->model, NULL, &s) == HECATE_E_BUFFER_TOO_SMALL, "small arena");
    CHECK(hecate_session_init(junk + 8, n, hm->model, NULL, &s) == HECATE_E_BUFFER_ALIGN, "misaligned arena");
    CHECK(s == NULL, "no session after failed inits");
    CHECK(hecate_step(fake_session, 0, NULL) == HECATE_E_NULL_ARG, "step on a non-handle");
    CHECK(hecate_process(fake_session, &tok, 1, NULL) == HECATE_E_NULL_ARG, "process on a non-handle");
    CHECK(hecate_train_chunk(fake_session, &tok, &tok, 1, &x, &x) == HECATE_E_NULL_ARG, "train on a non-handle");
    CHECK(hecate_session_reset(NULL) == HECATE_E_NULL_ARG, "reset NULL");
    CHECK(hecate_session_position(fake_session, &pos) == HECATE_E_NULL_ARG, "position on a non-handle");
    CHECK(hecate_state_bytes(fake_session, &n) == HECATE_E_NULL_ARG, "state bytes on a non-handle");
    CHECK(hecate_state_save(fake_session, junk, sizeof junk, &n) == HECATE_E_NULL_ARG, "save on a non-handle");
    CHECK(hecate_state_load(fake_session, junk, sizeof junk) == HECATE_E_NULL_ARG, "load on a non-handle");
    CHECK(hecate_status_str((hecate_status)12345) != NULL, "status text for an unknown code");
    uint32_t g = 0;
    size_t sn = 0;
    hecate_rule_spec bad_id = {9999, 8, {0}, 0, 0, 0, 0}, width0 = {0, 0, {0}, 0, 0, 0, 0}, delta = {0, 8, {0}, 0, 0, 0, 0};
    hecate_rule_spec odd = {0, 8, {1.0f}, 0, 0, 0, 0}, kl_delta = {0, 8, {0}, 2, 0, 0, 0}, no_lambda = {0, 8, {0}, 3, 0, 0, 0};
    CHECK(hecate_rule_shape(&bad_id, &g, &n, &sn) == HECATE_E_BAD_ARG, "unknown rule id");
    CHECK(hecate_rule_shape(&kl_delta, &g, &n, &sn) == HECATE_E_BAD_ARG, "delta does not take KL retention");
    CHECK(hecate_rule_shape(&no_lambda, &g, &n, &sn) == HECATE_E_BAD_ARG, "elastic net needs lambda_1 > 0");
    CHECK(hecate_rule_shape(&width0, &g, &n, &sn) == HECATE_E_BAD_ARG, "rule width 0");
    CHECK(hecate_rule_shape(&odd, &g, &n, &sn) == HECATE_E_BAD_ARG, "delta takes no hyper-parameters");
    CHECK(hecate_rule_shape(&delta, NULL, &n, &sn) == HECATE_E_NULL_ARG, "rule shape NULL out");
    CHECK(hecate_rule_shape(NULL, &g, &n, &sn) == HECATE_E_NULL_ARG, "rule shape NULL spec");
    CHECK(hecate_rule_shape(&delta, &g, &n, &sn) == HECATE_OK && g == 2 && n == 64 && sn == 8,
          "delta: 2 gates, d*d state, d scratch");
    CHECK(hecate_rule_forward(&delta, 1, NULL, NULL, NULL, NULL, NULL, NULL, &x, &x, &x) == HECATE_E_NULL_ARG,
          "rule forward NULL inputs");
    CHECK(hecate_rule_init(&delta, NULL) == HECATE_E_NULL_ARG, "rule init NULL state");
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

    check_bad_arguments(&hm);

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
    size_t w = 0;
    CHECK(hecate_state_save(c, saved, 10, &w) == HECATE_E_BUFFER_TOO_SMALL, "save into a short buffer");
    CHECK(hecate_process(c, NULL, 3, NULL) == HECATE_E_NULL_ARG, "process NULL tokens");
    uint32_t one = 1;
    CHECK(hecate_train_chunk(c, &one, &one, 1, la, la) == HECATE_E_NOT_TRAINABLE, "train without training arena");
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
