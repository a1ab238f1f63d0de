"""``exp``, ``expm1``, ``tanh`` and ``sigmoid`` from IEEE-754 basic operations only: one definition, every engine.

Library versions of these functions differ in the last bit (NumPy's SIMD loops, the C
library that numba calls, CUDA's libdevice), and one ulp at epoch 1 is a different run by
epoch 5000. So every engine computes them with the algorithms below, written once in terms
of six primitives -- ``add``, ``sub``, ``mul``, ``div`` (each one correctly rounded IEEE
operation, never fused), ``where(cond, a, b)`` (a select), ``copysign(a, b)`` (a's magnitude
with b's sign bit) -- plus ``scale2(p, k)``, an exact multiplication by 2**k done as two
table multiplications, and ``pow2(v)``, an exact power of two read from the rounded value
the reduction already holds. :func:`build` turns the primitives into the four functions;
each engine binds its own primitives:

* NumPy (the reference, :data:`exp`, :data:`expm1`, :data:`tanh`, :data:`sigmoid` here): ufuncs on arrays,
  ``np.where`` for the select (both sides are computed, which is why the code is branch-free);
* numba (``numba_cpu``): ``a + b`` etc. in scalar ``@njit(inline="always")`` functions;
* CUDA (``cuda_gpu``): libdevice's ``dadd_rn``/``dmul_rn``/... so nothing is contracted
  into an FMA.

Because the operations and their order are the same everywhere, so are the bits.

The algorithms are fdlibm's (Sun, 1993; also in musl and Java's StrictMath): ``exp`` by
Cody-Waite reduction ``x = k ln2 + r`` (k rounded to nearest by adding and subtracting
1.5 * 2**52) and a Remez rational for exp(r), within 1 ulp; ``expm1`` by fdlibm's k = 0
rational for |x| <= ln2/2 and ``exp(x) - 1`` beyond (exact subtraction for x < 0),
within 4 ulp.

``tanh`` and ``sigmoid`` (the activations, evaluated ~10 times per sample and run) cost one
division each: fdlibm's reduction gives exp(y) = 2**k (R + r) / (R - r) with R = r coth(r/2)
a polynomial, and that quotient is folded into the activation's own
(tanh(x) = (E - 1) / (E + 1), sigmoid(x) = 1 / (1 + E)) instead of dividing twice. They are
within 5 ulp (tanh, of the C library) and 2 ulp (sigmoid, of an extended-precision value),
about 60 % and 75 % correctly rounded; exp/expm1 within 1 and 4 ulp (measured on 320,000
inputs over eight scales plus the branch edges, ``tests/test_ieee_math.py``). Until
November 2026 tanh was fdlibm's (expm1 identities, two divisions, within 4 ulp) and sigmoid
was 1 / (1 + exp(-x)) over :data:`exp`: the new forms changed the bits of every tanh/sigmoid
run (the datasets were regenerated). Later rewrites of the two kept every bit (checked
against the previous outputs of every binding) and only removed operations: each is about
35 vector operations and a division, ~1.0 ns per element in numba's rows.
"""
from __future__ import annotations

from types import SimpleNamespace

from typing import Callable

import numpy as np

# Exact powers of two 2**-540 .. 2**540 (every entry is representable, so lookups are exact).
POW2_OFFSET = 540
POW2 = np.ldexp(1.0, np.arange(-POW2_OFFSET, POW2_OFFSET + 1))

INVLN2 = 1.44269504088896338700e00  # 1/ln2
LN2_HI = 6.93147180369123816490e-01  # ln2 split so that k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
ROUND_SHIFT = 6755399441055744.0  # 1.5 * 2**52: (v + S) - S rounds v to the nearest integer
# exp(r) = 1 + 2r / (R(r) - r) with R's Remez coefficients (fdlibm e_exp.c)
P1 = 1.66666666666666019037e-01
P2 = -2.77777777770155933842e-03
P3 = 6.61375632143793436117e-05
P4 = -1.65339022054652515390e-06
P5 = 4.13813679705723846039e-08
# expm1 near 0 (fdlibm s_expm1.c)
Q1 = -3.33333333333331316428e-02
Q2 = 1.58730158725481460165e-03
Q3 = -7.93650757867487942473e-05
Q4 = 4.00821782732936239552e-06
Q5 = -2.01099218183624371326e-07
HALF_LN2 = 0.34657359027997264  # |x| <= ln2/2: expm1's rational branch
EXP_XMAX = 710.0  # exp(x) overflows to inf beyond ~709.78; clamping here keeps k in the table
EXP_XMIN = -746.0  # exp(x) rounds to 0 below ~-745.13
TANH_ONE = 22.0  # tanh(x) rounds to +-1 for |x| >= 22
# tanh reduces h = |x| where fdlibm reduces y = 2|x|: every intermediate is then exactly half
# of fdlibm's (a factor 2 commutes with rounding), so its constants are these exact rescalings
# (R(r)/2 = 1 + t' (P1' + t' (P2' + ...)) with t' = (r/2)**2: Pi' = Pi 2**(2i - 1)).
TWO_INVLN2, HALF_LN2_HI, HALF_LN2_LO = 2.0 * INVLN2, LN2_HI / 2.0, LN2_LO / 2.0
P_HALF = (2.0 * P1, 8.0 * P2, 32.0 * P3, 128.0 * P4, 512.0 * P5)
# sigmoid scales by 2**-k (k in [0, 1077]) as (p * 2**(540 - k)) * 2**-540: the first product
# is exact (normal), so the one rounding is the second's, as for any exact split of 2**-k.
SIGMOID_SHIFT = 540.0 + 2.0 * ROUND_SHIFT  # SIGMOID_SHIFT - (k + ROUND_SHIFT) = (540 - k) + ROUND_SHIFT, exact
SIGMOID_UNSCALE = 2.0**-540


