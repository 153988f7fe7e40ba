/* Activation kernels (declared in dk_activations.h), compiled once into the kernel library.
 *
 * Layout: the scalar helpers of the vectorized loops, the loops that differ between float32
 * and float64 (exact gelu for float32, tanh and elu with their own series), the libm-based
 * reference ops, then dk_act_template.h included once per type: the float32/float64 twins
 * (vectorized loops, elementwise ops, the code dispatcher, bias epilogue, softmax rows).
 *
 * The vectorized loops select between values that are already computed, and they are
 * compiled with -fno-trapping-math (pragma, those loops only): that lets gcc if-convert and
 * vectorize them. It changes no value: IEEE results are the same, only the assumption that
 * FP exception flags are unobserved is made. DK_CLONES (dk_simd.h) builds one copy per SIMD
 * level, picked at load time.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dk_activations.h"
#include "dk_simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#define DK_NO_TRAPPING_BEGIN \
    _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define DK_NO_TRAPPING_END _Pragma("GCC pop_options")
#else
#define DK_NO_TRAPPING_BEGIN
#define DK_NO_TRAPPING_END
#endif

/* The scalar helpers of the vectorized loops must inline into every loop (a call blocks
 * vectorization), also past gcc's unit-growth limits. */
#if defined(__GNUC__)
#define DK_INLINE static inline __attribute__((always_inline))
#else
#define DK_INLINE static inline
#endif

DK_NO_TRAPPING_BEGIN

/* ---- scalar helpers of the vectorized loops --------------------------------------------- */

/* exp(x) to ~2e-10 relative for results rounded to float: x is clamped to
 * [-200, 200] (exp is 0 or inf in float far inside that range); below -200
 * the result is exactly 0. Cody-Waite
 * reduction x = k ln2 + r, |r| <= ln2/2, degree-8 Taylor for exp(r), and 2^k
 * built in the exponent bits (k sits in the low bits of t via the 1.5*2^52 shift). */
static inline double dk_expd_f32(double x)
{
    double xc = x < -200.0 ? -200.0 : x;
    xc = xc > 200.0 ? 200.0 : xc;
    const double shift = 6755399441055744.0;
    double t = xc * 1.4426950408889634074 + shift;
    double k = t - shift;
    double r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
               + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320))))))));
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023u) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    double e = p * scale;
    return x < -200.0 ? 0.0 : e;   /* exact 0 far below float's range (and for -inf) */
}

/* exp(x + dx) for x <= 0 in float arithmetic (16 lanes per AVX-512 vector), <= 2 ulp,
 * where dx is a tiny correction (the rounding error of how x was formed; 0 if exact).
 * Cody-Waite with a 9-bit ln2_hi (k * ln2_hi is exact), degree-7 Taylor on
 * |r| <= ln2/2, 2^k from the exponent bits in two steps below k = -100 so that
 * results in the subnormal range round once, correctly. */
static inline float dk_expf_neg2_f32(float x, float dx)
{
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 0.0f ? 0.0f : xc;
    const float shift = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer */
    float t = xc * 1.44269504088896341f + shift;
    float k = t - shift;
    float r = ((xc - k * 0.693359375f) - k * -2.12194440e-4f) + dx;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
              + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    int32_t ki = ti - 0x4B400000;          /* k as an integer, in [-150, 0] */
    int32_t lift = k < -100.0f ? 64 : 0;   /* keep the biased exponent positive */
    uint32_t bits = (uint32_t)(ki + lift + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float e = p * scale;
    float e_low = e * 5.42101086242752217e-20f;   /* 2^-64 */
    e = k < -100.0f ? e_low : e;
    return x < -104.0f ? 0.0f : e;   /* exp(-104) is below float's subnormals */
}

static inline float dk_expf_neg_f32(float x)
{
    return dk_expf_neg2_f32(x, 0.0f);
}

/* sigmoid in float arithmetic: num / (1 + e), e = exp(-|x|); <= 4 ulp in all. */
static inline float dk_sigmoidf_f32(float x)
{
    float e = dk_expf_neg_f32(-fabsf(x));
    float num = x >= 0.0f ? 1.0f : e;
    return num / (1.0f + e);
}

/* 1 / (1 + exp(-x)) with exp only of -|x|. */
static inline double dk_sigmoidd_f32(double x)
{
    double e = dk_expd_f32(-fabs(x));
    double num = x >= 0.0 ? 1.0 : e;
    return num / (1.0 + e);
}

/* x * gate, 0 when the gate is 0 (so -inf * 0 gives the limit 0, not NaN). */
DK_INLINE double dk_gated(double x, double gate)
{
    double x0 = gate == 0.0 ? 0.0 : x;
    return x0 * gate;
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc, Chebyshev fit): relative error < 1.2e-7. */
static inline double dk_erfcd_pos_f32(double z)
{
    double t = 1.0 / (1.0 + 0.5 * z);
    double p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
               + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
               + t * (-0.82215223 + t * 0.17087277))))))));
    return t * dk_expd_f32(p);
}

