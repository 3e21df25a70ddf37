/* rng.c — MT19937 and NumPy's legacy distributions on top of it.
 *
 * The generator is mt19937ar.c (init_genrand + genrand_int32) as NumPy's
 * RandomState uses it; the distributions follow numpy/random/src/legacy and
 * distributions.c (random_sample, legacy_gauss, random_interval, shuffle).
 * Any change here must keep tests/test_rng.c's golden NumPy values.
 */
#include <config.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <nabla/rng.h>

/* NumPy rounds every product and every sum on its own; an FMA would not.
 * Forbid contraction whatever the -std mode or the target (GCC fuses even
 * across statements under -std=gnu* on FMA hardware such as x86-64-v3 or
 * aarch64). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define MT_N NB_RNG_MT_N
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void nb_rng_seed(nb_rng *rng, uint32_t seed)
{
    /* init_genrand; the multiplier is Knuth's (TAOCP vol. 2, 3.2.1). */
    rng->mt[0] = seed;
    for (uint32_t i = 1; i < MT_N; i++) {
        uint32_t prev = rng->mt[i - 1];
        rng->mt[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    rng->left = 0;
    rng->has_gauss = 0;
    rng->gauss = 0.0;
}

/* A state whose 19937 significant bits are all zero (upper bit of mt[0],
 * all of mt[1..]) maps to itself: only a struct nobody seeded looks like
 * that, since seeding and twisting never produce it. */
static int mt_degenerate(const nb_rng *rng)
{
    uint32_t acc = rng->mt[0] & MT_UPPER;
    for (int i = 1; i < MT_N; i++)
        acc |= rng->mt[i];
    return acc == 0;
}

static void mt_twist(nb_rng *rng)
{
    uint32_t *mt = rng->mt;
    uint32_t y;
    int i;

    if (mt_degenerate(rng))
        nb_rng_seed(rng, 5489u);
    for (i = 0; i < MT_N - MT_M; i++) {
        y = (mt[i] & MT_UPPER) | (mt[i + 1] & MT_LOWER);
        mt[i] = mt[i + MT_M] ^ (y >> 1) ^ ((0u - (y & 1u)) & MT_MATRIX_A);
    }
    for (; i < MT_N - 1; i++) {
        y = (mt[i] & MT_UPPER) | (mt[i + 1] & MT_LOWER);
        mt[i] = mt[i + (MT_M - MT_N)] ^ (y >> 1) ^ ((0u - (y & 1u)) & MT_MATRIX_A);
    }
    y = (mt[MT_N - 1] & MT_UPPER) | (mt[0] & MT_LOWER);
    mt[MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ ((0u - (y & 1u)) & MT_MATRIX_A);
    rng->left = MT_N;
}

uint32_t nb_rng_uint32(nb_rng *rng)
{
    /* left outside (0, MT_N] (garbage in a never-seeded struct) also twists,
     * so the index below is always in range. */
    if (rng->left <= 0 || rng->left > MT_N)
        mt_twist(rng);
    uint32_t y = rng->mt[MT_N - rng->left];
    rng->left--;
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t nb_rng_uint64(nb_rng *rng)
{
    /* Two statements: the high word is drawn first, as in NumPy. */
    uint64_t hi = nb_rng_uint32(rng);
    uint64_t lo = nb_rng_uint32(rng);
    return (hi << 32) | lo;
}

double nb_rng_uniform(nb_rng *rng)
{
    uint32_t a = nb_rng_uint32(rng) >> 5;   /* 27 bits */
    uint32_t b = nb_rng_uint32(rng) >> 6;   /* 26 bits */
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double nb_rng_uniform_range(nb_rng *rng, double low, double high)
{
    double span = (high - low) * nb_rng_uniform(rng);
    return low + span;
}

double nb_rng_gauss(nb_rng *rng)
{
    if (rng->has_gauss) {
        double cached = rng->gauss;
        rng->has_gauss = 0;
        rng->gauss = 0.0;
        return cached;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * nb_rng_uniform(rng) - 1.0;   /* 2u is exact: FMA-proof */
        x2 = 2.0 * nb_rng_uniform(rng) - 1.0;
        double s1 = x1 * x1;                    /* no fma(x1, x1, x2*x2) */
        double s2 = x2 * x2;
        r2 = s1 + s2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    rng->gauss = f * x1;
    rng->has_gauss = 1;
    return f * x2;
}

double nb_rng_normal(nb_rng *rng, double loc, double scale)
{
    double z = scale * nb_rng_gauss(rng);
    return loc + z;
}

size_t nb_rng_interval(nb_rng *rng, size_t max)
{
    uint64_t m = max, mask = max, value;

    if (m == 0)
        return 0;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (m <= 0xffffffffu) {
        while ((value = nb_rng_uint32(rng) & mask) > m)
            ;
    } else {
        while ((value = nb_rng_uint64(rng) & mask) > m)
            ;
    }
    return (size_t)value;
}

void nb_rng_shuffle(nb_rng *rng, size_t *idx, size_t n)
{
    for (size_t i = n > 0 ? n - 1 : 0; i >= 1; i--) {
        size_t j = nb_rng_interval(rng, i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void nb_rng_permutation(nb_rng *rng, size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    nb_rng_shuffle(rng, idx, n);
}
