/* Activation kernels of densekit._lib, shared by _activations (the public functions) and
 * _dense (the fused Dense epilogue); compiled once, in dk_activations.c.
 *
 * Contract (stable; codes are never renumbered, new ones are appended)
 * --------------------------------------------------------------------
 * `code` is one of the DK_ACT_* values below (Python: densekit._lib._activations.ACT_*);
 * p0..p2 carry its parameters (unused ones are ignored, pass 0.0). For float rows they are
 * rounded to float first, as Keras casts parameters to the input dtype (this matters at
 * thresholds):
 *
 *   code                p0                p1                    p2
 *   DK_ACT_LINEAR       -                 -                     -
 *   DK_ACT_RELU         negative_slope    max_value (NaN=None)  threshold
 *   DK_ACT_RELU6        -
 *   DK_ACT_LEAKY_RELU   negative_slope
 *   DK_ACT_ELU          alpha
 *   DK_ACT_SELU         -
 *   DK_ACT_CELU         alpha (non-zero)
 *   DK_ACT_GELU         -   (exact erf form)
 *   DK_ACT_GELU_TANH    -   (tanh approximation)
 *   DK_ACT_SILU         -   (= swish)
 *   SIGMOID TANH SOFTPLUS SOFTSIGN HARD_SIGMOID HARD_SILU (= hard_swish) EXPONENTIAL MISH
 *   LOG_SIGMOID HARD_TANH TANH_SHRINK SPARSE_PLUS SPARSE_SIGMOID: no parameters
 *   DK_ACT_HARD_SHRINK  threshold
 *   DK_ACT_SOFT_SHRINK  threshold
 *   DK_ACT_SQUAREPLUS   b (>= 0)
 *   DK_ACT_THRESHOLD    threshold         default_value
 *   DK_ACT_SOFTMAX      -   ROW-WISE: softmax over the whole row (the last axis)
 *   DK_ACT_LOG_SOFTMAX  -   ROW-WISE: log_softmax over the whole row
 *
 * The row-wise codes (>= DK_ACT_SOFTMAX) treat the n values as one vector, so the row must
 * be the complete last axis; every other code is elementwise.
 *
 * Numerics: formulas that neither overflow nor cancel: no inf/NaN from finite input except
 * where the true value overflows (exponential), +-inf give the mathematical limits, NaN
 * propagates. float rows: transcendental ops are evaluated in double and rounded once,
 * except sigmoid, silu, tanh and the softmax exponentials, which run in float arithmetic
 * within 4 ulp. The hot transcendental ops (sigmoid, silu, gelu both forms, tanh, elu, selu,
 * exponential, softplus, log_sigmoid, mish, softmax rows and columns) run vectorized loops
 * (own exp and log1p, no libm calls, one clone per SIMD level: DK_CLONES in dk_simd.h). The
 * rest (celu, tanh_shrink, squareplus, exact gelu in double) call libm.
 */
#ifndef DK_ACTIVATIONS_H
#define DK_ACTIVATIONS_H

#include <stddef.h>

/* The activation codes: the only table of them. */
enum dk_act_code {
    DK_ACT_LINEAR = 0,
    DK_ACT_RELU = 1,
    DK_ACT_RELU6 = 2,
    DK_ACT_LEAKY_RELU = 3,
    DK_ACT_ELU = 4,
    DK_ACT_SELU = 5,
    DK_ACT_CELU = 6,
    DK_ACT_GELU = 7,
    DK_ACT_GELU_TANH = 8,
    DK_ACT_SILU = 9,
    DK_ACT_SIGMOID = 10,
    DK_ACT_TANH = 11,
    DK_ACT_SOFTPLUS = 12,
    DK_ACT_SOFTSIGN = 13,
    DK_ACT_HARD_SIGMOID = 14,
    DK_ACT_HARD_SILU = 15,
    DK_ACT_EXPONENTIAL = 16,
    DK_ACT_MISH = 17,
    DK_ACT_LOG_SIGMOID = 18,
    DK_ACT_HARD_TANH = 19,
    DK_ACT_TANH_SHRINK = 20,
    DK_ACT_HARD_SHRINK = 21,
    DK_ACT_SOFT_SHRINK = 22,
    DK_ACT_SPARSE_PLUS = 23,
    DK_ACT_SPARSE_SIGMOID = 24,
    DK_ACT_SQUAREPLUS = 25,
    DK_ACT_THRESHOLD = 26,
    DK_ACT_SOFTMAX = 27,
    DK_ACT_LOG_SOFTMAX = 28,
};

/* One past the largest code: valid codes are 0 <= code < DK_ACT_N_CODES. */
#define DK_ACT_N_CODES 29

/* Elements per tile in dk_bias_activate_row: the tile stays in L1 between the bias add and
 * the activation, so the row is streamed once. */