/* exp(x + dx) in double to ~2 ulp over the whole range (subnormal results and
 * overflow to inf included), vectorizable: Cody-Waite with fdlibm's 32-bit
 * ln2_hi, degree-12 Taylor on |r| <= ln2/2 (truncation < 2e-16), and 2^k applied
 * as two normal factors 2^k1 * 2^k2 so that no exponent field overflows.
 * dx is a tiny correction (the rounding error of how x was formed; 0 if exact). */
DK_INLINE double dk_exp2_f64(double x, double dx)
{
    double xc = x < -750.0 ? -750.0 : x;
    xc = xc > 710.0 ? 710.0 : xc;
    const double shift = 6755399441055744.0;
    double t = xc * 1.4426950408889634074 + shift;
    double k = t - shift;
    double r = ((xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10) + dx;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
               + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880
               + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))));
    double th = k * 0.5 + shift;           /* k1 = round(k / 2), k2 = k - k1 */
    double k1 = th - shift;
    double t2 = (k - k1) + shift;
    uint64_t b1, b2;
    memcpy(&b1, &th, sizeof b1);
    memcpy(&b2, &t2, sizeof b2);
    b1 = (b1 + 1023u) << 52;
    b2 = (b2 + 1023u) << 52;
    double s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    double e = (p * s1) * s2;
    return x < -750.0 ? 0.0 : e;   /* exact 0 (also for -inf, whatever dx is) */
}

DK_INLINE double dk_exp_f64(double x)
{
    return dk_exp2_f64(x, 0.0);
}

DK_INLINE double dk_sigmoid_f64(double x)
{
    double e = dk_exp_f64(-fabs(x));
    double num = x >= 0.0 ? 1.0 : e;
    return num / (1.0 + e);
}

/* log1p(e) for 0 <= e <= 1 as 2 atanh(s), s = e / (2 + e) <= 1/3: the odd series
 * to s^31 (truncation < 1e-17 relative), no cancellation anywhere. */
DK_INLINE double dk_log1p_unit(double e)
{
    double s = e / (2.0 + e);
    double s2 = s * s;
    double p = 1.0 / 31;
    p = 1.0 / 29 + s2 * p; p = 1.0 / 27 + s2 * p; p = 1.0 / 25 + s2 * p;
    p = 1.0 / 23 + s2 * p; p = 1.0 / 21 + s2 * p; p = 1.0 / 19 + s2 * p;
    p = 1.0 / 17 + s2 * p; p = 1.0 / 15 + s2 * p; p = 1.0 / 13 + s2 * p;
    p = 1.0 / 11 + s2 * p; p = 1.0 / 9 + s2 * p; p = 1.0 / 7 + s2 * p;
    p = 1.0 / 5 + s2 * p; p = 1.0 / 3 + s2 * p; p = 1.0 + s2 * p;
    return 2.0 * s * p;
}

/* softplus = max(x, 0) + log1p(exp(-|x|)); NaN reaches the sum through exp. */
DK_INLINE double dk_softplus_d(double v)
{
    double pos = v > 0.0 ? v : 0.0;
    return pos + dk_log1p_unit(dk_exp_f64(-fabs(v)));
}

static inline double dk_log_sigmoid_d(double v)
{
    double neg = v < 0.0 ? v : 0.0;
    return neg - dk_log1p_unit(dk_exp_f64(-fabs(v)));
}

/* tanh(a) for a >= 0 given e = exp(-2a), as in dk_f64_tanh: (1 - e) / (1 + e), and below
 * 0.25, where 1 - e would cancel, the odd series to a^17. */
