/* x[rows, k] @ w[k, u] -> y[rows, u] for small kernels (dk_dense.h): `restrict` lets gcc
 * vectorize, and DK_CLONES (dk_simd.h) builds one copy per SIMD level, picked at load time. */
#include <stddef.h>

#include "dk_dense.h"
#include "dk_simd.h"

#define DK_DENSE_TILE 32

/* Four rows by a tile of up to DK_DENSE_TILE units: the accumulators stay in
 * registers across the k loop and each w row segment is loaded once for four rows. */
#define DK_DENSE_ROWS(NAME, T)                                                              \
DK_CLONES void NAME(const T *restrict x, const T *restrict w, T *restrict y,                \
                    ptrdiff_t rows, ptrdiff_t k, ptrdiff_t u)                               \
{                                                                                           \
    ptrdiff_t i = 0;                                                                        \
    for (; i + 4 <= rows; i += 4) {                                                         \
        const T *x0 = x + i * k, *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;                  \
        for (ptrdiff_t j0 = 0; j0 < u; j0 += DK_DENSE_TILE) {                               \
            T a0[DK_DENSE_TILE], a1[DK_DENSE_TILE], a2[DK_DENSE_TILE], a3[DK_DENSE_TILE];   \
            ptrdiff_t jn = u - j0 < DK_DENSE_TILE ? u - j0 : DK_DENSE_TILE;                 \
            for (ptrdiff_t j = 0; j < DK_DENSE_TILE; j++)                                   \
                a0[j] = a1[j] = a2[j] = a3[j] = 0;                                          \
            if (jn == DK_DENSE_TILE) {                                                      \
                for (ptrdiff_t p = 0; p < k; p++) {                                         \
                    const T *wr = w + p * u + j0;                                           \
                    T v0 = x0[p], v1 = x1[p], v2 = x2[p], v3 = x3[p];                       \
                    for (ptrdiff_t j = 0; j < DK_DENSE_TILE; j++) {                         \
                        a0[j] += v0 * wr[j]; a1[j] += v1 * wr[j];                           \
                        a2[j] += v2 * wr[j]; a3[j] += v3 * wr[j];                           \
                    }                                                                       \
                }                                                                           \
            } else {                                                                        \
                for (ptrdiff_t p = 0; p < k; p++) {                                         \
                    const T *wr = w + p * u + j0;                                           \
                    T v0 = x0[p], v1 = x1[p], v2 = x2[p], v3 = x3[p];                       \
                    for (ptrdiff_t j = 0; j < jn; j++) {                                    \
                        a0[j] += v0 * wr[j]; a1[j] += v1 * wr[j];                           \
                        a2[j] += v2 * wr[j]; a3[j] += v3 * wr[j];                           \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
            T *y0 = y + i * u + j0;                                                         \
            for (ptrdiff_t j = 0; j < jn; j++) {                                            \
                y0[j] = a0[j]; y0[u + j] = a1[j];                                           \
                y0[2 * u + j] = a2[j]; y0[3 * u + j] = a3[j];                               \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    for (; i < rows; i++) {                                                                 \
        const T *x0 = x + i * k;                                                            \
        for (ptrdiff_t j0 = 0; j0 < u; j0 += DK_DENSE_TILE) {                               \
            T a0[DK_DENSE_TILE];                                                            \
            ptrdiff_t jn = u - j0 < DK_DENSE_TILE ? u - j0 : DK_DENSE_TILE;                 \
            for (ptrdiff_t j = 0; j < DK_DENSE_TILE; j++) a0[j] = 0;                        \
            for (ptrdiff_t p = 0; p < k; p++) {                                             \
                const T *wr = w + p * u + j0;                                               \
                T v0 = x0[p];                                                               \
                for (ptrdiff_t j = 0; j < jn; j++) a0[j] += v0 * wr[j];                     \
            }                                                                               \
            for (ptrdiff_t j = 0; j < jn; j++) y[i * u + j0 + j] = a0[j];                   \
        }                                                                                   \
    }                                                                                       \
}

DK_DENSE_ROWS(dk_dense_rows_f32, float)
DK_DENSE_ROWS(dk_dense_rows_f64, double)

/* dw := x^T dz as rank-1 updates dw[p, :] += x[i, p] dz[i, :] (vectorized over u; dw stays
 * in L1 for a small kernel); dx[i, p] := dz[i, :] . w[p, :] in 8 lanes. */
#define DK_DENSE_BACKWARD_ROWS(NAME, T)                                                     \
DK_CLONES void NAME(const T *restrict x, const T *restrict w, const T *restrict dz,         \
                    T *restrict dx, T *restrict dw, ptrdiff_t rows, ptrdiff_t k,            \
                    ptrdiff_t u)                                                            \
{                                                                                           \
    for (ptrdiff_t q = 0; q < k * u; q++)                                                   \
        dw[q] = 0;                                                                          \
    for (ptrdiff_t i = 0; i < rows; i++) {                                                  \
        const T *g = dz + i * u;                                                            \
        for (ptrdiff_t p = 0; p < k; p++) {                                                 \
            T v = x[i * k + p];                                                             \
            T *d = dw + p * u;                                                              \
            for (ptrdiff_t j = 0; j < u; j++)                                               \
                d[j] += v * g[j];                                                           \
        }                                                                                   \
    }                                                                                       \
    if (dx == NULL)                                                                         \
        return;                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                                  \
        const T *g = dz + i * u;                                                            \
        for (ptrdiff_t p = 0; p < k; p++) {                                                 \
            const T *wr = w + p * u;                                                        \
            T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0;                                     \
            ptrdiff_t j = 0;                                                                \
            for (; j + 8 <= u; j += 8)                                                      \
                for (int l = 0; l < 8; l++)                                                 \
                    acc[l] += g[j + l] * wr[j + l];                                         \
            for (; j < u; j++)                                                              \
                s += g[j] * wr[j];                                                          \
            dx[i * k + p] = s + (((acc[0] + acc[1]) + (acc[2] + acc[3]))                    \
                                 + ((acc[4] + acc[5]) + (acc[6] + acc[7])));                \
        }                                                                                   \
    }                                                                                       \
}

DK_DENSE_BACKWARD_ROWS(dk_dense_backward_rows_f32, float)
DK_DENSE_BACKWARD_ROWS(dk_dense_backward_rows_f64, double)

/* dst[j, i] := src[i, j] * scale[i] (scale may be NULL) for source rows r0 <= i < r1
 * (dk_dense.h), in DK_TRANSPOSE_TILE x DK_TRANSPOSE_TILE tiles so that both the reads
 * and the writes stay within a few cache lines per row: a strided numpy copy of a
 * 2048^2 float32 transpose ran at 1.4 GB/s. One rounding per product, as numpy's. */
#define DK_TRANSPOSE_TILE 32
#define DK_TRANSPOSE(NAME, T)                                                               \
DK_CLONES void NAME(T *restrict dst, const T *restrict src, const T *restrict scale,         \
                    ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t r0, ptrdiff_t r1)              \
{                                                                                           \
    (void)rows;                                                                             \
    for (ptrdiff_t i0 = r0; i0 < r1; i0 += DK_TRANSPOSE_TILE) {                             \
        ptrdiff_t in = r1 - i0 < DK_TRANSPOSE_TILE ? r1 - i0 : DK_TRANSPOSE_TILE;           \
        for (ptrdiff_t j0 = 0; j0 < cols; j0 += DK_TRANSPOSE_TILE) {                        \
            ptrdiff_t jn = cols - j0 < DK_TRANSPOSE_TILE ? cols - j0 : DK_TRANSPOSE_TILE;   \
            if (scale) {                                                                    \
                for (ptrdiff_t j = 0; j < jn; j++)                                          \
                    for (ptrdiff_t i = 0; i < in; i++)                                      \
                        dst[(j0 + j) * rows + i0 + i] =                                     \
                            src[(i0 + i) * cols + j0 + j] * scale[i0 + i];                  \
            } else {                                                                        \
                for (ptrdiff_t j = 0; j < jn; j++)                                          \
                    for (ptrdiff_t i = 0; i < in; i++)                                      \
                        dst[(j0 + j) * rows + i0 + i] = src[(i0 + i) * cols + j0 + j];      \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
}

DK_TRANSPOSE(dk_transpose_scale_f32, float)
DK_TRANSPOSE(dk_transpose_scale_f64, double)
#undef DK_TRANSPOSE
