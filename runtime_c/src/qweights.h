/* qweights.h — int8 weights (docs/FORMAT.md dtype 2, DECISIONS D29): the
 * matrix kernels that read int8 rows with their scale in place, and the
 * model-weight entry points that pick the int8 or the real kernel. */
#ifndef HECATE_QWEIGHTS_H
#define HECATE_QWEIGHTS_H
#include "internal.h"

/* Y[t, :] = X[t, :] W for a model matrix W (din, dout) of m->mat, real or
 * int8 (its kernel chosen at open); the int8 form computes sum_i (x_i s_i)
 * q_io, rows in order, so the chunking invariant of hct_linear holds (MATH §6). */
void hct_model_linear(const hct_mat *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y);

/* Y = X W for an int8 matrix of dtype 3: each row of X quantized to int16
 * with one scale, exact int32 sums (w8a16.c, MATH §1.1). */
void hct_w8a16_linear(const hct_q8 *W, const real *X, uint32_t T, uint32_t din, uint32_t dout, real *Y);

/* out[0..n) = row `row` of a model matrix W (rows, n) of m->mat: a copy, or
 * s_row q_row for int8 (the embedding lookup, MATH §1). */
void hct_model_row(const hct_mat *W, uint32_t row, uint32_t n, real *out);

#endif
