/* w8a16.c — the integer-dot kernel of int8 matrices stored with int16
 * activations (docs/FORMAT.md dtype 3, DECISIONS D72, MATH §1.1): each
 * token's input row times the row scales is quantized to int16 with one scale
 * per token, multiplied by the int8 rows in exact int32 sums over blocks of
 * W8A16_ROWS inputs, and scaled back once.  Integer sums have one value in any
 * order, so every build and target agrees wherever the quantized inputs do;
 * on a core with the DSP extension (the Cortex-M4F) four columns of two rows
 * come from two word loads and go through 16-bit multiply-accumulates. */
#include "qweights.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define W8A16_DSP 1
#else
#define W8A16_DSP 0
#endif

/* |a|: one instruction where the FPU has one (the builtins); its sign of -0 is not used */
#if defined(__GNUC__) || defined(__clang__)
#define W8A16_ABS(a) (sizeof(real) == sizeof(float) ? (real)__builtin_fabsf((float)(a)) : (real)__builtin_fabs(a))
#else
#define W8A16_ABS(a) ((a) < 0 ? -(a) : (a))
#endif

/* 64 inputs of |A| <= 32767 times |q| <= 128 stay below 2^31 */
enum { W8A16_ROWS = 64, W8A16_COLS = 16 };
#define W8A16_LEVELS 32767
/* 2^100: a row whose largest |a| is so small that m / 32767 would be subnormal (products of
 * tiny row scales; further down 32767 / m overflows) is quantized with a and m scaled by it,
 * and its output scaled back at the end, exactly (a power of two) */
#define W8A16_RESCALE 1267650600228229401496703205376.0
#define W8A16_RESCALE_INV 7.8886090522101180541172856528279e-31

/* How a block's int32 sums enter y: the first block's replace y, a later block's add to it,
 * and with the last block the total is scaled back, (down t) back (MATH §1.1's order). */
typedef struct {
    bool first, last;
    real down, back;
} block_out;

static inline void put(real *y, int32_t s, const block_out *out) {
    const real t = out->first ? (real)s : *y + (real)s;
    *y = out->last ? out->down * t * out->back : t;
}

#if W8A16_DSP
static inline uint32_t load_u32(const void *p) {
    uint32_t w;
    __builtin_memcpy(&w, p, 4); /* one LDR: the M4 loads unaligned words */
    return w;
}

/* The halves of w's bytes 1 and 3, sign-extended (SXTB16 with its rotation,
 * which the intrinsic does not take). */
static inline int32_t odd_bytes(uint32_t w) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

/* y[0..4) gets the sums over the block's n rows of A[k] q[k, 0..4) (put), two rows a step: each row's
 * word of four weights becomes two words of sign-extended halves (columns 0, 2 and 1, 3),
 * each half multiplied by the bottom (row k) or top (row k + 1) half of the pair word
 * (A[k], A[k+1]). */
static void cols4(const int8_t *q, const int16_t *A, uint32_t n, uint32_t dout, real *y, const block_out *out) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int16_t *a = A;
    for (const int16_t *end = A + (n & ~1u); a < end; a += 2) {
        const int32_t ak = (int32_t)load_u32(a);
        uint32_t w = load_u32(q);
        int32_t e = __sxtb16((int8x4_t)w), o = odd_bytes(w);
        s0 = __smlabb(e, ak, s0);
        s1 = __smlabb(o, ak, s1);
        s2 = __smlatb(e, ak, s2);
        s3 = __smlatb(o, ak, s3);
        q += dout;
        w = load_u32(q);
        e = __sxtb16((int8x4_t)w);
        o = odd_bytes(w);
        s0 = __smlabt(e, ak, s0);
        s1 = __smlabt(o, ak, s1);
        s2 = __smlatt(e, ak, s2);
        s3 = __smlatt(o, ak, s3);
        q += dout;
    }
    if (n & 1u) { /* an odd row count: the last row alone */
        const int32_t ak = *a;
        s0 += ak * q[0];
        s1 += ak * q[1];
        s2 += ak * q[2];
        s3 += ak * q[3];
    }
    put(y, s0, out);
    put(y + 1, s1, out);
    put(y + 2, s2, out);
    put(y + 3, s3, out);
}
#endif

