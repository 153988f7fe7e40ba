/* One SIMD copy of the FMA product of dk_gemm.c, included once per instruction set.
 *
 * The includer defines:
 *   G_SFX              name suffix (avx512, avx2)
 *   G_TARGET           the gcc target attribute string
 *   G_VL               lanes per vector (16, 8)
 *   G_NV               vectors per packed panel (4 -> 64 columns, 2 -> 16 columns)
 *   G_W1, G_W2         vectors of the wide one-row and two-row kernels (more than G_NV)
 *   G_VEC, G_MASK      the vector and lane-mask types
 *   G_MASKN(n)         a mask of the first n lanes (1 <= n <= G_VL)
 *   G_ZERO, G_SET1(s), G_LOAD(p), G_LOADM(m, p), G_STORE(p, v), G_STOREM(p, m, v),
 *   G_FMA(a, b, c)     a * b + c rounded once
 *   G_ADD(a, b)        a + b
 *   G_RELU(v)          v <= 0 ? +0 : v per lane (NaN kept), as dk_act_template.h's relu
 *
 * Every output element is fma(x[i,p], w[p,j], acc) for p = 0, 1, ..., k-1 from acc = 0:
 * the k blocks store the running sum as float32 and reload it, which changes nothing, so
 * neither the tiling, the row or column split, the vector width nor the thread changes a
 * bit. Then the epilogue (bias, then the elementwise activation) runs on each finished
 * block while it is in L1.
 */

#define G_CAT2(a, b) a##_##b
#define G_CAT(a, b) G_CAT2(a, b)
#define G_(name) G_CAT(name, G_SFX)
#define G_PW (G_VL * G_NV) /* packed panel width in columns */

/* Keep a loaded vector of b in a register: without this gcc folds the load into each row's
 * FMA as a memory operand, so a tile of mr rows loads every b vector mr times and its k loop
 * is bound by the load ports instead of the FMA units. An empty asm changes no value. */
#define G_IN_REGISTER(v) __asm__("" : "+v"(v))

/* The k loop of a register tile: vector v of b's row p is LOADB (a full load, or the masked
 * load of a column tail: the full-width loop has no mask at all). */
#define G_KLOOP(MR, NV, LOADB)                                                               \
    for (ptrdiff_t p = 0; p < kc; p++) {                                                     \
        const float *bp = b + p * ldb;                                                       \
        G_VEC bv[NV];                                                                        \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                              \
            bv[v] = LOADB;                                                                   \
            G_IN_REGISTER(bv[v]);                                                            \
        }                                                                                    \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                              \
            G_VEC a = G_SET1(x[i * ldx + p]);                                                \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                            \
                acc[i][v] = G_FMA(a, bv[v], acc[i][v]);                                      \
        }                                                                                    \
    }

/* c[MR rows x NV vectors] := (accum ? c : 0) + x[MR x kc] @ b[kc x NV*VL]; the last vector
 * holds `tail` columns (1..VL). Rows of x, b and c are ldx, ldb, ldc floats apart. */
#define G_UK(MR, NV)                                                                         \
    static __attribute__((target(G_TARGET), noinline)) void G_CAT(G_(uk), MR##_##NV)(        \
        ptrdiff_t kc, const float *x, ptrdiff_t ldx, const float *b, ptrdiff_t ldb,          \
        float *c, ptrdiff_t ldc, int accum, int tail)                                        \
    {                                                                                        \
        G_VEC acc[MR][NV];                                                                   \
        G_MASK mt = G_MASKN(tail);                                                           \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                            \
                acc[i][v] = !accum ? G_ZERO                                                  \
                          : v == NV - 1 ? G_LOADM(mt, c + i * ldc + G_VL * v)                \
                                        : G_LOAD(c + i * ldc + G_VL * v);                    \
        if (tail == G_VL)                                                                    \
            G_KLOOP(MR, NV, G_LOAD(bp + G_VL * v))                                           \
        else                                                                                 \
            G_KLOOP(MR, NV, v == NV - 1 ? G_LOADM(mt, bp + G_VL * v) : G_LOAD(bp + G_VL * v)) \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                          \
                if (v == NV - 1)                                                             \
                    G_STOREM(c + i * ldc + G_VL * v, mt, acc[i][v]);                         \
                else                                                                         \
                    G_STORE(c + i * ldc + G_VL * v, acc[i][v]);                              \
            }                                                                                \
    }

