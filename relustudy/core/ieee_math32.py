"""``exp``, ``expm1``, ``tanh`` and ``sigmoid`` in float32 from IEEE-754 basic operations: one definition, every engine.

The float32 twin of :mod:`.ieee_math` (read that module first): the same algorithms, written
once over the same primitives -- ``add``, ``sub``, ``mul``, ``div`` (each one correctly
rounded float32 operation, never fused), ``where(cond, a, b)``, ``copysign(a, b)``,
``scale2(p, k)`` (an exact multiplication by 2**k as two multiplications by powers of two)
and ``pow2(v)`` (2**k read from v = k + 1.5 * 2**23) -- plus ``f32``, which turns
a Python number into the binding's float32 constant. Every constant of the algorithms goes
through ``f32`` (0.0, 1.0 and 2.0 included), so a binding whose literals are float64 (numba,
CUDA) cannot promote a float32 run to float64 by accident.

The algorithms are fdlibm's float versions (``e_expf.c``, ``s_expm1f.c``, ``s_tanhf.c`` of
the original Cygnus port), which are the double algorithms with the coefficients rounded to
float32 and a float-specific split of ln2:

* ``exp``: Cody-Waite reduction ``x = k ln2 + r`` with ``ln2 = LN2_HI + LN2_LO`` (LN2_HI =
  0x3f317200 has 9 trailing zero bits, so ``k * LN2_HI`` is exact for |k| < 2**9; k is
  rounded to nearest by adding and subtracting 1.5 * 2**23), then fdlibm's Remez rational
  ``exp(r) = 1 + 2r / (R(r) - r)``; inputs are clamped to [-104, 89], beyond which the
  float32 result is 0 or inf anyway, so ``k`` stays in [-150, 129] and the final scaling
  rounds once into the subnormals;
* ``expm1``: the k = 0 rational for |x| <= ln2/2, ``exp(x) - 1`` beyond (as the float64 one);
* ``tanh`` and ``sigmoid``: the float64 module's one-division forms over
  exp(y) = 2**k (R + r) / (R - r) (see :mod:`.ieee_math`, including tanh's reduction of |x|
  with halved constants and sigmoid's scaling by 2**-k as (p * 2**(80 - k)) * 2**-80);
  tanh(x) = x exactly for |x| < 2**-12 (R rounds to 2 there), +-1 for |x| >= 22.

Accuracy against the correctly rounded result, measured on the test's inputs
(``tests/test_float32.py``): exp within 1 ulp, expm1 3, tanh 4, sigmoid 2.

Bindings: :data:`exp`, :data:`expm1`, :data:`tanh`, :data:`sigmoid` here are the NumPy ones (float32
ufuncs on arrays); :func:`python_binding` gives plain-Python scalar ones that compute in
double and round every result to float32 (double rounding is exact for + - * / when the
wide format has more than 2p + 1 bits: 53 > 2 * 24 + 1), an independent check that the
NumPy binding really computes in float32; an engine binds its own (numba: ``np.float32``
arithmetic in ``@njit`` functions, CUDA: ``__fadd_rn`` and friends).
"""
from __future__ import annotations

from types import SimpleNamespace

import math
from typing import Callable

import numpy as np

from relustudy.core import ieee_math

# Exact powers of two 2**-80 .. 2**80, all normal float32 numbers.
POW2_OFFSET = 80
POW2 = np.ldexp(np.float32(1.0), np.arange(-POW2_OFFSET, POW2_OFFSET + 1)).astype(np.float32)

LN2_HI = float(np.array(0x3F317200, dtype=np.uint32).view(np.float32))  # 6.9314575195e-01
LN2_LO = float(np.array(0x35BFBE8E, dtype=np.uint32).view(np.float32))  # 1.4286067653e-06
INVLN2 = 1.4426950408889634  # rounded by f32 to 0x3fb8aa3b
ROUND_SHIFT = 12582912.0  # 1.5 * 2**23: (v + S) - S rounds |v| < 2**22 to the nearest integer
EXP_XMAX = 89.0  # expf overflows beyond ~88.72
EXP_XMIN = -104.0  # expf rounds to 0 below ~-103.97
TANH_ONE = 22.0
# sigmoid's 2**-k, k in [0, 150]: (p * 2**(80 - k)) * 2**-80, the first product exact (see ieee_math)
SIGMOID_SHIFT = 80.0 + 2.0 * ROUND_SHIFT  # - (k + ROUND_SHIFT) = (80 - k) + ROUND_SHIFT, exact in float32
SIGMOID_UNSCALE = 2.0**-80
# The float64 module's Remez coefficients and ln2/2, rounded to float32 by f32 in build().
P = (ieee_math.P1, ieee_math.P2, ieee_math.P3, ieee_math.P4, ieee_math.P5)
Q = (ieee_math.Q1, ieee_math.Q2, ieee_math.Q3, ieee_math.Q4, ieee_math.Q5)
HALF_LN2 = ieee_math.HALF_LN2


