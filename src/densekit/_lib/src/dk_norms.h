/* Norm and scaling loops of densekit._lib._constraints and _regularizers (dk_norms.c).
 * Each has a float (suffix _f) and a double (suffix _d) twin. Sums and squares are formed
 * in double over fixed lanes, so results do not depend on the CPU or the thread count. */
#ifndef DK_NORMS_H
#define DK_NORMS_H

#include <stddef.h>

/* acc[j] += x[j]^2 */
void dk_add_sq_f(double *restrict acc, const float *restrict x, ptrdiff_t n);
void dk_add_sq_d(double *restrict acc, const double *restrict x, ptrdiff_t n);
/* acc[j] += x0[j]^2 + x1[j]^2 + x2[j]^2 + x3[j]^2 (rows `stride` apart), left to right */
void dk_add_sq4_f(double *restrict acc, const float *restrict x, ptrdiff_t stride, ptrdiff_t n);
void dk_add_sq4_d(double *restrict acc, const double *restrict x, ptrdiff_t stride, ptrdiff_t n);
/* the same for eight rows */
void dk_add_sq8_f(double *restrict acc, const float *restrict x, ptrdiff_t stride, ptrdiff_t n);
void dk_add_sq8_d(double *restrict acc, const double *restrict x, ptrdiff_t stride, ptrdiff_t n);
/* sum(|x|) into *s1 and/or sum(x^2) into *s2 */
void dk_sums_f(const float *restrict x, ptrdiff_t n, int want_abs, int want_sq, double *s1,
               double *s2);
void dk_sums_d(const double *restrict x, ptrdiff_t n, int want_abs, int want_sq, double *s1,
               double *s2);
/* sum(x^2) */
double dk_sumsq_f(const float *restrict x, ptrdiff_t n);
double dk_sumsq_d(const double *restrict x, ptrdiff_t n);
/* y[j] = x[j] * f[j] (product in double, one rounding); _inplace: y[j] *= f[j] */
void dk_scale_f(float *restrict y, const float *restrict x, const double *restrict f, ptrdiff_t n);
void dk_scale_d(double *restrict y, const double *restrict x, const double *restrict f,
                ptrdiff_t n);
void dk_scale_inplace_f(float *restrict y, const double *restrict f, ptrdiff_t n);
void dk_scale_inplace_d(double *restrict y, const double *restrict f, ptrdiff_t n);
/* four rows sharing each f[j]: y_k[j] = x_k[j] * f[j] */
void dk_scale4_f(float *restrict y, ptrdiff_t ystride, const float *restrict x, ptrdiff_t xstride,
                 const double *restrict f, ptrdiff_t n);
void dk_scale4_d(double *restrict y, ptrdiff_t ystride, const double *restrict x,
                 ptrdiff_t xstride, const double *restrict f, ptrdiff_t n);
void dk_scale4_inplace_f(float *restrict y, ptrdiff_t stride, const double *restrict f,
                         ptrdiff_t n);
void dk_scale4_inplace_d(double *restrict y, ptrdiff_t stride, const double *restrict f,
                         ptrdiff_t n);
/* y[j] = x[j] * f for one factor; _inplace: y[j] *= f */
void dk_scale1_f(float *restrict y, const float *restrict x, double f, ptrdiff_t n);
void dk_scale1_d(double *restrict y, const double *restrict x, double f, ptrdiff_t n);
void dk_scale1_inplace_f(float *restrict y, double f, ptrdiff_t n);
void dk_scale1_inplace_d(double *restrict y, double f, ptrdiff_t n);

#endif
