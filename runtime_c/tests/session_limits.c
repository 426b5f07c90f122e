/* session_limits.c — prints "<status name> <bytes>" of hecate_session_bytes
 * for the model argv[1] with max_train_tokens argv[2]: lets a 32-bit build
 * (-m32) show that an arena larger than its size_t is refused, not wrapped. */
#include <stdio.h>
#include <stdlib.h>
#include "hecate.h"
#include "../host/hecate_host.h"

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s MODEL MAX_TRAIN_TOKENS\n", argv[0]); return 2; }
    hecate_host_model hm;
    hecate_status st = hecate_host_load(argv[1], &hm);
    if (st != HECATE_OK) { fprintf(stderr, "%s\n", hecate_status_str(st)); return 1; }
    hecate_session_opts opts = {16, (uint32_t)strtoul(argv[2], NULL, 10), 0};
    size_t bytes = 0;
    st = hecate_session_bytes(hm.model, &opts, &bytes);
    const char *text = hecate_status_str(st);
    int n = 0;
    while (text[n] && text[n] != ':') n++;
    printf("%.*s %lu\n", n, text, (unsigned long)bytes);
    hecate_host_unload(&hm);
    return 0;
}
