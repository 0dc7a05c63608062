/* rng.h -- a small, seeded, reproducible RNG (xoshiro256**, seeded through
 * splitmix64).  Each object owns its state: no global state, thread-safe by
 * construction.  Same seed -> same stream on every platform. */
#ifndef NM_RNG_H
#define NM_RNG_H

#include <stdint.h>

typedef struct nm_rng {
    uint64_t s[4];
    int has_spare;   /* Box-Muller produces pairs; the second is kept here */
    double spare;
} nm_rng;

void nm_rng_seed(nm_rng *r, uint64_t seed);
uint64_t nm_rng_u64(nm_rng *r);
/* Uniform in [0, 1), 53 random bits. */
double nm_rng_uniform(nm_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t nm_rng_below(nm_rng *r, uint64_t n);
/* Standard normal (Box-Muller, polar form). */
double nm_rng_gauss(nm_rng *r);

#endif
