/* The CPU query of dk_simd.h, compiled once for the whole library. */
#include "dk_simd.h"

int dk_simd_level(void)
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

const char *dk_simd_name(int level)
{
    switch (level) {
    case DK_SIMD_AVX512: return "avx512";
    case DK_SIMD_AVX2: return "avx2";
    default: return "baseline";
    }
}
