/* dump_logits.c — runs the model file argv[1] over the bytes of argv[2] with
 * hecate_process and prints every logit's bit pattern in hex, one row per
 * token; then (on a float model) trains one chunk of the text, each byte
 * predicting the next, in a fresh session and prints the loss's bits and a
 * 64-bit FNV-1a hash of the gradients' bytes: lets tests compare two builds
 * (e.g. with and without vector extensions) bit for bit, backward included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hecate.h"
#include "../host/hecate_host.h"

/* x's bytes in hex, most significant first */
static void print_bits(const hecate_real *x) {
    const unsigned char *b = (const unsigned char *)x;
    for (size_t k = sizeof(hecate_real); k-- > 0;) printf("%02x", b[k]);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s MODEL TEXT\n", argv[0]); return 2; }
    hecate_host_model hm;
    hecate_status st = hecate_host_load(argv[1], &hm);
    if (st != HECATE_OK) { fprintf(stderr, "%s\n", hecate_status_str(st)); return 1; }
    hecate_model_info info;
    hecate_model_get_info(hm.model, &info);
    size_t n = strlen(argv[2]);
    uint32_t *tok = malloc(sizeof(uint32_t) * n);
    hecate_real *logits = malloc(sizeof(hecate_real) * n * info.vocab);
    for (size_t i = 0; i < n; i++) tok[i] = (unsigned char)argv[2][i];
    hecate_session *s;
    if (hecate_host_session(&hm, NULL, &s) != HECATE_OK || hecate_process(s, tok, n, logits) != HECATE_OK) return 1;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t v = 0; v < info.vocab; v++) print_bits(&logits[i * info.vocab + v]);
        printf("\n");
    }
    hecate_host_free(s);
    hecate_session_opts opts = {0, (uint32_t)n, 0};
    if (n > 1 && hecate_host_session(&hm, &opts, &s) == HECATE_OK) { /* int8 weights cannot train */
        hecate_real *grads = malloc(sizeof(hecate_real) * info.n_params), loss;
        if (hecate_train_chunk(s, tok, tok + 1, n - 1, grads, &loss) != HECATE_OK) return 1;
        print_bits(&loss);
        uint64_t h = 1469598103934665603u;
        const unsigned char *b = (const unsigned char *)grads;
        for (size_t k = 0; k < sizeof(hecate_real) * info.n_params; k++) h = (h ^ b[k]) * 1099511628211u;
        printf(" %016llx\n", (unsigned long long)h);
        free(grads); hecate_host_free(s);
    }
    free(tok); free(logits); hecate_host_unload(&hm);
    return 0;
}
