/* vexp.c — hct_exp over arrays on lane vectors where they live in SIMD
 * registers (AVX, SSE, NEON; wasm SIMD128 has simd128.c): the attention
 * softmax and training's cross-entropy (MATH §2, §5).  Each lane does the
 * scalar float path's operations in its order (MATH §9), so the bits are
 * the scalar calls'; a vector with a lane where that path takes a special
 * case goes scalar.  Float builds only; elsewhere compiled to nothing. */
#include "mathfn.h"

#if HCT_VEC_IN_REGISTERS && !defined(__wasm_simd128__)
typedef float fvec __attribute__((vector_size(HCT_VEC_BYTES), aligned(sizeof(float))));
typedef int32_t ivec __attribute__((vector_size(HCT_VEC_BYTES), aligned(sizeof(float))));
#define FLANES (HCT_VEC_BYTES / sizeof(float))

/* For x in [EXP_LO, EXP_HI] hct_exp's float path meets no special case (x is
 * no NaN, inside its range, and k = round(x / ln 2) in [-126, 127]: 2^k is a
 * normal float); as simd128.c. */
#define EXP_LO (-87.0f)
#define EXP_HI 88.0f

static bool exp_in_range(fvec x) {
    ivec ok = (x >= EXP_LO) & (x <= EXP_HI);
    int32_t all = -1;
    for (uint32_t l = 0; l < FLANES; l++) all &= ok[l];
    return all != 0;
}

/* hct_exp of each lane in [EXP_LO, EXP_HI]: kf = x / ln 2, k = kf rounded
 * half away from zero by truncation (kf - 0.5 is kf + -0.5), r = (x - k
 * LN2_HI) - k LN2_LO, Horner over 1/n! from degree 7, times 2^k from its
 * exponent bits. */
static fvec exp_lanes(fvec x) {
    fvec kf = x * (float)HCT_INV_LN2, zero = x - x;
    ivec neg = kf < zero;
    fvec half = (fvec)(((ivec)(zero + 0.5f) & ~neg) | ((ivec)(zero - 0.5f) & neg));
    ivec k = __builtin_convertvector(kf + half, ivec);
    fvec kr = __builtin_convertvector(k, fvec);
    fvec r = (x - kr * (float)HCT_LN2_HI) - kr * (float)HCT_LN2_LO;
    fvec p = zero + (float)hct_inv_fact[HCT_EXP_DEG_FLOAT];
    for (int n = HCT_EXP_DEG_FLOAT - 1; n >= 0; n--) p = p * r + (float)hct_inv_fact[n];
    return p * (fvec)((k + 127) << 23);
}

uint32_t hct_simd_exp_shifted(real *x, real shift, uint32_t n) {
    if (sizeof(real) != sizeof(float)) return 0;
    float *f = (float *)(void *)x;
    uint32_t i = 0;
    for (; i + FLANES <= n; i += FLANES) {
        fvec a = *(const fvec *)(const void *)(f + i) - (float)shift;
        if (exp_in_range(a)) {
            *(fvec *)(void *)(f + i) = exp_lanes(a);
        } else {
            for (uint32_t l = i; l < i + FLANES; l++) x[l] = hct_exp(x[l] - shift);
        }
    }
    return i;
}
#endif
