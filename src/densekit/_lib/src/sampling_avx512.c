/* AVX-512 float32 samplers: the same operations as sampling_internal.h, 16 lanes at a time.
 *
 * Compiled for every x86-64 (function target attributes, no global -mavx512f); called only
 * when dk_simd_level() reports AVX-512, for the aligned body [b0, b1) only: the dispatcher
 * in sampling.c writes the head and the tail. Philox runs 8 blocks per zmm in 64-bit lanes,
 * so each 32x32->64 multiply is one vpmuludq (_mm512_mul_epu32) and the high word one shift; only the
 * low 32 bits of each lane are meaningful (the multiplies ignore the high ones).
 * Every float operation mirrors the scalar reference one for one (mul and add separately, no
 * FMA), so the bits equal the portable path's; tests/test_lib_random.py checks it.
 */
#include "sampling_internal.h"

#if DK_HAVE_AVX512

#include <immintrin.h>

#define DK_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
#define DK_INLINE DK_AVX512 static inline __attribute__((always_inline))

/* Rejected truncated-normal draws are redone in sub-chunks of this many elements. */
#define DK_TRUNC_SUB 4096

typedef struct {
    __m512i k0[DK_PHILOX_ROUNDS], k1[DK_PHILOX_ROUNDS]; /* round keys, broadcast */
    __m512i tag;
} dk_vkey_t;

DK_INLINE void vkey_init(dk_vkey_t *vk, const dk_params_t *p)
{
    uint32_t k0 = p->key.v[0], k1 = p->key.v[1];
    for (int r = 0; r < DK_PHILOX_ROUNDS; r++) {
        vk->k0[r] = _mm512_set1_epi64((long long)k0);
        vk->k1[r] = _mm512_set1_epi64((long long)k1);
        k0 += DK_PHILOX_W0;
        k1 += DK_PHILOX_W1;
    }
    vk->tag = _mm512_set1_epi64((long long)p->tag);
}

/* Two independent groups of 8 blocks (a, b), interleaved for instruction-level parallelism.
 * blk: 64-bit block indices; att: attempt numbers (low 32 bits). Outputs x[0..3]: words. */
DK_INLINE void philox8x2(const dk_vkey_t *vk, __m512i blka, __m512i blkb, __m512i atta, __m512i attb,
                         __m512i xa[4], __m512i xb[4])
{
    const __m512i m0 = _mm512_set1_epi64(DK_PHILOX_M0), m1 = _mm512_set1_epi64(DK_PHILOX_M1);
    __m512i a0 = blka, a1 = _mm512_srli_epi64(blka, 32), a2 = atta, a3 = vk->tag;
    __m512i b0 = blkb, b1 = _mm512_srli_epi64(blkb, 32), b2 = attb, b3 = vk->tag;
    for (int r = 0; r < DK_PHILOX_ROUNDS; r++) {
        __m512i pa0 = _mm512_mul_epu32(a0, m0), pa1 = _mm512_mul_epu32(a2, m1);
        __m512i pb0 = _mm512_mul_epu32(b0, m0), pb1 = _mm512_mul_epu32(b2, m1);
        /* 0x96: three-way xor */
        a0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(pa1, 32), a1, vk->k0[r], 0x96);
        a2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(pa0, 32), a3, vk->k1[r], 0x96);
        a1 = pa1;
        a3 = pa0;
        b0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(pb1, 32), b1, vk->k0[r], 0x96);
        b2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(pb0, 32), b3, vk->k1[r], 0x96);
        b1 = pb1;
        b3 = pb0;
    }
    xa[0] = a0; xa[1] = a1; xa[2] = a2; xa[3] = a3;
    xb[0] = b0; xb[1] = b1; xb[2] = b2; xb[3] = b3;
}

/* Low 32 bits of the 64-bit lanes of lo (lanes 0..7) and hi (lanes 8..15). */
DK_INLINE __m512i pack_lo32(__m512i lo, __m512i hi)
{
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_epi32(lo, idx, hi);
}