#define DK_ACT_TILE 512

/* Every function has a float32 (_f32) and a float64 (_f64) twin, both generated from one
 * definition (dk_act_template.h). */

/* y[j] = act_code(x[j]) for j < n (y may be x); row-wise codes treat x as one row. */
void dk_activate_into_f32(int code, const float *x, float *y, ptrdiff_t n, double p0, double p1,
                          double p2);
void dk_activate_into_f64(int code, const double *x, double *y, ptrdiff_t n, double p0, double p1,
                          double p2);

/* row[j] = act_code(row[j] + bias[j]) in one pass over memory (tiles of DK_ACT_TILE); bias
 * may be NULL. */
void dk_bias_activate_row_f32(int code, float *row, const float *bias, ptrdiff_t n, double p0,
                              double p1, double p2);
void dk_bias_activate_row_f64(int code, double *row, const double *bias, ptrdiff_t n, double p0,
                              double p1, double p2);

/* y = softmax(x), y = log_softmax(x) over one contiguous row (y may be x). */
void dk_softmax_into_f32(const float *x, float *y, ptrdiff_t n);
void dk_softmax_into_f64(const double *x, double *y, ptrdiff_t n);
void dk_log_softmax_into_f32(const float *x, float *y, ptrdiff_t n);
void dk_log_softmax_into_f64(const double *x, double *y, ptrdiff_t n);

/* One glu row: y[j] = a[j] * sigmoid(b[j]), 0 where the gate is 0. */
void dk_glu_row_f32(const float *a, const float *b, float *y, ptrdiff_t n);
void dk_glu_row_f64(const double *a, const double *b, double *y, ptrdiff_t n);

/* Softmax over a strided axis, one row of w contiguous columns at a time: the running max
 * (a NaN sticks), then e = exp(x - m) with sum += e (y = e unless log_sm), then the finish
 * y = e * c (c = 1 / sum) or, for log_sm, y = (x - m) - c (c = log sum). */
void dk_f32_max_cols(const float *x, double *mx, ptrdiff_t w);
void dk_f64_max_cols(const double *x, double *mx, ptrdiff_t w);
void dk_f32_exp_cols(const float *x, const double *m, float *y, double *sum, ptrdiff_t w,
                     int log_sm);
void dk_f64_exp_cols(const double *x, const double *m, double *y, double *sum, ptrdiff_t w,
                     int log_sm);
void dk_f32_finish_cols(const float *x, float *y, const double *m, const double *c, ptrdiff_t w,
                        int log_sm);
void dk_f64_finish_cols(const double *x, double *y, const double *m, const double *c,
                        ptrdiff_t w, int log_sm);

/* ---- derivatives (the backward pass) -------------------------------------------------------
 * out[j] = dy[j] * act'(.) for j < n, with the same code and p0..p2 as the forward; s is the
 * forward OUTPUT y, or the INPUT x where dk_act_grad_needs_input(code, p0, p1, p2) is 1 (the
 * only table of that). Kinks take jax's one-sided choice (relu'(0) = 0, elu'(0) = alpha,
 * hard_tanh'(+-1) = 1, ...). The row-wise codes treat the n values as one row (the Jacobian-
 * vector product: softmax y (dy - sum(dy y)), log_softmax dy - exp(y) sum(dy)). Any of s, dy,
 * out may be the same array. Computed in double and rounded once. */

/* 1 when the derivative of `code` reads x whatever the parameters: gelu (both forms), silu,
 * softsign, hard_silu, mish, hard_tanh, tanh_shrink, threshold. */
int dk_act_grad_input_always(int code);
/* 1 when it reads x for these parameters: the codes above, and relu with a threshold, a
 * max_value or a negative slope, leaky_relu with a negative slope, elu with a negative alpha
 * (there y does not determine the derivative). */
int dk_act_grad_needs_input(int code, double p0, double p1, double p2);

void dk_activation_grad_f32(int code, const float *s, const float *dy, float *out, ptrdiff_t n,
                            double p0, double p1, double p2);
void dk_activation_grad_f64(int code, const double *s, const double *dy, double *out,
                            ptrdiff_t n, double p0, double p1, double p2);

/* One row: softmax out = y (dy - sum(dy y)), log_softmax out = dy - exp(y) sum(dy). */
void dk_softmax_grad_row_f32(const float *y, const float *dy, float *out, ptrdiff_t n);
void dk_softmax_grad_row_f64(const double *y, const double *dy, double *out, ptrdiff_t n);
void dk_log_softmax_grad_row_f32(const float *y, const float *dy, float *out, ptrdiff_t n);
void dk_log_softmax_grad_row_f64(const double *y, const double *dy, double *out, ptrdiff_t n);

#endif
