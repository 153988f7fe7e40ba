/* The FMA product of dk_gemm.h: register tiles of DK_GEMM_MR rows by up to 64 (AVX-512) or
 * 16 (AVX2) columns accumulate over k blocks of DK_GEMM_KC; for more than a few rows each
 * k block of w is first packed into contiguous panels (in L2), so that the tiles stream it
 * instead of striding through w. Both instruction sets are dk_gemm_template.h, included
 * twice. The epilogue adds the bias and applies the activation to each finished block while
 * it is in L1: in vectors for the bias and a plain relu, else by dk_bias_activate_row_f32. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dk_activations.h"
#include "dk_gemm.h"
#include "dk_simd.h"

static void dk_gemm_epilogue(const dk_gemm_args *g, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t j0,
                             ptrdiff_t j1)
{
    if (g->bias == NULL && g->code == DK_ACT_LINEAR)
        return;
    for (ptrdiff_t i = r0; i < r1; i++)
        dk_bias_activate_row_f32(g->code, g->y + i * g->n + j0,
                                 g->bias != NULL ? g->bias + j0 : NULL, j1 - j0, g->p0, g->p1,
                                 g->p2);
}

#if DK_HAVE_AVX512
#include <immintrin.h>

/* Until *done > step: a pause per poll, and the CPU given up every 4096 polls (the stage
 * before may share this core). */
static void dk_gemm_wait(_Atomic ptrdiff_t *done, ptrdiff_t step)
{
    int polls = 0;
    while (atomic_load_explicit(done, memory_order_acquire) <= step) {
        _mm_pause();
        if (++polls == 4096) {
            sched_yield();
            polls = 0;
        }
    }
}

#define G_SFX avx512
#define G_TARGET "avx512f"
#define G_VL 16
#define G_NV 4
#define G_W1 16
#define G_W2 8
#define G_VEC __m512
#define G_MASK __mmask16
#define G_MASKN(n) ((__mmask16)(((uint32_t)1 << (n)) - 1))
#define G_ZERO _mm512_setzero_ps()
#define G_SET1(s) _mm512_set1_ps(s)
#define G_LOAD(p) _mm512_loadu_ps(p)
#define G_LOADM(m, p) _mm512_maskz_loadu_ps((m), (p))
#define G_STORE(p, v) _mm512_storeu_ps((p), (v))
#define G_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define G_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define G_ADD(a, b) _mm512_add_ps((a), (b))
#define G_RELU(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), _mm512_setzero_ps(), _CMP_NLE_UQ), (v))
#include "dk_gemm_template.h"
#undef G_SFX
#undef G_TARGET
#undef G_VL
#undef G_NV
#undef G_W1
#undef G_W2
#undef G_VEC
#undef G_MASK
#undef G_MASKN
#undef G_ZERO
#undef G_SET1
#undef G_LOAD
#undef G_LOADM
#undef G_STORE
#undef G_STOREM
#undef G_FMA
#undef G_ADD
#undef G_RELU

