/* simd128.c — wasm SIMD128 forms of hct_exp and hct_sigmoid over arrays
 * (MATH §9; simd128.h): four lanes at a time, each lane exactly the
 * scalar float path.  Compiled to nothing on every other target. */
#include "mathfn.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

/* For x in [EXP_LO, EXP_HI] hct_exp's float path meets no special case: x is
 * no NaN and inside its range, and k = round(x / ln 2) is in [-126, 127], so
 * the result is p 2^k with 2^k a normal float.  Lanes outside go scalar. */
#define EXP_LO (-87.0f)
#define EXP_HI 88.0f

static bool exp_in_range(v128_t x) {
    return wasm_i32x4_all_true(wasm_v128_and(wasm_f32x4_ge(x, wasm_f32x4_splat(EXP_LO)),
                                             wasm_f32x4_le(x, wasm_f32x4_splat(EXP_HI))));
}

/* hct_exp of each lane, lanes in [EXP_LO, EXP_HI]: kf = x / ln 2, k = kf
 * rounded half away from zero by truncation, r = (x - k LN2_HI) - k LN2_LO,
 * Horner over 1/n! from degree 7, times 2^k built from its exponent bits. */
static v128_t exp_lanes(v128_t x) {
    v128_t kf = wasm_f32x4_mul(x, wasm_f32x4_splat((float)HCT_INV_LN2));
    v128_t half = wasm_v128_bitselect(wasm_f32x4_splat(-0.5f), wasm_f32x4_splat(0.5f),
                                      wasm_f32x4_lt(kf, wasm_f32x4_splat(0.0f)));
    v128_t k = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(kf, half)); /* kf - 0.5 is kf + -0.5 */
    v128_t kr = wasm_f32x4_convert_i32x4(k);
    v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(kr, wasm_f32x4_splat((float)HCT_LN2_HI))),
                              wasm_f32x4_mul(kr, wasm_f32x4_splat((float)HCT_LN2_LO)));
    v128_t p = wasm_f32x4_splat((float)hct_inv_fact[HCT_EXP_DEG_FLOAT]);
    for (int n = HCT_EXP_DEG_FLOAT - 1; n >= 0; n--)
        p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat((float)hct_inv_fact[n]));
    return wasm_f32x4_mul(p, wasm_i32x4_shl(wasm_i32x4_add(k, wasm_i32x4_splat(127)), 23));
}

uint32_t hct_simd_exp_shifted(real *x, real shift, uint32_t n) {
    if (sizeof(real) != sizeof(float)) return 0;
    v128_t s = wasm_f32x4_splat((float)shift);
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t a = wasm_f32x4_sub(wasm_v128_load(x + i), s);
        if (exp_in_range(a)) {
            wasm_v128_store(x + i, exp_lanes(a));
        } else {
            for (uint32_t l = i; l < i + 4; l++) x[l] = hct_exp(x[l] - shift);
        }
    }
    return i;
}

/* hct_sigmoid: e = exp(-x) for x >= 0, exp(x) below, then 1 / (1 + e) or
 * e / (1 + e). */
uint32_t hct_simd_sigmoid(const real *x, real *out, uint32_t n) {
    if (sizeof(real) != sizeof(float)) return 0;
    v128_t one = wasm_f32x4_splat(1.0f);
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_v128_load(x + i), pos = wasm_f32x4_ge(v, wasm_f32x4_splat(0.0f));
        v128_t arg = wasm_v128_bitselect(wasm_f32x4_neg(v), v, pos);
        if (exp_in_range(arg)) {
            v128_t e = exp_lanes(arg);
            wasm_v128_store(out + i, wasm_f32x4_div(wasm_v128_bitselect(one, e, pos), wasm_f32x4_add(one, e)));
        } else {
            for (uint32_t l = i; l < i + 4; l++) out[l] = hct_sigmoid(x[l]);
        }
    }
    return i;
}
#endif
