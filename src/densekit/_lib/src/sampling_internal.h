/* Internal to the samplers (sampling.c, sampling_avx512.c, sampling_avx2.c): the scalar
 * reference math as static inline helpers, and the aligned bodies the SIMD files provide.
 * The AVX-512 and AVX2 paths mirror every operation here in the same order (no FMA, no
 * reassociation), so all paths give identical bits.
 *
 * Calls go one way: sampling.c (the dispatcher: heads, tails, the portable path) calls the
 * SIMD bodies; the SIMD files use only the inline helpers below and call nothing back. */
#ifndef DK_SAMPLING_INTERNAL_H
#define DK_SAMPLING_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dk_simd.h"
#include "philox.h"
#include "sampling.h"

/* Counter word 3: which stream (kind, precision) a block belongs to. */
static inline uint32_t dk_tag(int kind, int is_f64) { return (uint32_t)kind | (is_f64 ? 0x100u : 0u); }

typedef struct {
    int kind, out_type;
    dk_philox4x32_key_t key;
    uint32_t tag;
    float fa, fb, fw, fhi;   /* float32 stream: a, b, b - a, largest float32 below b */
    double da, db, dw, dhi;  /* float64 stream */
} dk_params_t;

static inline void dk_params_init(dk_params_t *p, int kind, int out_type, uint64_t seed, double a, double b)
{
    p->kind = kind;
    p->out_type = out_type;
    p->key = dk_philox_key_from_seed(seed);
    p->tag = dk_tag(kind, out_type == DK_OUT_F64);
    p->fa = (float)a;
    p->fb = (float)b;
    p->fw = p->fb - p->fa;
    /* a + (b - a) u can round up to b: clamp to the largest value below b (a < b). */
    p->fhi = p->fb > p->fa ? nextafterf(p->fb, -INFINITY) : INFINITY;
    p->da = a;
    p->db = b;
    p->dw = b - a;
    p->dhi = b > a ? nextafter(b, -INFINITY) : INFINITY;
}

static inline dk_philox4x32_ctr_t dk_block(const dk_params_t *p, uint64_t blk, uint32_t attempt)
{
    dk_philox4x32_ctr_t c;
    c.v[0] = (uint32_t)blk;
    c.v[1] = (uint32_t)(blk >> 32);
    c.v[2] = attempt;
    c.v[3] = p->tag;
    return dk_philox4x32_10(c, p->key);
}

static inline uint32_t dk_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float dk_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint64_t dk_d2u(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }
static inline double dk_u2d(uint64_t u) { double f; memcpy(&f, &u, 8); return f; }

/* ------------------------------------------------------------------ float32 stream */

#define DK_TWO_M24F 5.9604644775390625e-08f /* 2^-24 */

/* [0, 1) and (0, 1]: the top 24 bits, exactly representable. */
static inline float dk_u01_f32(uint32_t x) { return (float)(int32_t)(x >> 8) * DK_TWO_M24F; }
static inline float dk_u01c_f32(uint32_t x) { return (float)(int32_t)((x >> 8) + 1u) * DK_TWO_M24F; }

#define DK_LN2_HI_F 0.693145751953125f        /* 16 significant bits: e * hi is exact */
#define DK_LN2_LO_F 1.428606765330187045e-06f
#define DK_SQRT2_BITS_F 0x3fb504f3u
#define DK_LOGC3_F ((float)(1.0 / 3.0))
#define DK_LOGC5_F ((float)(1.0 / 5.0))
#define DK_LOGC7_F ((float)(1.0 / 7.0))
#define DK_LOGC9_F ((float)(1.0 / 9.0))

/* log(x) for a normal positive float: x = 2^e f, f in [sqrt(1/2), sqrt(2)),
 * log f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.1716; abs error about 1e-7. */
