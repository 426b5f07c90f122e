/* mathfn.c — exp/log/log1p/sqrt/sigmoid/softplus for float and double builds
 * without libm (MATH §9), the rotary position table (MATH §2) and the
 * batched linear map with its backward. */
#include "mathfn.h"

#define HCT_IS_DOUBLE (sizeof(real) == 8)

static const double LN2_HI = HCT_LN2_HI, LN2_LO = HCT_LN2_LO, INV_LN2 = HCT_INV_LN2;

const double hct_inv_fact[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
    1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};

/* 2^k as a real, for k in the normal exponent range of the build. */
static real pow2i(int k) {
    if (HCT_IS_DOUBLE) {
        union { double f; uint64_t u; } v;
        v.u = (uint64_t)(k + 1023) << 52;
        return (real)v.f;
    } else {
        union { float f; uint32_t u; } v;
        v.u = (uint32_t)(k + 127) << 23;
        return (real)v.f;
    }
}

/* exp: x = k ln2 + r with |r| <= ln2/2, Taylor polynomial for e^r, scale by 2^k. */
real hct_exp(real x) {
    const real hi = HCT_IS_DOUBLE ? (real)709.78 : (real)88.72;
    const real lo = HCT_IS_DOUBLE ? (real)-745.2 : (real)-103.98;
    if (!(x == x)) return x;
    if (x > hi) return HCT_REAL_MAX * (real)2; /* overflow to +Inf */
    if (x < lo) return 0;
    real kf = x * (real)INV_LN2;
    int k = (int)(kf < 0 ? kf - (real)0.5 : kf + (real)0.5);
    real r = (x - (real)k * (real)LN2_HI) - (real)k * (real)LN2_LO;
    /* Horner over 1/n!: degree 13 (double) or 7 (float) leaves < 1e-17 / 5e-9 */
    int deg = HCT_IS_DOUBLE ? 13 : HCT_EXP_DEG_FLOAT;
    real p = (real)hct_inv_fact[deg];
    for (int n = deg - 1; n >= 0; n--) p = p * r + (real)hct_inv_fact[n];
    /* split the scale so subnormal results and k at the range edge stay exact */
    int emin = HCT_IS_DOUBLE ? -1022 : -126;
    int emax = HCT_IS_DOUBLE ? 1023 : 127;
    if (k < emin) return p * pow2i(k + 64) * pow2i(-64);
    if (k > emax) return p * pow2i(k - 1) * (real)2;
    return p * pow2i(k);
}

/* log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1). */
real hct_log(real x) {
    if (!(x == x) || x < 0) return (x - x) / (x - x); /* NaN */
    if (x == 0) return -HCT_REAL_MAX * (real)2;
    if (x > HCT_REAL_MAX) return x;
    int e = 0;
    real m;
    if (HCT_IS_DOUBLE) {
        union { double f; uint64_t u; } v;
        v.f = (double)x;
        if ((v.u >> 52) == 0) { v.f *= 18014398509481984.0; e = -54; } /* subnormal: scale by 2^54 */
        e += (int)((v.u >> 52) & 0x7FF) - 1023;
        v.u = (v.u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
        m = (real)v.f;
    } else {
        union { float f; uint32_t u; } v;
        v.f = (float)x;
        if ((v.u >> 23) == 0) { v.f *= 16777216.0f; e = -24; }
        e += (int)((v.u >> 23) & 0xFF) - 127;
        v.u = (v.u & 0x007FFFFFu) | 0x3F800000u;
        m = (real)v.f;
    }
    if (m > (real)1.4142135623730951) { m *= (real)0.5; e += 1; }
    real s = (m - 1) / (m + 1);
    real s2 = s * s;
    int terms = HCT_IS_DOUBLE ? 11 : 5;
    real p = (real)1 / (real)(2 * terms + 1);
    for (int n = terms - 1; n >= 0; n--) p = p * s2 + (real)1 / (real)(2 * n + 1);
    return (real)e * (real)LN2_HI + ((real)2 * s * p + (real)e * (real)LN2_LO);
}

/* log1p with the correction that recovers the bits lost forming 1 + y. */
real hct_log1p(real y) {
    real u = (real)1 + y;
    if (u == (real)1) return y;
    return hct_log(u) * (y / (u - (real)1));
}

/* The builtin is one instruction only when errno is off (-fno-math-errno, as
 * our builds set); otherwise it may call libm, so fall back to Newton. */
real hct_sqrt(real x) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__NO_MATH_ERRNO__)
    return HCT_IS_DOUBLE ? (real)__builtin_sqrt((double)x) : (real)__builtin_sqrtf((float)x);