typedef void (*G_(ukf))(ptrdiff_t, const float *, ptrdiff_t, const float *, ptrdiff_t, float *,
                        ptrdiff_t, int, int);

#if G_NV == 4
#define G_UKS_ROW(MR) G_UK(MR, 1) G_UK(MR, 2) G_UK(MR, 3) G_UK(MR, 4)
#define G_UKS_PTRS(MR)                                                                      \
    {0, G_CAT(G_(uk), MR##_1), G_CAT(G_(uk), MR##_2), G_CAT(G_(uk), MR##_3),                 \
     G_CAT(G_(uk), MR##_4)}
#else
#define G_UKS_ROW(MR) G_UK(MR, 1) G_UK(MR, 2)
#define G_UKS_PTRS(MR) {0, G_CAT(G_(uk), MR##_1), G_CAT(G_(uk), MR##_2), 0, 0}
#endif

G_UKS_ROW(1)
G_UKS_ROW(2)
G_UKS_ROW(3)
G_UKS_ROW(4)
G_UKS_ROW(5)
G_UKS_ROW(6)
/* Wide kernels for one and two rows read straight from w (more accumulators in flight). */
#define G_UK_X(MR, NV) G_UK(MR, NV)
G_UK_X(1, G_W1)
G_UK_X(2, G_W2)
#undef G_UK_X

#define G_UKNAME(MR, NV) G_CAT(G_(uk), MR##_##NV)
#define G_UKNAME_X(MR, NV) G_UKNAME(MR, NV)
static const G_(ukf) G_(wide1) = G_UKNAME_X(1, G_W1);
static const G_(ukf) G_(wide2) = G_UKNAME_X(2, G_W2);
#undef G_UKNAME_X
#undef G_UKNAME

static const G_(ukf) G_(uks)[DK_GEMM_MR + 1][5] = {
    {0}, G_UKS_PTRS(1), G_UKS_PTRS(2), G_UKS_PTRS(3), G_UKS_PTRS(4), G_UKS_PTRS(5),
    G_UKS_PTRS(6)};

/* mr rows x ncols columns of one k block, b's rows ldb apart, panels of G_PW columns. */
__attribute__((target(G_TARGET))) static void G_(strip)(ptrdiff_t mr, ptrdiff_t kc,
                                                        const float *x, ptrdiff_t ldx,
                                                        const float *b, ptrdiff_t ldb,
                                                        float *c, ptrdiff_t ldc,
                                                        ptrdiff_t ncols, int accum, int wide)
{
    ptrdiff_t j = 0;
    if (wide && mr == 1)
        for (; j + G_W1 * G_VL <= ncols; j += G_W1 * G_VL)
            G_(wide1)(kc, x, ldx, b + j, ldb, c + j, ldc, accum, G_VL);
    if (wide && mr == 2)
        for (; j + G_W2 * G_VL <= ncols; j += G_W2 * G_VL)
            G_(wide2)(kc, x, ldx, b + j, ldb, c + j, ldc, accum, G_VL);
    for (; j < ncols; j += G_PW) {
        ptrdiff_t nr = ncols - j < G_PW ? ncols - j : G_PW;
        int nv = (int)((nr + G_VL - 1) / G_VL);
        G_(uks)[mr][nv](kc, x, ldx, b + j, ldb, c + j, ldc, accum, (int)(nr - G_VL * (nv - 1)));
    }
}

/* The epilogue of a finished block y[r0:r1, j0:j1]: the bias, then the activation. No bias
 * and the identity, or the bias and/or a plain relu (the layer default: no slope, cap or
 * threshold), run here in vectors; any other code takes dk_bias_activate_row_f32 row by row.
 * The bits are the same either way (one rounded add, then x <= 0 ? 0 : x); the row call
 * costs its dispatch per row, which was a quarter of a 4096x64x64 Dense with relu (two
 * threads: 0.22 ms against 0.16 ms linear). */
__attribute__((target(G_TARGET))) static void G_(epilogue)(const dk_gemm_args *g, ptrdiff_t r0,
                                                           ptrdiff_t r1, ptrdiff_t j0,
                                                           ptrdiff_t j1)
{
    const int relu = g->code == DK_ACT_RELU && g->p0 == 0.0 && g->p1 != g->p1 && g->p2 == 0.0;
    if (g->code != DK_ACT_LINEAR && !relu) {
        dk_gemm_epilogue(g, r0, r1, j0, j1);
        return;
    }
    if (g->bias == NULL && !relu)
        return;
    const float *b = g->bias != NULL ? g->bias + j0 : NULL;
    const ptrdiff_t nc = j1 - j0, full = nc / G_VL * G_VL;
    const G_MASK mt = G_MASKN(nc > full ? (int)(nc - full) : G_VL);
    for (ptrdiff_t i = r0; i < r1; i++) {
        float *y = g->y + i * g->n + j0;
        ptrdiff_t j = 0;
        for (; j < full; j += G_VL) {
            G_VEC v = G_LOAD(y + j);
            if (b != NULL)
                v = G_ADD(v, G_LOAD(b + j));
            if (relu)
                v = G_RELU(v);
            G_STORE(y + j, v);
        }
        if (j < nc) {
            G_VEC v = G_LOADM(mt, y + j);
            if (b != NULL)
                v = G_ADD(v, G_LOADM(mt, b + j));
            if (relu)
                v = G_RELU(v);
            G_STOREM(y + j, mt, v);
        }
    }
}

/* y[ir:ir+mr, j0:j1] := (p0 > 0 ? y : 0) + x[ir:ir+mr, p0:p1] @ w[p0:p1, j0:j1] with w read in
 * place, in k blocks of kb rows (the y tile is stored and reloaded once per block). */
static inline __attribute__((always_inline, target(G_TARGET))) void
G_(in_place)(const dk_gemm_args *g, ptrdiff_t ir, ptrdiff_t mr, ptrdiff_t p0, ptrdiff_t p1,
             ptrdiff_t kb, ptrdiff_t j0, ptrdiff_t j1)
{
    const ptrdiff_t k = g->k, n = g->n;
    for (ptrdiff_t pc = p0; pc < p1; pc += kb) {
        const ptrdiff_t kc = p1 - pc < kb ? p1 - pc : kb;
        G_(strip)(mr, kc, g->x + ir * k + pc, k, g->w + pc * n + j0, n, g->y + ir * n + j0, n,
                  j1 - j0, pc > 0, 1);
    }
}

/* y[0:nc] := (accum ? y : 0) + x[0:NQ] @ w[0:NQ, 0:nc], w's rows ldw apart: one pass of
 * stream1 (NQ is a constant where it is inlined; the last, partial vector is masked). */
static inline __attribute__((always_inline, target(G_TARGET))) void
G_(stream_pass)(const int NQ, const float *x, const float *w, ptrdiff_t ldw, float *y,
                ptrdiff_t full, ptrdiff_t nc, G_MASK mt, int accum)
{
    G_VEC a[DK_GEMM_STREAM_KR];
    _Pragma("GCC unroll 16") for (int q = 0; q < NQ; q++)
        a[q] = G_SET1(x[q]);
    for (ptrdiff_t j = 0; j < full; j += G_VL) {
        G_VEC acc = accum ? G_LOAD(y + j) : G_ZERO;
        _Pragma("GCC unroll 16") for (int q = 0; q < NQ; q++)
            acc = G_FMA(a[q], G_LOAD(w + q * ldw + j), acc);
        G_STORE(y + j, acc);
    }
    if (full < nc) {
        G_VEC acc = accum ? G_LOADM(mt, y + full) : G_ZERO;
        _Pragma("GCC unroll 16") for (int q = 0; q < NQ; q++)
            acc = G_FMA(a[q], G_LOADM(mt, w + q * ldw + full), acc);
        G_STOREM(y + full, mt, acc);
    }
}

/* One row of y over a w read from L3 or memory: w streams in memory order, DK_GEMM_STREAM_KR
 * rows per pass over DK_GEMM_STREAM_NC columns of y, which stay in L1 between passes. Each row
 * of w is then read in runs of up to 16 KiB, which the hardware prefetchers follow: the 1 KiB
 * runs of the register tile (256 columns) made one row 1.2x slower at w of 256 MiB, and as
 * much behind a BLAS GEMV; 1x1024x1024 on two threads (2 MiB of w each) 1.08x faster, and
 * 1x512x1024 on one 1.07x. Where the task's w fits in L2 the tiles are faster (two threads
 * with 1 MiB each: 0.96x; 0.8 MiB: 0.9x; 0.5 MiB: 0.72x), hence DK_GEMM_STREAM_MIN. (For 2-6 rows
 * this order won 1.0-1.13x at 256 MiB but lost 0.66-0.9x where w sits in L3: there the
 * register tiles, y in registers, are faster.) Every y value is the same FMA chain over
 * p = 0..k-1, so the bits are the tiles'. */
__attribute__((target(G_TARGET))) static void G_(stream1)(const dk_gemm_args *g, ptrdiff_t r0,
                                                          ptrdiff_t j0, ptrdiff_t j1)
{
    const ptrdiff_t k = g->k, n = g->n;
    const float *x = g->x + r0 * k;
    for (ptrdiff_t c = j0; c < j1; c += DK_GEMM_STREAM_NC) {
        const ptrdiff_t nc = j1 - c < DK_GEMM_STREAM_NC ? j1 - c : DK_GEMM_STREAM_NC;
        const ptrdiff_t full = nc / G_VL * G_VL;
        const G_MASK mt = G_MASKN(nc > full ? (int)(nc - full) : G_VL);
        float *y = g->y + r0 * n + c;
        ptrdiff_t p = 0;
        for (; p + DK_GEMM_STREAM_KR <= k; p += DK_GEMM_STREAM_KR)
            G_(stream_pass)(DK_GEMM_STREAM_KR, x + p, g->w + p * n + c, n, y, full, nc, mt,
                            p > 0);
        for (; p < k; p++)
            G_(stream_pass)(1, x + p, g->w + p * n + c, n, y, full, nc, mt, p > 0);
        G_(epilogue)(g, r0, r0 + 1, c, c + nc);
    }
}

/* Stage of the k pipeline of dk_gemm.h (one row): rows k0..k1 of w over every column, in
 * steps of DK_GEMM_PIPE_NC columns; each step after stage s-1 has published it (`wait_on`,
 * NULL for the first stage), then published in `publish`; the last stage applies the
 * epilogue. */
__attribute__((target(G_TARGET))) static void G_(pipe_stage)(const dk_gemm_args *g,
                                                             ptrdiff_t k0, ptrdiff_t k1,
                                                             _Atomic ptrdiff_t *wait_on,
                                                             _Atomic ptrdiff_t *publish,
                                                             int last)
{
    const ptrdiff_t n = g->n;
    ptrdiff_t step = 0;
    for (ptrdiff_t c = 0; c < n; c += DK_GEMM_PIPE_NC, step++) {
        const ptrdiff_t nc = n - c < DK_GEMM_PIPE_NC ? n - c : DK_GEMM_PIPE_NC;
        if (wait_on != NULL)
            dk_gemm_wait(wait_on, step);
        G_(in_place)(g, 0, 1, k0, k1, DK_GEMM_KC_DIRECT_CACHED, c, c + nc);
        if (last)
            G_(epilogue)(g, 0, 1, c, c + nc);
        atomic_store_explicit(publish, step + 1, memory_order_release);
    }
}

/* Pack w[pc:pc+kc, jc:jc+nc] into panels of G_PW columns (kc rows of G_PW floats each, zero
 * padded), then run every register tile of rows r0..r1 over it; the epilogue after the
 * last k block. */
__attribute__((target(G_TARGET))) static void G_(block)(const dk_gemm_args *g, ptrdiff_t r0,
                                                        ptrdiff_t r1, ptrdiff_t jc,
                                                        ptrdiff_t nc, ptrdiff_t pc,
                                                        ptrdiff_t kc, float *pack)
{
    const ptrdiff_t k = g->k, n = g->n;
    for (ptrdiff_t jr = 0; jr < nc; jr += G_PW) {
        ptrdiff_t nr = nc - jr < G_PW ? nc - jr : G_PW;
        float *dst = pack + jr * kc;
        const float *src = g->w + pc * n + jc + jr;
        for (ptrdiff_t p = 0; p < kc; p++) {
            for (int v = 0; v < G_NV; v++) {
                ptrdiff_t left = nr - G_VL * v;
                G_VEC val = left >= G_VL ? G_LOAD(src + p * n + G_VL * v)
                          : left > 0     ? G_LOADM(G_MASKN(left), src + p * n + G_VL * v)
                                         : G_ZERO;
                G_STORE(dst + p * G_PW + G_VL * v, val);
            }
        }
    }
    for (ptrdiff_t ir = r0; ir < r1; ir += DK_GEMM_MR) {
        ptrdiff_t mr = r1 - ir < DK_GEMM_MR ? r1 - ir : DK_GEMM_MR;
        for (ptrdiff_t jr = 0; jr < nc; jr += G_PW) {
            ptrdiff_t nr = nc - jr < G_PW ? nc - jr : G_PW;
            int nv = (int)((nr + G_VL - 1) / G_VL);
            G_(uks)[mr][nv](kc, g->x + ir * k + pc, k, pack + jr * kc, G_PW,
                            g->y + ir * n + jc + jr, n, pc > 0, (int)(nr - G_VL * (nv - 1)));
        }
        if (pc + kc >= k)
            G_(epilogue)(g, ir, ir + mr, jc, jc + nc);
    }
}

/* y[r0:r1, j0:j1] := epilogue(x[r0:r1, :] @ w[:, j0:j1]); pack is DK_GEMM_KC * DK_GEMM_NC_WIDE
 * floats or NULL (then w is read in place). k > 0. */
__attribute__((target(G_TARGET))) static void G_(tile)(const dk_gemm_args *g, ptrdiff_t r0,
                                                       ptrdiff_t r1, ptrdiff_t j0,
                                                       ptrdiff_t j1, float *pack)
{
    const ptrdiff_t k = g->k, n = g->n;
    if (pack == NULL && r1 - r0 == 1 && k * (j1 - j0) >= DK_GEMM_STREAM_MIN) {
        G_(stream1)(g, r0, j0, j1);
        return;
    }
    if (pack == NULL) {
        /* w read in place: a small w sits in cache (k blocks of DK_GEMM_KC); a few rows use
         * each w value once, so a larger w streams through in memory order, in k blocks of
         * whole rows (the y tile is stored and reloaded once per block). */
        const ptrdiff_t kb = k * n <= DK_GEMM_DIRECT_SIZE          ? DK_GEMM_KC
                           : k * n <= DK_GEMM_DIRECT_CACHED_SIZE ? DK_GEMM_KC_DIRECT_CACHED
                                                                  : DK_GEMM_KC_DIRECT;
        for (ptrdiff_t ir = r0; ir < r1; ir += DK_GEMM_MR) {
            ptrdiff_t mr = r1 - ir < DK_GEMM_MR ? r1 - ir : DK_GEMM_MR;
            G_(in_place)(g, ir, mr, 0, k, kb, j0, j1);
            G_(epilogue)(g, ir, ir + mr, j0, j1);
        }
        return;
    }
    if ((r1 - r0) * (j1 - j0) <= DK_GEMM_Y_CACHED) {
        /* y's block stays in cache across k blocks: take w in k blocks of whole rows. */
        for (ptrdiff_t pc = 0; pc < k; pc += DK_GEMM_KC) {
            ptrdiff_t kc = k - pc < DK_GEMM_KC ? k - pc : DK_GEMM_KC;
            for (ptrdiff_t jc = j0; jc < j1; jc += DK_GEMM_NC)
                G_(block)(g, r0, r1, jc, j1 - jc < DK_GEMM_NC ? j1 - jc : DK_GEMM_NC, pc, kc,
                          pack);
        }
        return;
    }
    /* Many rows: wide column blocks, so that x is read fewer times. */
    for (ptrdiff_t jc = j0; jc < j1; jc += DK_GEMM_NC_WIDE) {
        ptrdiff_t nc = j1 - jc < DK_GEMM_NC_WIDE ? j1 - jc : DK_GEMM_NC_WIDE;
        for (ptrdiff_t pc = 0; pc < k; pc += DK_GEMM_KC)
            G_(block)(g, r0, r1, jc, nc, pc, k - pc < DK_GEMM_KC ? k - pc : DK_GEMM_KC, pack);
    }
}

#undef G_UKS_ROW
#undef G_UKS_PTRS
#undef G_UK
#undef G_KLOOP
#undef G_PW
#undef G_
#undef G_CAT
#undef G_CAT2