def build(add: Callable, sub: Callable, mul: Callable, div: Callable, where: Callable, copysign: Callable,
          scale2: Callable, pow2: Callable, jit: Callable = lambda f: f) -> SimpleNamespace:
    """The shared ``exp``, ``expm1``, ``tanh`` and ``sigmoid`` (a namespace of the four), written once over
    an engine's primitives.

    Parameters
    ----------
    add, sub, mul, div : correctly rounded binary operations, never fused.
    where : ``where(cond, a, b)``, a for true, b for false.
    copysign : ``copysign(a, b)``, |a| with the sign bit of b (exact).
    scale2 : ``scale2(p, k)`` = ``(p * 2**(k//2)) * 2**(k - k//2)`` for an integral float k
        in [-1080, 1080], the factors looked up in :data:`POW2`.
    pow2 : ``pow2(v)`` = 2**k for ``v = k + ROUND_SHIFT`` (exact), k integral in [-540, 540]:
        the reductions' rounded value, whose low mantissa bits hold k, so a binding can read
        2**k from v's bits without first subtracting the shift (numba does).
    jit : applied to each function before the next one refers to it (numba's ``njit`` or
        CUDA's ``jit(device=True)``; identity for NumPy).

    The code is branch-free (every ``where`` evaluates both sides), so the NumPy binding
    computes exactly what the scalar ones do. Negation, ``abs`` and comparisons are exact
    and use the plain operators.
    """

    def _horner(t, c1, c2, c3, c4, c5):
        """c1 + t (c2 + t (c3 + t (c4 + t c5))) in Horner's order: fdlibm's degree-4 factors
        (exp's P(t), expm1's Q(hxs), tanh's halved P)."""
        return add(c1, mul(t, add(c2, mul(t, add(c3, mul(t, add(c4, mul(t, c5))))))))

    _horner = jit(_horner)

    def _exp_parts(x):
        """exp(x) up to its one division: (num, den, hi, lo, k); exp(x) = _exp_finish(num / den, ...)."""
        nan = x != x
        # Clamp (and neutralise NaN) so that k indexes the table; overflow/underflow still
        # come out of the final scaling with IEEE semantics.
        xc = where(nan, 0.0, where(x > EXP_XMAX, EXP_XMAX, where(x < EXP_XMIN, EXP_XMIN, x)))
        k = sub(add(mul(xc, INVLN2), ROUND_SHIFT), ROUND_SHIFT)
        hi = sub(xc, mul(k, LN2_HI))
        lo = mul(k, LN2_LO)
        r = sub(hi, lo)
        t = mul(r, r)
        c = sub(r, mul(t, _horner(t, P1, P2, P3, P4, P5)))
        return mul(r, c), sub(2.0, c), hi, lo, k

    _exp_parts = jit(_exp_parts)

    def _exp_finish(q, hi, lo, k):
        return scale2(sub(1.0, sub(sub(lo, q), hi)), k)

    _exp_finish = jit(_exp_finish)

    def exp(x):
        num, den, hi, lo, k = _exp_parts(x)
        return where(x != x, x, _exp_finish(div(num, den), hi, lo, k))

    exp = jit(exp)

    def expm1(x):
        small = where(x < 0.0, -x, x) <= HALF_LN2
        xs = where(small, x, 0.0)
        hfx = mul(0.5, xs)
        hxs = mul(xs, hfx)
        r1 = add(1.0, mul(hxs, _horner(hxs, Q1, Q2, Q3, Q4, Q5)))
        t = sub(3.0, mul(r1, hfx))
        # Each lane needs one of two divisions (the rational's near 0, exp's beyond): select
        # its operands and divide once. The selected branch gets exactly the operands it
        # would have had alone, so the bits are those of computing both.
        xf = where(small, 0.0, x)
        num, den, hi, lo, k = _exp_parts(xf)
        q = div(where(small, sub(r1, t), num), where(small, sub(6.0, mul(xs, t)), den))
        near = sub(xs, sub(mul(xs, mul(hxs, q)), hxs))
        far = sub(where(xf != xf, xf, _exp_finish(q, hi, lo, k)), 1.0)  # NaN is not small: NaN - 1 = NaN
        return where(small, near, far)

    expm1 = jit(expm1)

    def _reduce(y, invln2, ln2_hi, ln2_lo):
        """(v, r, t) for 0 <= y <= 746: y = k c + r with c = ln2_hi + ln2_lo (ln2, or ln2/2 for
        tanh's halved reduction), k = y invln2 rounded to nearest, v = k + ROUND_SHIFT, t = r**2."""
        v = add(mul(y, invln2), ROUND_SHIFT)
        k = sub(v, ROUND_SHIFT)
        r = sub(sub(y, mul(k, ln2_hi)), mul(k, ln2_lo))
        return v, r, mul(r, r)

    _reduce = jit(_reduce)

    def tanh(x):
        # tanh(|x|) = (E - 1) / (E + 1) with E = exp(2|x|) = 2**k (R + r) / (R - r)
        # (fdlibm's reduction of 2|x|, R = r coth(r/2) = 2 + t P(t) its Remez polynomial),
        # multiplied out: ((2**k - 1) R + (2**k + 1) r) / ((2**k + 1) R + (2**k - 1) r): one
        # division. For k = 0 this is r / R exactly (no cancellation near 0), and below 2**-27
        # R rounds to 2, so the quotient is |x| exactly down to the subnormals and -0.0 (copysign
        # restores the sign). 2**k -+ 1 are exact (k <= 64). |x| >= 22 (and NaN, restored by the
        # last select) evaluate at 22, where the quotient rounds to 1. Computed on h = |x| with
        # the halved constants (see P_HALF): r and R are half of fdlibm's, the quotient the same.
        h = abs(x)
        h = where(h < TANH_ONE, h, TANH_ONE)
        v, r, t = _reduce(h, TWO_INVLN2, HALF_LN2_HI, HALF_LN2_LO)
        q1, q2, q3, q4, q5 = P_HALF
        half_r = add(1.0, mul(t, _horner(t, q1, q2, q3, q4, q5)))
        p = pow2(v)
        a, b = sub(p, 1.0), add(p, 1.0)
        z = div(add(mul(a, half_r), mul(b, r)), add(mul(b, half_r), mul(a, r)))
        return where(x != x, x, copysign(z, x))

    tanh = jit(tanh)

    def sigmoid(x):
        # 1 / (1 + exp(-x)) with e = exp(-|x|) = 2**-k (R - r) / (R + r) <= 1 (no overflow), over
        # the reduction |x| = k ln2 + r: x >= 0: 1 / (1 + e) = (R + r) / ((R + r) + 2**-k (R - r));
        # x < 0: e / (1 + e), the same denominator. Beyond 746 e rounds to 0 and so does the
        # result for x < 0; 2**-k is applied as two exact factors (see SIGMOID_SHIFT), so the
        # tail below -708 is rounded once into the subnormals.
        m = abs(x)
        m = where(m < -EXP_XMIN, m, -EXP_XMIN)
        v, r, t = _reduce(m, INVLN2, LN2_HI, LN2_LO)
        big_r = add(2.0, mul(t, _horner(t, P1, P2, P3, P4, P5)))
        n = mul(mul(sub(big_r, r), pow2(sub(SIGMOID_SHIFT, v))), SIGMOID_UNSCALE)
        d = add(big_r, r)
        s = div(where(x < 0.0, n, d), add(d, n))
        return where(x != x, x, s)

    sigmoid = jit(sigmoid)
    return SimpleNamespace(exp=exp, expm1=expm1, tanh=tanh, sigmoid=sigmoid)