DK_INLINE double dk_tanh_nonneg_d(double a, double e)
{
    double big = (1.0 - e) / (1.0 + e);
    double a2 = a * a;
    double small = a + a * a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315 + a2 * (
        62.0 / 2835 + a2 * (-1382.0 / 155925 + a2 * (21844.0 / 6081075 + a2 * (
        -929569.0 / 638512875 + a2 * (6404582.0 / 10854718875.0))))))));
    return a < 0.25 ? small : big;
}

/* x * tanh(softplus(x)), tanh of the non-negative softplus. */
static inline double dk_mish_d(double v)
{
    double a = dk_softplus_d(v);
    return dk_gated(v, dk_tanh_nonneg_d(a, dk_exp_f64(-2.0 * a)));
}

/* expm1(v) for v <= 0 (larger v are clamped to 0): the degree-8 series above -0.01
 * (truncation < 3e-19 relative), exp(v) - 1 below it (no cancellation there). */
DK_INLINE double dk_expm1_nonpos_d(double v)
{
    double vn = v > 0.0 ? 0.0 : v;
    double ser = vn * (1.0 + vn * (1.0 / 2 + vn * (1.0 / 6 + vn * (1.0 / 24 + vn * (1.0 / 120
                 + vn * (1.0 / 720 + vn * (1.0 / 5040 + vn * (1.0 / 40320))))))));
    double em1 = dk_exp_f64(vn) - 1.0;   /* both computed: the select vectorizes */
    return vn > -0.01 ? ser : em1;
}

/* elu's derivative from x for alpha = a < 0: alpha exp(x) below 0. */
DK_INLINE double dk_elu_x_grad_d(double x, double a)
{
    double e = a * dk_exp_f64(x > 0.0 ? 0.0 : x);
    return x > 0.0 ? 1.0 : e;
}

/* ---- scalar derivatives in double (the backward loops of dk_act_template.h) ------------ */

/* sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), both without cancellation, from one exp. */
DK_INLINE void dk_sigmoid_pair_d(double x, double *s, double *sm)
{
    double e = dk_exp_f64(-fabs(x));
    double r = 1.0 / (1.0 + e);
    *s = x >= 0.0 ? r : e * r;
    *sm = x >= 0.0 ? e * r : r;
}

/* d/dx x sigmoid(x) = s + x s (1 - s); x * 0 -> 0 at +-inf. */
DK_INLINE double dk_silu_grad_d(double x)
{
    double s, sm;
    dk_sigmoid_pair_d(x, &s, &sm);
    return s + dk_gated(x, s * sm);
}

/* d/dx x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): s + 2 x u' s (1 - s). */
DK_INLINE double dk_gelu_tanh_grad_d(double x)
{
    double u = 0.79788456080286535588 * (x + 0.044715 * (x * x * x));
    double du = 0.79788456080286535588 * (1.0 + 0.134145 * (x * x));
    double s, sm;
    dk_sigmoid_pair_d(2.0 * u, &s, &sm);
    return s + dk_gated(x * du, 2.0 * (s * sm));
}

/* d/dx x tanh(sp(x)) = tanh(sp) + x sigmoid(x) sech^2(sp), sech^2(a) = 4e / (1 + e)^2 with
 * e = exp(-2a) (no 1 - tanh^2 cancellation). */
DK_INLINE double dk_mish_grad_d(double x)
{
    double a = dk_softplus_d(x);
    double e = dk_exp_f64(-2.0 * a);
    double sech2 = (4.0 * e) / ((1.0 + e) * (1.0 + e));
    return dk_tanh_nonneg_d(a, e) + dk_gated(x, dk_sigmoid_f64(x) * sech2);
}

/* ---- loops without a twin: the float32 and float64 algorithms differ -------------------- */

/* x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2; erfc(-a) = 2 - erfc(a). */
DK_CLONES static void dk_f32_gelu(const float *x, float *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double z = v * 0.70710678118654752440;
        double c = dk_erfcd_pos_f32(fabs(z));
        double phi2 = z >= 0.0 ? 2.0 - c : c;
        y[j] = (float)dk_gated(v, 0.5 * phi2);
    }
}

/* The derivative of dk_f32_gelu times dy: Phi(x) + x phi(x), with the same erfc and
 * exp(-x^2 / 2) to ~2e-10 (results are rounded to float). */
