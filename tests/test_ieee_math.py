"""The shared exp/expm1/tanh: accurate to a few ulp, IEEE special values, same bits in every binding."""
import math

import numpy as np
import pytest

from relustudy.engines import ieee_math

FUNCS = {"exp": (ieee_math.exp, math.exp, 1), "expm1": (ieee_math.expm1, math.expm1, 4),
         "tanh": (ieee_math.tanh, math.tanh, 4)}  # name: (shared, C library, max ulp error)


def _inputs(n=40_000, seed=0):
    """Random inputs over many scales, plus the branch boundaries of the algorithms."""
    rng = np.random.default_rng(seed)
    scales = (1e-9, 1e-3, 0.1, 0.35, 1.0, 3.0, 30.0, 300.0)
    edges = [0.0, -0.0, 1e-300, -1e-310, 5e-324, 2.0**-55, 2.0**-54, ieee_math.HALF_LN2,
             np.nextafter(ieee_math.HALF_LN2, 1), -ieee_math.HALF_LN2, 1.0, np.nextafter(1.0, 0), -1.0,
             21.999, 22.0, -22.0, 709.78, 709.79, -745.13, -745.14, 700.0, -700.0, 0.5 * math.log(2)]
    return np.concatenate([rng.normal(0, s, n) for s in scales] + [np.array(edges)])


def _ref(f, x):
    try:
        return f(x)
    except OverflowError:
        return math.inf


@pytest.mark.parametrize("name", list(FUNCS))
def test_within_a_few_ulp_of_the_c_library(name):
    shared, libm, max_ulp = FUNCS[name]
    x = _inputs()
    got = shared(x)
    want = np.array([_ref(libm, v) for v in x])
    finite = np.isfinite(want) & (want != 0)
    ulp = np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want[finite]))
    assert ulp.max() <= max_ulp
    assert (ulp == 0).mean() > 0.9  # mostly correctly rounded, not merely close
    # Where the true value is 0 or inf the shared function gives exactly that.
    assert np.array_equal(got[~finite], want[~finite])


@pytest.mark.parametrize("name", list(FUNCS))
def test_special_values(name):
    shared, libm, _ = FUNCS[name]
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0])
    got = shared(x)
    want = [_ref(libm, v) if not np.isnan(v) else np.nan for v in x]
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got[4]) == (name != "exp")  # exp(-0) = 1; expm1(-0) = tanh(-0) = -0


def test_sigmoid_limits_need_no_warning():
    with np.errstate(all="raise"):
        assert ieee_math.exp(np.array([1000.0, -1000.0])).tolist() == [math.inf, 0.0]


def test_tanh_is_odd_and_bounded():
    x = _inputs(2000)
    t = ieee_math.tanh(x)
    assert np.array_equal(t, -ieee_math.tanh(-x))
    assert np.all(np.abs(t) <= 1.0)


def test_numba_binding_gives_the_numpy_bits():
    """The scalar numba functions, one value at a time, equal the vectorised NumPy ones bit for bit."""
    from numba import njit

    from relustudy.engines import numba_cpu

    @njit
    def apply(x, out_exp, out_expm1, out_tanh):
        for i in range(x.size):
            out_exp[i] = numba_cpu._exp(x[i])
            out_expm1[i] = numba_cpu._expm1(x[i])
            out_tanh[i] = numba_cpu._tanh(x[i])

    x = np.concatenate([_inputs(20_000, seed=1), [np.inf, -np.inf, np.nan]])
    outs = [np.empty_like(x) for _ in range(3)]
    apply(x, *outs)
    for got, f in zip(outs, (ieee_math.exp, ieee_math.expm1, ieee_math.tanh)):
        want = f(x)
        same_bits = (got.view(np.int64) == want.view(np.int64)) | (np.isnan(got) & np.isnan(want))
        assert same_bits.all()
