"""``np.random.RandomState(seed).randn(total)`` for many seeds at once, bit for bit, in numba.

The posted program draws its init with the legacy generator (MT19937 seeded by
``init_genrand``, Gaussians by the polar method with one cached value), and every run of the
study starts from those draws (:func:`relustudy.core.inits.draw_normals`). Re-seeding one
``RandomState`` per seed costs ~5.6 us a seed in Python, ~8 % of a 1000-epoch posted-cell
run on the fused engine; this module computes the same numbers in ~1 us:

* the 624-word seeding recurrence ``key[i] = 1812433253 (key[i-1] ^ (key[i-1] >> 30)) + i``
  runs for a block of seeds in lockstep (one SIMD loop over the seeds per word) instead of
  one dependent chain per seed;
* the state is twisted one word at a time as words are used (the reference twists all 624
  before the first draw): the twist is in-place and sequential, so word i's new value depends
  only on words already twisted in this round and words not yet reached, and twisting them in
  the same order one at a time gives the same words;
* the polar method and the double from two words are NumPy's ``legacy_gauss`` and
  ``legacy_double`` (numpy/random/src/legacy), the same IEEE operations in the same order
  (``log`` and ``sqrt`` from the same C library).

:func:`relustudy.core.inits.draw_normals` uses it; ``tests/test_legacy_normals.py`` checks it
against ``RandomState`` bit for bit (seeds 0..2**32-1 at both ends, totals that cross the
624-word state and leave a cached Gaussian).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

N, M = 624, 397  # MT19937's state words and shift
MATRIX_A, UPPER, LOWER = 0x9908B0DF, 0x80000000, 0x7FFFFFFF
MASK32 = 0xFFFFFFFF
SEED_MULT = 1812433253
BLOCK = 64  # seeds seeded in lockstep: their 624 x 64 state (160 KiB as uint64) stays in cache


@njit(inline="always", cache=True)
def _next_word(key, k, i):
    """Twist word i of seed k's state (in place, as the reference's loop would) and return it tempered."""
    y = (key[i, k] & UPPER) | (key[(i + 1) % N, k] & LOWER)
    w = key[(i + M) % N, k] ^ (y >> 1)
    if y & 1:
        w ^= MATRIX_A
    key[i, k] = w
    w ^= w >> 11
    w ^= (w << 7) & 0x9D2C5680
    w ^= (w << 15) & 0xEFC60000
    w ^= w >> 18
    return w


@njit(cache=True, nogil=True)
def _fill(seeds, out):
    """out[:, r] = RandomState(seeds[r]).randn(out.shape[0]); seeds (R,) int64 in [0, 2**32), out (total, R) float64."""
    total, R = out.shape
    key = np.empty((N, BLOCK), np.uint64)  # 32-bit words held in 64 bits (numba's unsigned arithmetic)
    for b0 in range(0, R, BLOCK):
        n = min(BLOCK, R - b0)
        for k in range(BLOCK):
            key[0, k] = np.uint64(seeds[b0 + k]) if k < n else np.uint64(0)
        for i in range(1, N):  # init_genrand, every seed of the block in one loop
            for k in range(BLOCK):
                p = key[i - 1, k]
                key[i, k] = (np.uint64(SEED_MULT) * (p ^ (p >> np.uint64(30))) + np.uint64(i)) & np.uint64(MASK32)
        for k in range(n):
            i = 0  # the next word to twist and use
            has_gauss = False
            gauss = 0.0
            for t in range(total):
                if has_gauss:
                    out[t, b0 + k] = gauss
                    has_gauss = False
                    continue
                while True:
                    # legacy_double: (a >> 5) * 2**26 + (b >> 6), over 2**53; twice
                    a = _next_word(key, k, i) >> np.uint64(5)
                    i = (i + 1) % N
                    b = _next_word(key, k, i) >> np.uint64(6)
                    i = (i + 1) % N
                    x1 = 2.0 * ((a * 67108864.0 + b) / 9007199254740992.0) - 1.0
                    a = _next_word(key, k, i) >> np.uint64(5)
                    i = (i + 1) % N
                    b = _next_word(key, k, i) >> np.uint64(6)
                    i = (i + 1) % N
                    x2 = 2.0 * ((a * 67108864.0 + b) / 9007199254740992.0) - 1.0
                    r2 = x1 * x1 + x2 * x2
                    if r2 < 1.0 and r2 != 0.0:
                        break
                f = math.sqrt(-2.0 * math.log(r2) / r2)
                gauss = f * x1
                has_gauss = True
                out[t, b0 + k] = f * x2


def legacy_randn(seeds: np.ndarray, total: int) -> np.ndarray:
    """(total, R) float64: column r is ``np.random.RandomState(seeds[r]).randn(total)``.

    ``seeds`` (R,) integers in [0, 2**32), as RandomState accepts.
    """
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    if seeds.size and (seeds.min() < 0 or seeds.max() > MASK32):
        bad = seeds[(seeds < 0) | (seeds > MASK32)][0]
        raise ValueError(f"invalid seed {bad}; allowed: integers in [0, 2**32)")
    out = np.empty((int(total), seeds.shape[0]))
    if out.size:
        _fill(seeds, out)
    return out
