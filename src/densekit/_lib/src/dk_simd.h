/* SIMD levels of densekit._lib: the one clone macro and the one CPU query of the library.
 *
 * Levels: 0 = baseline x86-64 (SSE2) or non-x86, 2 = AVX2+FMA, 3 = AVX-512 (F, DQ, BW, VL).
 * Kernels written as plain C loops are built once per level with DK_CLONES (GCC
 * target_clones, glibc ifunc picks the copy at load time, so wheels stay portable); the
 * hand-written samplers (sampling_avx512.c, sampling_avx2.c) are chosen from
 * dk_simd_level() by sampling.c. Every kernel is compiled with -ffp-contract=off, so all
 * copies round identically: results do not depend on the CPU.
 */
#ifndef DK_SIMD_H
#define DK_SIMD_H

#define DK_SIMD_BASELINE 0
#define DK_SIMD_AVX2 2
#define DK_SIMD_AVX512 3

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define DK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DK_CLONES
#endif

/* The compiler builds functions with x86 target attributes (the AVX-512 / AVX2 samplers). */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__) && \
    (__GNUC__ >= 9)
#define DK_HAVE_AVX512 1
#else
#define DK_HAVE_AVX512 0
#endif

/* The widest DK_SIMD_* level this CPU supports (__builtin_cpu_supports). */
int dk_simd_level(void);

/* "avx512", "avx2" or "baseline". */
const char *dk_simd_name(int level);

#endif
