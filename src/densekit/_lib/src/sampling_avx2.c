/* AVX2 float32 samplers: sampling_avx512.c's algorithm with 8 float lanes and 4 Philox
 * blocks per ymm (64-bit lanes, vpmuludq). The same float operations in the same order as
 * the scalar reference (sampling_internal.h), so the bits equal every other path's. Only AVX2
 * instructions are used (float16 rounding is done with integer ops, no F16C needed). */
#include "sampling_internal.h"

#if DK_HAVE_AVX512 /* the same compilers (gcc >= 9 on x86) */

#include <immintrin.h>

#define DK_AVX2 __attribute__((target("avx2")))
#define DK_INLINE DK_AVX2 static inline __attribute__((always_inline))

#define DK_TRUNC_SUB 4096

typedef struct {
    __m256i k0[DK_PHILOX_ROUNDS], k1[DK_PHILOX_ROUNDS];
    __m256i tag;
} dk_vkey2_t;

DK_INLINE void vkey_init(dk_vkey2_t *vk, const dk_params_t *p)
{
    uint32_t k0 = p->key.v[0], k1 = p->key.v[1];
    for (int r = 0; r < DK_PHILOX_ROUNDS; r++) {
        vk->k0[r] = _mm256_set1_epi64x((long long)k0);
        vk->k1[r] = _mm256_set1_epi64x((long long)k1);
        k0 += DK_PHILOX_W0;
        k1 += DK_PHILOX_W1;
    }
    vk->tag = _mm256_set1_epi64x((long long)p->tag);
}

/* Two groups of 4 blocks in 64-bit lanes (only the low 32 bits of each lane are meaningful). */
DK_INLINE void philox4x2(const dk_vkey2_t *vk, __m256i blka, __m256i blkb, __m256i atta, __m256i attb,
                         __m256i xa[4], __m256i xb[4])
{
    const __m256i m0 = _mm256_set1_epi64x(DK_PHILOX_M0), m1 = _mm256_set1_epi64x(DK_PHILOX_M1);
    __m256i a0 = blka, a1 = _mm256_srli_epi64(blka, 32), a2 = atta, a3 = vk->tag;
    __m256i b0 = blkb, b1 = _mm256_srli_epi64(blkb, 32), b2 = attb, b3 = vk->tag;
    for (int r = 0; r < DK_PHILOX_ROUNDS; r++) {
        __m256i pa0 = _mm256_mul_epu32(a0, m0), pa1 = _mm256_mul_epu32(a2, m1);
        __m256i pb0 = _mm256_mul_epu32(b0, m0), pb1 = _mm256_mul_epu32(b2, m1);
        a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa1, 32), a1), vk->k0[r]);
        a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pa0, 32), a3), vk->k1[r]);
        a1 = pa1;
        a3 = pa0;
        b0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb1, 32), b1), vk->k0[r]);
        b2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pb0, 32), b3), vk->k1[r]);
        b1 = pb1;
        b3 = pb0;
    }
    xa[0] = a0; xa[1] = a1; xa[2] = a2; xa[3] = a3;
    xb[0] = b0; xb[1] = b1; xb[2] = b2; xb[3] = b3;
}

/* Low 32 bits of the 64-bit lanes of lo (lanes 0..3) and hi (lanes 4..7). */
DK_INLINE __m256i pack_lo32(__m256i lo, __m256i hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    return _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(lo, idx),
                                     _mm256_permutevar8x32_epi32(hi, idx), 0x20);
}

DK_INLINE __m256 v_u01(__m256i x)
{
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(x, 8)), _mm256_set1_ps(DK_TWO_M24F));
}

DK_INLINE __m256 v_u01c(__m256i x)
{
    __m256i m = _mm256_add_epi32(_mm256_srli_epi32(x, 8), _mm256_set1_epi32(1));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(DK_TWO_M24F));
}