#else
    if (!(x > 0)) return x == 0 ? x : (x - x) / (x - x);
    real g = x > 1 ? x : (real)1;
    for (int i = 0; i < 64; i++) {
        real n = (real)0.5 * (g + x / g);
        if (n >= g) break;
        g = n;
    }
    return g;
#endif
}

real hct_sigmoid(real x) {
    if (x >= 0) return (real)1 / ((real)1 + hct_exp(-x));
    real e = hct_exp(x);
    return e / ((real)1 + e);
}

void hct_exp_shifted(real *x, real shift, uint32_t n) {
    for (uint32_t i = hct_simd_exp_shifted(x, shift, n); i < n; i++) x[i] = hct_exp(x[i] - shift);
}

void hct_sigmoid_n(const real *x, real *out, uint32_t n) {
    for (uint32_t i = hct_simd_sigmoid(x, out, n); i < n; i++) out[i] = hct_sigmoid(x[i]);
}

real hct_silu(real z) { return z * hct_sigmoid(z); }

real hct_silu_grad(real z) {
    real s = hct_sigmoid(z);
    return s * ((real)1 + z * ((real)1 - s));
}

real hct_softplus(real x) {
    real ax = x < 0 ? -x : x;
    return (x > 0 ? x : (real)0) + hct_log1p(hct_exp(-ax));
}

/* ---- rotary position table (MATH §2), built once per session in double ---- */

/* e^x for x in [-700, 0] (double whatever the build): as hct_exp's double path. */
static double exp_double(double x) {
    double kf = x * INV_LN2;
    int k = (int)(kf - 0.5);
    double r = (x - (double)k * LN2_HI) - (double)k * LN2_LO, p = 1;
    for (int n = 14; n >= 1; n--) p = 1 + r / n * p; /* e^r = 1 + r (1 + r/2 (1 + r/3 (...))) */
    union { double f; uint64_t u; } v;
    v.u = (uint64_t)(k + 1023) << 52;
    return p * v.f;
}

/* sin and cos of a in [0, 2^20): a = n pi/2 + r with |r| <= pi/4 (pi/2 in three parts,
 * Cody-Waite: n pi/2's first parts are exact for n < 2^20), Taylor series of r, quadrant n mod 4. */
static void sincos_double(double a, double *sn, double *cs) {
    static const double PIO2_1 = 1.57079632673412561417e+00;  /* first 33 bits of pi/2 */
    static const double PIO2_2 = 6.07710050630396597660e-11;  /* next 33 bits */
    static const double PIO2_3 = 2.02226624871116645580e-21;  /* pi/2 - PIO2_1 - PIO2_2 */
    static const double TWO_OVER_PI = 6.36619772367581382433e-01;
    uint32_t n = (uint32_t)(a * TWO_OVER_PI + 0.5);
    double r = ((a - n * PIO2_1) - n * PIO2_2) - n * PIO2_3, r2 = r * r, s = 1, c = 1;
    for (int k = 10; k >= 1; k--) { /* nested Taylor series: sin to r^19/19!, cos to r^18/18! */
        s = 1 - s * r2 / ((2 * k) * (2 * k + 1));
        c = 1 - c * r2 / ((2 * k - 1) * (2 * k));
    }
    s *= r;
    switch (n & 3u) {
    case 0: *sn = s; *cs = c; break;
    case 1: *sn = c; *cs = -s; break;
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
    }
}

void hct_rope_table(real *table, uint32_t window, uint32_t head_dim) {
    static const double LN_BASE = 9.21034037197618273607e+00; /* ln 10000 */
    uint32_t pairs = head_dim / 2;
    for (uint32_t i = 0; i < pairs; i++) {
        double theta = exp_double(-(double)(2 * i) / (double)head_dim * LN_BASE), sn, cs;
        for (uint32_t o = 0; o < window; o++) {
            sincos_double((double)o * theta, &sn, &cs);
            real *row = table + (size_t)o * 2 * head_dim;
            row[2 * i] = row[2 * i + 1] = (real)cs;
            row[head_dim + 2 * i] = -(real)sn;
            row[head_dim + 2 * i + 1] = (real)sn;
        }
    }
}