/* ------------------------------------------------------------------ float32 math, 16 lanes */

DK_INLINE __m512 v_u01(__m512i x)
{
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(x, 8)), _mm512_set1_ps(DK_TWO_M24F));
}

DK_INLINE __m512 v_u01c(__m512i x)
{
    __m512i m = _mm512_add_epi32(_mm512_srli_epi32(x, 8), _mm512_set1_epi32(1));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(m), _mm512_set1_ps(DK_TWO_M24F));
}

DK_INLINE __m512 v_log(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512i bx = _mm512_castps_si512(x);
    __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bx, 23), _mm512_set1_epi32(127));
    __m512i mb = _mm512_or_si512(_mm512_and_si512(bx, _mm512_set1_epi32(0x007fffff)),
                                 _mm512_set1_epi32(0x3f800000));
    __mmask16 big = _mm512_cmpge_epu32_mask(mb, _mm512_set1_epi32((int)DK_SQRT2_BITS_F));
    mb = _mm512_mask_sub_epi32(mb, big, mb, _mm512_set1_epi32(1 << 23));
    e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
    __m512 f = _mm512_castsi512_ps(mb);
    __m512 s = _mm512_div_ps(_mm512_sub_ps(f, one), _mm512_add_ps(f, one));
    __m512 s2 = _mm512_mul_ps(s, s);
    __m512 q = _mm512_mul_ps(_mm512_set1_ps(DK_LOGC9_F), s2);
    q = _mm512_mul_ps(_mm512_add_ps(q, _mm512_set1_ps(DK_LOGC7_F)), s2);
    q = _mm512_mul_ps(_mm512_add_ps(q, _mm512_set1_ps(DK_LOGC5_F)), s2);
    q = _mm512_mul_ps(_mm512_add_ps(q, _mm512_set1_ps(DK_LOGC3_F)), s2);
    __m512 t = _mm512_add_ps(s, _mm512_mul_ps(s, q));
    __m512 fe = _mm512_cvtepi32_ps(e);
    return _mm512_add_ps(_mm512_mul_ps(fe, _mm512_set1_ps(DK_LN2_HI_F)),
                         _mm512_add_ps(_mm512_mul_ps(fe, _mm512_set1_ps(DK_LN2_LO_F)), _mm512_add_ps(t, t)));
}

DK_INLINE void v_sincos2pi(__m512 u, __m512 *sn, __m512 *cs)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 v = _mm512_mul_ps(u, _mm512_set1_ps(8.0f));
    __m512i o = _mm512_cvttps_epi32(v);
    __m512 t = _mm512_sub_ps(v, _mm512_cvtepi32_ps(o));
    __mmask16 odd = _mm512_test_epi32_mask(o, _mm512_set1_epi32(1));
    t = _mm512_mask_sub_ps(t, odd, one, t);
    __m512 x = _mm512_mul_ps(t, _mm512_set1_ps(DK_PI_4F));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 sp = _mm512_mul_ps(_mm512_set1_ps(DK_S9_F), x2);
    sp = _mm512_mul_ps(_mm512_add_ps(sp, _mm512_set1_ps(DK_S7_F)), x2);
    sp = _mm512_mul_ps(_mm512_add_ps(sp, _mm512_set1_ps(DK_S5_F)), x2);
    sp = _mm512_mul_ps(_mm512_add_ps(sp, _mm512_set1_ps(DK_S3_F)), x2);
    __m512 s = _mm512_add_ps(x, _mm512_mul_ps(x, sp));
    __m512 cp = _mm512_mul_ps(_mm512_set1_ps(DK_C10_F), x2);
    cp = _mm512_mul_ps(_mm512_add_ps(cp, _mm512_set1_ps(DK_C8_F)), x2);
    cp = _mm512_mul_ps(_mm512_add_ps(cp, _mm512_set1_ps(DK_C6_F)), x2);
    cp = _mm512_mul_ps(_mm512_add_ps(cp, _mm512_set1_ps(DK_C4_F)), x2);
    cp = _mm512_mul_ps(_mm512_add_ps(cp, _mm512_set1_ps(DK_C2_F)), x2);
    __m512 c = _mm512_add_ps(one, cp);
    __mmask16 swap = _mm512_test_epi32_mask(_mm512_add_epi32(o, _mm512_set1_epi32(1)), _mm512_set1_epi32(2));
    __m512 s2 = _mm512_mask_blend_ps(swap, s, c);
    __m512 c2 = _mm512_mask_blend_ps(swap, c, s);
    /* sign flips: bit 2 of o (sin) and of o + 2 (cos), moved to bit 31 */
    __m512i ssign = _mm512_slli_epi32(_mm512_and_si512(o, _mm512_set1_epi32(4)), 29);
    __m512i csign = _mm512_slli_epi32(_mm512_and_si512(_mm512_add_epi32(o, _mm512_set1_epi32(2)),
                                                       _mm512_set1_epi32(4)), 29);
    *sn = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(s2), ssign));
    *cs = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(c2), csign));
}

