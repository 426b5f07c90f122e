/* fuzz_state.c — libFuzzer harness of the state blob loader.  Input: a model
 * file (as many bytes as its header records) followed by a state blob.  Both
 * CRCs are rewritten and the blob's model CRC set to the model's
 * (fuzz_common.h), so mutations reach the size and payload checks, also for
 * a blob of another configuration.  A blob that loads must save back to the
 * same bytes, one refused must leave the session as it was, and a loaded
 * session must then run: OK calls with finite logits, a
 * failed step leaving the state as it was.  Seeds: tools/fuzz_seeds.py;
 * runner: tools/fuzz.sh. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define N_TOKENS 3

static void run_loaded(hecate_session *s, const fuzz_model *m, const unsigned char *blob, size_t len) {
    size_t saved_len, after_len;
    unsigned char *saved = fuzz_save(s, &saved_len);
    fuzz_require(saved_len == len && memcmp(saved, blob, len) == 0, "a loaded state saves back differently");
    uint32_t V = m->info.vocab, tokens[N_TOKENS] = {V - 1, 0, 1 % V};
    hecate_real *logits = malloc(sizeof(hecate_real) * V * N_TOKENS);
    fuzz_require(logits != NULL, "out of memory");
    if (hecate_step(s, tokens[0], logits) == HECATE_OK) {
        fuzz_require(fuzz_finite(logits, V), "step: OK with non-finite logits");
    } else {
        unsigned char *after = fuzz_save(s, &after_len);
        fuzz_require(after_len == saved_len && memcmp(after, saved, saved_len) == 0,
                     "a failed step changed the state");
        free(after);
    }
    if (hecate_process(s, tokens, N_TOKENS, logits) == HECATE_OK)
        fuzz_require(fuzz_finite(logits, (size_t)V * N_TOKENS), "process: OK with non-finite logits");
    free(logits);
    free(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (n < 24) return 0;
    uint64_t model_len = fuzz_rd64(data + 16);
    if (model_len > n) return 0;
    unsigned char *file = fuzz_copy(data, (size_t)model_len);
    unsigned char *blob = fuzz_copy(data + model_len, n - (size_t)model_len);
    size_t len = n - (size_t)model_len;
    fuzz_fix_crc(file, (size_t)model_len);
    fuzz_model m;
    void *arena = NULL;
    hecate_session *s;
    if (fuzz_model_open(&m, file, (size_t)model_len) == HECATE_OK) {
        if ((s = fuzz_session(&m, 0, &arena)) != NULL) {
            if (len >= 36)
                for (int i = 0; i < 4; i++) blob[32 + i] = (unsigned char)(m.info.file_crc32 >> (8 * i));
            fuzz_fix_crc(blob, len);
            size_t fresh_len, after_len;
            unsigned char *fresh = fuzz_save(s, &fresh_len);
            if (hecate_state_load(s, blob, len) == HECATE_OK) {
                run_loaded(s, &m, blob, len);
            } else {
                unsigned char *after = fuzz_save(s, &after_len);
                fuzz_require(after_len == fresh_len && memcmp(after, fresh, fresh_len) == 0,
                             "a refused state changed the session");
                free(after);
            }
            free(fresh);
        }
        free(arena);
    }
    fuzz_model_close(&m);
    free(blob);
    free(file);
    return 0;
}