static inline float dk_log_f32(float x)
{
    uint32_t bx = dk_f2u(x);
    int32_t e = (int32_t)(bx >> 23) - 127;
    uint32_t mb = (bx & 0x007fffffu) | 0x3f800000u;
    uint32_t big = mb >= DK_SQRT2_BITS_F ? 1u : 0u;
    mb -= big << 23;
    e += (int32_t)big;
    float f = dk_u2f(mb);
    float s = (f - 1.0f) / (f + 1.0f);
    float s2 = s * s;
    float q = DK_LOGC9_F * s2;
    q = (q + DK_LOGC7_F) * s2;
    q = (q + DK_LOGC5_F) * s2;
    q = (q + DK_LOGC3_F) * s2;
    float t = s + s * q;
    float fe = (float)e;
    return fe * DK_LN2_HI_F + (fe * DK_LN2_LO_F + (t + t));
}

#define DK_PI_4F ((float)0.78539816339744830962)
#define DK_S3_F ((float)(-1.0 / 6.0))
#define DK_S5_F ((float)(1.0 / 120.0))
#define DK_S7_F ((float)(-1.0 / 5040.0))
#define DK_S9_F ((float)(1.0 / 362880.0))
#define DK_C2_F (-0.5f)
#define DK_C4_F ((float)(1.0 / 24.0))
#define DK_C6_F ((float)(-1.0 / 720.0))
#define DK_C8_F ((float)(1.0 / 40320.0))
#define DK_C10_F ((float)(-1.0 / 3628800.0))

/* sin and cos of 2 pi u, u in [0, 1): octant o = floor(8u), x = pi/4 * (frac or 1 - frac),
 * Taylor polynomials on [0, pi/4] (abs error below 1e-7), then the octant's symmetry. */
static inline void dk_sincos2pi_f32(float u, float *sn, float *cs)
{
    float v = u * 8.0f;
    int32_t o = (int32_t)v;
    float t = v - (float)o;
    /* selects as bit masks (no branches), so that loops over this function vectorize */
    uint32_t odd = 0u - (uint32_t)(o & 1);
    t = dk_u2f((dk_f2u(1.0f - t) & odd) | (dk_f2u(t) & ~odd));
    float x = t * DK_PI_4F;
    float x2 = x * x;
    float sp = DK_S9_F * x2;
    sp = (sp + DK_S7_F) * x2;
    sp = (sp + DK_S5_F) * x2;
    sp = (sp + DK_S3_F) * x2;
    float s = x + x * sp;
    float cp = DK_C10_F * x2;
    cp = (cp + DK_C8_F) * x2;
    cp = (cp + DK_C6_F) * x2;
    cp = (cp + DK_C4_F) * x2;
    cp = (cp + DK_C2_F) * x2;
    float c = 1.0f + cp;
    uint32_t swap = 0u - (((uint32_t)o + 1u) >> 1 & 1u);
    uint32_t sb = dk_f2u(s), cb = dk_f2u(c);
    uint32_t s2 = (cb & swap) | (sb & ~swap), c2 = (sb & swap) | (cb & ~swap);
    *sn = dk_u2f(s2 ^ ((uint32_t)(o & 4) << 29)); /* sign flips: -x exactly */
    *cs = dk_u2f(c2 ^ ((uint32_t)((o + 2) & 4) << 29));
}

/* Box-Muller on words (2p, 2p+1) of a block gives lanes 2p (cos) and 2p+1 (sin). */
static inline float dk_normal_lane_f32(const uint32_t *x, int lane)
{
    int p = lane >> 1;
    float r = sqrtf(-2.0f * dk_log_f32(dk_u01c_f32(x[2 * p])));
    float s, c;
    dk_sincos2pi_f32(dk_u01_f32(x[2 * p + 1]), &s, &c);
    return (lane & 1) ? r * s : r * c;
}

/* All four lanes of a float32 block (two Box-Muller pairs), as dk_normal_lane_f32 gives them. */
static inline void dk_normal_block_f32(const uint32_t *x, float z[4])
{
    for (int p = 0; p < 2; p++) {
        float r = sqrtf(-2.0f * dk_log_f32(dk_u01c_f32(x[2 * p])));
        float s, c;
        dk_sincos2pi_f32(dk_u01_f32(x[2 * p + 1]), &s, &c);
        z[2 * p] = r * c;
        z[2 * p + 1] = r * s;
    }
}

static inline int dk_accept_f32(float z) { return fabsf(z) <= 2.0f; }

