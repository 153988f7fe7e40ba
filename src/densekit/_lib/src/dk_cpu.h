/* Runtime CPU feature detection, shared by every kernel that dispatches on SIMD width.
 * Levels: 0 = baseline x86-64 (SSE2) or non-x86, 2 = AVX2+FMA, 3 = AVX-512 (F, DQ, BW, VL). */
#ifndef DK_CPU_H
#define DK_CPU_H

#define DK_SIMD_BASELINE 0
#define DK_SIMD_AVX2 2
#define DK_SIMD_AVX512 3

static inline int dk_simd_level(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return DK_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return DK_SIMD_AVX2;
#endif
    return DK_SIMD_BASELINE;
}

static inline const char *dk_simd_name(int level)
{
    switch (level) {
    case DK_SIMD_AVX512: return "avx512";
    case DK_SIMD_AVX2: return "avx2";
    default: return "baseline";
    }
}

#endif