DK_INLINE __m256 v_log(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i bx = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bx, 23), _mm256_set1_epi32(127));
    __m256i mb = _mm256_or_si256(_mm256_and_si256(bx, _mm256_set1_epi32(0x007fffff)),
                                 _mm256_set1_epi32(0x3f800000));
    /* mb is positive as a signed int, so a signed compare is the scalar unsigned one */
    __m256i big = _mm256_cmpgt_epi32(mb, _mm256_set1_epi32((int)DK_SQRT2_BITS_F - 1));
    mb = _mm256_sub_epi32(mb, _mm256_and_si256(big, _mm256_set1_epi32(1 << 23)));
    e = _mm256_sub_epi32(e, big); /* big is -1 where set */
    __m256 f = _mm256_castsi256_ps(mb);
    __m256 s = _mm256_div_ps(_mm256_sub_ps(f, one), _mm256_add_ps(f, one));
    __m256 s2 = _mm256_mul_ps(s, s);
    __m256 q = _mm256_mul_ps(_mm256_set1_ps(DK_LOGC9_F), s2);
    q = _mm256_mul_ps(_mm256_add_ps(q, _mm256_set1_ps(DK_LOGC7_F)), s2);
    q = _mm256_mul_ps(_mm256_add_ps(q, _mm256_set1_ps(DK_LOGC5_F)), s2);
    q = _mm256_mul_ps(_mm256_add_ps(q, _mm256_set1_ps(DK_LOGC3_F)), s2);
    __m256 t = _mm256_add_ps(s, _mm256_mul_ps(s, q));
    __m256 fe = _mm256_cvtepi32_ps(e);
    return _mm256_add_ps(_mm256_mul_ps(fe, _mm256_set1_ps(DK_LN2_HI_F)),
                         _mm256_add_ps(_mm256_mul_ps(fe, _mm256_set1_ps(DK_LN2_LO_F)), _mm256_add_ps(t, t)));
}

DK_INLINE void v_sincos2pi(__m256 u, __m256 *sn, __m256 *cs)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 v = _mm256_mul_ps(u, _mm256_set1_ps(8.0f));
    __m256i o = _mm256_cvttps_epi32(v);
    __m256 t = _mm256_sub_ps(v, _mm256_cvtepi32_ps(o));
    __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(o, _mm256_set1_epi32(1)), _mm256_set1_epi32(1));
    t = _mm256_blendv_ps(t, _mm256_sub_ps(one, t), _mm256_castsi256_ps(odd));
    __m256 x = _mm256_mul_ps(t, _mm256_set1_ps(DK_PI_4F));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 sp = _mm256_mul_ps(_mm256_set1_ps(DK_S9_F), x2);
    sp = _mm256_mul_ps(_mm256_add_ps(sp, _mm256_set1_ps(DK_S7_F)), x2);
    sp = _mm256_mul_ps(_mm256_add_ps(sp, _mm256_set1_ps(DK_S5_F)), x2);
    sp = _mm256_mul_ps(_mm256_add_ps(sp, _mm256_set1_ps(DK_S3_F)), x2);
    __m256 s = _mm256_add_ps(x, _mm256_mul_ps(x, sp));
    __m256 cp = _mm256_mul_ps(_mm256_set1_ps(DK_C10_F), x2);
    cp = _mm256_mul_ps(_mm256_add_ps(cp, _mm256_set1_ps(DK_C8_F)), x2);
    cp = _mm256_mul_ps(_mm256_add_ps(cp, _mm256_set1_ps(DK_C6_F)), x2);
    cp = _mm256_mul_ps(_mm256_add_ps(cp, _mm256_set1_ps(DK_C4_F)), x2);
    cp = _mm256_mul_ps(_mm256_add_ps(cp, _mm256_set1_ps(DK_C2_F)), x2);
    __m256 c = _mm256_add_ps(one, cp);
    __m256 swap = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
        _mm256_and_si256(_mm256_add_epi32(o, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), _mm256_set1_epi32(2)));
    __m256 s2 = _mm256_blendv_ps(s, c, swap);
    __m256 c2 = _mm256_blendv_ps(c, s, swap);
    __m256i ssign = _mm256_slli_epi32(_mm256_and_si256(o, _mm256_set1_epi32(4)), 29);
    __m256i csign = _mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(o, _mm256_set1_epi32(2)),
                                                       _mm256_set1_epi32(4)), 29);
    *sn = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(s2), ssign));
    *cs = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(c2), csign));
}