def build(add: Callable, sub: Callable, mul: Callable, div: Callable, where: Callable, copysign: Callable,
          scale2: Callable, pow2: Callable, f32: Callable,
          jit: Callable = lambda f: f) -> SimpleNamespace:
    """The shared float32 ``exp``, ``expm1``, ``tanh`` and ``sigmoid`` (a namespace of the four), written
    once over an engine's primitives.

    Parameters
    ----------
    add, sub, mul, div : correctly rounded float32 binary operations, never fused.
    where : ``where(cond, a, b)``, a for true, b for false.
    copysign : ``copysign(a, b)``, |a| with the sign bit of b (exact, float32).
    scale2 : ``scale2(p, k)`` = ``(p * 2**(k//2)) * 2**(k - k//2)`` for an integral float32 k
        in [-160, 160], the factors exact powers of two (e.g. looked up in :data:`POW2`).
    pow2 : ``pow2(v)`` = 2**k for v = k + ROUND_SHIFT (float32, exact), k integral in
        [-80, 80], one exact float32.
    f32 : a Python float -> the binding's float32 constant of the nearest value.
    jit : applied to each function before the next one refers to it (identity for NumPy).

    Branch-free, like :func:`relustudy.core.ieee_math.build`; negation, ``abs`` and
    comparisons are exact and use the plain operators.
    """
    zero, one, two, three, six, half = f32(0.0), f32(1.0), f32(2.0), f32(3.0), f32(6.0), f32(0.5)
    ln2_hi, ln2_lo, invln2, shift = f32(LN2_HI), f32(LN2_LO), f32(INVLN2), f32(ROUND_SHIFT)
    xmax, xmin, tanh_one = f32(EXP_XMAX), f32(EXP_XMIN), f32(TANH_ONE)
    p1, p2, p3, p4, p5 = (f32(c) for c in P)
    # tanh's halved reduction (ieee_math.P_HALF): exact rescalings of the float32 constants
    two_invln2, half_ln2_hi, half_ln2_lo = f32(2.0 * INVLN2), f32(LN2_HI / 2.0), f32(LN2_LO / 2.0)
    q_half = tuple(f32(c * 2.0 ** (2 * i + 1)) for i, c in enumerate((p1, p2, p3, p4, p5)))
    sig_shift, sig_unscale = f32(SIGMOID_SHIFT), f32(SIGMOID_UNSCALE)
    q1, q2, q3, q4, q5 = (f32(c) for c in Q)
    half_ln2 = f32(HALF_LN2)

    def _horner(t, c1, c2, c3, c4, c5):
        """c1 + t (c2 + t (c3 + t (c4 + t c5))) in Horner's order: fdlibm's degree-4 factors
        (exp's P(t), expm1's Q(hxs), tanh's halved P)."""
        return add(c1, mul(t, add(c2, mul(t, add(c3, mul(t, add(c4, mul(t, c5))))))))

    _horner = jit(_horner)

    def exp(x):
        nan = x != x
        xc = where(nan, zero, where(x > xmax, xmax, where(x < xmin, xmin, x)))
        k = sub(add(mul(xc, invln2), shift), shift)
        hi = sub(xc, mul(k, ln2_hi))
        lo = mul(k, ln2_lo)
        r = sub(hi, lo)
        t = mul(r, r)
        c = sub(r, mul(t, _horner(t, p1, p2, p3, p4, p5)))
        y = sub(one, sub(sub(lo, div(mul(r, c), sub(two, c))), hi))
        return where(nan, x, scale2(y, k))

    exp = jit(exp)

    def expm1(x):
        small = where(x < zero, -x, x) <= half_ln2
        xs = where(small, x, zero)
        hfx = mul(half, xs)
        hxs = mul(xs, hfx)
        r1 = add(one, mul(hxs, _horner(hxs, q1, q2, q3, q4, q5)))
        t = sub(three, mul(r1, hfx))
        e = mul(hxs, div(sub(r1, t), sub(six, mul(xs, t))))
        near = sub(xs, sub(mul(xs, e), hxs))
        far = sub(exp(where(small, zero, x)), one)
        return where(small, near, far)

    expm1 = jit(expm1)

    def _reduce(y, invln2_, ln2_hi_, ln2_lo_):
        """(v, r, t) for 0 <= y <= 104: y = k c + r (c = ln2, or ln2/2 for tanh), v = k + ROUND_SHIFT,
        t = r**2 (see ieee_math)."""
        v = add(mul(y, invln2_), shift)
        k = sub(v, shift)
        r = sub(sub(y, mul(k, ln2_hi_)), mul(k, ln2_lo_))
        return v, r, mul(r, r)

    _reduce = jit(_reduce)

    def tanh(x):
        # ieee_math's one-division tanh: ((2**k - 1) R + (2**k + 1) r) / ((2**k + 1) R + (2**k - 1) r),
        # on h = |x| with the halved constants
        h = abs(x)
        h = where(h < tanh_one, h, tanh_one)
        v, r, t = _reduce(h, two_invln2, half_ln2_hi, half_ln2_lo)
        c1, c2, c3, c4, c5 = q_half
        half_r = add(one, mul(t, _horner(t, c1, c2, c3, c4, c5)))
        p = pow2(v)
        a, b = sub(p, one), add(p, one)
        z = div(add(mul(a, half_r), mul(b, r)), add(mul(b, half_r), mul(a, r)))
        return where(x != x, x, copysign(z, x))

    tanh = jit(tanh)

    def sigmoid(x):
        # ieee_math's one-division sigmoid over e = exp(-|x|) = 2**-k (R - r) / (R + r)
        m = abs(x)
        m = where(m < -xmin, m, -xmin)
        v, r, t = _reduce(m, invln2, ln2_hi, ln2_lo)
        big_r = add(two, mul(t, _horner(t, p1, p2, p3, p4, p5)))
        n = mul(mul(sub(big_r, r), pow2(sub(sig_shift, v))), sig_unscale)
        d = add(big_r, r)
        s = div(where(x < zero, n, d), add(d, n))
        return where(x != x, x, s)

    sigmoid = jit(sigmoid)
    return SimpleNamespace(exp=exp, expm1=expm1, tanh=tanh, sigmoid=sigmoid)


