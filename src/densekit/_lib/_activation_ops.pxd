# Scalar and row kernels of densekit's activations, shared by `_activations.pyx`
# and the Dense layer's fused epilogue (`_dense.pyx`): cimport, never import.
#
# Contract (stable; codes are never renumbered, new ones are appended)
# --------------------------------------------------------------------
# Every function here is `cdef inline ... noexcept nogil`, generic over the
# fused type `floating` (float or double), and has no Python-level state, so a
# kernel that cimports this file compiles its own copy (no cross-module
# function pointers).
#
#   activate_into(code, x, y, n, p0, p1, p2)   y[j] = act(x[j])  (y may equal x)
#   activate_row(code, row, n, p0, p1, p2)     row[j] = act(row[j]), in place
#   bias_activate_row(code, row, bias, n, p0, p1, p2)
#                                              row[j] = act(row[j] + bias[j]) in one
#                                              pass over memory (bias may be NULL)
#
# `code` is one of the ACT_* values below; p0..p2 carry its parameters (unused
# ones are ignored, pass 0.0). For float rows they are rounded to float first,
# as Keras casts parameters to the input dtype (this matters at thresholds):
#
#   code               p0                p1                    p2
#   ACT_LINEAR         -                 -                     -
#   ACT_RELU           negative_slope    max_value (NaN=None)  threshold
#   ACT_RELU6          -
#   ACT_LEAKY_RELU     negative_slope
#   ACT_ELU            alpha
#   ACT_SELU           -
#   ACT_CELU           alpha (non-zero)
#   ACT_GELU           -   (exact erf form)
#   ACT_GELU_TANH      -   (tanh approximation)
#   ACT_SILU           -   (= swish)
#   ACT_SIGMOID ACT_TANH ACT_SOFTPLUS ACT_SOFTSIGN ACT_HARD_SIGMOID
#   ACT_HARD_SILU (= hard_swish) ACT_EXPONENTIAL ACT_MISH ACT_LOG_SIGMOID
#   ACT_HARD_TANH ACT_TANH_SHRINK ACT_SPARSE_PLUS ACT_SPARSE_SIGMOID: no parameters
#   ACT_HARD_SHRINK    threshold
#   ACT_SOFT_SHRINK    threshold
#   ACT_SQUAREPLUS     b (>= 0)
#   ACT_THRESHOLD      threshold         default_value
#   ACT_SOFTMAX        -   ROW-WISE: softmax over the whole row (the last axis)
#   ACT_LOG_SOFTMAX    -   ROW-WISE: log_softmax over the whole row
#
# The row-wise codes (>= ACT_SOFTMAX) treat the n values as one vector, so the
# row must be the complete last axis; every other code is elementwise.
# In Python, `densekit.activations.fused_code(fn)` maps a public activation
# function (or a functools.partial of one with keyword arguments) to its
# (code, p0, p1, p2) tuple, or None when there is no fused kernel.
#
# Numerics: formulas that neither overflow nor cancel: no inf/NaN from finite
# input except where the true value overflows (exponential), +-inf give the
# mathematical limits, NaN propagates. float rows: transcendental ops are
# evaluated in double and rounded once, except sigmoid, silu, tanh and the
# softmax exponentials, which run in float arithmetic within 4 ulp.
# The loops are branch-free selects, so gcc vectorizes them; the hot
# transcendental ops (sigmoid, silu, gelu both forms, tanh, elu, selu,
# exponential, softplus, log_sigmoid, mish, softmax rows and columns) run
# vectorized C (`dk_f32_*`, `dk_f64_*` below: own exp and log1p, no libm calls,
# clones per SIMD level picked at load time). The rest (celu, tanh_shrink,
# squareplus, exact gelu in double) call libm.

from cython cimport floating
from libc.math cimport exp, expm1, log, log1p, tanh, erfc, fabs, hypot, sqrt, INFINITY
from libc.stdlib cimport malloc, free

