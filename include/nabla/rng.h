/* nabla/rng.h — an explicit random stream that reproduces NumPy's legacy
 * generator (numpy.random.seed(n) / numpy.random.RandomState(n)) bit for bit.
 *
 * Why NumPy: the experiments nabla re-runs (scikit-learn's make_moons, the
 * CS231n spirals, weight initialisations drawn with np.random.randn) were
 * published with seeded NumPy code.  With the same seed, nb_rng gives the
 * same uint32 words, the same doubles, the same Gaussians (the legacy polar
 * method, with its cached second value) and the same shuffles, so a data set
 * or an initialisation can be compared number for number with the original.
 *
 * The stream is MT19937 seeded by init_genrand (Matsumoto & Nishimura's
 * mt19937ar.c), which is what NumPy does.  GSL's gsl_rng_mt19937 differs: it
 * replaces seed 0 by 4357, so its seed-0 stream is not NumPy's.
 *
 * State.  The struct is public so that a stream can live on the stack or
 * inside another struct; treat its fields as private.  There is no global
 * stream: every function that draws takes an nb_rng *.  Copying the struct
 * forks the stream (both copies then produce the same numbers).  A stream
 * is not thread-safe; use one per thread.  A zero-filled struct that was
 * never seeded behaves as seeded with 5489 (the mt19937ar default) rather
 * than producing zeros forever.
 */
#ifndef NABLA_RNG_H
#define NABLA_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NB_RNG_MT_N 624

typedef struct nb_rng {
    uint32_t mt[NB_RNG_MT_N]; /* MT19937 state words */
    int left;                 /* untempered words left in mt; <= 0: twist first */
    int has_gauss;            /* gauss holds the second value of a polar pair */
    double gauss;
} nb_rng;

/* numpy.random.seed(seed): init_genrand(seed) (seed 0 included, unchanged),
 * and the cached Gaussian is dropped. */
void nb_rng_seed(nb_rng *rng, uint32_t seed);

/* One tempered MT19937 word: RandomState.randint(0, 2**32, dtype=np.uint32)
 * or the bit generator's next_uint32. */
uint32_t nb_rng_uint32(nb_rng *rng);

/* Two words, the first drawn in the high half: NumPy's next_uint64 for the
 * MT19937 bit generator. */
uint64_t nb_rng_uint64(nb_rng *rng);

/* Uniform on [0, 1) with 53 random bits, RandomState.random_sample():
 * ((a >> 5) * 2^26 + (b >> 6)) / 2^53 from two words a, b. */
double nb_rng_uniform(nb_rng *rng);

/* RandomState.uniform(low, high): low + (high - low) * random_sample(). */
double nb_rng_uniform_range(nb_rng *rng, double low, double high);

/* Standard normal, RandomState.standard_normal() / randn(): the legacy
 * polar method.  Draws pairs (x1, x2) = (2u - 1, 2u - 1) until
 * 0 < r2 = x1^2 + x2^2 < 1, returns x2 * sqrt(-2 log(r2) / r2) and caches
 * x1 * sqrt(...) for the next call. */
double nb_rng_gauss(nb_rng *rng);

/* RandomState.normal(loc, scale): loc + scale * gauss.  scale is not
 * checked (NumPy rejects scale < 0 before drawing; callers do that). */
double nb_rng_normal(nb_rng *rng, double loc, double scale);

/* Uniform integer in [0, max], NumPy's legacy random_interval: draws
 * (masked to the smallest all-ones mask >= max) until one is <= max; one
 * 32-bit word per draw when max <= 0xffffffff, else nb_rng_uint64().
 * max == 0 returns 0 without drawing. */
size_t nb_rng_interval(nb_rng *rng, size_t max);

/* In-place shuffle of idx (n), exactly RandomState.shuffle of a 1-d array:
 * for i = n-1 down to 1, swap idx[i] and idx[interval(i)].  n < 2 draws
 * nothing. */
void nb_rng_shuffle(nb_rng *rng, size_t *idx, size_t n);

/* idx (n) := RandomState.permutation(n): 0, 1, ..., n-1, then shuffled. */
void nb_rng_permutation(nb_rng *rng, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_RNG_H */