DK_INLINE void v_box_muller(__m256i w1, __m256i w2, __m256 *r, __m256 *sn, __m256 *cs)
{
    *r = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), v_log(v_u01c(w1))));
    v_sincos2pi(v_u01(w2), sn, cs);
}

DK_INLINE __m256 v_abs(__m256 z)
{
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(z), _mm256_set1_epi32(0x7fffffff)));
}

/* 8 uint32 (each <= 0xffff) to 8 uint16 in order. */
DK_INLINE __m128i narrow16(__m256i v)
{
    __m256i packed = _mm256_packus_epi32(v, v); /* per 128-bit lane: v0..3 v0..3 | v4..7 v4..7 */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

/* dk_f32_to_f16 on 8 lanes with integer ops. */
DK_INLINE __m128i v_to_f16(__m256 v)
{
    __m256i x = _mm256_castps_si256(v);
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x8000));
    __m256i ax = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    __m256i rnd = _mm256_add_epi32(_mm256_set1_epi32((int)0xc8000fffu),
                                   _mm256_and_si256(_mm256_srli_epi32(ax, 13), _mm256_set1_epi32(1)));
    __m256i res = _mm256_srli_epi32(_mm256_add_epi32(ax, rnd), 13);
    __m256 sub = _mm256_add_ps(_mm256_castsi256_ps(ax), _mm256_set1_ps(0.5f));
    __m256i subr = _mm256_sub_epi32(_mm256_castps_si256(sub), _mm256_set1_epi32(0x3f000000));
    res = _mm256_blendv_epi8(res, subr, _mm256_cmpgt_epi32(_mm256_set1_epi32(0x38800000), ax));
    res = _mm256_blendv_epi8(res, _mm256_set1_epi32(0x7c00), _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x477fefff)));
    __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7f800000));
    __m256i nanbits = _mm256_or_si256(_mm256_set1_epi32(0x7e00),
                                      _mm256_and_si256(_mm256_srli_epi32(ax, 13), _mm256_set1_epi32(0x3ff)));
    res = _mm256_blendv_epi8(res, nanbits, nan);
    return narrow16(_mm256_or_si256(res, sign));
}

DK_INLINE __m128i v_to_bf16(__m256 v)
{
    __m256i x = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    rounded = _mm256_blendv_epi8(rounded, _mm256_or_si256(x, _mm256_set1_epi32(0x00400000)), nan);
    return narrow16(_mm256_srli_epi32(rounded, 16));
}

DK_INLINE void v_store(int out_type, void *out, int64_t j, __m256 v)
{
    if (out_type == DK_OUT_F32)
        _mm256_storeu_ps((float *)out + j, v);
    else if (out_type == DK_OUT_F16)
        _mm_storeu_si128((__m128i *)((uint16_t *)out + j), v_to_f16(v));
    else
        _mm_storeu_si128((__m128i *)((uint16_t *)out + j), v_to_bf16(v));
}

DK_INLINE void blocks8(const dk_vkey2_t *vk, uint64_t blk0, __m256i xa[4], __m256i xb[4])
{
    __m256i blka = _mm256_add_epi64(_mm256_set1_epi64x((long long)blk0), _mm256_setr_epi64x(0, 1, 2, 3));
    __m256i blkb = _mm256_add_epi64(blka, _mm256_set1_epi64x(4));
    __m256i zero = _mm256_setzero_si256();
    philox4x2(vk, blka, blkb, zero, zero, xa, xb);
}

