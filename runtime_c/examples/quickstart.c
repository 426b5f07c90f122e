/* quickstart.c — the C API end to end without the host layer: read a model
 * file into aligned memory, open it, build a session in a caller arena, feed
 * a prompt and print the most likely next byte.  Usage: quickstart MODEL TEXT */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hecate.h"

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    void *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && posix_memalign(&buf, 64, (size_t)n) == 0 &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3 || argv[2][0] == 0) { fprintf(stderr, "usage: %s MODEL TEXT (non-empty)\n", argv[0]); return 2; }
    size_t file_len;
    void *file = read_file(argv[1], &file_len);               /* weights stay here, used in place */
    if (!file) { perror(argv[1]); return 1; }

    void *model_mem = NULL;                                   /* 16-byte aligned, hecate_model_bytes() */
    if (posix_memalign(&model_mem, 16, hecate_model_bytes()) != 0) return 1;
    hecate_model *model;
    hecate_status st = hecate_model_open(model_mem, hecate_model_bytes(), file, file_len, &model);
    if (st != HECATE_OK) { fprintf(stderr, "%s\n", hecate_status_str(st)); return 1; }

    size_t arena_len;
    void *arena = NULL;
    hecate_session *s;
    if ((st = hecate_session_bytes(model, NULL, &arena_len)) != HECATE_OK ||  /* NULL: default options */
        posix_memalign(&arena, 16, arena_len) != 0 ||
        (st = hecate_session_init(arena, arena_len, model, NULL, &s)) != HECATE_OK) {
        fprintf(stderr, "%s\n", hecate_status_str(st));
        return 1;
    }

    size_t n = strlen(argv[2]);
    uint32_t *tokens = malloc(n * sizeof *tokens);
    for (size_t i = 0; i < n; i++) tokens[i] = (unsigned char)argv[2][i];
    hecate_model_info info;
    hecate_model_get_info(model, &info);
    hecate_real *logits = malloc(info.vocab * sizeof *logits);
    if ((st = hecate_process(s, tokens, n - 1, NULL)) != HECATE_OK ||   /* prefill, no logits */
        (st = hecate_step(s, tokens[n - 1], logits)) != HECATE_OK) {   /* last token, with logits */
        fprintf(stderr, "%s\n", hecate_status_str(st));
        return 1;
    }
    uint32_t best = 0;
    for (uint32_t v = 1; v < info.vocab; v++)
        if (logits[v] > logits[best]) best = v;
    printf("next byte after %zu tokens: %u\n", n, best);

    free(logits);
    free(tokens);
    free(arena);
    free(model_mem);
    free(file);
    return 0;
}
