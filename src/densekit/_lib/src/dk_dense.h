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

/* The backward of y = x @ w for small kernels, on the calling thread: dw[k, u] := x^T dz
 * (rows accumulated from 0 in row order) and, unless dx is NULL, dx[rows, k] := dz w^T (each
 * a dot product over u in 8 fixed lanes, combined in a fixed order). Deterministic: the same
 * bits for any clone. */
void dk_dense_backward_rows_f32(const float *restrict x, const float *restrict w,
                                const float *restrict dz, float *restrict dx,
                                float *restrict dw, ptrdiff_t rows, ptrdiff_t k, ptrdiff_t u);
void dk_dense_backward_rows_f64(const double *restrict x, const double *restrict w,
                                const double *restrict dz, double *restrict dx,
                                double *restrict dw, ptrdiff_t rows, ptrdiff_t k, ptrdiff_t u);

/* dst (cols, rows) := transpose of src (rows, cols), row i of src times scale[i] (no
 * scaling when scale is NULL), for the source rows r0 <= i < r1 only (so that threads
 * can share one transpose); both row-major. */
void dk_transpose_scale_f32(float *restrict dst, const float *restrict src,
                            const float *restrict scale, ptrdiff_t rows, ptrdiff_t cols,
                            ptrdiff_t r0, ptrdiff_t r1);
void dk_transpose_scale_f64(double *restrict dst, const double *restrict src,
                            const double *restrict scale, ptrdiff_t rows, ptrdiff_t cols,
                            ptrdiff_t r0, ptrdiff_t r1);

#endif
