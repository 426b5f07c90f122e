/* fuzz_process.c — libFuzzer harness of load-then-run: a model from fuzz
 * bytes (CRC rewritten, fuzz_common.h), then a few tokens through process
 * (two internal blocks), step, a training chunk where the model can train,
 * and a state save/load round trip.  Checked promises: an OK call gives
 * finite logits and loss, a failed step leaves the state unchanged, and a
 * saved state loads back.  Seeds: tools/fuzz_seeds.py; runner: tools/fuzz.sh. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define N_TOKENS 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    unsigned char *file = fuzz_copy(data, n);
    fuzz_fix_crc(file, n);
    fuzz_model m;
    void *arena = NULL;
    hecate_session *s = NULL;
    if (fuzz_model_open(&m, file, n) != HECATE_OK) {
        fuzz_model_close(&m);
        free(file);
        return 0;
    }
    uint32_t train = m.has_int8 ? 0 : N_TOKENS - 1;
    if ((s = fuzz_session(&m, train, &arena)) != NULL) {
        uint32_t V = m.info.vocab, tokens[N_TOKENS] = {0, 1 % V, V - 1, 2 % V, 3 % V};
        hecate_real *logits = malloc(sizeof(hecate_real) * V * N_TOKENS);
        hecate_real *grads = malloc(sizeof(hecate_real) * (m.info.n_params ? m.info.n_params : 1));
        fuzz_require(logits && grads, "out of memory");
        if (hecate_process(s, tokens, N_TOKENS, logits) == HECATE_OK)
            fuzz_require(fuzz_finite(logits, (size_t)V * N_TOKENS), "process: OK with non-finite logits");
        size_t len0, len1;
        unsigned char *before = fuzz_save(s, &len0);
        if (hecate_step(s, V - 1, logits) == HECATE_OK) {
            fuzz_require(fuzz_finite(logits, V), "step: OK with non-finite logits");
        } else {
            unsigned char *after = fuzz_save(s, &len1);
            fuzz_require(len0 == len1 && memcmp(before, after, len0) == 0, "a failed step changed the state");
            free(after);
        }
        hecate_real loss;
        if (train && hecate_train_chunk(s, tokens, tokens + 1, N_TOKENS - 1, grads, &loss) == HECATE_OK)
            fuzz_require(fuzz_finite(&loss, 1) && fuzz_finite(grads, m.info.n_params),
                         "train_chunk: OK with a non-finite loss or gradient");
        free(before);
        before = fuzz_save(s, &len0);
        fuzz_require(hecate_state_load(s, before, len0) == HECATE_OK, "a saved state does not load back");
        free(before);
        free(grads);
        free(logits);
    }
    free(arena);
    fuzz_model_close(&m);
    free(file);
    return 0;
}