/* r = sqrt(-2 log u1) and (sin, cos)(2 pi u2) of 16 word pairs. */
DK_INLINE void v_box_muller(__m512i w1, __m512i w2, __m512 *r, __m512 *sn, __m512 *cs)
{
    *r = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), v_log(v_u01c(w1))));
    v_sincos2pi(v_u01(w2), sn, cs);
}

/* ------------------------------------------------------------------ stores */

DK_INLINE void v_store(int out_type, void *out, int64_t j, __m512 v)
{
    if (out_type == DK_OUT_F32) {
        _mm512_storeu_ps((float *)out + j, v);
    } else if (out_type == DK_OUT_F16) {
        _mm256_storeu_si256((__m256i *)((uint16_t *)out + j),
                            _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    } else {
        __m512i x = _mm512_castps_si512(v);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
        __m512i rounded = _mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        rounded = _mm512_mask_or_epi32(rounded, nan, x, _mm512_set1_epi32(0x00400000));
        _mm256_storeu_si256((__m256i *)((uint16_t *)out + j),
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
    }
}

/* ------------------------------------------------------------------ main passes */

/* 16 consecutive blocks from block blk0: the 64 values in stream order as 4 vectors. */
DK_INLINE void uniform64(const dk_vkey_t *vk, uint64_t blk0, __m512 fa, __m512 fw, __m512 fhi, __m512 v[4])
{
    const __m512i step = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i blka = _mm512_add_epi64(_mm512_set1_epi64((long long)blk0), step);
    __m512i blkb = _mm512_add_epi64(blka, _mm512_set1_epi64(8));
    __m512i zero = _mm512_setzero_si512(), xa[4], xb[4];
    philox8x2(vk, blka, blkb, zero, zero, xa, xb);
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    __m512i *x[2] = {xa, xb};
    for (int g = 0; g < 2; g++) {
        /* block j's words 0,1 and 2,3 as 64-bit lanes, then blocks interleaved in order */
        __m512i w01 = _mm512_mask_blend_epi32(0xAAAA, x[g][0], _mm512_slli_epi64(x[g][1], 32));
        __m512i w23 = _mm512_mask_blend_epi32(0xAAAA, x[g][2], _mm512_slli_epi64(x[g][3], 32));
        __m512i o[2] = {_mm512_permutex2var_epi64(w01, lo, w23), _mm512_permutex2var_epi64(w01, hi, w23)};
        for (int h = 0; h < 2; h++) {
            __m512 r = _mm512_add_ps(fa, _mm512_mul_ps(fw, v_u01(o[h])));
            v[2 * g + h] = _mm512_min_ps(r, fhi);
        }
    }
}

/* 16 consecutive blocks from block blk0 at attempt 0: 64 standard normals in stream order. */
DK_INLINE void normal64(const dk_vkey_t *vk, uint64_t blk0, __m512 z[4])
{
    const __m512i step = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i blka = _mm512_add_epi64(_mm512_set1_epi64((long long)blk0), step);
    __m512i blkb = _mm512_add_epi64(blka, _mm512_set1_epi64(8));
    __m512i zero = _mm512_setzero_si512(), xa[4], xb[4];
    philox8x2(vk, blka, blkb, zero, zero, xa, xb);
    /* lanes 0..7: pair 0 of blocks 0..7; lanes 8..15: pair 1 (words 2, 3) */
    const __m512i lo = _mm512_setr_epi32(0, 16, 8, 24, 1, 17, 9, 25, 2, 18, 10, 26, 3, 19, 11, 27);
    const __m512i hi = _mm512_setr_epi32(4, 20, 12, 28, 5, 21, 13, 29, 6, 22, 14, 30, 7, 23, 15, 31);
    __m512i *x[2] = {xa, xb};
    for (int g = 0; g < 2; g++) {
        __m512 r, s, c;
        v_box_muller(pack_lo32(x[g][0], x[g][2]), pack_lo32(x[g][1], x[g][3]), &r, &s, &c);
        __m512 zc = _mm512_mul_ps(r, c), zs = _mm512_mul_ps(r, s);
        z[2 * g] = _mm512_permutex2var_ps(zc, lo, zs);
        z[2 * g + 1] = _mm512_permutex2var_ps(zc, hi, zs);
    }
}

/* Redo the rejected elements idx[0..n) (offsets from element i0, a multiple of 4) with
 * attempts 1, 2, ... until all are accepted; 16 at a time, survivors compacted in place. */
DK_AVX512 static void trunc_retry(const dk_params_t *p, const dk_vkey_t *vk, int64_t i0, int32_t *idx,
                                  int n, void *out)
{
    const __m512 fa = _mm512_set1_ps(p->fa), fb = _mm512_set1_ps(p->fb), two = _mm512_set1_ps(2.0f);
    const __m512i blk_base = _mm512_set1_epi64((long long)((uint64_t)i0 >> 2));
    for (uint32_t attempt = 1; n > 0; attempt++) {
        __m512i att = _mm512_set1_epi64(attempt);
        int kept = 0;
        for (int k = 0; k < n; k += 16) {
            int m = n - k < 16 ? n - k : 16;
            __mmask16 valid = (__mmask16)((1u << m) - 1u);
            __m512i j = _mm512_maskz_loadu_epi32(valid, idx + k);
            __m512i blka = _mm512_add_epi64(blk_base, _mm512_cvtepi32_epi64(
                                                          _mm512_castsi512_si256(_mm512_srli_epi32(j, 2))));
            __m512i blkb = _mm512_add_epi64(blk_base, _mm512_cvtepi32_epi64(
                                                          _mm512_extracti64x4_epi64(_mm512_srli_epi32(j, 2), 1)));
            __m512i xa[4], xb[4];
            philox8x2(vk, blka, blkb, att, att, xa, xb);
            __m512i lane = _mm512_and_si512(j, _mm512_set1_epi32(3));
            __mmask16 pair1 = _mm512_test_epi32_mask(lane, _mm512_set1_epi32(2));
            __mmask16 sinl = _mm512_test_epi32_mask(lane, _mm512_set1_epi32(1));
            __m512i w1 = _mm512_mask_blend_epi32(pair1, pack_lo32(xa[0], xb[0]), pack_lo32(xa[2], xb[2]));
            __m512i w2 = _mm512_mask_blend_epi32(pair1, pack_lo32(xa[1], xb[1]), pack_lo32(xa[3], xb[3]));
            __m512 r, s, c;
            v_box_muller(w1, w2, &r, &s, &c);
            __m512 z = _mm512_mask_blend_ps(sinl, _mm512_mul_ps(r, c), _mm512_mul_ps(r, s));
            __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(z), two, _CMP_LE_OQ) & valid;
            __m512 v = _mm512_add_ps(fa, _mm512_mul_ps(fb, z));
            if (p->out_type == DK_OUT_F32) {
                _mm512_mask_i32scatter_ps(out, ok, j, v, 4);
            } else {
                float vals[16];
                int32_t js[16];
                _mm512_storeu_ps(vals, v);
                _mm512_storeu_si512(js, j);
                for (int q = 0; q < m; q++)
                    if ((ok >> q) & 1)
                        dk_store_f32(p->out_type, out, js[q], vals[q]);
            }
            __mmask16 bad = valid & (__mmask16)~ok;
            _mm512_storeu_si512(idx + kept, _mm512_maskz_compress_epi32(bad, j));
            kept += __builtin_popcount(bad);
        }
        n = kept;
    }
}

DK_AVX512 void dk_f32_body_avx512(const dk_params_t *p, int64_t b0, int64_t b1, void *ob)
{
    const int64_t step = DK_STEP_AVX512; /* 16 blocks of 4 */
    dk_vkey_t vk;
    vkey_init(&vk, p);
    /* ob: element i is at index i - b0 */
    int out_type = p->out_type;

    if (p->kind == DK_UNIFORM) {
        const __m512 fa = _mm512_set1_ps(p->fa), fw = _mm512_set1_ps(p->fw), fhi = _mm512_set1_ps(p->fhi);
        for (int64_t i = b0; i < b1; i += step) {
            __m512 v[4];
            uniform64(&vk, (uint64_t)i >> 2, fa, fw, fhi, v);
            for (int h = 0; h < 4; h++)
                v_store(out_type, ob, i - b0 + 16 * h, v[h]);
        }
        return;
    }

    const __m512 fa = _mm512_set1_ps(p->fa), fb = _mm512_set1_ps(p->fb), two = _mm512_set1_ps(2.0f);
    if (p->kind == DK_NORMAL) {
        for (int64_t i = b0; i < b1; i += step) {
            __m512 z[4];
            normal64(&vk, (uint64_t)i >> 2, z);
            for (int h = 0; h < 4; h++)
                v_store(out_type, ob, i - b0 + 16 * h, _mm512_add_ps(fa, _mm512_mul_ps(fb, z[h])));
        }
        return;
    }

    /* Truncated normal: attempt 0 for everything, then only the rejected indices again.
     * idx has 16 spare slots: full 16-lane stores of compressed indices may overrun. */
    int32_t idx[DK_TRUNC_SUB + 16];
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t s0 = b0; s0 < b1; s0 += DK_TRUNC_SUB) {
        int64_t s1 = s0 + DK_TRUNC_SUB < b1 ? s0 + DK_TRUNC_SUB : b1;
        void *os = (char *)ob + (s0 - b0) * dk_f32_esize(out_type);
        int n_rej = 0;
        for (int64_t i = s0; i < s1; i += step) {
            __m512 z[4];
            normal64(&vk, (uint64_t)i >> 2, z);
            for (int h = 0; h < 4; h++) {
                int32_t off = (int32_t)(i - s0 + 16 * h);
                __mmask16 bad = _mm512_cmp_ps_mask(_mm512_abs_ps(z[h]), two, _CMP_NLE_UQ);
                v_store(out_type, os, off, _mm512_add_ps(fa, _mm512_mul_ps(fb, z[h])));
                /* register compress + plain store: vpcompressd to memory is microcoded on Zen 4 */
                _mm512_storeu_si512(idx + n_rej, _mm512_maskz_compress_epi32(bad, _mm512_add_epi32(iota, _mm512_set1_epi32(off))));
                n_rej += __builtin_popcount(bad);
            }
        }
        trunc_retry(p, &vk, s0, idx, n_rej, os);
    }
}

#endif