#if HCT_VEC_IN_REGISTERS
/* Tokens per register block for nv lane vectors of columns: enough that
 * nt * nv accumulators (at most LIN_VECS * LIN_TOKENS) hide the adds'
 * latency when the columns are few (the input gradient's T columns), each
 * load of W's row shared by the nt tokens (D55, D57). */
#define LIN_TOKENS_FOR(nv) \
    (LIN_VECS / (nv) >= 8 ? 8u : LIN_VECS / (nv) >= 4 ? 4u : LIN_VECS / (nv) >= 2 ? 2u : LIN_TOKENS)
#define LIN_ACCS (LIN_VECS * LIN_TOKENS > 8 ? LIN_VECS * LIN_TOKENS : 8u)

/* Rows of W per tile: a tile of a block's columns stays in L1 (8 KiB: rows 1 KiB apart use a quarter of its sets) while
 * every token of the call goes through it (D57). */
#define LIN_TILE_BYTES 8192u

/* Column vectors per block of hct_linear when a call has two tokens or more.
 * With 32 vector registers (x86 AVX-512VL) a block of four vectors for two
 * tokens holds its 8 sums, the 4 loaded vectors of W's row and both tokens'
 * broadcasts in registers, so each load of W serves two tokens (DECISIONS
 * D82: 1.1-1.3x on 16-token calls); with 16 the compiler takes W from memory
 * for each token again, and LIN_VECS columns of one token stay faster.  Its
 * tiles keep the rows of a LIN_VECS block (a narrower tile of more rows met
 * L1 set conflicts at 1 KiB row strides). */
#ifndef HECATE_LIN_PAIR_VECS /* override: 1 .. HECATE_LIN_VECS (tests force 4) */
#if defined(__AVX512VL__)
#define HECATE_LIN_PAIR_VECS 4
#else
#define HECATE_LIN_PAIR_VECS HECATE_LIN_VECS
#endif
#endif
#define LIN_PAIR_VECS ((uint32_t)HECATE_LIN_PAIR_VECS)

/* Rows i0 .. i1-1 of Y[t, o0 .. o0 + nv lanes) = sum over i = 0, 1, ..,
 * din-1 (in that order) of X[t, i] W[i, o] for the nt tokens t of X: from 0
 * when i0 is 0, else from the partial sums of the rows before, which Y holds
 * (a stored float reloads unchanged, so tiles change no bit).  The nt * nv
 * accumulating vectors stay in registers and each load of W's row serves
 * the nt tokens.  Always inlined with constant nt and nv (linear_tile), so
 * the loops unroll. */
static inline void linear_vecs(const real *W, const real *X, uint32_t nt, uint32_t din, uint32_t dout,
                               uint32_t o0, uint32_t nv, uint32_t i0, uint32_t i1, real *Y) {
    hct_vec acc[LIN_ACCS];
    for (uint32_t t = 0; t < nt; t++)
        for (uint32_t v = 0; v < nv; v++)
            acc[t * nv + v] = i0 ? HCT_VLOAD(Y + (size_t)t * dout + o0 + v * HCT_LANES) : HCT_VSPLAT((real)0);
    for (uint32_t i = i0; i < i1; i++) {
        const real *w = W + (size_t)i * dout + o0;
        for (uint32_t t = 0; t < nt; t++) { /* the tokens' loads of w are one (nothing is stored between) */
            hct_vec xi = HCT_VSPLAT(X[(size_t)t * din + i]);
            for (uint32_t v = 0; v < nv; v++)
                acc[t * nv + v] = HCT_VMADD(acc[t * nv + v], xi, HCT_VLOAD(w + v * HCT_LANES));
        }
    }
    for (uint32_t t = 0; t < nt; t++)
        for (uint32_t v = 0; v < nv; v++) HCT_VSTORE(Y + (size_t)t * dout + o0 + v * HCT_LANES, acc[t * nv + v]);
}

/* linear_vecs for nv (1 .. LIN_VECS) vectors and nt tokens, LIN_TOKENS_FOR(nv) or 1. */
static void linear_tile(const real *W, const real *X, uint32_t nt, uint32_t din, uint32_t dout, uint32_t o0,
                        uint32_t nv, uint32_t i0, uint32_t i1, real *Y) {
#define LIN_CASE(NV)                                                                   \
    case NV:                                                                           \
        if (nt == 1) linear_vecs(W, X, 1, din, dout, o0, NV, i0, i1, Y);               \
        else linear_vecs(W, X, LIN_TOKENS_FOR(NV), din, dout, o0, NV, i0, i1, Y);      \
        break;
    switch (nv) {
#if HECATE_LIN_VECS >= 8
    LIN_CASE(8) LIN_CASE(7) LIN_CASE(6) LIN_CASE(5)
#endif
    LIN_CASE(4) LIN_CASE(3) LIN_CASE(2) LIN_CASE(1)
    default: break;
    }
#undef LIN_CASE
}