def _np_scale2(p: np.ndarray, k: np.ndarray) -> np.ndarray:
    """NumPy binding of ``scale2``: p * 2**k as two exact table factors (see :func:`build`)."""
    ki = k.astype(np.int64)
    k1 = ki >> 1  # floor(k / 2)
    return p * POW2[k1 + POW2_OFFSET] * POW2[ki - k1 + POW2_OFFSET]


def _np_pow2(v: np.ndarray) -> np.ndarray:
    """NumPy binding of ``pow2``: 2**k for v = k + ROUND_SHIFT, looked up in :data:`POW2`."""
    return POW2[(v - ROUND_SHIFT).astype(np.int64) + POW2_OFFSET]


def _np_where(cond, a, b):
    return np.where(cond, a, b)


def _vectorised(f: Callable) -> Callable:
    """An array function that accepts any float input shape and never warns on inf/NaN."""

    def g(x):
        with np.errstate(all="ignore"):
            return np.asarray(f(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    g.__name__ = f.__name__
    g.__doc__ = f"Shared ``{f.__name__}`` on a float64 array of any shape (same shape back); see the module."
    return g


_built = build(np.add, np.subtract, np.multiply, np.divide, _np_where, np.copysign, _np_scale2,
                                         _np_pow2)
_exp, _expm1, _tanh, _sigmoid = _built.exp, _built.expm1, _built.tanh, _built.sigmoid
exp = _vectorised(_exp)
expm1 = _vectorised(_expm1)
tanh = _vectorised(_tanh)
sigmoid = _vectorised(_sigmoid)
