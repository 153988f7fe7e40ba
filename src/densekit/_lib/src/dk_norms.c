/* Hot loops of densekit._lib._constraints and _regularizers (declared in dk_norms.h),
 * compiled once into the kernel library, three times over (AVX-512, AVX2, baseline x86-64:
 * DK_CLONES, dk_simd.h) and chosen at load time (glibc ifunc), so wheels stay portable.
 *
 * Every loop keeps a fixed lane structure (independent accumulators, elementwise
 * updates) and the build disables FMA contraction (-ffp-contract=off), so all
 * three versions round identically: results do not depend on the CPU.
 * Squares and products are formed in double: float32 input squared in double is
 * exact, so only the additions round.
 */
#include <math.h>
#include <stddef.h>

#include "dk_norms.h"
#include "dk_simd.h"

/* Independent accumulator lanes of the dot-style reductions (a fixed number, so that
 * the summation order is the same on every CPU). */
#define DK_LANES 16

/* float (suffix f) and double (suffix d) twins of every function, from one definition. */

#define DK_DEFINE(T, S)                                                                    \
    /* acc[j] += x[j]^2 */                                                                 \
    DK_CLONES void dk_add_sq_##S(double *restrict acc, const T *restrict x,                \
                                        ptrdiff_t n)                                       \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                \
            double v = (double)x[j];                                                       \
            acc[j] = acc[j] + v * v;                                                       \
        }                                                                                  \
    }                                                                                      \
    /* acc[j] += x0[j]^2 + x1[j]^2 + x2[j]^2 + x3[j]^2, added left to right, so equal */   \
    /* to four dk_add_sq calls with a quarter of the accumulator traffic. */               \
    DK_CLONES void dk_add_sq4_##S(double *restrict acc, const T *restrict x,               \
                                         ptrdiff_t stride, ptrdiff_t n)                    \
    {                                                                                      \
        const T *restrict x1 = x + stride;                                                 \
        const T *restrict x2 = x + 2 * stride;                                             \
        const T *restrict x3 = x + 3 * stride;                                             \
        for (ptrdiff_t j = 0; j < n; j++) {                                                \
            double v0 = (double)x[j], v1 = (double)x1[j];                                  \
            double v2 = (double)x2[j], v3 = (double)x3[j];                                 \
            acc[j] = acc[j] + v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3;                       \
        }                                                                                  \
    }                                                                                      \
    /* The same for eight rows: acc[j] += x0[j]^2 + ... + x7[j]^2, left to right. */       \
    DK_CLONES void dk_add_sq8_##S(double *restrict acc, const T *restrict x,               \
                                         ptrdiff_t stride, ptrdiff_t n)                    \
    {                                                                                      \
        const T *restrict x1 = x + stride, *restrict x2 = x + 2 * stride;                  \
        const T *restrict x3 = x + 3 * stride, *restrict x4 = x + 4 * stride;              \
        const T *restrict x5 = x + 5 * stride, *restrict x6 = x + 6 * stride;              \
        const T *restrict x7 = x + 7 * stride;                                             \
        for (ptrdiff_t j = 0; j < n; j++) {                                                \
            double v0 = (double)x[j], v1 = (double)x1[j];                                  \
            double v2 = (double)x2[j], v3 = (double)x3[j];                                 \
            double v4 = (double)x4[j], v5 = (double)x5[j];                                 \
            double v6 = (double)x6[j], v7 = (double)x7[j];                                 \
            acc[j] = acc[j] + v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3 + v4 * v4 + v5 * v5    \
                     + v6 * v6 + v7 * v7;                                                  \
        }                                                                                  \
    }                                                                                      \
    /* sum(|x|) into *s1 and/or sum(x^2) into *s2, DK_LANES lanes each. */                 \
    DK_CLONES void dk_sums_##S(const T *restrict x, ptrdiff_t n, int want_abs,             \
                                      int want_sq, double *s1, double *s2)                 \
    {                                                                                      \
        double a[DK_LANES] = {0}, q[DK_LANES] = {0};                                       \
        ptrdiff_t j = 0;                                                                   \
        if (want_sq && !want_abs) {                                                        \
            for (; j + DK_LANES <= n; j += DK_LANES)                                       \
                for (int k = 0; k < DK_LANES; k++) {                                       \
                    double v = (double)x[j + k];                                           \
                    q[k] = q[k] + v * v;                                                   \
                }                                                                          \
        } else if (want_abs && !want_sq) {                                                 \
            for (; j + DK_LANES <= n; j += DK_LANES)                                       \
                for (int k = 0; k < DK_LANES; k++)                                         \
                    a[k] = a[k] + fabs((double)x[j + k]);                                  \
        } else {                                                                           \
            for (; j + DK_LANES <= n; j += DK_LANES)                                       \
                for (int k = 0; k < DK_LANES; k++) {                                       \
                    double v = (double)x[j + k];                                           \
                    a[k] = a[k] + fabs(v);                                                 \
                    q[k] = q[k] + v * v;                                                   \
                }                                                                          \
        }                                                                                  \
        for (int k = 0; j < n; j++, k++) {                                                 \
            double v = (double)x[j];                                                       \
            a[k] = a[k] + fabs(v);                                                         \
            q[k] = q[k] + v * v;                                                           \
        }                                                                                  \
        /* Fixed pairwise tree over the lanes. */                                          \
        for (int w = DK_LANES / 2; w >= 1; w /= 2)                                         \
            for (int k = 0; k < w; k++) {                                                  \
                a[k] = a[k] + a[k + w];                                                    \
                q[k] = q[k] + q[k + w];                                                    \
            }                                                                              \
        *s1 = a[0];                                                                        \
        *s2 = q[0];                                                                        \
    }                                                                                      \
    /* sum(x^2) */                                                                         \
    double dk_sumsq_##S(const T *restrict x, ptrdiff_t n)                                  \
    {                                                                                      \
        double s1, s2;                                                                     \
        dk_sums_##S(x, n, 0, 1, &s1, &s2);                                                 \
        return s2;                                                                         \
    }                                                                                      \
    /* y[j] = (T)(x[j] * f[j]), the product in double: one rounding. */                    \
    DK_CLONES void dk_scale_##S(T *restrict y, const T *restrict x,                        \
                                       const double *restrict f, ptrdiff_t n)              \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++)                                                  \
            y[j] = (T)((double)x[j] * f[j]);                                               \
    }                                                                                      \
    /* In place: y[j] = (T)(y[j] * f[j]) (a separate version, since an aliased */          \
    /* out-of-place loop would fail gcc's overlap check and run scalar). */                \
    DK_CLONES void dk_scale_inplace_##S(T *restrict y, const double *restrict f,           \
                                               ptrdiff_t n)                                \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++)                                                  \
            y[j] = (T)((double)y[j] * f[j]);                                               \
    }                                                                                      \
    /* Four rows `stride` apart share each f[j]: y_k[j] = (T)(x_k[j] * f[j]). Reading */   \
    /* f once per four rows keeps the factor traffic off the memory bus. */                \
    DK_CLONES void dk_scale4_##S(T *restrict y, ptrdiff_t ystride,                         \
                                        const T *restrict x, ptrdiff_t xstride,            \
                                        const double *restrict f, ptrdiff_t n)             \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                \
            double fj = f[j];                                                              \
            y[j] = (T)((double)x[j] * fj);                                                 \
            y[ystride + j] = (T)((double)x[xstride + j] * fj);                             \
            y[2 * ystride + j] = (T)((double)x[2 * xstride + j] * fj);                     \
            y[3 * ystride + j] = (T)((double)x[3 * xstride + j] * fj);                     \
        }                                                                                  \
    }                                                                                      \
    DK_CLONES void dk_scale4_inplace_##S(T *restrict y, ptrdiff_t stride,                  \
                                                const double *restrict f, ptrdiff_t n)     \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++) {                                                \
            double fj = f[j];                                                              \
            y[j] = (T)((double)y[j] * fj);                                                 \
            y[stride + j] = (T)((double)y[stride + j] * fj);                               \
            y[2 * stride + j] = (T)((double)y[2 * stride + j] * fj);                       \
            y[3 * stride + j] = (T)((double)y[3 * stride + j] * fj);                       \
        }                                                                                  \
    }                                                                                      \
    /* y[j] = (T)(x[j] * f). */                                                            \
    DK_CLONES void dk_scale1_##S(T *restrict y, const T *restrict x, double f,             \
                                        ptrdiff_t n)                                       \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++)                                                  \
            y[j] = (T)((double)x[j] * f);                                                  \
    }                                                                                      \
    DK_CLONES void dk_scale1_inplace_##S(T *restrict y, double f, ptrdiff_t n)             \
    {                                                                                      \
        for (ptrdiff_t j = 0; j < n; j++)                                                  \
            y[j] = (T)((double)y[j] * f);                                                  \
    }

DK_DEFINE(float, f)
DK_DEFINE(double, d)

#undef DK_DEFINE