/* Blocks of whole lane vectors of columns, each by tiles of rows of W, the
 * tokens in groups of LIN_TOKENS_FOR(nv) (then one by one); the columns
 * after the last whole vector one at a time, same operations.  The order
 * of each output's sum depends on nothing but din, so any batching of
 * tokens gives the same bits (MATH §6). */
void hct_linear(const real *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y) {
    uint32_t vec_cols = dout / HCT_LANES * HCT_LANES;
    uint32_t block_vecs = T > 1 ? LIN_PAIR_VECS : LIN_VECS, block = block_vecs * HCT_LANES;
    for (uint32_t o0 = 0; o0 < vec_cols; o0 += block) {
        uint32_t nv = (vec_cols - o0 < block ? vec_cols - o0 : block) / HCT_LANES, group = LIN_TOKENS_FOR(nv);
        uint32_t rows = LIN_TILE_BYTES / LIN_VECS * block_vecs / (nv * HCT_VEC_BYTES);
        for (uint32_t i0 = 0; i0 < din; i0 += rows) {
            uint32_t i1 = din - i0 < rows ? din : i0 + rows;
            for (uint32_t t = 0; t < T;) {
                uint32_t nt = T - t >= group ? group : 1;
                linear_tile(W, X + (size_t)t * din, nt, din, dout, o0, nv, i0, i1, Y + (size_t)t * dout);
                t += nt;
            }
        }
    }
    for (uint32_t t = 0; t < T; t++) {
        const real *x = X + (size_t)t * din;
        for (uint32_t o = vec_cols; o < dout; o++) {
            real a = 0;
            for (uint32_t i = 0; i < din; i++) a = hct_madd(a, x[i], W[(size_t)i * dout + o]);
            Y[(size_t)t * dout + o] = a;
        }
    }
}
#else
/* A whole block of 16 columns o0 .. o0+16 of sum over i in order of
 * x[i] W[i, o] for each of the nt tokens, its 16 sums in registers
 * (hct_sum4, D53); a partial block is left to linear_cols. */
static uint32_t linear_block(const real *W, const real *X, uint32_t nt, uint32_t din, uint32_t dout, uint32_t o0,
                             uint32_t nb, real *Y) {
    if (nb < HCT_COL_BLOCK) return 0;
    for (uint32_t t = 0; t < nt; t++) {
        const real *x = X + (size_t)t * din, *w = W + o0;
        real *y = Y + (size_t)t * dout;
        hct_sum4 a = {0, 0, 0, 0}, b = a, c = a, d = a;
        for (uint32_t i = 0; i < din; i++, w += dout) {
            real xi = x[i];
            a = hct_mac4(a, xi, w[0], w[1], w[2], w[3]);
            b = hct_mac4(b, xi, w[4], w[5], w[6], w[7]);
            c = hct_mac4(c, xi, w[8], w[9], w[10], w[11]);
            d = hct_mac4(d, xi, w[12], w[13], w[14], w[15]);
        }
        hct_store4(y + o0, a);
        hct_store4(y + o0 + 4, b);
        hct_store4(y + o0 + 8, c);
        hct_store4(y + o0 + 12, d);
    }
    return HCT_COL_BLOCK;
}

/* Columns o0 .. o0+nb (nb <= HCT_COL_BLOCK) of X W for nt tokens.  The
 * order of each output's sum depends on nothing but din, so any batching of
 * tokens gives the same bits (MATH §6); a block in registers, leftover
 * columns one at a time, same operations. */
static void linear_cols(const real *W, const real *X, uint32_t nt, uint32_t din, uint32_t dout, uint32_t o0,
                        uint32_t nb, real *Y) {
    uint32_t done = linear_block(W, X, nt, din, dout, o0, nb, Y);
    for (uint32_t t = 0; t < nt; t++) {
        const real *x = X + (size_t)t * din;
        for (uint32_t o = o0 + done; o < o0 + nb; o++) {
            real a = 0;
            for (uint32_t i = 0; i < din; i++) a = hct_madd(a, x[i], W[(size_t)i * dout + o]);
            Y[(size_t)t * dout + o] = a;
        }
    }
}