def _np_scale2(p: np.ndarray, k: np.ndarray) -> np.ndarray:
    """NumPy binding of ``scale2``: p * 2**k as two exact float32 table factors."""
    ki = k.astype(np.int64)
    k1 = ki >> 1
    return p * POW2[k1 + POW2_OFFSET] * POW2[ki - k1 + POW2_OFFSET]


def _np_pow2(v: np.ndarray) -> np.ndarray:
    """NumPy binding of ``pow2``: 2**k for v = k + ROUND_SHIFT, looked up in :data:`POW2` (float32)."""
    return POW2[(v - np.float32(ROUND_SHIFT)).astype(np.int64) + POW2_OFFSET]


def _np_where(cond, a, b):
    return np.where(cond, a, b)


def _vectorised(f: Callable) -> Callable:
    """A float32 array function of any shape that never warns on inf/NaN."""

    def g(x):
        with np.errstate(all="ignore"):
            return np.asarray(f(np.asarray(x, dtype=np.float32)), dtype=np.float32)

    g.__name__ = f.__name__
    g.__doc__ = f"Shared float32 ``{f.__name__}`` on an array of any shape (same shape back); see the module."
    return g


_built = build(np.add, np.subtract, np.multiply, np.divide, _np_where, np.copysign, _np_scale2,
                                         _np_pow2, np.float32)
_exp, _expm1, _tanh, _sigmoid = _built.exp, _built.expm1, _built.tanh, _built.sigmoid
exp = _vectorised(_exp)
expm1 = _vectorised(_expm1)
tanh = _vectorised(_tanh)
sigmoid = _vectorised(_sigmoid)


def python_binding() -> SimpleNamespace:
    """Scalar exp, expm1, tanh and sigmoid (a namespace) on Python floats: every operation in double, rounded to float32.

    Rounding the exact double result of one + - * / of two float32 numbers to float32 gives
    the float32 operation's result (the double has > 2 * 24 + 1 bits), so these equal the
    float32 functions bit for bit while sharing no float32 code with NumPy's.
    """

    def r(v: float) -> float:
        with np.errstate(all="ignore"):
            return float(np.float32(v))

    def scale2(p, k):
        k = int(k)
        k1 = k >> 1
        return r(r(p * 2.0**k1) * 2.0 ** (k - k1))

    def div(a, b):
        with np.errstate(all="ignore"):  # Python's / raises on 0 where IEEE gives inf or NaN
            return r(float(np.float64(a) / np.float64(b)))

    return build(lambda a, b: r(a + b), lambda a, b: r(a - b), lambda a, b: r(a * b), div,
                 lambda c, a, b: a if c else b, math.copysign, scale2,
                 lambda v: 2.0 ** int(v - ROUND_SHIFT), r)
