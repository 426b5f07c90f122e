/* mathfn.h — scalar functions without libm (MATH §9), the lane vectors, and
 * the vector kernels every matrix operation goes through.  Each output has
 * one fixed summation order whatever the batching (the dot: 8 lanes, then a
 * fixed tree; the linear map: rows in order), which is what makes chunked
 * and token-by-token runs bit-identical (MATH §6). */
#ifndef HECATE_MATHFN_H
#define HECATE_MATHFN_H
#include "internal.h"

real hct_exp(real x);
real hct_log(real x);
real hct_log1p(real y);   /* for y > -1 */
real hct_sqrt(real x);
real hct_sigmoid(real x);
real hct_silu(real z);       /* z sigmoid(z) */
real hct_silu_grad(real z);  /* silu'(z) = s (1 + z (1 - s)), s = sigmoid(z) */
real hct_softplus(real x);

/* x[i] = hct_exp(x[i] - shift) and out[i] = hct_sigmoid(x[i]) for i < n, the
 * bits of the scalar calls (a lane-vector form where simd128.h has one). */
void hct_exp_shifted(real *x, real shift, uint32_t n);
void hct_sigmoid_n(const real *x, real *out, uint32_t n);

/* hct_exp's argument reduction x = k ln2 + r (ln 2 in two parts, the first
 * exact times any k of the range) and its Taylor coefficients 1/n!, of which
 * a float build uses degree 7: shared with its SIMD128 form (simd128.c). */
#define HCT_LN2_HI 6.93147180369123816490e-01  /* upper bits of ln 2 */
#define HCT_LN2_LO 1.90821492927058770002e-10  /* ln 2 - HCT_LN2_HI */
#define HCT_INV_LN2 1.44269504088896338700e+00
#define HCT_EXP_DEG_FLOAT 7
extern const double hct_inv_fact[14];

/* MATH §2 rotary positions: table (window, 2, head_dim), for offsets o < window: cos(o theta_i)
 * at entries 2i and 2i+1, then -sin(o theta_i) at 2i and +sin at 2i+1 (theta_i =
 * 10000^(-2i/head_dim)); computed in double (no libm), rounded once to real.  head_dim even. */
void hct_rope_table(real *table, uint32_t window, uint32_t head_dim);

/* acc + a b: fused (one rounding) where the build targets x86 FMA (-march=native on a core
 * with it; HECATE_NO_FMA keeps the two roundings), else a multiply and an add.  Every
 * accumulation of the kernels goes through it (or HCT_VMADD, its lane-vector form), and so
 * does every other path that computes the same element, so each element is rounded alike
 * whichever path or block size computes it (MATH §6, DECISIONS D77); a build with FMA and one
 * without differ in the last bits, as builds may. */
#if defined(__FMA__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(HECATE_NO_FMA)
#define HCT_FMA 1
#define hct_madd(acc, a, b)                                                                  \
    (sizeof(real) == 4 ? (real)__builtin_fmaf((float)(a), (float)(b), (float)(acc))        \
                       : (real)__builtin_fma((double)(a), (double)(b), (double)(acc)))
#else
#define HCT_FMA 0
#define hct_madd(acc, a, b) ((acc) + (a) * (b))
#endif

/* y += s * x */
static inline void hct_axpy(real *y, real s, const real *x, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) y[i] = hct_madd(y[i], s, x[i]);
}

/* A lane vector of `real` as wide as the target's SIMD registers (32 bytes
 * with AVX, else 16: SSE, NEON, wasm SIMD128), with elementwise arithmetic
 * only.  With GCC/Clang vector extensions it maps to those registers (or to
 * scalar code on a core without SIMD); elsewhere, or with
 * HECATE_NO_VECTOR_EXT, it is a plain struct.  Both give the same bits:
 * every lane does exactly the scalar operations.  Loads and stores need no
 * alignment beyond that of `real`. */