# Vectorized float32 loops of the hot activations, in C so that gcc can build
# one clone per SIMD level (AVX-512 / AVX2 / baseline, picked at load time).
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    /* Vectorizable float32 activation loops (double arithmetic inside).
     * Every conditional below selects between values that are already computed, and
     * the block is compiled with -fno-trapping-math (pragma, this block only): that lets
     * gcc if-convert and vectorize the loops. It changes no value: IEEE results are the
     * same, only the assumption that FP exception flags are unobserved is made.
     * x86-64 gcc builds one clone per SIMD level and picks it at load time (ifunc). */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC push_options
    #pragma GCC optimize("no-trapping-math")
    #endif
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define DK_ACT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
    #else
    #define DK_ACT_CLONES
    #endif
    /* Modules that cimport this file use only some of the loops: no unused warnings. */
    #if defined(__GNUC__)
    #define DK_ACT_STATIC static __attribute__((unused))
    #else
    #define DK_ACT_STATIC static
    #endif

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
    static inline double dk_gated(double x, double gate)
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

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_sigmoid(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = dk_sigmoidf_f32(x[j]);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_silu(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            float v = x[j];
            float g = dk_sigmoidf_f32(v);
            float v0 = g == 0.0f ? 0.0f : v;   /* -inf * 0 -> the limit 0 */
            y[j] = v0 * g;
        }
    }

    /* x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2; erfc(-a) = 2 - erfc(a). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_gelu(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = x[j];
            double z = v * 0.70710678118654752440;
            double c = dk_erfcd_pos_f32(fabs(z));
            double phi2 = z >= 0.0 ? 2.0 - c : c;
            y[j] = (float)dk_gated(v, 0.5 * phi2);
        }
    }

    /* 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_gelu_tanh(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = x[j];
            double u = 0.79788456080286535588 * (v + 0.044715 * (v * v * v));
            y[j] = (float)dk_gated(v, dk_sigmoidd_f32(2.0 * u));
        }
    }

    /* tanh(a) = (1 - e) / (1 + e), e = exp(-2|x|), in float arithmetic (<= 4 ulp);
     * below |x| = 0.25, where 1 - e would cancel, the odd series to x^11. */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_tanh(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
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
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_elu(const float *x, float *y, Py_ssize_t n, double alpha,
                                         double scale)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = x[j];
            double vn = v >= 0.0 ? 0.0 : v;   /* NaN stays NaN */
            double em1 = dk_expd_f32(vn) - 1.0;
            double ser = vn + vn * vn * (0.5 + vn * (1.0 / 6.0));
            double m = vn > -1e-4 ? ser : em1;
            double r = v >= 0.0 ? v : alpha * m;
            y[j] = (float)(scale * r);
        }
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_exp(const float *x, float *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = (float)dk_expd_f32((double)x[j]);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_scale(float *y, Py_ssize_t n, double inv)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = (float)((double)y[j] * inv);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_log_softmax_finish(const float *x, float *y, Py_ssize_t n,
                                                        double m, double lse)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = (float)(((double)x[j] - m) - lse);
    }

    /* buf[i] = exp(x[i] - m) for x[i] <= m, in float arithmetic: TwoSum gives the exact
     * rounding error of x - m, which goes into the reduced argument, so the result is
     * that of the exact difference (<= 2 ulp). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_exp_shifted(const float *x, float *buf, Py_ssize_t n,
                                                 float m)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            float v = x[j];
            float d = v - m;
            float bb = d - v;
            float err = (v - (d - bb)) + (-m - bb);
            buf[j] = dk_expf_neg2_f32(d, err);
        }
    }

    /* Sum of floats in double over 8 fixed lanes (fixed order: thread-independent). */
    DK_ACT_CLONES DK_ACT_STATIC double dk_f32_sum(const float *v, Py_ssize_t n)
    {
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0.0;
        Py_ssize_t j = 0;
        for (; j + 8 <= n; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += (double)v[j + l];
        for (; j < n; j++)
            s += (double)v[j];
        return s + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }

    /* Max of a float row, 16 lanes in GCC vector extensions (lowered to whatever
     * width each clone has); *bad is set when the row holds NaN or +inf (x - x
     * is NaN exactly for those, and NaN sticks in the lane sums). */
    typedef float dk_v16f __attribute__((vector_size(64)));
    typedef int32_t dk_v16i __attribute__((vector_size(64)));

    DK_ACT_CLONES DK_ACT_STATIC float dk_f32_max(const float *x, Py_ssize_t n, int *bad)
    {
        dk_v16f mx, z = {0};
        Py_ssize_t j = 0;
        int l;
        for (l = 0; l < 16; l++) mx[l] = -INFINITY;
        for (; j + 16 <= n; j += 16) {
            dk_v16f v;
            memcpy(&v, x + j, sizeof v);
            dk_v16i gt = v > mx;
            mx = (dk_v16f)(((dk_v16i)v & gt) | ((dk_v16i)mx & ~gt));
            z += v - v;
        }
        float m = -INFINITY, zz = 0.0f;
        for (l = 0; l < 16; l++) { m = mx[l] > m ? mx[l] : m; zz += z[l]; }
        for (; j < n; j++) { m = x[j] > m ? x[j] : m; zz += x[j] - x[j]; }
        *bad = zz != 0.0f;   /* NaN != 0 */
        return m;
    }

    /* Softmax / log-softmax of one float row: the max, then exp(x - max) in
     * L1-sized chunks (written to y, or to a stack buffer for log-softmax so
     * that x may alias y) with the float values summed in double, then the
     * scaling pass. Returns 0, writing nothing, when the row holds NaN or
     * +inf or is all -inf: the caller's generic path handles those. */
    DK_ACT_STATIC int dk_f32_softmax_row(const float *x, float *y, Py_ssize_t n, int log_sm)
    {
        int bad;
        float m = dk_f32_max(x, n, &bad);
        if (bad || m == -INFINITY)
            return 0;
        double s = 0.0;
        float buf[512];
        for (Py_ssize_t j0 = 0; j0 < n; j0 += 512) {
            Py_ssize_t w = n - j0 < 512 ? n - j0 : 512;
            float *dst = log_sm ? buf : y + j0;
            dk_f32_exp_shifted(x + j0, dst, w, m);
            s += dk_f32_sum(dst, w);
        }
        if (log_sm)
            dk_f32_log_softmax_finish(x, y, n, (double)m, log(s));
        else
            dk_f32_scale(y, n, 1.0 / s);
        return 1;
    }

    /* ---- float64 and column kernels ---------------------------------------- */

    /* exp(x + dx) in double to ~2 ulp over the whole range (subnormal results and
     * overflow to inf included), vectorizable: Cody-Waite with fdlibm's 32-bit
     * ln2_hi, degree-12 Taylor on |r| <= ln2/2 (truncation < 2e-16), and 2^k applied
     * as two normal factors 2^k1 * 2^k2 so that no exponent field overflows.
     * dx is a tiny correction (the rounding error of how x was formed; 0 if exact). */
    static inline double dk_exp2_f64(double x, double dx)
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

    static inline double dk_exp_f64(double x)
    {
        return dk_exp2_f64(x, 0.0);
    }

    static inline double dk_sigmoid_f64(double x)
    {
        double e = dk_exp_f64(-fabs(x));
        double num = x >= 0.0 ? 1.0 : e;
        return num / (1.0 + e);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_sigmoid(const double *x, double *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = dk_sigmoid_f64(x[j]);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_silu(const double *x, double *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = dk_gated(x[j], dk_sigmoid_f64(x[j]));
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_gelu_tanh(const double *x, double *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = x[j];
            double u = 0.79788456080286535588 * (v + 0.044715 * (v * v * v));
            y[j] = dk_gated(v, dk_sigmoid_f64(2.0 * u));
        }
    }

    /* tanh in double: (1 - e) / (1 + e), e = exp(-2|x|), and below 0.25 the odd
     * series to x^17 (truncation < 4e-15 relative there). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_tanh(const double *x, double *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
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

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_exp(const double *x, double *y, Py_ssize_t n)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = dk_exp_f64(x[j]);
    }

    /* scale * (x if x >= 0 else alpha * expm1(x)); expm1 by its series above -0.01
     * (degree 8: truncation < 3e-19 relative), by exp(x) - 1 below (no cancellation). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_elu(const double *x, double *y, Py_ssize_t n,
                                                double alpha, double scale)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
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

    /* Softmax over a strided axis, one step: for each of w columns,
     * e = exp(x - m) (TwoSum-corrected argument), sum += e, and y = e unless log_sm. */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_exp_cols(const float *x, const double *m, float *y,
                                                     double *sum, Py_ssize_t w, int log_sm)
    {
        for (Py_ssize_t j = 0; j < w; j++) {
            float v = x[j], mm = (float)m[j];   /* m holds a float value */
            float d = v - mm;
            float bb = d - v;
            float err = (v - (d - bb)) + (-mm - bb);
            float e = dk_expf_neg2_f32(d, err);
            sum[j] += (double)e;
            y[j] = log_sm ? y[j] : e;
        }
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_exp_cols(const double *x, const double *m, double *y,
                                                     double *sum, Py_ssize_t w, int log_sm)
    {
        for (Py_ssize_t j = 0; j < w; j++) {
            double v = x[j], mm = m[j];
            double d = v - mm;
            double bb = d - v;
            double err = (v - (d - bb)) + (-mm - bb);
            double e = dk_exp2_f64(d, err);
            sum[j] += e;
            y[j] = log_sm ? y[j] : e;
        }
    }

    /* Row pieces for float64 softmax. */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_exp_shifted(const double *x, double *buf, Py_ssize_t n,
                                                        double m)
    {
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = x[j];
            double d = v - m;
            double bb = d - v;
            double err = (v - (d - bb)) + (-m - bb);
            buf[j] = dk_exp2_f64(d, err);
        }
    }

    DK_ACT_CLONES DK_ACT_STATIC double dk_f64_sum(const double *v, Py_ssize_t n)
    {
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0.0;
        Py_ssize_t j = 0;
        for (; j + 8 <= n; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += v[j + l];
        for (; j < n; j++)
            s += v[j];
        return s + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }

    typedef double dk_v8d __attribute__((vector_size(64)));
    typedef int64_t dk_v8l __attribute__((vector_size(64)));

    DK_ACT_CLONES DK_ACT_STATIC double dk_f64_max(const double *x, Py_ssize_t n, int *bad)
    {
        dk_v8d mx, z = {0};
        Py_ssize_t j = 0;
        int l;
        for (l = 0; l < 8; l++) mx[l] = -INFINITY;
        for (; j + 8 <= n; j += 8) {
            dk_v8d v;
            memcpy(&v, x + j, sizeof v);
            dk_v8l gt = v > mx;
            mx = (dk_v8d)(((dk_v8l)v & gt) | ((dk_v8l)mx & ~gt));
            z += v - v;
        }
        double m = -INFINITY, zz = 0.0;
        for (l = 0; l < 8; l++) { m = mx[l] > m ? mx[l] : m; zz += z[l]; }
        for (; j < n; j++) { m = x[j] > m ? x[j] : m; zz += x[j] - x[j]; }
        *bad = zz != 0.0;
        return m;
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_scale(double *y, Py_ssize_t n, double inv)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = y[j] * inv;
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_log_softmax_finish(const double *x, double *y,
                                                               Py_ssize_t n, double m, double lse)
    {
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] = (x[j] - m) - lse;
    }

    DK_ACT_STATIC int dk_f64_softmax_row(const double *x, double *y, Py_ssize_t n, int log_sm)
    {
        int bad;
        double m = dk_f64_max(x, n, &bad);
        if (bad || m == -INFINITY)
            return 0;
        double s = 0.0;
        double buf[512];
        for (Py_ssize_t j0 = 0; j0 < n; j0 += 512) {
            Py_ssize_t w = n - j0 < 512 ? n - j0 : 512;
            double *dst = log_sm ? buf : y + j0;
            dk_f64_exp_shifted(x + j0, dst, w, m);
            s += dk_f64_sum(dst, w);
        }
        if (log_sm)
            dk_f64_log_softmax_finish(x, y, n, m, log(s));
        else
            dk_f64_scale(y, n, 1.0 / s);
        return 1;
    }

    /* Strided softmax passes over w contiguous columns (one row of the reduced axis). */
    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_max_cols(const float *x, double *mx, Py_ssize_t w)
    {
        for (Py_ssize_t j = 0; j < w; j++) {
            double v = x[j], m = mx[j];
            mx[j] = (v > m) | (v != v) ? v : m;   /* a NaN sticks: nothing compares above it */
        }
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_max_cols(const double *x, double *mx, Py_ssize_t w)
    {
        for (Py_ssize_t j = 0; j < w; j++) {
            double v = x[j], m = mx[j];
            mx[j] = (v > m) | (v != v) ? v : m;
        }
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f32_finish_cols(const float *x, float *y, const double *m,
                                                        const double *c, Py_ssize_t w, int log_sm)
    {
        /* c = 1 / sum (softmax) or log(sum) (log-softmax) per column */
        if (log_sm)
            for (Py_ssize_t j = 0; j < w; j++)
                y[j] = (float)(((double)x[j] - m[j]) - c[j]);
        else
            for (Py_ssize_t j = 0; j < w; j++)
                y[j] = (float)((double)y[j] * c[j]);
    }

    DK_ACT_CLONES DK_ACT_STATIC void dk_f64_finish_cols(const double *x, double *y, const double *m,
                                                        const double *c, Py_ssize_t w, int log_sm)
    {
        if (log_sm)
            for (Py_ssize_t j = 0; j < w; j++)
                y[j] = (x[j] - m[j]) - c[j];
        else
            for (Py_ssize_t j = 0; j < w; j++)
                y[j] = y[j] * c[j];
    }

    /* log1p(e) for 0 <= e <= 1 as 2 atanh(s), s = e / (2 + e) <= 1/3: the odd series
     * to s^31 (truncation < 1e-17 relative), no cancellation anywhere. */
    static inline double dk_log1p_unit(double e)
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
    static inline double dk_softplus_d(double v)
    {
        double pos = v > 0.0 ? v : 0.0;
        return pos + dk_log1p_unit(dk_exp_f64(-fabs(v)));
    }

    static inline double dk_log_sigmoid_d(double v)
    {
        double neg = v < 0.0 ? v : 0.0;
        return neg - dk_log1p_unit(dk_exp_f64(-fabs(v)));
    }

    /* x * tanh(softplus(x)), tanh of the non-negative softplus as in dk_f64_tanh. */
    static inline double dk_mish_d(double v)
    {
        double a = dk_softplus_d(v);
        double e = dk_exp_f64(-2.0 * a);
        double big = (1.0 - e) / (1.0 + e);
        double a2 = a * a;
        double small = a + a * a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315 + a2 * (
            62.0 / 2835 + a2 * (-1382.0 / 155925 + a2 * (21844.0 / 6081075 + a2 * (
            -929569.0 / 638512875 + a2 * (6404582.0 / 10854718875.0))))))));
        double t = a < 0.25 ? small : big;
        return dk_gated(v, t);
    }

    #define DK_ACT_LOOP(name, T, fn)                                                  \
        DK_ACT_CLONES DK_ACT_STATIC void name(const T *x, T *y, Py_ssize_t n)          \
        {                                                                             \
            for (Py_ssize_t j = 0; j < n; j++)                                        \
                y[j] = (T)fn((double)x[j]);                                           \
        }
    DK_ACT_LOOP(dk_f32_softplus, float, dk_softplus_d)
    DK_ACT_LOOP(dk_f64_softplus, double, dk_softplus_d)
    DK_ACT_LOOP(dk_f32_log_sigmoid, float, dk_log_sigmoid_d)
    DK_ACT_LOOP(dk_f64_log_sigmoid, double, dk_log_sigmoid_d)
    DK_ACT_LOOP(dk_f32_mish, float, dk_mish_d)
    DK_ACT_LOOP(dk_f64_mish, double, dk_mish_d)

    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif
    """
    void dk_f32_sigmoid(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f32_silu(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f32_gelu(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f32_gelu_tanh(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f32_tanh(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f32_elu(const float* x, float* y, Py_ssize_t n, double alpha,
                    double scale) noexcept nogil
    void dk_f32_exp(const float* x, float* y, Py_ssize_t n) noexcept nogil
    int dk_f32_softmax_row(const float* x, float* y, Py_ssize_t n, int log_sm) noexcept nogil
    void dk_f64_sigmoid(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f64_silu(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f64_gelu_tanh(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f64_exp(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f64_tanh(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f64_elu(const double* x, double* y, Py_ssize_t n, double alpha,
                    double scale) noexcept nogil
    int dk_f64_softmax_row(const double* x, double* y, Py_ssize_t n, int log_sm) noexcept nogil
    void dk_f32_softplus(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f64_softplus(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f32_log_sigmoid(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f64_log_sigmoid(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f32_mish(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void dk_f64_mish(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void dk_f32_max_cols(const float* x, double* mx, Py_ssize_t w) noexcept nogil
    void dk_f64_max_cols(const double* x, double* mx, Py_ssize_t w) noexcept nogil
    void dk_f32_finish_cols(const float* x, float* y, const double* m, const double* c,
                            Py_ssize_t w, int log_sm) noexcept nogil
    void dk_f64_finish_cols(const double* x, double* y, const double* m, const double* c,
                            Py_ssize_t w, int log_sm) noexcept nogil
    void dk_f32_exp_cols(const float* x, const double* m, float* y, double* sum,
                         Py_ssize_t w, int log_sm) noexcept nogil
    void dk_f64_exp_cols(const double* x, const double* m, double* y, double* sum,
                         Py_ssize_t w, int log_sm) noexcept nogil


cdef enum:
    ACT_LINEAR = 0
    ACT_RELU = 1
    ACT_RELU6 = 2
    ACT_LEAKY_RELU = 3
    ACT_ELU = 4
    ACT_SELU = 5
    ACT_CELU = 6
    ACT_GELU = 7
    ACT_GELU_TANH = 8
    ACT_SILU = 9
    ACT_SIGMOID = 10
    ACT_TANH = 11
    ACT_SOFTPLUS = 12
    ACT_SOFTSIGN = 13
    ACT_HARD_SIGMOID = 14
    ACT_HARD_SILU = 15
    ACT_EXPONENTIAL = 16
    ACT_MISH = 17
    ACT_LOG_SIGMOID = 18
    ACT_HARD_TANH = 19
    ACT_TANH_SHRINK = 20
    ACT_HARD_SHRINK = 21
    ACT_SOFT_SHRINK = 22
    ACT_SPARSE_PLUS = 23
    ACT_SPARSE_SIGMOID = 24
    ACT_SQUAREPLUS = 25
    ACT_THRESHOLD = 26
    ACT_SOFTMAX = 27
    ACT_LOG_SOFTMAX = 28
    ACT_N_CODES = 29

# Elements per tile in bias_activate_row: the tile stays in L1 between the
# bias add and the activation, so the row is streamed once.
cdef enum:
    ACT_TILE = 512


# ---------------------------------------------------------------- double ops
# Stable double formulas; the float path rounds their result once.

cdef inline double _sigmoid_d(double x) noexcept nogil:
    """1 / (1 + exp(-x)) without overflow: exp only of -|x|."""
    cdef double e = exp(-fabs(x))
    cdef double r = 1.0 / (1.0 + e)
    return r if x >= 0.0 else e * r


cdef inline double _softplus_d(double x) noexcept nogil:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    cdef double m = x if x > 0.0 else 0.0
    if x != x:
        return x
    return m + log1p(exp(-fabs(x)))


cdef inline double _log_sigmoid_d(double x) noexcept nogil:
    """-softplus(-x) = min(x, 0) - log1p(exp(-|x|))."""
    cdef double m = x if x < 0.0 else 0.0
    if x != x:
        return x
    return m - log1p(exp(-fabs(x)))


cdef inline double _times(double x, double gate) noexcept nogil:
    """x * gate, where a zero gate wins over an infinite x (the limit is 0)."""
    return 0.0 if gate == 0.0 else x * gate


cdef inline double _silu_d(double x) noexcept nogil:
    return _times(x, _sigmoid_d(x))


cdef inline double _gelu_d(double x) noexcept nogil:
    """x * Phi(x) = 0.5 * x * erfc(-x / sqrt(2)): erfc keeps the negative tail exact."""
    return _times(x, 0.5 * erfc(-x * 0.70710678118654752440))


cdef inline double _gelu_tanh_d(double x) noexcept nogil:
    """0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)."""
    cdef double u = 0.79788456080286535588 * (x + 0.044715 * (x * x * x))
    return _times(x, _sigmoid_d(2.0 * u))


cdef inline double _elu_d(double x, double alpha) noexcept nogil:
    return x if x >= 0.0 else alpha * expm1(x)


cdef inline double _celu_d(double x, double alpha) noexcept nogil:
    return x if x > 0.0 else alpha * expm1(x / alpha)


cdef inline double _mish_d(double x) noexcept nogil:
    return _times(x, tanh(_softplus_d(x)))


cdef inline double _tanh_shrink_d(double x) noexcept nogil:
    """x - tanh(x); a series below 0.25 avoids the cancellation near 0."""
    cdef double x2
    if fabs(x) >= 0.25:
        return x - tanh(x)
    x2 = x * x
    # x^3/3 - 2x^5/15 + 17x^7/315 - 62x^9/2835 + 1382x^11/155925 - 21844x^13/6081075
    #       + 929569x^15/638512875 - 6404582x^17/10854718875  (|rel. error| < 1e-17 here)
    return x * x2 * (1.0 / 3.0 + x2 * (-2.0 / 15.0 + x2 * (17.0 / 315.0 + x2 * (
        -62.0 / 2835.0 + x2 * (1382.0 / 155925.0 + x2 * (-21844.0 / 6081075.0 + x2 * (
            929569.0 / 638512875.0 + x2 * (-6404582.0 / 10854718875.0))))))))


cdef inline double _squareplus_d(double x, double b) noexcept nogil:
    """(x + sqrt(x^2 + b)) / 2; for x < 0 the form b / (2 (sqrt(x^2 + b) - x))
    avoids the cancellation, and hypot avoids overflowing x^2."""
    cdef double r = hypot(x, sqrt(b))
    if x >= 0.0:
        return 0.5 * x + 0.5 * r   # not 0.5 * (x + r): that overflows near the max
    if x != x:
        return x
    return 0.5 * b / (r - x)


# -------------------------------------------------------- native-type ops

cdef inline floating act_relu(floating x) noexcept nogil:
    return 0 if x <= 0 else x


cdef inline floating act_relu_general(floating x, double slope, double max_value,
                                      double threshold) noexcept nogil:
    """Keras' ReLU.static_call: (x if x > threshold else 0), clipped to
    [0, max_value] when max_value is given (not NaN), minus
    slope * max(threshold - x, 0). NaN stays NaN."""
    cdef double xd = x
    cdef double y = 0.0 if xd <= threshold else xd
    cdef double neg
    if max_value == max_value:
        y = 0.0 if y < 0.0 else y
        y = max_value if y > max_value else y
    if slope != 0.0:
        neg = threshold - xd
        if neg > 0.0:
            y = y - slope * neg
    return <floating>y


cdef inline floating act_relu6(floating x) noexcept nogil:
    if x <= 0:
        return 0
    return 6 if x >= 6 else x


cdef inline floating act_leaky_relu(floating x, floating slope) noexcept nogil:
    """max(x, slope * x) as Keras; a zero slope gives exactly relu (no 0 * inf)."""
    cdef floating sx = slope * x if slope != 0 else 0
    return x if x >= sx else (sx if x == x else x)


cdef inline floating act_hard_sigmoid(floating x) noexcept nogil:
    cdef double y = <double>x / 6.0 + 0.5
    if y <= 0.0:
        return 0
    return 1 if y >= 1.0 else <floating>y


cdef inline floating act_hard_silu(floating x) noexcept nogil:
    cdef double xd = x
    cdef double y = xd / 6.0 + 0.5
    if y <= 0.0:
        return 0
    return x if y >= 1.0 else <floating>(xd * y)


cdef inline floating act_hard_tanh(floating x) noexcept nogil:
    if x < -1:
        return -1
    return 1 if x > 1 else x


cdef inline floating act_softsign(floating x) noexcept nogil:
    cdef double a = fabs(<double>x)
    if a == INFINITY:
        return 1 if x > 0 else -1
    return <floating>(<double>x / (1.0 + a))


cdef inline floating act_hard_shrink(floating x, double t) noexcept nogil:
    return 0 if fabs(<double>x) <= t else x


cdef inline floating act_soft_shrink(floating x, double t) noexcept nogil:
    cdef double xd = x
    if xd > t:
        return <floating>(xd - t)
    if xd < -t:
        return <floating>(xd + t)
    return x if x != x else 0


cdef inline floating act_sparse_plus(floating x) noexcept nogil:
    cdef double xd = x
    if xd <= -1.0:
        return 0
    if xd < 1.0:
        return <floating>(0.25 * (xd + 1.0) * (xd + 1.0))
    return x


cdef inline floating act_sparse_sigmoid(floating x) noexcept nogil:
    cdef double xd = x
    if xd <= -1.0:
        return 0
    if xd >= 1.0:
        return 1
    return <floating>(0.5 * (xd + 1.0))


cdef inline floating act_threshold(floating x, double t, double value) noexcept nogil:
    return <floating>value if <double>x <= t else x


# --------------------------------------------------------- the dispatcher

cdef inline void activate_into(int code, const floating* x, floating* y, Py_ssize_t n,
                               double p0, double p1, double p2) noexcept nogil:
    """y[j] = act_code(x[j]) for j < n (y may be x). Row-wise codes treat x as one row."""
    cdef Py_ssize_t j
    cdef floating fp0
    if floating is float:
        # Parameters are rounded to the row's dtype first, as Keras casts them:
        # relu(x, threshold=0.3) compares float32 x with float32(0.3).
        p0 = <float>p0
        p1 = <float>p1
        p2 = <float>p2
    fp0 = <floating>p0
    if code == ACT_LINEAR:
        if x != y:
            for j in range(n):
                y[j] = x[j]
    elif code == ACT_RELU:
        if p0 == 0.0 and p1 != p1 and p2 == 0.0:
            for j in range(n):
                y[j] = act_relu(x[j])
        elif p0 != 0.0 and p1 != p1 and p2 == 0.0:
            for j in range(n):
                y[j] = act_leaky_relu(x[j], fp0)
        else:
            for j in range(n):
                y[j] = act_relu_general(x[j], p0, p1, p2)
    elif code == ACT_RELU6:
        for j in range(n):
            y[j] = act_relu6(x[j])
    elif code == ACT_LEAKY_RELU:
        for j in range(n):
            y[j] = act_leaky_relu(x[j], fp0)
    elif code == ACT_HARD_SIGMOID:
        for j in range(n):
            y[j] = act_hard_sigmoid(x[j])
    elif code == ACT_HARD_SILU:
        for j in range(n):
            y[j] = act_hard_silu(x[j])
    elif code == ACT_HARD_TANH:
        for j in range(n):
            y[j] = act_hard_tanh(x[j])
    elif code == ACT_SOFTSIGN:
        for j in range(n):
            y[j] = act_softsign(x[j])
    elif code == ACT_HARD_SHRINK:
        for j in range(n):
            y[j] = act_hard_shrink(x[j], p0)
    elif code == ACT_SOFT_SHRINK:
        for j in range(n):
            y[j] = act_soft_shrink(x[j], p0)
    elif code == ACT_SPARSE_PLUS:
        for j in range(n):
            y[j] = act_sparse_plus(x[j])
    elif code == ACT_SPARSE_SIGMOID:
        for j in range(n):
            y[j] = act_sparse_sigmoid(x[j])
    elif code == ACT_THRESHOLD:
        for j in range(n):
            y[j] = act_threshold(x[j], p0, p1)
    elif code == ACT_SOFTMAX:
        softmax_into(x, y, n)
    elif code == ACT_LOG_SOFTMAX:
        log_softmax_into(x, y, n)
    else:
        _transcendental_into(code, x, y, n, p0)


cdef inline void _transcendental_into(int code, const floating* x, floating* y,
                                      Py_ssize_t n, double p0) noexcept nogil:
    cdef Py_ssize_t j
    if floating is float:
        # The vectorized float32 loops (see the C block above).
        if code == ACT_SIGMOID:
            dk_f32_sigmoid(x, y, n)
            return
        if code == ACT_SILU:
            dk_f32_silu(x, y, n)
            return
        if code == ACT_GELU:
            dk_f32_gelu(x, y, n)
            return
        if code == ACT_GELU_TANH:
            dk_f32_gelu_tanh(x, y, n)
            return
        if code == ACT_TANH:
            dk_f32_tanh(x, y, n)
            return
        if code == ACT_ELU:
            dk_f32_elu(x, y, n, p0, 1.0)
            return
        if code == ACT_SELU:
            dk_f32_elu(x, y, n, 1.6732632423543772848, 1.0507009873554804934)
            return
        if code == ACT_EXPONENTIAL:
            dk_f32_exp(x, y, n)
            return
        if code == ACT_SOFTPLUS:
            dk_f32_softplus(x, y, n)
            return
        if code == ACT_LOG_SIGMOID:
            dk_f32_log_sigmoid(x, y, n)
            return
        if code == ACT_MISH:
            dk_f32_mish(x, y, n)
            return
    else:
        # The vectorized float64 loops (full-range double exp, ~2 ulp).
        if code == ACT_SIGMOID:
            dk_f64_sigmoid(x, y, n)
            return
        if code == ACT_SILU:
            dk_f64_silu(x, y, n)
            return
        if code == ACT_GELU_TANH:
            dk_f64_gelu_tanh(x, y, n)
            return
        if code == ACT_ELU:
            dk_f64_elu(x, y, n, p0, 1.0)
            return
        if code == ACT_SELU:
            dk_f64_elu(x, y, n, 1.6732632423543772848, 1.0507009873554804934)
            return
        if code == ACT_EXPONENTIAL:
            dk_f64_exp(x, y, n)
            return
        if code == ACT_TANH:
            dk_f64_tanh(x, y, n)
            return
        if code == ACT_SOFTPLUS:
            dk_f64_softplus(x, y, n)
            return
        if code == ACT_LOG_SIGMOID:
            dk_f64_log_sigmoid(x, y, n)
            return
        if code == ACT_MISH:
            dk_f64_mish(x, y, n)
            return
    if code == ACT_SIGMOID:
        for j in range(n):
            y[j] = <floating>_sigmoid_d(x[j])
    elif code == ACT_SILU:
        for j in range(n):
            y[j] = <floating>_silu_d(x[j])
    elif code == ACT_GELU:
        for j in range(n):
            y[j] = <floating>_gelu_d(x[j])
    elif code == ACT_GELU_TANH:
        for j in range(n):
            y[j] = <floating>_gelu_tanh_d(x[j])
    elif code == ACT_TANH:
        for j in range(n):
            y[j] = <floating>tanh(x[j])
    elif code == ACT_ELU:
        for j in range(n):
            y[j] = <floating>_elu_d(x[j], p0)
    elif code == ACT_SELU:
        for j in range(n):
            # SELU constants (Klambauer et al. 2017), as Keras spells them.
            y[j] = <floating>(1.0507009873554804934 * _elu_d(x[j], 1.6732632423543772848))
    elif code == ACT_CELU:
        for j in range(n):
            y[j] = <floating>_celu_d(x[j], p0)
    elif code == ACT_SOFTPLUS:
        for j in range(n):
            y[j] = <floating>_softplus_d(x[j])
    elif code == ACT_LOG_SIGMOID:
        for j in range(n):
            y[j] = <floating>_log_sigmoid_d(x[j])
    elif code == ACT_EXPONENTIAL:
        for j in range(n):
            y[j] = <floating>exp(x[j])
    elif code == ACT_MISH:
        for j in range(n):
            y[j] = <floating>_mish_d(x[j])
    elif code == ACT_TANH_SHRINK:
        for j in range(n):
            y[j] = <floating>_tanh_shrink_d(x[j])
    elif code == ACT_SQUAREPLUS:
        for j in range(n):
            y[j] = <floating>_squareplus_d(x[j], p0)


cdef inline void activate_row(int code, floating* row, Py_ssize_t n,
                              double p0, double p1, double p2) noexcept nogil:
    """row[j] = act_code(row[j]) in place."""
    activate_into(code, row, row, n, p0, p1, p2)


cdef inline void bias_activate_row(int code, floating* row, const floating* bias,
                                   Py_ssize_t n, double p0, double p1,
                                   double p2) noexcept nogil:
    """row[j] = act_code(row[j] + bias[j]); bias may be NULL.

    Elementwise codes work tile by tile (ACT_TILE values stay in L1 between
    the add and the activation), so the row crosses memory once."""
    cdef Py_ssize_t j, j0, m
    if bias != NULL:
        if code >= ACT_SOFTMAX:
            for j in range(n):
                row[j] = row[j] + bias[j]
            activate_into(code, row, row, n, p0, p1, p2)
            return
        j0 = 0
        while j0 < n:
            m = n - j0 if n - j0 < ACT_TILE else ACT_TILE
            for j in range(j0, j0 + m):
                row[j] = row[j] + bias[j]
            activate_into(code, row + j0, row + j0, m, p0, p1, p2)
            j0 += m
    else:
        activate_into(code, row, row, n, p0, p1, p2)


# ------------------------------------------------------- row-wise softmax

cdef inline void softmax_into(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """y = exp(x - max x) / sum(exp(x - max x)) over one contiguous row.

    The shift makes every exponent <= 0 (no overflow) and the sum >= 1; the sum
    is accumulated in double. Rows holding +inf give 1/k on the k infinite
    entries and 0 elsewhere (the limit); a NaN makes the row NaN."""
    cdef Py_ssize_t j, k
    cdef double m, s, e, inv
    if n <= 0:
        return
    if floating is float:
        if dk_f32_softmax_row(x, y, n, 0):
            return
    else:
        if dk_f64_softmax_row(x, y, n, 0):
            return
    m = x[0]
    for j in range(1, n):
        if x[j] > m or x[j] != x[j]:
            m = x[j]
            if m != m:
                break
    if m == INFINITY:
        k = 0
        for j in range(n):
            if x[j] == INFINITY:
                k += 1
        inv = 1.0 / k
        for j in range(n):
            y[j] = <floating>inv if x[j] == INFINITY else 0
        return
    s = 0.0
    for j in range(n):
        e = exp(<double>x[j] - m)
        s += e
        y[j] = <floating>e
    inv = 1.0 / s
    for j in range(n):
        y[j] = <floating>(<double>y[j] * inv)


cdef inline void log_softmax_into(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """y = x - max x - log(sum(exp(x - max x))) over one contiguous row."""
    cdef Py_ssize_t j, k
    cdef double m, s, lse
    if n <= 0:
        return
    if floating is float:
        if dk_f32_softmax_row(x, y, n, 1):
            return
    else:
        if dk_f64_softmax_row(x, y, n, 1):
            return
    m = x[0]
    for j in range(1, n):
        if x[j] > m or x[j] != x[j]:
            m = x[j]
            if m != m:
                break
    if m == INFINITY:
        k = 0
        for j in range(n):
            if x[j] == INFINITY:
                k += 1
        lse = -log(<double>k)
        for j in range(n):
            y[j] = <floating>lse if x[j] == INFINITY else <floating>(-INFINITY)
        return
    s = 0.0
    for j in range(n):
        s += exp(<double>x[j] - m)
    lse = log(s)
    for j in range(n):
        y[j] = <floating>((<double>x[j] - m) - lse)
