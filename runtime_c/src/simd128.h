/* simd128.h — the lane-vector forms of mathfn.h's elementwise functions
 * (simd128.c for wasm SIMD128; vexp.c's exp on the other targets with SIMD
 * registers): each computes the leading whole lane vectors of its array,
 * every lane with the scalar function's float operations in its order (so
 * the same bits), and returns how many elements it did; the caller does the
 * rest with the scalar function.  Without SIMD registers, and in double
 * builds, they do nothing and return 0.  Included by mathfn.h. */
#ifndef HECATE_SIMD128_H
#define HECATE_SIMD128_H
#include "internal.h"

#if HCT_VEC_IN_REGISTERS
/* x[i] = hct_exp(x[i] - shift): simd128.c in wasm, vexp.c on every other
 * target with SIMD registers (D57) */
uint32_t hct_simd_exp_shifted(real *x, real shift, uint32_t n);
#else
static inline uint32_t hct_simd_exp_shifted(real *x, real shift, uint32_t n) {
    (void)x, (void)shift, (void)n;
    return 0;
}
#endif
#if defined(__wasm_simd128__)
/* out[i] = hct_sigmoid(x[i]) */
uint32_t hct_simd_sigmoid(const real *x, real *out, uint32_t n);
#else
static inline uint32_t hct_simd_sigmoid(const real *x, real *out, uint32_t n) {
    (void)x, (void)out, (void)n;
    return 0;
}
#endif

#endif