/* Token by token (or LIN_TOKENS at a time), 16 columns a block. */
void hct_linear(const real *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y) {
    for (uint32_t t = 0; t < T;) {
        uint32_t nt = T - t >= LIN_TOKENS ? LIN_TOKENS : 1;
        for (uint32_t o0 = 0; o0 < dout; o0 += HCT_COL_BLOCK)
            linear_cols(W, X + (size_t)t * din, nt, din, dout, o0,
                        dout - o0 < HCT_COL_BLOCK ? dout - o0 : HCT_COL_BLOCK, Y + (size_t)t * dout);
        t += nt;
    }
}
#endif

/* dW[i, o0..o0+nb) += sum over t of X[t, i] dY[t, o0..o0+nb), or = with
 * `store` (the sums start at 0 instead of dW: the same bits as dW = 0). */
static void weight_grad_cols(const real *X, const real *dY, uint32_t T, uint32_t din, uint32_t dout,
                             uint32_t i, uint32_t o0, uint32_t nb, bool store, real *dW) {
    real *g = dW + (size_t)i * dout + o0;
    if (nb == LIN_BLOCK) {
        hct_vec acc[LIN_VECS];
        for (uint32_t v = 0; v < LIN_VECS; v++) acc[v] = store ? HCT_VSPLAT(0) : HCT_VLOAD(g + v * HCT_LANES);
        for (uint32_t t = 0; t < T; t++) {
            hct_vec xt = HCT_VSPLAT(X[(size_t)t * din + i]);
            const real *dy = dY + (size_t)t * dout + o0;
            for (uint32_t v = 0; v < LIN_VECS; v++)
                acc[v] = HCT_VMADD(acc[v], xt, HCT_VLOAD(dy + v * HCT_LANES));
        }
        for (uint32_t v = 0; v < LIN_VECS; v++) HCT_VSTORE(g + v * HCT_LANES, acc[v]);
        return;
    }
    for (uint32_t o = 0; store && o < nb; o++) g[o] = 0;
    for (uint32_t t = 0; t < T; t++) hct_axpy(g, X[(size_t)t * din + i], dY + (size_t)t * dout + o0, nb);
}

/* (rows, cols) -> (cols, rows), written in order (the loads stride; D62:
 * strided stores, a cache line each, were a tenth of hct_linear_backward) */
static void transpose(const real *A, uint32_t rows, uint32_t cols, real *out) {
    for (uint32_t c = 0; c < cols; c++)
        for (uint32_t r = 0; r < rows; r++) out[(size_t)c * rows + r] = A[(size_t)r * cols + c];
}

void hct_linear_backward(const real *W, const real *X, const real *dY, uint32_t T,
                         uint32_t din, uint32_t dout, real *dW, bool store, real *dX, real *work) {
    for (uint32_t i = 0; i < din; i++)
        for (uint32_t o0 = 0; o0 < dout; o0 += LIN_BLOCK)
            weight_grad_cols(X, dY, T, din, dout, i, o0, dout - o0 < LIN_BLOCK ? dout - o0 : LIN_BLOCK, store,
                             dW);
    if (!dX) return;
    /* dX^T = W dY^T: row i of the result is a linear map of row i of W, so the
     * same lane kernel serves, over tokens instead of columns */
    real *dYT = work, *dXT = work + (size_t)dout * T;
    transpose(dY, T, dout, dYT);
    hct_linear(dYT, W, din, dout, T, dXT);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t i = 0; i < din; i++) dX[(size_t)t * din + i] += dXT[(size_t)i * T + t];
}

real hct_l2_normalize(real *x, uint32_t n) {
    real norm = hct_sqrt(hct_dot(x, x, n));
    real inv = (real)1 / hct_norm_divisor(norm > (real)1e-8 ? norm : (real)1e-8);
    for (uint32_t i = 0; i < n; i++) x[i] *= inv;
    return norm;
}

void hct_l2_normalize_backward(const real *x_hat, real norm, real *dx, uint32_t n) {
    if (norm < (real)1e-8) {
        for (uint32_t i = 0; i < n; i++) dx[i] *= (real)1e8;
        return;
    }
    real proj = hct_dot(dx, x_hat, n);
    real inv = (real)1 / norm;
    for (uint32_t i = 0; i < n; i++) dx[i] = (dx[i] - x_hat[i] * proj) * inv;
}
