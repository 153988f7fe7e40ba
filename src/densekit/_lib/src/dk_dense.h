/* The small-kernel product of densekit._lib._dense (dk_dense.c). */
#ifndef DK_DENSE_H
#define DK_DENSE_H

#include <stddef.h>

/* y[rows, u] := x[rows, k] @ w[k, u], all row-major. Every output element is
 * sum_p x[i,p] * w[p,j] accumulated from 0 in p order (no FMA: -ffp-contract=off), whatever
 * the clone, the row grouping or the thread, so all paths give the same bits. */
void dk_dense_rows_f32(const float *restrict x, const float *restrict w, float *restrict y,
                       ptrdiff_t rows, ptrdiff_t k, ptrdiff_t u);
void dk_dense_rows_f64(const double *restrict x, const double *restrict w, double *restrict y,
                       ptrdiff_t rows, ptrdiff_t k, ptrdiff_t u);

#endif