__attribute__((target("avx2"))) static inline __m256i dk_avx2_mask(ptrdiff_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define G_SFX avx2
#define G_TARGET "avx2,fma"
#define G_VL 8
#define G_NV 2
#define G_W1 8
#define G_W2 4
#define G_VEC __m256
#define G_MASK __m256i
#define G_MASKN(n) dk_avx2_mask(n)
#define G_ZERO _mm256_setzero_ps()
#define G_SET1(s) _mm256_set1_ps(s)
#define G_LOAD(p) _mm256_loadu_ps(p)
#define G_LOADM(m, p) _mm256_maskload_ps((p), (m))
#define G_STORE(p, v) _mm256_storeu_ps((p), (v))
#define G_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define G_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define G_ADD(a, b) _mm256_add_ps((a), (b))
#define G_RELU(v) _mm256_and_ps((v), _mm256_cmp_ps((v), _mm256_setzero_ps(), _CMP_NLE_UQ))
#include "dk_gemm_template.h"
#endif /* DK_HAVE_AVX512 */

int dk_gemm_level(void)
{
#if DK_HAVE_AVX512
    int level = dk_simd_level();
    if (level == DK_SIMD_AVX512 || level == DK_SIMD_AVX2)
        return level;
#endif
    return DK_SIMD_BASELINE;
}

/* One packing buffer per thread, allocated on first use and kept while the thread lives
 * (OpenMP's threads are pooled); freed when the thread exits, so that short-lived callers
 * (a Python thread per request, say) leak nothing. */
static pthread_key_t dk_gemm_pack_key;
static pthread_once_t dk_gemm_pack_once = PTHREAD_ONCE_INIT;
static int dk_gemm_pack_key_ok = 0;

static void dk_gemm_pack_key_init(void)
{
    dk_gemm_pack_key_ok = pthread_key_create(&dk_gemm_pack_key, free) == 0;
}

static float *dk_gemm_pack(void)
{
    void *p;
    pthread_once(&dk_gemm_pack_once, dk_gemm_pack_key_init);
    if (!dk_gemm_pack_key_ok)
        return NULL;
    p = pthread_getspecific(dk_gemm_pack_key);
    if (p == NULL) {
        if (posix_memalign(&p, 64, (size_t)DK_GEMM_KC * DK_GEMM_NC_WIDE * sizeof(float)) != 0)
            return NULL;
        if (pthread_setspecific(dk_gemm_pack_key, p) != 0) {
            free(p);
            return NULL;
        }
    }
    return p;
}

/* Columns of a packed panel at `level`. */
static ptrdiff_t dk_gemm_panel_width(int level)
{
    return level == DK_SIMD_AVX512 ? 64 : 16;
}

/* Panels of y's columns and register tiles of its rows: the units of a split. */
static ptrdiff_t dk_gemm_panels(int level, const dk_gemm_args *g)
{
    return (g->n + dk_gemm_panel_width(level) - 1) / dk_gemm_panel_width(level);
}

static ptrdiff_t dk_gemm_tiles(const dk_gemm_args *g)
{
    return (g->m + DK_GEMM_MR - 1) / DK_GEMM_MR;
}

int dk_gemm_tasks(int level, const dk_gemm_args *g, int n_threads)
{
    const ptrdiff_t panels = dk_gemm_panels(level, g), tiles = dk_gemm_tiles(g);
    if (n_threads <= 1)
        return 1;
    if (g->m <= DK_GEMM_DIRECT_ROWS)
        /* bound by reading w: one wide column block per thread streams it */
        return panels < n_threads ? (int)panels : n_threads;
    if (panels >= 2 * (ptrdiff_t)n_threads) {
        /* column blocks of DK_GEMM_TASK_NC columns or more, at least one per thread and up
         * to 4 (taken dynamically: a thread that shares its core takes fewer); each packs
         * only its own w, and reads all of x */
        ptrdiff_t t = g->n / DK_GEMM_TASK_NC;
        t = t < n_threads ? n_threads : t;
        return t > 4 * n_threads ? 4 * n_threads : (int)t;
    }
    /* few columns: one block of rows per thread (each packs all of a narrow w) */
    return tiles < n_threads ? (int)tiles : n_threads;
}

void dk_gemm_task_f32(int level, const dk_gemm_args *g, int task, int n_tasks)
{
    const ptrdiff_t m = g->m, n = g->n;
    /* The split dk_gemm_tasks chose: whole panels of columns, or whole register tiles of
     * rows. */
    const ptrdiff_t pw = dk_gemm_panel_width(level);
    const ptrdiff_t panels = dk_gemm_panels(level, g), tiles = dk_gemm_tiles(g);
    ptrdiff_t r0 = 0, r1 = m, j0 = 0, j1 = n;
    if (n_tasks > 1) {
        if (m <= DK_GEMM_DIRECT_ROWS || panels >= 2 * (ptrdiff_t)n_tasks) {
            j0 = panels * task / n_tasks * pw;
            j1 = panels * (task + 1) / n_tasks * pw;
            j1 = j1 < n ? j1 : n;
        } else {
            r0 = tiles * task / n_tasks * DK_GEMM_MR;
            r1 = tiles * (task + 1) / n_tasks * DK_GEMM_MR;
            r1 = r1 < m ? r1 : m;
        }
    }
    if (r0 >= r1 || j0 >= j1)
        return;
    if (g->k == 0) {
        /* An empty sum is 0. */
        for (ptrdiff_t i = r0; i < r1; i++)
            memset(g->y + i * n + j0, 0, (size_t)(j1 - j0) * sizeof(float));
        dk_gemm_epilogue(g, r0, r1, j0, j1);
        return;
    }
    float *pack = (r1 - r0 > DK_GEMM_DIRECT_ROWS && g->k * n > DK_GEMM_DIRECT_SIZE)
                      ? dk_gemm_pack() : NULL;
#if DK_HAVE_AVX512
    if (level == DK_SIMD_AVX512)
        tile_avx512(g, r0, r1, j0, j1, pack);
    else if (level == DK_SIMD_AVX2)
        tile_avx2(g, r0, r1, j0, j1, pack);
#else
    (void)level;
    (void)pack;
#endif
}

/* One counter per stage, each on its own cache line. */
struct dk_gemm_progress {
    _Alignas(64) _Atomic ptrdiff_t done;
};

dk_gemm_progress *dk_gemm_progress_new(int n_stages)
{
    void *p;
    if (n_stages < 1 || posix_memalign(&p, 64, (size_t)n_stages * sizeof(dk_gemm_progress)))
        return NULL;
    dk_gemm_progress *prog = p;
    for (int s = 0; s < n_stages; s++)
        atomic_init(&prog[s].done, 0);
    return prog;
}

void dk_gemm_progress_free(dk_gemm_progress *p)
{
    free(p);
}

/* glibc's sysconf, read once (it reads files under /sys): the L2 cache of one core in bytes
 * and the CPUs online, 0 where unknown. */
static ptrdiff_t dk_gemm_sysconf(int name)
{
    long v = sysconf(name);
    return v > 0 ? (ptrdiff_t)v : 0;
}

static ptrdiff_t dk_gemm_cached(_Atomic ptrdiff_t *slot, int name)
{
    ptrdiff_t v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v < 0) {
        v = dk_gemm_sysconf(name);
        atomic_store_explicit(slot, v, memory_order_relaxed);
    }
    return v;
}