/* 8 consecutive blocks from blk0: 32 uniforms in stream order. */
DK_INLINE void uniform32(const dk_vkey2_t *vk, uint64_t blk0, __m256 fa, __m256 fw, __m256 fhi, __m256 v[4])
{
    __m256i xa[4], xb[4];
    blocks8(vk, blk0, xa, xb);
    __m256i *x[2] = {xa, xb};
    for (int g = 0; g < 2; g++) {
        __m256i w01 = _mm256_blend_epi32(x[g][0], _mm256_slli_epi64(x[g][1], 32), 0xAA);
        __m256i w23 = _mm256_blend_epi32(x[g][2], _mm256_slli_epi64(x[g][3], 32), 0xAA);
        __m256i lo = _mm256_unpacklo_epi64(w01, w23), hi = _mm256_unpackhi_epi64(w01, w23);
        __m256i o[2] = {_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31)};
        for (int h = 0; h < 2; h++) {
            __m256 r = _mm256_add_ps(fa, _mm256_mul_ps(fw, v_u01(o[h])));
            v[2 * g + h] = _mm256_min_ps(r, fhi);
        }
    }
}

/* 8 consecutive blocks from blk0 at attempt 0: 32 standard normals in stream order. */
DK_INLINE void normal32(const dk_vkey2_t *vk, uint64_t blk0, __m256 z[4])
{
    __m256i xa[4], xb[4];
    blocks8(vk, blk0, xa, xb);
    __m256 r0, s0, c0, r1, s1, c1;
    v_box_muller(pack_lo32(xa[0], xb[0]), pack_lo32(xa[1], xb[1]), &r0, &s0, &c0);
    v_box_muller(pack_lo32(xa[2], xb[2]), pack_lo32(xa[3], xb[3]), &r1, &s1, &c1);
    __m256 l0 = _mm256_mul_ps(r0, c0), l1 = _mm256_mul_ps(r0, s0);
    __m256 l2 = _mm256_mul_ps(r1, c1), l3 = _mm256_mul_ps(r1, s1);
    /* transpose: block j = (l0[j], l1[j], l2[j], l3[j]) */
    __m256 t0 = _mm256_unpacklo_ps(l0, l1), t1 = _mm256_unpacklo_ps(l2, l3);
    __m256 t2 = _mm256_unpackhi_ps(l0, l1), t3 = _mm256_unpackhi_ps(l2, l3);
    __m256 u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t1))); /* 0 | 4 */
    __m256 u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t1))); /* 1 | 5 */
    __m256 u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t2), _mm256_castps_pd(t3))); /* 2 | 6 */
    __m256 u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t2), _mm256_castps_pd(t3))); /* 3 | 7 */
    z[0] = _mm256_permute2f128_ps(u0, u1, 0x20);
    z[1] = _mm256_permute2f128_ps(u2, u3, 0x20);
    z[2] = _mm256_permute2f128_ps(u0, u1, 0x31);
    z[3] = _mm256_permute2f128_ps(u2, u3, 0x31);
}

