/* rope_table.c — prints the rotary position table of MATH §2 that sessions
 * build without libm (hct_rope_table), one "cos sin" line per offset and pair,
 * offsets outer (exit 3 if a pair's two cos or two signed sin disagree):
 * tests/test_c_runtime.py holds it to numpy's cos and sin. */
#include <stdio.h>
#include <stdlib.h>
#include "../src/mathfn.h"

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    uint32_t window = (uint32_t)atoi(argv[1]), head_dim = (uint32_t)atoi(argv[2]);
    real *table = malloc((size_t)window * 2 * head_dim * sizeof(real));
    if (!table) return 1;
    hct_rope_table(table, window, head_dim);
    for (size_t o = 0; o < window; o++) {
        const real *row = table + o * 2 * head_dim; /* cos per entry, then -sin, +sin per pair */
        for (size_t i = 0; i < head_dim; i += 2) {
            if (row[i + 1] != row[i] || row[head_dim + i] != -row[head_dim + i + 1]) return 3;
            printf("%.17g %.17g\n", (double)row[i], (double)row[head_dim + i + 1]);
        }
    }
    free(table);
    return 0;
}
