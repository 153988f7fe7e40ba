/* Stateless samplers on Philox4x32-10 (see _random.pyx for the counter layout).
 *
 * Every path (portable C here, AVX-512 and AVX2 in their own files) evaluates the same float
 * operations in the same order, without FMA contraction (-ffp-contract=off), with our own
 * polynomial log and sincos: the bits of every element are the same on every CPU.
 */
#include <math.h>
#include <string.h>

#include "dk_cpu.h"
#include "philox.h"
#include "sampling.h"
#include "sampling_math.h"

/* The AVX-512 and AVX2 kernels live in sampling_avx512.c and sampling_avx2.c (functions
 * with target attributes, so the library still runs on any x86-64). */
#define DK_USE_AVX512 DK_HAVE_AVX512

/* ---------------------------------------------------------------- 16-bit conversions */

uint16_t dk_float_to_half(float f) { return dk_f32_to_f16(f); }
uint16_t dk_float_to_bfloat16(float f) { return dk_f32_to_bf16(f); }

/* ---------------------------------------------------------------- portable path */

void dk_store_f32(int out_type, void *out, int64_t j, float v)
{
    if (out_type == DK_OUT_F32)
        ((float *)out)[j] = v;
    else if (out_type == DK_OUT_F16)
        ((uint16_t *)out)[j] = dk_f32_to_f16(v);
    else
        ((uint16_t *)out)[j] = dk_f32_to_bf16(v);
}

/* The standard normal z of lane `lane` of a float32 block at `attempt` (truncated: retries). */
static float trunc_retry_f32(const dk_params_t *p, uint64_t blk, int lane)
{
    for (uint32_t attempt = 1;; attempt++) {
        dk_philox4x32_ctr_t x = dk_block(p, blk, attempt);
        float z = dk_normal_lane_f32(x.v, lane);
        if (dk_accept_f32(z))
            return z;
    }
}

void dk_run_f32_portable(const dk_params_t *p, int64_t i0, int64_t n, void *out)
{
    int64_t i = i0, end = i0 + n;
    while (i < end) {
        uint64_t blk = (uint64_t)i >> 2;
        int lane = (int)(i & 3);
        int64_t stop = ((int64_t)blk << 2) + 4;
        if (stop > end)
            stop = end;
        dk_philox4x32_ctr_t x = dk_block(p, blk, 0);
        float zb[4];
        if (p->kind != DK_UNIFORM)
            dk_normal_block_f32(x.v, zb);
        for (; i < stop; i++, lane++) {
            float v;
            if (p->kind == DK_UNIFORM) {
                v = dk_uniform_f32(p, x.v[lane]);
            } else {
                float z = zb[lane];
                if (p->kind == DK_TRUNCATED_NORMAL && !dk_accept_f32(z))
                    z = trunc_retry_f32(p, blk, lane);
                v = dk_affine_f32(p, z);
            }
            dk_store_f32(p->out_type, out, i - i0, v);
        }
    }
}

static double trunc_retry_f64(const dk_params_t *p, uint64_t blk, int lane)
{
    for (uint32_t attempt = 1;; attempt++) {
        dk_philox4x32_ctr_t x = dk_block(p, blk, attempt);
        double z = dk_normal_lane_f64(x.v, lane);
        if (dk_accept_f64(z))
            return z;
    }
}

/* float64 has one implementation on every CPU (its speed is not a target). */
static void run_f64(const dk_params_t *p, int64_t i0, int64_t n, double *out)
{
    int64_t i = i0, end = i0 + n;
    while (i < end) {
        uint64_t blk = (uint64_t)i >> 1;
        int lane = (int)(i & 1);
        int64_t stop = ((int64_t)blk << 1) + 2;
        if (stop > end)
            stop = end;
        dk_philox4x32_ctr_t x = dk_block(p, blk, 0);
        for (; i < stop; i++, lane++) {
            double v;
            if (p->kind == DK_UNIFORM) {
                v = dk_uniform_f64(p, dk_lane_u64(x.v, lane));
            } else {
                double z = dk_normal_lane_f64(x.v, lane);
                if (p->kind == DK_TRUNCATED_NORMAL && !dk_accept_f64(z))
                    z = trunc_retry_f64(p, blk, lane);
                v = dk_affine_f64(p, z);
            }
            out[i - i0] = v;
        }
    }
}

void dk_fill_run(int kind, int out_type, uint64_t seed, int64_t i0, int64_t n, void *out,
                 double a, double b, int simd_level)
{
    dk_params_t p;
    if (n <= 0)
        return;
    dk_params_init(&p, kind, out_type, seed, a, b);
    if (out_type == DK_OUT_F64) {
        run_f64(&p, i0, n, (double *)out);
        return;
    }
#if DK_USE_AVX512
    if (simd_level >= DK_SIMD_AVX512) {
        dk_run_f32_avx512(&p, i0, n, out);
        return;
    }
    if (simd_level >= DK_SIMD_AVX2) {
        dk_run_f32_avx2(&p, i0, n, out);
        return;
    }
#else
    (void)simd_level;
#endif
    dk_run_f32_portable(&p, i0, n, out);
}

int dk_sampling_level(int level)
{
#if DK_USE_AVX512
    if (level >= DK_SIMD_AVX512)
        return DK_SIMD_AVX512;
    if (level >= DK_SIMD_AVX2)
        return DK_SIMD_AVX2;
#endif
    (void)level;
    return DK_SIMD_BASELINE;
}

void dk_fill_constant_run(int out_type, int64_t n, void *out, double value)
{
    int64_t j;
    if (out_type == DK_OUT_F64) {
        double *o = (double *)out;
        for (j = 0; j < n; j++)
            o[j] = value;
    } else if (out_type == DK_OUT_F32) {
        float *o = (float *)out, v = (float)value;
        for (j = 0; j < n; j++)
            o[j] = v;
    } else {
        uint16_t *o = (uint16_t *)out;
        uint16_t v = out_type == DK_OUT_F16 ? dk_f32_to_f16((float)value) : dk_f32_to_bf16((float)value);
        for (j = 0; j < n; j++)
            o[j] = v;
    }
}