DK_CLONES static void dk_f32_gelu_grad(const float *x, const float *dy, float *out,
                                       ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double z = v * 0.70710678118654752440;
        double c = dk_erfcd_pos_f32(fabs(z));
        double phi2 = z >= 0.0 ? 2.0 - c : c;
        double phi = 0.39894228040143267794 * dk_expd_f32(-0.5 * (v * v));
        out[j] = (float)((0.5 * phi2 + dk_gated(v, phi)) * (double)dy[j]);
    }
}

/* tanh(a) = (1 - e) / (1 + e), e = exp(-2|x|), in float arithmetic (<= 4 ulp);
 * below |x| = 0.25, where 1 - e would cancel, the odd series to x^11. */
DK_CLONES static void dk_f32_tanh(const float *x, float *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        float v = x[j];
        float a = fabsf(v);
        float e = dk_expf_neg_f32(-2.0f * a);
        float big = (1.0f - e) / (1.0f + e);
        float a2 = a * a;
        float small = a + a * a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315
                      + a2 * (62.0f / 2835 + a2 * (-1382.0f / 155925)))));
        float t = a < 0.25f ? small : big;
        y[j] = v < 0.0f ? -t : t;
    }
}

/* scale * (x if x >= 0 else alpha * expm1(x)); expm1 by a series below 1e-4. */
DK_CLONES static void dk_f32_elu(const float *x, float *y, ptrdiff_t n, double alpha,
                                     double scale)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double vn = v >= 0.0 ? 0.0 : v;   /* NaN stays NaN */
        double em1 = dk_expd_f32(vn) - 1.0;
        double ser = vn + vn * vn * (0.5 + vn * (1.0 / 6.0));
        double m = vn > -1e-4 ? ser : em1;
        double r = v >= 0.0 ? v : alpha * m;
        y[j] = (float)(scale * r);
    }
}

/* tanh in double: (1 - e) / (1 + e), e = exp(-2|x|), and below 0.25 the odd
 * series to x^17 (truncation < 4e-15 relative there). */
DK_CLONES static void dk_f64_tanh(const double *x, double *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double a = fabs(v);
        double e = dk_exp_f64(-2.0 * a);
        double big = (1.0 - e) / (1.0 + e);
        double a2 = a * a;
        double small = a + a * a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315 + a2 * (
            62.0 / 2835 + a2 * (-1382.0 / 155925 + a2 * (21844.0 / 6081075 + a2 * (
            -929569.0 / 638512875 + a2 * (6404582.0 / 10854718875.0))))))));
        double t = a < 0.25 ? small : big;
        y[j] = v < 0.0 ? -t : t;
    }
}

/* scale * (x if x >= 0 else alpha * expm1(x)); expm1 by its series above -0.01
 * (degree 8: truncation < 3e-19 relative), by exp(x) - 1 below (no cancellation). */
DK_CLONES static void dk_f64_elu(const double *x, double *y, ptrdiff_t n,
                                            double alpha, double scale)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double vn = v >= 0.0 ? 0.0 : v;
        double em1 = dk_exp_f64(vn) - 1.0;
        double ser = vn * (1.0 + vn * (1.0 / 2 + vn * (1.0 / 6 + vn * (1.0 / 24 + vn * (1.0 / 120
                     + vn * (1.0 / 720 + vn * (1.0 / 5040 + vn * (1.0 / 40320))))))));
        double m = vn > -0.01 ? ser : em1;
        double r = v >= 0.0 ? v : alpha * m;
        y[j] = scale * r;
    }
}

DK_NO_TRAPPING_END

/* ---- reference ops in double (libm), for the codes without a vectorized loop ------------ */

/* 1 / (1 + exp(-x)) without overflow: exp only of -|x|. */
static inline double dk_sigmoid_ref(double x)
{
    double e = exp(-fabs(x));
    double r = 1.0 / (1.0 + e);
    return x >= 0.0 ? r : e * r;
}

/* x * gate, where a zero gate wins over an infinite x (the limit is 0). */
static inline double dk_times(double x, double gate)
{
    return gate == 0.0 ? 0.0 : x * gate;
}

/* x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)): erfc keeps the negative tail exact. */
static inline double dk_gelu_ref(double x)
{
    return dk_times(x, 0.5 * erfc(-x * 0.70710678118654752440));
}

static inline double dk_celu_ref(double x, double alpha)
{
    return x > 0.0 ? x : alpha * expm1(x / alpha);
}