static _Atomic ptrdiff_t dk_gemm_l2 = -1, dk_gemm_cpus = -1;

int dk_gemm_pipe_stages(int level, const dk_gemm_args *g, int n_threads)
{
    /* Measured with two threads on 2 MiB L2s (1 row, pipeline against column split):
     * 832^2 1.17x, 896^2 1.26x, 1000^2 1.65x, 1024^2 1.47x, 1100^2 1.36x, 1152^2 1.14x,
     * 1024x1280 1.08x, 2048x512 1.66x; 768^2 (0.56 of the two L2s) a tie, 640^2 0.82x,
     * 1280^2 (1.56) 0.95x, 2048^2 0.86x, 512x2048 (runs of 4 KiB) 0.87x. */
    if (level == DK_SIMD_BASELINE || n_threads < 2 || g->m != 1)
        return 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    const ptrdiff_t l2 = dk_gemm_cached(&dk_gemm_l2, _SC_LEVEL2_CACHE_SIZE);
#else
    const ptrdiff_t l2 = 0;
#endif
    const ptrdiff_t cpus = dk_gemm_cached(&dk_gemm_cpus, _SC_NPROCESSORS_ONLN);
    if (l2 == 0 || n_threads > cpus)
        return 0;
    const double bytes = (double)g->k * (double)g->n * sizeof(float);
    const double caches = (double)n_threads * (double)l2;
    if (bytes < 0.6 * caches || bytes > 1.3 * caches)
        return 0;
    if (g->n * (ptrdiff_t)sizeof(float) / n_threads >= 4096
        || g->k < (ptrdiff_t)n_threads * DK_GEMM_KC_DIRECT_CACHED)
        return 0;
    return n_threads;
}

void dk_gemm_pipe_stage_f32(int level, const dk_gemm_args *g, int stage, int n_stages,
                            dk_gemm_progress *p)
{
    const ptrdiff_t k0 = g->k * stage / n_stages, k1 = g->k * (stage + 1) / n_stages;
    _Atomic ptrdiff_t *wait_on = stage > 0 ? &p[stage - 1].done : NULL;
#if DK_HAVE_AVX512
    if (level == DK_SIMD_AVX512)
        pipe_stage_avx512(g, k0, k1, wait_on, &p[stage].done, stage == n_stages - 1);
    else if (level == DK_SIMD_AVX2)
        pipe_stage_avx2(g, k0, k1, wait_on, &p[stage].done, stage == n_stages - 1);
#else
    (void)level;
    (void)k0;
    (void)k1;
    (void)wait_on;
#endif
}

void dk_gemm_reference_f32(const dk_gemm_args *g)
{
    for (ptrdiff_t i = 0; i < g->m; i++) {
        for (ptrdiff_t j = 0; j < g->n; j++) {
            float acc = 0.0f;
            for (ptrdiff_t p = 0; p < g->k; p++)
                acc = fmaf(g->x[i * g->k + p], g->w[p * g->n + j], acc);
            g->y[i * g->n + j] = acc;
        }
    }
    dk_gemm_epilogue(g, 0, g->m, 0, g->n);
}