#if defined(__AVX__)
#define HCT_VEC_BYTES 32u
#else
#define HCT_VEC_BYTES 16u
#endif
#define HCT_LANES ((uint32_t)(HCT_VEC_BYTES / sizeof(real)))
#if (defined(__GNUC__) || defined(__clang__)) && !defined(HECATE_NO_VECTOR_EXT)
typedef real hct_vec __attribute__((vector_size(HCT_VEC_BYTES), aligned(sizeof(real))));
/* Macros, not functions: vectors never cross a call boundary (no vector ABI). */
#define HCT_VLOAD(p) (*(const hct_vec *)(const void *)(p))
#define HCT_VSTORE(p, v) (*(hct_vec *)(void *)(p) = (v))
#define HCT_VADD(a, b) ((a) + (b))
#define HCT_VSUB(a, b) ((a) - (b))
#define HCT_VMUL(a, b) ((a) * (b))
#if HCT_FMA
#include <immintrin.h>
#define HCT_VMADD_PS(acc, a, b) ((hct_vec)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))
#define HCT_VMADD_PD(acc, a, b) ((hct_vec)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(acc)))
#define HCT_VMADD(acc, a, b) (sizeof(real) == 4 ? HCT_VMADD_PS(acc, a, b) : HCT_VMADD_PD(acc, a, b))
#else
#define HCT_VMADD(acc, a, b) HCT_VADD((acc), HCT_VMUL((a), (b)))
#endif
/* -0.0 + x == x for every x (signed zeros and NaN included): an exact broadcast */
#define HCT_VSPLAT(x) ((-(hct_vec){0}) + (real)(x))
#else
typedef struct hct_vec { real v[HCT_VEC_BYTES / sizeof(real)]; } hct_vec;
static inline hct_vec hct_vload_(const real *p) { hct_vec r; for (uint32_t i = 0; i < HCT_LANES; i++) r.v[i] = p[i]; return r; }
static inline void hct_vstore_(real *p, hct_vec a) { for (uint32_t i = 0; i < HCT_LANES; i++) p[i] = a.v[i]; }
static inline hct_vec hct_vadd_(hct_vec a, hct_vec b) { for (uint32_t i = 0; i < HCT_LANES; i++) a.v[i] += b.v[i]; return a; }
static inline hct_vec hct_vsub_(hct_vec a, hct_vec b) { for (uint32_t i = 0; i < HCT_LANES; i++) a.v[i] -= b.v[i]; return a; }
static inline hct_vec hct_vmul_(hct_vec a, hct_vec b) { for (uint32_t i = 0; i < HCT_LANES; i++) a.v[i] *= b.v[i]; return a; }
static inline hct_vec hct_vsplat_(real x) { hct_vec r; for (uint32_t i = 0; i < HCT_LANES; i++) r.v[i] = x; return r; }
static inline hct_vec hct_vmadd_(hct_vec acc, hct_vec a, hct_vec b) {
    for (uint32_t i = 0; i < HCT_LANES; i++) acc.v[i] = hct_madd(acc.v[i], a.v[i], b.v[i]);
    return acc;
}
#define HCT_VLOAD(p) hct_vload_(p)
#define HCT_VSTORE(p, v) hct_vstore_((p), (v))
#define HCT_VADD(a, b) hct_vadd_((a), (b))
#define HCT_VSUB(a, b) hct_vsub_((a), (b))
#define HCT_VMUL(a, b) hct_vmul_((a), (b))
#define HCT_VSPLAT(x) hct_vsplat_(x)
#define HCT_VMADD(acc, a, b) hct_vmadd_((acc), (a), (b))
#endif