static inline float dk_uniform_f32(const dk_params_t *p, uint32_t x)
{
    float v = p->fa + p->fw * dk_u01_f32(x);
    return v < p->fhi ? v : p->fhi;
}

static inline float dk_affine_f32(const dk_params_t *p, float z) { return p->fa + p->fb * z; }

/* float32 -> IEEE binary16, round to nearest even (overflow to inf, subnormals, NaN kept). */
static inline uint16_t dk_f32_to_f16(float f)
{
    uint32_t x = dk_f2u(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x0200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) /* >= 65520 rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: the FPU rounds |f| + 0.5 at the subnormal step 2^-24 */
        float r = dk_u2f(ax) + 0.5f;
        return (uint16_t)(sign | (dk_f2u(r) - 0x3f000000u));
    }
    ax += 0xc8000fffu + ((ax >> 13) & 1u); /* rebias exponent by -112, round to nearest even */
    return (uint16_t)(sign | (ax >> 13));
}

/* float32 -> bfloat16 (the top 16 bits), round to nearest even; NaN stays a quiet NaN. */
static inline uint16_t dk_f32_to_bf16(float f)
{
    uint32_t x = dk_f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x0040u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* out[j] = v, rounded to the output type. */
static inline void dk_store_f32(int out_type, void *out, int64_t j, float v)
{
    if (out_type == DK_OUT_F32)
        ((float *)out)[j] = v;
    else if (out_type == DK_OUT_F16)
        ((uint16_t *)out)[j] = dk_f32_to_f16(v);
    else
        ((uint16_t *)out)[j] = dk_f32_to_bf16(v);
}

/* ------------------------------------------------------------------ float64 stream */

#define DK_TWO_M53 1.1102230246251565404e-16 /* 2^-53 */

/* Lane l of a float64 block: words 2l (low) and 2l+1 (high). */
static inline uint64_t dk_lane_u64(const uint32_t *x, int lane)
{
    return (uint64_t)x[2 * lane] | ((uint64_t)x[2 * lane + 1] << 32);
}

/* (double)m for m < 2^53 through two exact int32 conversions (hi * 2^26 + lo): the same value
 * as a 64-bit conversion, but vectorizable on SSE2/AVX2, which lack int64 -> double. */
static inline double dk_exact_u53(uint64_t m)
{
    return (double)(int32_t)(uint32_t)(m >> 26) * 67108864.0 + (double)(int32_t)(uint32_t)(m & 0x3ffffffu);
}

static inline double dk_u01_f64(uint64_t x) { return dk_exact_u53(x >> 11) * DK_TWO_M53; }
static inline double dk_u01c_f64(uint64_t x) { return dk_exact_u53((x >> 11) + 1u) * DK_TWO_M53; }

#define DK_LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000: e * hi is exact */
#define DK_LN2_LO 1.90821492927058770002e-10
#define DK_SQRT2_BITS 0x3ff6a09e667f3bcdull

/* log(x), x positive and normal: as dk_log_f32 with the atanh series to s^21 (error ~1e-17). */
static inline double dk_log_f64(double x)
{
    uint64_t bx = dk_d2u(x);
    int32_t e = (int32_t)(uint32_t)(bx >> 52) - 1023;
    double f = dk_u2d((bx & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    /* f >= sqrt(2): halve it (exact) and bump e; selects as bit masks, for vectorization */
    uint64_t big = 0u - (uint64_t)(f >= dk_u2d(DK_SQRT2_BITS));
    f = dk_u2d((dk_d2u(f * 0.5) & big) | (dk_d2u(f) & ~big));
    e += (int32_t)(big & 1u);
    double s = (f - 1.0) / (f + 1.0);
    double s2 = s * s;
    double q = (1.0 / 21.0) * s2;
    q = (q + 1.0 / 19.0) * s2;
    q = (q + 1.0 / 17.0) * s2;
    q = (q + 1.0 / 15.0) * s2;
    q = (q + 1.0 / 13.0) * s2;
    q = (q + 1.0 / 11.0) * s2;
    q = (q + 1.0 / 9.0) * s2;
    q = (q + 1.0 / 7.0) * s2;
    q = (q + 1.0 / 5.0) * s2;
    q = (q + 1.0 / 3.0) * s2;
    double t = s + s * q;
    double fe = (double)e;
    return fe * DK_LN2_HI + (fe * DK_LN2_LO + (t + t));
}

/* sin and cos of 2 pi u, u in [0, 1): as dk_sincos2pi_f32 with Taylor series to x^17 / x^18. */
static inline void dk_sincos2pi_f64(double u, double *sn, double *cs)
{
    double v = u * 8.0;
    int32_t o = (int32_t)v;
    double t = v - (double)o;
    uint64_t odd = 0u - (uint64_t)(o & 1);
    t = dk_u2d((dk_d2u(1.0 - t) & odd) | (dk_d2u(t) & ~odd));
    double x = t * 0.78539816339744830962;
    double x2 = x * x;
    double sp = (1.0 / 355687428096000.0) * x2;
    sp = (sp - 1.0 / 1307674368000.0) * x2;
    sp = (sp + 1.0 / 6227020800.0) * x2;
    sp = (sp - 1.0 / 39916800.0) * x2;
    sp = (sp + 1.0 / 362880.0) * x2;
    sp = (sp - 1.0 / 5040.0) * x2;
    sp = (sp + 1.0 / 120.0) * x2;
    sp = (sp - 1.0 / 6.0) * x2;
    double s = x + x * sp;
    double cp = (-1.0 / 6402373705728000.0) * x2;
    cp = (cp + 1.0 / 20922789888000.0) * x2;
    cp = (cp - 1.0 / 87178291200.0) * x2;
    cp = (cp + 1.0 / 479001600.0) * x2;
    cp = (cp - 1.0 / 3628800.0) * x2;
    cp = (cp + 1.0 / 40320.0) * x2;
    cp = (cp - 1.0 / 720.0) * x2;
    cp = (cp + 1.0 / 24.0) * x2;
    cp = (cp - 0.5) * x2;
    double c = 1.0 + cp;
    uint64_t swap = 0u - (uint64_t)(((uint32_t)o + 1u) >> 1 & 1u);
    uint64_t sb = dk_d2u(s), cb = dk_d2u(c);
    uint64_t s2 = (cb & swap) | (sb & ~swap), c2 = (sb & swap) | (cb & ~swap);
    *sn = dk_u2d(s2 ^ ((uint64_t)(o & 4) << 61));
    *cs = dk_u2d(c2 ^ ((uint64_t)((o + 2) & 4) << 61));
}

/* Box-Muller on the block's two 64-bit words: lane 0 (cos) and lane 1 (sin). */
static inline double dk_normal_lane_f64(const uint32_t *x, int lane)
{
    double r = sqrt(-2.0 * dk_log_f64(dk_u01c_f64(dk_lane_u64(x, 0))));
    double s, c;
    dk_sincos2pi_f64(dk_u01_f64(dk_lane_u64(x, 1)), &s, &c);
    return lane ? r * s : r * c;
}

static inline int dk_accept_f64(double z) { return fabs(z) <= 2.0; }

static inline double dk_uniform_f64(const dk_params_t *p, uint64_t x)
{
    double v = p->da + p->dw * dk_u01_f64(x);
    return v < p->dhi ? v : p->dhi;
}

static inline double dk_affine_f64(const dk_params_t *p, double z) { return p->da + p->db * z; }

/* Bytes per element written by the float32 stream (float32, or a 16-bit format). */
static inline int dk_f32_esize(int out_type) { return out_type == DK_OUT_F32 ? 4 : 2; }

/* Elements per step of each float32 body: 16 Philox blocks of 4 (AVX-512), 8 (AVX2). */
#define DK_STEP_AVX512 64
#define DK_STEP_AVX2 32

/* Aligned bodies of the float32 stream: elements [b0, b1) written to ob[0 .. b1 - b0),
 * b0 and b1 multiples of the body's step (the dispatcher in sampling.c does the rest). */
#if DK_HAVE_AVX512
void dk_f32_body_avx512(const dk_params_t *p, int64_t b0, int64_t b1, void *ob);
void dk_f32_body_avx2(const dk_params_t *p, int64_t b0, int64_t b1, void *ob);
#endif

#endif
