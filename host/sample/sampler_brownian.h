/* sampler_brownian.h — the noise A1111 gives DPM++ 2M SDE: a Brownian tree per
 * image (A1111 sd_samplers_common.create_noise_sampler -> k-diffusion
 * BrownianTreeNoiseSampler -> torchsde.BrownianTree(t0, w0, t1, entropy=seed)).
 *
 * torchsde's BrownianTree is a BrownianInterval with halfway_tree=True,
 * tol=1e-6 (interval ends rounded to 6 decimals), pool_size=24 and no Levy
 * area. Its nodes split at their rounded midpoints; the increment over a child
 * comes from its parent's: left = (m-s)/h*W + sqrt((m-s)(e-m)/h)*N, right =
 * W - left, where N is a fresh normal draw seeded by
 * numpy.random.SeedSequence(seed, spawn_key=(node key, depth), pool_size=24).
 * A1111 replaces torchsde's draw by randn_local(seed, shape), i.e. the
 * selected RNG (GPU/CPU/NV) freshly seeded: that is the randn_seeded callback.
 * The arithmetic is float32, in the order torch evaluates it, so the result is
 * A1111's bit for bit given the same draws. Query times are the float32
 * sigmas A1111 passes. Nothing is cached: each query recomputes its nodes from
 * the root (about 2 x 25 draws of one image's size), which gives the same
 * values as torchsde's LRU cache. */
#ifndef LOOM_SAMPLER_BROWNIAN_H
#define LOOM_SAMPLER_BROWNIAN_H

#include "sampler.h"

/* numpy.random.SeedSequence(entropy, spawn_key=key[0..n_key), pool_size).generate_state(n_words);
 * n_key 0 means no spawn key. pool_size <= 64, n_key <= 8. */
void loom_seedseq_state(uint64_t entropy, const uint64_t *key, int n_key, int pool_size, uint32_t *out,
                        int n_words);

typedef struct loom_brownian loom_brownian;

/* One tree over [t0, t1] (t0 <= t1) for n floats, seeded with `entropy`. */
loom_status loom_brownian_create(double t0, double t1, uint64_t entropy, int64_t n, loom_randn_seeded_fn randn,
                                 void *ctx, loom_brownian **out);
/* W(tb) - W(ta) for ta <= tb, clamped to the tree's interval like torchsde. */
loom_status loom_brownian_increment(loom_brownian *b, double ta, double tb, float *w);
void loom_brownian_free(loom_brownian *b);

/* BrownianTreeNoiseSampler over one tree per image: n floats split evenly
 * between n_seeds images; the tree interval is [sigma_min, sigma_max]. */
typedef struct loom_bt_noise loom_bt_noise;
loom_status loom_bt_noise_create(double sigma_min, double sigma_max, const uint64_t *seeds, int n_seeds, int64_t n,
                                 loom_randn_seeded_fn randn, void *ctx, loom_bt_noise **out);
/* (W(sigma_next) - W(sigma)) / sqrt(|sigma_next - sigma|) for the whole batch. */
loom_status loom_bt_noise_sample(loom_bt_noise *s, double sigma, double sigma_next, float *out);
void loom_bt_noise_free(loom_bt_noise *s);

#endif
