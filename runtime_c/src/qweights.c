/* qweights.c — int8 weight kernels (DECISIONS D29): rows of q (int8) with
 * one float scale per row are read in place from the model file; no real
 * copy of the weights exists anywhere; on cores without SIMD registers the
 * sums are scalars (D53).  MATH §1 (embedding), §2-§4 (maps). */
#include "qweights.h"
#include "mathfn.h"

#if HCT_VEC_IN_REGISTERS

/* y[o0 .. o0 + nv lanes) = sum over i in order of (x[i] s[i]) q[i, o]: the
 * shape of mathfn.c's linear_vecs, with each int8 lane widened first. */
static inline void q8_vecs(const hct_q8 *W, const real *x, uint32_t din, uint32_t dout, uint32_t o0,
                           uint32_t nv, real *y) {
    hct_vec acc[LIN_VECS];
    real wide[LIN_BLOCK];
    for (uint32_t v = 0; v < nv; v++) acc[v] = HCT_VSPLAT((real)0);
    for (uint32_t i = 0; i < din; i++) {
        const int8_t *q = W->q + (size_t)i * dout + o0;
        for (uint32_t l = 0; l < nv * HCT_LANES; l++) wide[l] = (real)q[l];
        hct_vec xi = HCT_VSPLAT(x[i] * (real)W->scale[i]);
        for (uint32_t v = 0; v < nv; v++) acc[v] = HCT_VMADD(acc[v], xi, HCT_VLOAD(wide + v * HCT_LANES));
    }
    for (uint32_t v = 0; v < nv; v++) HCT_VSTORE(y + o0 + v * HCT_LANES, acc[v]);
}

/* whole lane vectors of columns o0 .. o0+nb in registers; the rest below */
static uint32_t q8_block(const hct_q8 *W, const real *x, uint32_t din, uint32_t dout, uint32_t o0, uint32_t nb,
                         real *y) {
    uint32_t nv = nb / HCT_LANES;
    switch (nv) { /* constant vector counts, as in mathfn.c's linear_tile */
#if HECATE_LIN_VECS >= 8
    case 8: q8_vecs(W, x, din, dout, o0, 8, y); break;
    case 7: q8_vecs(W, x, din, dout, o0, 7, y); break;
    case 6: q8_vecs(W, x, din, dout, o0, 6, y); break;
    case 5: q8_vecs(W, x, din, dout, o0, 5, y); break;
#endif
    case 4: q8_vecs(W, x, din, dout, o0, 4, y); break;
    case 3: q8_vecs(W, x, din, dout, o0, 3, y); break;
    case 2: q8_vecs(W, x, din, dout, o0, 2, y); break;
    case 1: q8_vecs(W, x, din, dout, o0, 1, y); break;
    default: break;
    }
    return nv * HCT_LANES;
}
#else
/* A whole block of 16 columns o0 .. o0+16 of sum over i in order of
 * (x[i] s[i]) q[i, o], its 16 sums in registers; a partial block is left
 * to the column loop below. */
static uint32_t q8_block(const hct_q8 *W, const real *x, uint32_t din, uint32_t dout, uint32_t o0, uint32_t nb,
                         real *y) {
    if (nb < HCT_COL_BLOCK) return 0;
    hct_sum4 a = {0, 0, 0, 0}, b = a, c = a, d = a;
    const int8_t *q = W->q + o0;
    for (uint32_t i = 0; i < din; i++, q += dout) {
        real xi = x[i] * (real)W->scale[i];
        a = hct_mac4(a, xi, (real)q[0], (real)q[1], (real)q[2], (real)q[3]);
        b = hct_mac4(b, xi, (real)q[4], (real)q[5], (real)q[6], (real)q[7]);
        c = hct_mac4(c, xi, (real)q[8], (real)q[9], (real)q[10], (real)q[11]);
        d = hct_mac4(d, xi, (real)q[12], (real)q[13], (real)q[14], (real)q[15]);
    }
    hct_store4(y + o0, a);
    hct_store4(y + o0 + 4, b);
    hct_store4(y + o0 + 8, c);
    hct_store4(y + o0 + 12, d);
    return HCT_COL_BLOCK;
}
#endif

/* Columns o0 .. o0+nb (nb <= HCT_COL_BLOCK): a block in registers, then any
 * leftover columns one at a time, same operations. */
static void q8_cols(const hct_q8 *W, const real *x, uint32_t din, uint32_t dout, uint32_t o0, uint32_t nb,
                    real *y) {
    for (uint32_t o = o0 + q8_block(W, x, din, dout, o0, nb, y); o < o0 + nb; o++) {
        real a = 0;
        for (uint32_t i = 0; i < din; i++) a = hct_madd(a, x[i] * (real)W->scale[i], (real)W->q[(size_t)i * dout + o]);
        y[o] = a;
    }
}

void hct_model_linear(const hct_mat *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y) {
    if (!W->q8.q) {
        hct_linear(W->w, X, T, din, dout, Y);
        return;
    }
    if (W->q8.a16) {
        hct_w8a16_linear(&W->q8, X, T, din, dout, Y);
        return;
    }
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t o0 = 0; o0 < dout; o0 += HCT_COL_BLOCK)
            q8_cols(&W->q8, X + (size_t)t * din, din, dout, o0, dout - o0 < HCT_COL_BLOCK ? dout - o0 : HCT_COL_BLOCK,
                    Y + (size_t)t * dout);
}

void hct_model_row(const hct_mat *W, uint32_t row, uint32_t n, real *out) {
    const hct_q8 *q = &W->q8;
    if (!q->q) {
        hct_copy(out, W->w + (size_t)row * n, n);
        return;
    }
    real s = (real)q->scale[row];
    for (uint32_t j = 0; j < n; j++) out[j] = s * (real)q->q[(size_t)row * n + j];
}
