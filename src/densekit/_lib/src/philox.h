/* Philox4x32-10: the counter-based generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel Random Numbers: As Easy as 1, 2, 3" (SC11), as published in Random123.
 *
 * Written for densekit from the published algorithm; header-only C99, static inline.
 * A block is a pure function of a 128-bit counter and a 64-bit key, so any element of a
 * stream can be computed on its own: no state, no lock, no per-thread seeds.
 * Pinned by Random123's known-answer vectors (tests/data/philox-kat.csv).
 *
 * Only 32x32->64 bit multiplies are needed (no 128-bit integers), so it is portable C.
 */
#ifndef DK_PHILOX_H
#define DK_PHILOX_H

#include <stdint.h>

/* Multipliers and Weyl key increments (Random123 PHILOX_M4x32_0/1, PHILOX_W32_0/1). */
#define DK_PHILOX_M0 0xD2511F53u
#define DK_PHILOX_M1 0xCD9E8D57u
#define DK_PHILOX_W0 0x9E3779B9u
#define DK_PHILOX_W1 0xBB67AE85u
#define DK_PHILOX_ROUNDS 10

typedef struct {
    uint32_t v[4];
} dk_philox4x32_ctr_t;

typedef struct {
    uint32_t v[2];
} dk_philox4x32_key_t;

static inline uint32_t dk_philox_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* One round: two multiplies, the high halves xored with the other words and the key. */
static inline dk_philox4x32_ctr_t dk_philox4x32_round(dk_philox4x32_ctr_t c, dk_philox4x32_key_t k)
{
    uint32_t hi0, hi1;
    uint32_t lo0 = dk_philox_mulhilo32(DK_PHILOX_M0, c.v[0], &hi0);
    uint32_t lo1 = dk_philox_mulhilo32(DK_PHILOX_M1, c.v[2], &hi1);
    dk_philox4x32_ctr_t out;
    out.v[0] = hi1 ^ c.v[1] ^ k.v[0];
    out.v[1] = lo1;
    out.v[2] = hi0 ^ c.v[3] ^ k.v[1];
    out.v[3] = lo0;
    return out;
}

/* Philox4x32 with DK_PHILOX_ROUNDS rounds; the key is bumped between rounds. */
static inline dk_philox4x32_ctr_t dk_philox4x32_10(dk_philox4x32_ctr_t c, dk_philox4x32_key_t k)
{
    c = dk_philox4x32_round(c, k);
    for (int r = 1; r < DK_PHILOX_ROUNDS; r++) {
        k.v[0] += DK_PHILOX_W0;
        k.v[1] += DK_PHILOX_W1;
        c = dk_philox4x32_round(c, k);
    }
    return c;
}

/* The key of a 64-bit seed: low word first. */
static inline dk_philox4x32_key_t dk_philox_key_from_seed(uint64_t seed)
{
    dk_philox4x32_key_t k;
    k.v[0] = (uint32_t)seed;
    k.v[1] = (uint32_t)(seed >> 32);
    return k;
}

#endif