/* 1 when lane vectors live in SIMD registers (SSE/AVX, NEON, wasm SIMD128).
 * Without them (a Cortex-M4F) GCC keeps each hct_vec in memory, a load and
 * a store around every lane operation, so a kernel that must be fast there
 * may keep scalar accumulators instead: same operations, same bits. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(HECATE_NO_VECTOR_EXT) && \
    (defined(__SSE__) || defined(__ARM_NEON) || defined(__wasm_simd128__))
#define HCT_VEC_IN_REGISTERS 1
#else
#define HCT_VEC_IN_REGISTERS 0
#endif

/* Output columns per register block of the row-streaming kernels: lane
 * vectors kept in registers across a whole sum.  Eight natively (DECISIONS
 * D57: with four, the adds' latency bounds hct_linear), four in wasm (D55's
 * measured shape, two tokens a block) and without SIMD registers;
 * HECATE_LIN_VECS (4 or 8) overrides. */
#ifndef HECATE_LIN_VECS
#if HCT_VEC_IN_REGISTERS && !defined(__wasm_simd128__)
#define HECATE_LIN_VECS 8
#else
#define HECATE_LIN_VECS 4
#endif
#endif
#define LIN_VECS ((uint32_t)HECATE_LIN_VECS)
#define LIN_BLOCK (LIN_VECS * HCT_LANES)
/* Tokens per register block of hct_linear when its columns fill a block,
 * sharing each load of a weight row: 2 for wasm SIMD128 (measured faster
 * there, slower natively: DECISIONS D55), else 1; HECATE_LIN_TOKENS
 * overrides.  Fewer columns take more tokens (mathfn.c, D57). */
#ifndef HECATE_LIN_TOKENS
#ifdef __wasm_simd128__
#define HECATE_LIN_TOKENS 2
#else
#define HECATE_LIN_TOKENS 1
#endif
#endif
#define LIN_TOKENS ((uint32_t)HECATE_LIN_TOKENS)

#if HCT_VEC_IN_REGISTERS
#define HCT_COL_BLOCK LIN_BLOCK /* columns per call of a row-streaming kernel's block */
#else
#define HCT_COL_BLOCK 16u

/* The register block of the row-streaming kernels (hct_linear, the int8
 * hct_model_linear) on a core without SIMD registers (DECISIONS D53, D56): 16
 * column sums as four of these, plain scalars, which stay in FPU registers
 * where hct_vec lanes would be kept in memory. */
typedef struct hct_sum4 { real c0, c1, c2, c3; } hct_sum4;

/* s += xi w[0..4): per column the lane operations of the vector kernels, xi
 * times the weight, then the add, so every column gets the same bits. */
static inline hct_sum4 hct_mac4(hct_sum4 s, real xi, real w0, real w1, real w2, real w3) {
    s.c0 = hct_madd(s.c0, xi, w0);
    s.c1 = hct_madd(s.c1, xi, w1);
    s.c2 = hct_madd(s.c2, xi, w2);
    s.c3 = hct_madd(s.c3, xi, w3);
    return s;
}

static inline void hct_store4(real *y, hct_sum4 s) {
    y[0] = s.c0;
    y[1] = s.c1;
    y[2] = s.c2;
    y[3] = s.c3;
}
#endif

/* The scalar's size in bytes for #if, from HECATE_REAL's name (float or
 * double; 0 for another type). */
#define HCT_REAL_BYTES_float 4
#define HCT_REAL_BYTES_double 8
#define HCT_REAL_BYTES_OF_(t) HCT_REAL_BYTES_##t
#define HCT_REAL_BYTES_OF(t) HCT_REAL_BYTES_OF_(t)
#define HCT_PP_REAL_BYTES HCT_REAL_BYTES_OF(HECATE_REAL) /* 0 in #if for another type */

/* The sum of a lane vector's lanes in hct_dot's fixed pairwise tree
 * ((0+1)+(2+3))+((4+5)+(6+7)) (MATH §6).  Where lane vectors live in SIMD
 * registers the lanes are read in place (2, 4 or 8 of them): the same adds
 * as the loop below, which goes through memory (a store, then dependent
 * scalar loads and stores: D62 measured that chain as the delta BPTT's
 * largest cost). */
