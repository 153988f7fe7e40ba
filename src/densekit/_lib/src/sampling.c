/* Stateless samplers on Philox4x32-10 (see _random.pyx for the counter layout).
 *
 * Every path (portable C here, AVX-512 and AVX2 in their own files) evaluates the same float
 * operations in the same order, without FMA contraction (-ffp-contract=off), with our own
 * polynomial log and sincos: the bits of every element are the same on every CPU.
 *
 * This file is the dispatcher: it splits a run into head, aligned body and tail, writes the
 * head and the tail element by element, and hands the body to the portable batches here or
 * to the AVX-512 / AVX2 bodies (sampling_avx512.c, sampling_avx2.c: functions with target
 * attributes, so the library still runs on any x86-64). Those call nothing back.
 */
#include <math.h>
#include <string.h>

#include "dk_simd.h"
#include "philox.h"
#include "sampling.h"
#include "sampling_internal.h"

/* ---------------------------------------------------------------- 16-bit conversions */

uint16_t dk_float_to_half(float f) { return dk_f32_to_f16(f); }
uint16_t dk_float_to_bfloat16(float f) { return dk_f32_to_bf16(f); }

/* ---------------------------------------------------------------- portable path */

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

/* One element at a time: heads and tails of runs that do not fill a batch. */
static void run_f32_elementwise(const dk_params_t *p, int64_t i0, int64_t n, void *out)
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

/* Batches of DK_PB blocks written as plain loops over arrays, which compilers vectorize for
 * any target (SSE2, NEON, ...) without changing a bit: IEEE operations, same order. */
#define DK_PB 16

static inline void philox_batch(const dk_params_t *p, uint64_t blk0, uint32_t x[4][DK_PB])
{
    const uint32_t key0 = p->key.v[0], key1 = p->key.v[1], tag = p->tag;
    for (int j = 0; j < DK_PB; j++) {
        uint64_t b = blk0 + (uint64_t)j;
        uint32_t c0 = (uint32_t)b, c1 = (uint32_t)(b >> 32), c2 = 0, c3 = tag;
        uint32_t k0 = key0, k1 = key1;
#pragma GCC unroll 10
        for (int r = 0; r < DK_PHILOX_ROUNDS; r++) {
            uint64_t p0 = (uint64_t)DK_PHILOX_M0 * c0;
            uint64_t p1 = (uint64_t)DK_PHILOX_M1 * c2;
            c0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            c2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c1 = (uint32_t)p1;
            c3 = (uint32_t)p0;
            k0 += DK_PHILOX_W0;
            k1 += DK_PHILOX_W1;
        }
        x[0][j] = c0;
        x[1][j] = c1;
        x[2][j] = c2;
        x[3][j] = c3;
    }
}

/* 4 * DK_PB values of the float32 stream from block blk0, attempt 0, in stream order. */
static void values_batch(const dk_params_t *p, uint64_t blk0, float v[4 * DK_PB])
{
    uint32_t x[4][DK_PB];
    philox_batch(p, blk0, x);
    if (p->kind == DK_UNIFORM) {
        for (int j = 0; j < DK_PB; j++)
            for (int l = 0; l < 4; l++)
                v[4 * j + l] = dk_uniform_f32(p, x[l][j]);
        return;
    }
    float r[2][DK_PB], s[2][DK_PB], c[2][DK_PB];
    for (int q = 0; q < 2; q++) {
        for (int j = 0; j < DK_PB; j++)
            r[q][j] = sqrtf(-2.0f * dk_log_f32(dk_u01c_f32(x[2 * q][j])));
        for (int j = 0; j < DK_PB; j++)
            dk_sincos2pi_f32(dk_u01_f32(x[2 * q + 1][j]), &s[q][j], &c[q][j]);
    }
    for (int j = 0; j < DK_PB; j++) {
        v[4 * j] = r[0][j] * c[0][j];
        v[4 * j + 1] = r[0][j] * s[0][j];
        v[4 * j + 2] = r[1][j] * c[1][j];
        v[4 * j + 3] = r[1][j] * s[1][j];
    }
}