/* y[o] gets the sum over the block's n rows of A[k] q[k, o] (put), for every column o. */
static void block_sums(const int8_t *q, const int16_t *A, uint32_t n, uint32_t dout, real *y,
                       const block_out *out) {
    uint32_t o = 0;
#if W8A16_DSP
    for (; o + 4 <= dout; o += 4) cols4(q + o, A, n, dout, y + o, out);
#endif
    for (; o < dout; o += W8A16_COLS) { /* a block of columns, rows in order: the row's bytes are adjacent */
        const uint32_t nc = dout - o < W8A16_COLS ? dout - o : W8A16_COLS;
        int32_t s[W8A16_COLS] = {0};
        for (uint32_t k = 0; k < n; k++) {
            const int8_t *row = q + (size_t)k * dout + o;
            for (uint32_t c = 0; c < nc; c++) s[c] += (int32_t)A[k] * row[c];
        }
        for (uint32_t c = 0; c < nc; c++) put(y + o + c, s[c], out);
    }
}

/* y = W x for one token (MATH §1.1): a_i = x_i s_i; m = max |a_i|;
 * A_i = floor(a_i (32767 / m) + 1/2), computed as floor(v + 32768.5) - 32768
 * (v = a_i c (32767 / (m c)), c = 1, or 2^100 where m < 32767 times the
 * smallest normal real);
 * y_o = (m / 32767) sum_i A_i q_io, computed as ((m c / 32767) sum) / c.  m = 0
 * gives y = 0; a non-finite a_i gives y = NaN. */
static void token(const hct_q8 *W, const real *x, uint32_t din, uint32_t dout, real *y) {
    real m = 0, nonfinite = 0; /* a - a is 0 for a finite a, NaN for Inf or NaN; NaN stays */
    for (uint32_t i = 0; i < din; i++) {
        const real a = x[i] * (real)W->scale[i], v = W8A16_ABS(a);
        nonfinite += a - a;
        m = v > m ? v : m;
    }
    if (nonfinite != 0 || m == 0) {
        for (uint32_t o = 0; o < dout; o++) y[o] = nonfinite;
        return;
    }
    const real tiny = sizeof(real) == sizeof(float) ? (real)FLT_MIN : (real)DBL_MIN;
    real c = 1, back = 1;
    if (m < (real)W8A16_LEVELS * tiny) {
        c = (real)W8A16_RESCALE;
        back = (real)W8A16_RESCALE_INV;
    }
    const real up = (real)W8A16_LEVELS / (m * c);
    block_out out = {true, false, m * c / (real)W8A16_LEVELS, back};
    int16_t A[W8A16_ROWS];
    for (uint32_t i0 = 0; i0 < din; i0 += W8A16_ROWS) {
        const uint32_t n = din - i0 < W8A16_ROWS ? din - i0 : W8A16_ROWS;
        for (uint32_t k = 0; k < n; k++) { /* |v| <= 32767 (plus rounding): the sum is in [1, 65536) */
            const real v = x[i0 + k] * (real)W->scale[i0 + k] * c * up;
            A[k] = (int16_t)((int32_t)(v + (real)(W8A16_LEVELS + 1.5)) - (W8A16_LEVELS + 1));
        }
        out.last = i0 + n == din;
        block_sums(W->q + (size_t)i0 * dout, A, n, dout, y, &out);
        out.first = false;
    }
}

void hct_w8a16_linear(const hct_q8 *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y) {
    for (uint32_t t = 0; t < T; t++) token(W, X + (size_t)t * din, din, dout, Y + (size_t)t * dout);
}
