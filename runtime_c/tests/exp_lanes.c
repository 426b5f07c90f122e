/* exp_lanes.c — hct_exp_shifted (the lane-vector exp of vexp.c / simd128.c,
 * MATH §9) against the scalar hct_exp, bit for bit, on 2^20 arguments per
 * round across the float range and near its edges, with NaN, -0 and the
 * limits of the vector range; prints the count of differing results:
 * tests/test_c_runtime.py wants 0. */
#include <stdio.h>
#include <string.h>
#include "../src/mathfn.h"

enum { N = 1 << 20, ROUNDS = 12 };
static real x[N], ref[N];

int main(void) {
    uint32_t s = 12345;
    long bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        real span = round < 6 ? (real)200 : (real)(round - 5) * (real)4; /* wide, then near 0 */
        for (int i = 0; i < N; i++) {
            s = s * 1664525u + 1013904223u;
            x[i] = ((real)(s >> 8) / (real)16777216 - (real)0.5) * span;
        }
        x[5] = (real)0 / (real)0 * x[6];
        x[7] = (real)-87, x[8] = (real)88, x[9] = (real)-86.99, x[10] = (real)88.7, x[11] = -(real)0;
        real shift = (real)round * (real)0.37;
        for (int i = 0; i < N; i++) ref[i] = hct_exp(x[i] - shift);
        hct_exp_shifted(x, shift, N);
        for (int i = 0; i < N; i++) bad += memcmp(&x[i], &ref[i], sizeof(real)) != 0;
    }
    printf("%ld\n", bad);
    return 0;
}