/* The portable float32 body: elements [b0, b1) (multiples of 4 * DK_PB) into ob. */
static void f32_body_portable(const dk_params_t *p, int64_t b0, int64_t b1, void *ob)
{
    const int64_t step = 4 * DK_PB;
    int esize = dk_f32_esize(p->out_type);
    float v[4 * DK_PB];
    for (int64_t i = b0; i < b1; i += step) {
        values_batch(p, (uint64_t)i >> 2, v);
        if (p->kind == DK_TRUNCATED_NORMAL) {
            for (int k = 0; k < step; k++)
                if (!dk_accept_f32(v[k]))
                    v[k] = trunc_retry_f32(p, ((uint64_t)i + (uint64_t)k) >> 2, k & 3);
        }
        if (p->kind != DK_UNIFORM) {
            for (int k = 0; k < step; k++)
                v[k] = dk_affine_f32(p, v[k]);
        }
        void *o = (char *)ob + (i - b0) * esize;
        if (p->out_type == DK_OUT_F32) {
            memcpy(o, v, sizeof(v));
        } else if (p->out_type == DK_OUT_F16) {
            for (int k = 0; k < step; k++)
                ((uint16_t *)o)[k] = dk_f32_to_f16(v[k]);
        } else {
            for (int k = 0; k < step; k++)
                ((uint16_t *)o)[k] = dk_f32_to_bf16(v[k]);
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

/* float64: one algorithm on every CPU, written as batch loops that the compiler vectorizes;
 * the clones only change the vector width, never a result (IEEE ops, no contraction). */

static void run_f64_elementwise(const dk_params_t *p, int64_t i0, int64_t n, double *out)
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

/* Elements [b0, b1) (multiples of 2 * DK_PB) into ob[0 .. b1 - b0). */
DK_CLONES static void run_f64_batches(const dk_params_t *p, int64_t b0, int64_t b1, double *ob)
{
    uint32_t x[4][DK_PB];
    double v[2 * DK_PB];
    for (int64_t i = b0; i < b1; i += 2 * DK_PB) {
        philox_batch(p, (uint64_t)i >> 1, x);
        if (p->kind == DK_UNIFORM) {
            for (int j = 0; j < DK_PB; j++) {
                v[2 * j] = dk_uniform_f64(p, (uint64_t)x[0][j] | ((uint64_t)x[1][j] << 32));
                v[2 * j + 1] = dk_uniform_f64(p, (uint64_t)x[2][j] | ((uint64_t)x[3][j] << 32));
            }
        } else {
            double r[DK_PB], s[DK_PB], c[DK_PB];
            for (int j = 0; j < DK_PB; j++)
                r[j] = sqrt(-2.0 * dk_log_f64(dk_u01c_f64((uint64_t)x[0][j] | ((uint64_t)x[1][j] << 32))));
            for (int j = 0; j < DK_PB; j++)
                dk_sincos2pi_f64(dk_u01_f64((uint64_t)x[2][j] | ((uint64_t)x[3][j] << 32)), &s[j], &c[j]);
            for (int j = 0; j < DK_PB; j++) {
                v[2 * j] = r[j] * c[j];
                v[2 * j + 1] = r[j] * s[j];
            }
            if (p->kind == DK_TRUNCATED_NORMAL) {
                for (int k = 0; k < 2 * DK_PB; k++)
                    if (!dk_accept_f64(v[k]))
                        v[k] = trunc_retry_f64(p, ((uint64_t)i + (uint64_t)k) >> 1, k & 1);
            }
            for (int k = 0; k < 2 * DK_PB; k++)
                v[k] = dk_affine_f64(p, v[k]);
        }
        memcpy(ob + (i - b0), v, sizeof(v));
    }
}

static void run_f64(const dk_params_t *p, int64_t i0, int64_t n, double *out)
{
    const int64_t step = 2 * DK_PB;
    int64_t end = i0 + n;
    int64_t b0 = (i0 + step - 1) / step * step, b1 = end / step * step;
    if (b1 <= b0) {
        run_f64_elementwise(p, i0, n, out);
        return;
    }
    if (b0 > i0)
        run_f64_elementwise(p, i0, b0 - i0, out);
    if (end > b1)
        run_f64_elementwise(p, b1, end - b1, out + (b1 - i0));
    run_f64_batches(p, b0, b1, out + (b0 - i0));
}

typedef void (*dk_f32_body_t)(const dk_params_t *p, int64_t b0, int64_t b1, void *ob);

/* The float32 stream: the body of the level's path over the aligned middle [b0, b1), the
 * head and the tail element by element (the same bits whichever path writes an element). */
static void run_f32(const dk_params_t *p, int64_t i0, int64_t n, void *out, int level)
{
    dk_f32_body_t body = f32_body_portable;
    int64_t step = 4 * DK_PB;
#if DK_HAVE_AVX512
    if (level >= DK_SIMD_AVX512) {
        body = dk_f32_body_avx512;
        step = DK_STEP_AVX512;
    } else if (level >= DK_SIMD_AVX2) {
        body = dk_f32_body_avx2;
        step = DK_STEP_AVX2;
    }
#else
    (void)level;
#endif
    int64_t end = i0 + n;
    int64_t b0 = (i0 + step - 1) / step * step, b1 = end / step * step;
    int esize = dk_f32_esize(p->out_type);
    if (b1 <= b0) {
        run_f32_elementwise(p, i0, n, out);
        return;
    }
    if (b0 > i0)
        run_f32_elementwise(p, i0, b0 - i0, out);
    if (end > b1)
        run_f32_elementwise(p, b1, end - b1, (char *)out + (b1 - i0) * esize);
    body(p, b0, b1, (char *)out + (b0 - i0) * esize);
}

void dk_fill_run(int kind, int out_type, uint64_t seed, int64_t i0, int64_t n, void *out,
                 double a, double b, int simd_level)
{
    dk_params_t p;
    if (n <= 0)
        return;
    dk_params_init(&p, kind, out_type, seed, a, b);
    if (out_type == DK_OUT_F64)
        run_f64(&p, i0, n, (double *)out);
    else
        run_f32(&p, i0, n, out, simd_level);
}

int dk_sampling_level(int level)
{
#if DK_HAVE_AVX512
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
