"""legacy_normals: the legacy RandomState's seed + randn stream, bit for bit, for many seeds at once."""
import numpy as np
import pytest

from relustudy.core.inits import draw_normals
from relustudy.core.legacy_normals import N, legacy_randn


def reference(seeds, total):
    rs = np.random.RandomState()
    out = np.empty((total, len(seeds)))
    for r, s in enumerate(seeds):
        rs.seed(int(s))
        out[:, r] = rs.randn(total)
    return out


SEEDS = np.r_[np.arange(300), 2**32 - 1 - np.arange(70), np.random.default_rng(7).integers(0, 2**32, 200)]


# 0 and 1 (an empty column, a cached Gaussian left over), 37 (the posted net), 1185 (a 32-32 net:
# more than the 624-word state, so the state is twisted a second time), 3 * N words' worth
@pytest.mark.parametrize("total", [0, 1, 2, 37, 1185, 3 * N])
def test_equals_randomstate_bit_for_bit(total):
    got = legacy_randn(SEEDS, total)
    assert got.shape == (total, len(SEEDS))
    assert np.array_equal(got.view(np.int64), reference(SEEDS, total).view(np.int64))


def test_blocks_do_not_interact():
    # a seed's column does not depend on its position in the block or on the other seeds
    seeds = np.arange(1000, 1000 + 150)
    whole = legacy_randn(seeds, 37)
    for r in (0, 63, 64, 149):
        assert np.array_equal(legacy_randn(seeds[r:r + 1], 37)[:, 0], whole[:, r])
    assert np.array_equal(legacy_randn(seeds[::-1], 37), whole[:, ::-1])


def test_out_of_range_seed_is_refused():
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match=r"invalid seed .*allowed: integers in \[0, 2\*\*32\)"):
            legacy_randn(np.array([3, bad]), 5)


def test_draw_normals_is_the_posted_programs_draw_order():
    # the posted program: np.random.seed(s); W1 = randn(4, 2); b1 = randn(4); W2 = ...
    sizes = (2, 4, 4, 1)
    params = draw_normals([5, 2**31], sizes)
    for r, s in enumerate([5, 2**31]):
        np.random.seed(s)
        for (w, b), (n_in, n_out) in zip(params, zip(sizes[:-1], sizes[1:])):
            assert np.array_equal(w[:, :, r], np.random.randn(n_out, n_in))
            assert np.array_equal(b[:, r], np.random.randn(n_out))
