/* fuzz_model.c — libFuzzer harness of the model loader: any bytes (CRC
 * rewritten, fuzz_common.h) through hecate_model_open; a file it accepts
 * must describe itself consistently and give session sizes for every kind
 * of session (training ones: HECATE_E_NOT_TRAINABLE where weights are int8).  Seeds: tools/fuzz_seeds.py; runner: tools/fuzz.sh. */
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    unsigned char *file = fuzz_copy(data, n);
    fuzz_fix_crc(file, n);
    fuzz_model m;
    if (fuzz_model_open(&m, file, n) == HECATE_OK) {
        static const hecate_session_opts opts[] = {
            {0, 0, 0}, {1, 1, HECATE_SESSION_FREEZE_MEMORY}, {HECATE_MAX_CHUNK, HECATE_MAX_TRAIN_TOKENS, 0},
            {7, 3, HECATE_SESSION_FIXED_SCHEDULE}};
        for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
            size_t bytes = 0;
            hecate_status st = hecate_session_bytes(m.model, &opts[i], &bytes);
            if (m.has_int8 && opts[i].max_train_tokens)
                fuzz_require(st == HECATE_E_NOT_TRAINABLE, "a training session size of int8 weights");
            else
                fuzz_require(st == HECATE_OK && bytes > 0, "session size of an open model");
        }
    }
    fuzz_model_close(&m);
    free(file);
    return 0;
}