/* As trunc_retry in sampling_avx512.c, 8 at a time. */
DK_AVX2 static void trunc_retry(const dk_params_t *p, const dk_vkey2_t *vk, int64_t i0, int32_t *idx,
                                int n, void *out)
{
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256i blk_base = _mm256_set1_epi64x((long long)((uint64_t)i0 >> 2));
    for (uint32_t attempt = 1; n > 0; attempt++) {
        __m256i att = _mm256_set1_epi64x(attempt);
        int kept = 0;
        for (int k = 0; k < n; k += 8) {
            int m = n - k < 8 ? n - k : 8;
            int32_t js[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            memcpy(js, idx + k, (size_t)m * sizeof(int32_t));
            __m256i j = _mm256_loadu_si256((const __m256i *)js);
            __m256i jb = _mm256_srli_epi32(j, 2);
            __m256i blka = _mm256_add_epi64(blk_base, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(jb)));
            __m256i blkb = _mm256_add_epi64(blk_base, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(jb, 1)));
            __m256i xa[4], xb[4];
            philox4x2(vk, blka, blkb, att, att, xa, xb);
            __m256i lane = _mm256_and_si256(j, _mm256_set1_epi32(3));
            __m256i pair1 = _mm256_cmpeq_epi32(_mm256_and_si256(lane, _mm256_set1_epi32(2)), _mm256_set1_epi32(2));
            __m256 sinl = _mm256_castsi256_ps(
                _mm256_cmpeq_epi32(_mm256_and_si256(lane, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
            __m256i w1 = _mm256_blendv_epi8(pack_lo32(xa[0], xb[0]), pack_lo32(xa[2], xb[2]), pair1);
            __m256i w2 = _mm256_blendv_epi8(pack_lo32(xa[1], xb[1]), pack_lo32(xa[3], xb[3]), pair1);
            __m256 r, s, c;
            v_box_muller(w1, w2, &r, &s, &c);
            __m256 z = _mm256_blendv_ps(_mm256_mul_ps(r, c), _mm256_mul_ps(r, s), sinl);
            unsigned ok = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v_abs(z), two, _CMP_LE_OQ));
            float zs[8];
            _mm256_storeu_ps(zs, z);
            for (int q = 0; q < m; q++) {
                if ((ok >> q) & 1)
                    dk_store_f32(p->out_type, out, js[q], dk_affine_f32(p, zs[q]));
                else
                    idx[kept++] = js[q];
            }
        }
        n = kept;
    }
}

DK_AVX2 void dk_f32_body_avx2(const dk_params_t *p, int64_t b0, int64_t b1, void *ob)
{
    const int64_t step = DK_STEP_AVX2; /* 8 blocks of 4 */
    int esize = dk_f32_esize(p->out_type);
    dk_vkey2_t vk;
    vkey_init(&vk, p);
    int out_type = p->out_type;

    if (p->kind == DK_UNIFORM) {
        const __m256 fa = _mm256_set1_ps(p->fa), fw = _mm256_set1_ps(p->fw), fhi = _mm256_set1_ps(p->fhi);
        for (int64_t i = b0; i < b1; i += step) {
            __m256 v[4];
            uniform32(&vk, (uint64_t)i >> 2, fa, fw, fhi, v);
            for (int h = 0; h < 4; h++)
                v_store(out_type, ob, i - b0 + 8 * h, v[h]);
        }
        return;
    }

    const __m256 fa = _mm256_set1_ps(p->fa), fb = _mm256_set1_ps(p->fb), two = _mm256_set1_ps(2.0f);
    if (p->kind == DK_NORMAL) {
        for (int64_t i = b0; i < b1; i += step) {
            __m256 z[4];
            normal32(&vk, (uint64_t)i >> 2, z);
            for (int h = 0; h < 4; h++)
                v_store(out_type, ob, i - b0 + 8 * h, _mm256_add_ps(fa, _mm256_mul_ps(fb, z[h])));
        }
        return;
    }

    int32_t idx[DK_TRUNC_SUB];
    for (int64_t s0 = b0; s0 < b1; s0 += DK_TRUNC_SUB) {
        int64_t s1 = s0 + DK_TRUNC_SUB < b1 ? s0 + DK_TRUNC_SUB : b1;
        void *os = (char *)ob + (s0 - b0) * esize;
        int n_rej = 0;
        for (int64_t i = s0; i < s1; i += step) {
            __m256 z[4];
            normal32(&vk, (uint64_t)i >> 2, z);
            for (int h = 0; h < 4; h++) {
                int32_t off = (int32_t)(i - s0 + 8 * h);
                unsigned bad = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v_abs(z[h]), two, _CMP_NLE_UQ));
                v_store(out_type, os, off, _mm256_add_ps(fa, _mm256_mul_ps(fb, z[h])));
                while (bad) {
                    idx[n_rej++] = off + __builtin_ctz(bad);
                    bad &= bad - 1;
                }
            }
        }
        trunc_retry(p, &vk, s0, idx, n_rej, os);
    }
}

#endif