static inline real hct_vsum(hct_vec acc) {
#if HCT_VEC_IN_REGISTERS && HCT_PP_REAL_BYTES > 0 && HCT_VEC_BYTES / HCT_PP_REAL_BYTES == 8
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
#elif HCT_VEC_IN_REGISTERS && HCT_PP_REAL_BYTES > 0 && HCT_VEC_BYTES / HCT_PP_REAL_BYTES == 4
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
#elif HCT_VEC_IN_REGISTERS && HCT_PP_REAL_BYTES > 0 && HCT_VEC_BYTES / HCT_PP_REAL_BYTES == 2
    return acc[0] + acc[1];
#else
    real lane[HCT_VEC_BYTES / sizeof(real)];
    HCT_VSTORE(lane, acc);
    for (uint32_t w = 1; w < HCT_LANES; w *= 2)
        for (uint32_t l = 0; l + w < HCT_LANES; l += 2 * w) lane[l] += lane[l + w];
    return lane[0];
#endif
}

/* <a, b>: lane sums over whole vectors, the lanes added in a fixed pairwise
 * tree ((0+1)+(2+3))+..., then the tail in order.  Without SIMD registers
 * and with four lanes (a float build without AVX: the Cortex-M4F) the
 * lanes are an hct_sum4 in FPU registers, same operations (D56). */
static inline real hct_dot(const real *a, const real *b, uint32_t n) {
    uint32_t i = 0;
#if !HCT_VEC_IN_REGISTERS
    if (HCT_LANES == 4) {
        hct_sum4 acc = {0, 0, 0, 0};
        for (; i + 4 <= n; i += 4) {
            acc.c0 = hct_madd(acc.c0, a[i], b[i]);
            acc.c1 = hct_madd(acc.c1, a[i + 1], b[i + 1]);
            acc.c2 = hct_madd(acc.c2, a[i + 2], b[i + 2]);
            acc.c3 = hct_madd(acc.c3, a[i + 3], b[i + 3]);
        }
        real s = (acc.c0 + acc.c1) + (acc.c2 + acc.c3);
        for (; i < n; i++) s = hct_madd(s, a[i], b[i]);
        return s;
    }
#endif
    hct_vec acc = HCT_VSPLAT((real)0);
    for (; i + HCT_LANES <= n; i += HCT_LANES) acc = HCT_VMADD(acc, HCT_VLOAD(a + i), HCT_VLOAD(b + i));
    real s = hct_vsum(acc);
    for (; i < n; i++) s = hct_madd(s, a[i], b[i]);
    return s;
}

/* Lane sums of several dots at once (window attention's scores, swa.c): for
 * HCT_LANES vectors acc[e], hct_vtree leaves in lane e of acc[0] the sum of
 * acc[e]'s lanes in hct_dot's tree ((0+1)+(2+3))+((4+5)+(6+7)), each add
 * with the lower lanes first as there, so a score is hct_dot's value
 * (MATH §6).  Pairs of vectors are added lane pair by lane pair (a shuffle
 * of the even lanes plus one of the odd lanes, within 16-byte halves: what
 * SSE and AVX shuffle in one instruction), then the halves of two vectors.
 * Only where lane vectors live in SIMD registers and the lane count is 2,
 * 4 or 8 (HCT_VTREE is 1; the preprocessor learns the scalar's size from
 * HECATE_REAL's name, float or double); elsewhere callers keep hct_dot. */
#if HCT_VEC_IN_REGISTERS && (HCT_PP_REAL_BYTES == 4 || HCT_PP_REAL_BYTES == 8)
#define HCT_PP_LANES (HCT_VEC_BYTES / HCT_PP_REAL_BYTES)
#if defined(__clang__) || __GNUC__ >= 12
#define HCT_SHUF(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
#if HCT_PP_REAL_BYTES == 4
typedef int32_t hct_lane_index __attribute__((vector_size(HCT_VEC_BYTES)));
#else
typedef int64_t hct_lane_index __attribute__((vector_size(HCT_VEC_BYTES)));
#endif
#define HCT_SHUF(a, b, ...) __builtin_shuffle((a), (b), (hct_lane_index){__VA_ARGS__})
#endif
#if HCT_PP_LANES == 8
#define HCT_PAIRS(a, b) \
    HCT_VADD(HCT_SHUF(a, b, 0, 2, 8, 10, 4, 6, 12, 14), HCT_SHUF(a, b, 1, 3, 9, 11, 5, 7, 13, 15))