/* x - tanh(x); a series below 0.25 avoids the cancellation near 0:
 * x^3/3 - 2x^5/15 + 17x^7/315 - 62x^9/2835 + 1382x^11/155925 - 21844x^13/6081075
 *       + 929569x^15/638512875 - 6404582x^17/10854718875  (|rel. error| < 1e-17 here) */
static inline double dk_tanh_shrink_ref(double x)
{
    double x2;
    if (fabs(x) >= 0.25)
        return x - tanh(x);
    x2 = x * x;
    return x * x2 * (1.0 / 3.0 + x2 * (-2.0 / 15.0 + x2 * (17.0 / 315.0 + x2 * (
        -62.0 / 2835.0 + x2 * (1382.0 / 155925.0 + x2 * (-21844.0 / 6081075.0 + x2 * (
            929569.0 / 638512875.0 + x2 * (-6404582.0 / 10854718875.0))))))));
}

/* (x + sqrt(x^2 + b)) / 2; for x < 0 the form b / (2 (sqrt(x^2 + b) - x)) avoids the
 * cancellation, and hypot avoids overflowing x^2. */
static inline double dk_squareplus_ref(double x, double b)
{
    double r = hypot(x, sqrt(b));
    if (x >= 0.0)
        return 0.5 * x + 0.5 * r;   /* not 0.5 * (x + r): that overflows near the max */
    if (x != x)
        return x;
    return 0.5 * b / (r - x);
}

/* d/dx x Phi(x) = Phi(x) + x phi(x); x * 0 -> 0 at +-inf. */
static inline double dk_gelu_grad_ref(double x)
{
    double phi = 0.39894228040143267794 * exp(-0.5 * (x * x));
    return 0.5 * erfc(-x * 0.70710678118654752440) + dk_times(x, phi);
}

/* ---- which tensor each derivative reads (dk_activations.h) ------------------------------ */

int dk_act_grad_input_always(int code)
{
    switch (code) {
    case DK_ACT_GELU:
    case DK_ACT_GELU_TANH:
    case DK_ACT_SILU:
    case DK_ACT_SOFTSIGN:
    case DK_ACT_HARD_SILU:
    case DK_ACT_MISH:
    case DK_ACT_HARD_TANH:
    case DK_ACT_TANH_SHRINK:
    case DK_ACT_THRESHOLD:
        return 1;
    default:
        return 0;
    }
}

int dk_act_grad_needs_input(int code, double p0, double p1, double p2)
{
    if (dk_act_grad_input_always(code))
        return 1;
    switch (code) {
    case DK_ACT_RELU:
        /* y tells x's sign for plain relu and for a positive slope alone; a threshold, a cap
         * or a negative slope make y ambiguous (e.g. threshold -1: y = 0 at x = 0 and x < -1). */
        if (p1 == p1 || p2 != 0.0)
            return 1;
        return p0 < 0.0;
    case DK_ACT_LEAKY_RELU:   /* a negative slope maps both signs of x to y > 0 */
    case DK_ACT_ELU:          /* so does a negative alpha */
        return p0 < 0.0;
    default:
        return 0;
    }
}

/* ---- the float32 / float64 twins -------------------------------------------------------- */

/* Max of a row, 64-byte GCC vectors (lowered to whatever width each clone has). */
typedef float dk_v16f __attribute__((vector_size(64)));
typedef int32_t dk_v16i __attribute__((vector_size(64)));
typedef double dk_v8d __attribute__((vector_size(64)));
typedef int64_t dk_v8l __attribute__((vector_size(64)));

#define DK_T float
#define DK_S f32
#define DK_IS_F32 1
#define DK_VF dk_v16f
#define DK_VI dk_v16i
#define DK_VLANES 16
#define DK_SIGMOID dk_sigmoidf_f32   /* float arithmetic, <= 4 ulp */
#define DK_SIGMOIDD dk_sigmoidd_f32  /* in double, for results rounded to float */
#define DK_EXPD dk_expd_f32
#define DK_EXP2 dk_expf_neg2_f32
#include "dk_act_template.h"

#define DK_T double
#define DK_S f64
#define DK_IS_F32 0
#define DK_VF dk_v8d
#define DK_VI dk_v8l
#define DK_VLANES 8
#define DK_SIGMOID dk_sigmoid_f64
#define DK_SIGMOIDD dk_sigmoid_f64
#define DK_EXPD dk_exp_f64
#define DK_EXP2 dk_exp2_f64
#include "dk_act_template.h"
