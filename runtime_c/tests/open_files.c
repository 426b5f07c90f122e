/* open_files.c — opens each model file named on the command line and prints
 * "<status name> <path>" per file: lets the malformed-file cases run through
 * the C reader under AddressSanitizer / UBSan (tests/test_c_runtime.py). */
#include <stdio.h>
#include "hecate.h"
#include "../host/hecate_host.h"

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        hecate_host_model m;
        hecate_status st = hecate_host_load(argv[i], &m);
        const char *text = hecate_status_str(st);
        int n = 0;
        while (text[n] && text[n] != ':') n++;
        printf("%.*s %s\n", n, text, argv[i]);
        if (st == HECATE_OK) hecate_host_unload(&m);
    }
    return 0;
}
