"""The fixtures' counter-based PRNG, shared with tests/ops/fixture_rng.c.

Large op fixtures do not store their inputs: the generator and the C test
both compute them from (seed, element index), so a 4096x2560 input costs a
seed and a scale in the fixture instead of 40 MB.

    u(seed, i) = top 24 bits of splitmix64(seed * 2^32 + i), mapped to
                 (k - 2^23) / 2^23, a float in [-1, 1) that f32 holds exactly;
    value      = f32(u) * f32(scale), one IEEE f32 multiply (identical in C).

splitmix64(x) is Steele, Lea and Flood's mix of x + 0x9E3779B97F4A7C15
(the output for state x of the SplitMix64 generator).
"""
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x):
    """x: uint64 array -> uint64 array (arithmetic mod 2^64)."""
    with np.errstate(over="ignore"):
        z = x + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        return z ^ (z >> np.uint64(31))


def uniform(seed, n):
    """n floats in [-1, 1) for `seed` (< 2^32), element indices 0..n-1 (< 2^32)."""
    assert 0 <= seed < 2**32 and 0 <= n <= 2**32
    x = (np.uint64(seed) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
    k = (splitmix64(x) >> np.uint64(40)).astype(np.int64)
    return (k - 2**23).astype(np.float32) * np.float32(2.0**-23)


def generate(seed, shape, scale=1.0):
    """An f32 array of `shape` (row-major element order) = uniform * f32(scale)."""
    n = int(np.prod(shape, dtype=np.int64))
    return (uniform(seed, n) * np.float32(scale)).reshape(shape)
