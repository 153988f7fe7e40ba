/* The float32 product of Dense on FMA CPUs (dk_gemm.c): y := act(x @ w + bias).
 *
 * Every output element is sum_p x[i,p] * w[p,j] accumulated from 0 in p order, each step one
 * fused multiply-add (rounded once), then the bias is added and the activation applied. So
 * the bits of a row do not depend on the batch it comes in, on the thread count or split,
 * or on the instruction set (AVX-512 or AVX2): BLAS gives none of these. */
#ifndef DK_GEMM_H
#define DK_GEMM_H

#include <stddef.h>

#define DK_GEMM_MR 6           /* rows per register tile */
#define DK_GEMM_KC 256         /* k block: a packed panel of w stays in L2 */
#define DK_GEMM_NC 256         /* columns per packed block of w when y's block is cached */
#define DK_GEMM_NC_WIDE 1024   /* ... and when it is not (many rows): x is read n / this times */
#define DK_GEMM_DIRECT_ROWS 6  /* at most this many rows: w is read in place, not packed */
#define DK_GEMM_DIRECT_SIZE 65536 /* w of at most this many values is read in place */
/* k blocks when w is read in place: 64 rows while w fits in cache, 32 when it streams from
 * memory (more rows at once are more concurrent streams than the prefetchers follow). Against
 * blocks of 8, 2-6 rows ran 1.3-3x faster with w of 1-4 MiB, 1.0-1.5x with 64 MiB. */
#define DK_GEMM_KC_DIRECT_CACHED 64
#define DK_GEMM_DIRECT_CACHED_SIZE (1 << 20) /* values of w (4 MiB) */
#define DK_GEMM_KC_DIRECT 32
/* One row over a task's columns of w of at least DK_GEMM_STREAM_MIN values (2 MiB, the L2 of
 * a server core: the task's w is read from L3 or memory): rows of w per pass, and columns of y
 * per pass (16 KiB, in L1). */
#define DK_GEMM_STREAM_MIN (1 << 19)
#define DK_GEMM_STREAM_KR 8
#define DK_GEMM_STREAM_NC 4096
#define DK_GEMM_Y_CACHED 65536 /* a y block of at most this many values stays in L2 */
/* Columns per task, at least, of a product split by columns: each task reads all of x, so
 * narrower blocks read it more often. Two threads, tasks of 128 columns against 512 (the
 * old and new split): 4096x1024x1024 25.1 against 22.7 ms, 1024^3 6.57 against 5.91,
 * 4096x2048x2048 99.9 against 93.5; unchanged from 4096 columns on (already 8 tasks of 512). */
#define DK_GEMM_TASK_NC 512
/* Columns of y per step of the k pipeline (dk_gemm_pipe_stage_f32). */
#define DK_GEMM_PIPE_NC 128

typedef struct {
    const float *x;    /* (m, k) row-major */
    const float *w;    /* (k, n) row-major */
    const float *bias; /* (n,) or NULL */
    float *y;          /* (m, n) row-major, not overlapping x, w or bias */
    ptrdiff_t m, k, n;
    int code;          /* an elementwise DK_ACT_* code (not softmax / log_softmax) */
    double p0, p1, p2;
} dk_gemm_args;

/* The instruction set of the product on this CPU: DK_SIMD_AVX512, DK_SIMD_AVX2, or
 * DK_SIMD_BASELINE when the CPU has no FMA (then callers use BLAS instead). */
int dk_gemm_level(void);

/* How many tasks the product should be split into for n_threads threads (1 for one). */
int dk_gemm_tasks(int level, const dk_gemm_args *g, int n_threads);

/* Part `task` of `n_tasks` of the product at `level` (a level this CPU supports, not
 * baseline): the parts are disjoint blocks of y, so tasks may run on different threads.
 * Uses a per-thread packing buffer of DK_GEMM_KC * DK_GEMM_NC_WIDE floats, allocated on first
 * use and freed when the thread exits (if it cannot be had, w is read in place: slower, same
 * bits). */
void dk_gemm_task_f32(int level, const dk_gemm_args *g, int task, int n_tasks);

/* One row over a w that the cores' L2 caches can hold between them, on n_threads >= 2 threads:
 * a k pipeline. Split by columns (dk_gemm_task_f32), each thread reads part of every row of w,
 * and those parts do not stay in its L2 from one call to the next (1x1024x1024 on two threads:
 * 72 us, while reading the same 4 MiB as two contiguous halves takes 31-36 us). So stage s of
 * n_stages takes the contiguous rows k*s/n_stages .. k*(s+1)/n_stages of w, and the stages pass
 * y along in steps of DK_GEMM_PIPE_NC columns: stage s continues the sums of a step after
 * stage s-1 has stored them. Every value is still the one FMA chain over p = 0..k-1 (a running
 * sum stored as float32 and reloaded changes nothing), so the bits are the other paths'.
 *
 * dk_gemm_pipe_stages gives the number of stages to use (n_threads), or 0 where this path does
 * not pay: more than one row, one thread, more threads than CPUs, a w outside 0.6-1.3 times
 * the L2 caches of n_threads cores, or column parts of 4 KiB or more per row. The stages run
 * with a progress array from dk_gemm_progress_new (zeroed; NULL if it cannot be had); each
 * stage waits only for the one before it, so they complete in any schedule that hands them
 * out in order (a team with fewer threads than stages runs them one after the other). */
typedef struct dk_gemm_progress dk_gemm_progress;
int dk_gemm_pipe_stages(int level, const dk_gemm_args *g, int n_threads);
dk_gemm_progress *dk_gemm_progress_new(int n_stages);
void dk_gemm_progress_free(dk_gemm_progress *p);
void dk_gemm_pipe_stage_f32(int level, const dk_gemm_args *g, int stage, int n_stages,
                            dk_gemm_progress *p);

/* The same values by scalar fmaf (libm), one element at a time: the reference of the tests. */
void dk_gemm_reference_f32(const dk_gemm_args *g);

#endif