#elif HCT_PP_LANES == 4
#define HCT_PAIRS(a, b) HCT_VADD(HCT_SHUF(a, b, 0, 2, 4, 6), HCT_SHUF(a, b, 1, 3, 5, 7))
#elif HCT_PP_LANES == 2
#define HCT_PAIRS(a, b) HCT_VADD(HCT_SHUF(a, b, 0, 2), HCT_SHUF(a, b, 1, 3))
#endif
#endif
#ifdef HCT_PAIRS
#define HCT_VTREE 1
/* Lanes 2i and 2i+1 exchanged (MATH §2's swap of a rotary pair) */
#if HCT_PP_LANES == 8
#define HCT_SWAP_PAIRS(a) HCT_SHUF(a, a, 1, 0, 3, 2, 5, 4, 7, 6)
#elif HCT_PP_LANES == 4
#define HCT_SWAP_PAIRS(a) HCT_SHUF(a, a, 1, 0, 3, 2)
#else
#define HCT_SWAP_PAIRS(a) HCT_SHUF(a, a, 1, 0)
#endif
static inline void hct_vtree(hct_vec *acc) {
    /* 2 lanes: [a01 b01]; 4: [a01 a23 b01 b23] then [a b c d]; 8: the same
     * in each half, [a0123 b c d | a4567 b c d] and [e.. h..], then halves */
    uint32_t n = HCT_LANES;
    for (; n > 1 && (HCT_LANES < 8 || n > 2); n /= 2)
        for (uint32_t j = 0; j < n / 2; j++) acc[j] = HCT_PAIRS(acc[2 * j], acc[2 * j + 1]);
#if HCT_PP_LANES == 8
    acc[0] = HCT_VADD(HCT_SHUF(acc[0], acc[1], 0, 1, 2, 3, 8, 9, 10, 11),
                      HCT_SHUF(acc[0], acc[1], 4, 5, 6, 7, 12, 13, 14, 15));
#endif
}
#else
#define HCT_VTREE 0
#endif

/* Y[t, :] = X[t, :] W for t < T: a linear map applied to T rows.
 * W (din, dout), X (T, din), Y (T, dout). */
void hct_linear(const real *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y);

/* Backward of hct_linear: dX[t] += W dY[t] (if dX) and dW += X^T dY, or with
 * `store` dW = X^T dY (dW is not read: the same bits as adding to zeros).
 * work: (din + dout) * T scalars. */
void hct_linear_backward(const real *W, const real *X, const real *dY, uint32_t T,
                         uint32_t din, uint32_t dout, real *dW, bool store, real *dX, real *work);

/* A norm about to divide: +Inf (the squares of a vector overflowed) becomes
 * NaN, so the quotient is NaN, not a silent zero vector that the block's
 * finite check would pass (D39); every other value is returned as it is. */
static inline real hct_norm_divisor(real norm) { return norm > HCT_REAL_MAX ? norm - norm : norm; }

/* x_hat = x / max(||x||, 1e-8) in place; returns ||x||.  MATH §3.1; an
 * overflowed norm gives NaN (hct_norm_divisor). */
real hct_l2_normalize(real *x, uint32_t n);

/* Backward of hct_l2_normalize given x_hat and the norm it returned:
 * dx = (dxh - xh <dxh, xh>) / n, or dxh / 1e-8 below the floor.  In place. */
void hct_l2_normalize_backward(const real *x_hat, real norm, real *dx, uint32_t n);

#include "simd128.h" /* lane-vector forms of the elementwise functions above */
#include "qweights.h" /* model weights go through hct_model_linear / hct_model_row */

#endif
