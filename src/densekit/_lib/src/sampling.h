/* Stateless samplers on Philox4x32-10: element i of a stream is a pure function of
 * (seed, kind, precision, i). See the module docstring of _random.pyx for the layout. */
#ifndef DK_SAMPLING_H
#define DK_SAMPLING_H

#include <stdint.h>

/* The sampler kinds: the only table of these codes (densekit._lib._random exposes them to
 * Python as UNIFORM, NORMAL, TRUNCATED_NORMAL through _random.pxd). The kind is part of
 * the stream tag (counter word 3), so a value is never changed. */
enum dk_sampler_kind {
    DK_UNIFORM = 0,
    DK_NORMAL = 1,
    DK_TRUNCATED_NORMAL = 2,
};

/* Output element types. float16 and bfloat16 are the float32 stream rounded to nearest even. */
#define DK_OUT_F32 0
#define DK_OUT_F64 1
#define DK_OUT_F16 2
#define DK_OUT_BF16 3

/* Elements per work item of the parallel loops: a multiple of every SIMD step. */
#define DK_CHUNK 16384

/* out[j] = X(kind, seed, i0 + j) for j in [0, n). simd_level: a DK_SIMD_* level (dk_simd.h)
 * that the CPU supports. */
void dk_fill_run(int kind, int out_type, uint64_t seed, int64_t i0, int64_t n, void *out,
                 double a, double b, int simd_level);

/* The level the float32 samplers run at on a CPU of `level` (the widest implemented below it). */
int dk_sampling_level(int level);

/* out[j] = value (converted as the output type) for j in [0, n). */
void dk_fill_constant_run(int out_type, int64_t n, void *out, double value);

uint16_t dk_float_to_half(float f);
uint16_t dk_float_to_bfloat16(float f);

#endif
