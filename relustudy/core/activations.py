"""Activation registry: each entry's forward sits next to its derivative.

Every function works in place on preallocated buffers (float64, or float32 for a float32
cell, computed in that precision throughout: the shared math of the buffer's dtype, constants
rounded to it) so the training loop allocates nothing. Shapes are free (the core passes ``(n_units, R)`` arrays, run axis
last); all operations are elementwise, so a run's values never depend on its neighbours.

Conventions stated here once: ReLU'(0) = 0 and leaky ReLU'(0) = 0.01 (the posted
program's ``np.where(y > 0, 1, 0)``); derivatives are evaluated at the stored
pre-activation ``z`` or, where cheaper and bitwise equal, at the stored activation ``a``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np

from relustudy.core import ieee_math
from relustudy.core import ieee_math32

LEAKY_SLOPE = 0.01  # slope of leaky ReLU for z <= 0
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    """Everything the package needs of one activation, declared once in :data:`ACTIVATIONS`.

    Every other table (the ``activation`` factor's levels, the fused engines' formulas and
    whole-layer loops, the vocabulary's ReLU family, the grid's cost model, the PTX check's
    kernels) is derived from this registry; ``tests/test_registries.py`` walks every entry
    through each of them and through every engine.
    """

    name: str
    # The reference (NumPy) arithmetic, in place: forward(z, out) writes f(z);
    # backward(g, z, a, tmp) does g *= f'(z) from the pre-activation z or the activation a.
    forward: Callable[[np.ndarray, np.ndarray], None]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]
    # The same arithmetic for one lane, over an engine's primitives (see formulas.build):
    # scalar(ops) -> (f(z), d(g, z, a)), d returning g * f'(z) with the reference's bits.
    scalar: Callable[[SimpleNamespace], tuple[Callable, Callable]]
    # Zero (or tiny) slope for z <= 0: the unit can be dead (inactive for leaky ReLU), and a dead
    # output unit is the dead_output outcome.
    relu_family: bool
    # Too large to inline per lane (built on exp/expm1/tanh): the numba engine applies it to a
    # whole layer in a separate loop (rows_<name>), compiled once per machine.
    whole_layer: bool = False
    # The grid's cost model (runs.grid.task_cost): extra work per unit evaluation, in units of
    # one parameter's work per sample-step (numba engine, 2-4-4-1 net; ordering and ETA only).
    cost: float = 0.0


@functools.lru_cache(maxsize=64)
def _zeros(shape: tuple, dtype: np.dtype) -> np.ndarray:
    z = np.zeros(shape, dtype=dtype)
    z.flags.writeable = False
    return z


def _math(z: np.ndarray):
    """The shared exp/expm1/tanh/sigmoid of z's precision (engines/ieee_math.py, ieee_math32.py)."""
    return ieee_math32 if z.dtype == np.float32 else ieee_math


def _relu_fwd(z, out):
    # max against a zeros array: NumPy's maximum with a scalar operand is ~2x slower.
    np.maximum(z, _zeros(z.shape, z.dtype), out=out)


def _relu_bwd(g, z, a, tmp):
    # f'(z) = 1 if z > 0 else 0 (so f'(0) = 0, as posted); multiplying by 0/1 is exact.
    np.greater(z, 0.0, out=tmp)
    np.multiply(g, tmp, out=g)


def _relu_scalar(o):
    # Plain locals, never o.<name> inside f and d: numba cannot type a namespace in a closure.
    zero, one, mul = o.zero, o.one, o.mul

    def f(z):
        return zero if z <= zero else z  # np.maximum(z, 0): NaN propagates, -0.0 -> 0.0

    def d(g, z, a):
        return mul(g, one if z > zero else zero)  # f'(0) = 0; a product, so -0.0 and NaN as the reference

    return f, d


def _leaky_fwd(z, out):
    np.multiply(z, LEAKY_SLOPE, out=out)
    np.maximum(z, out, out=out)  # max(z, 0.01 z) == leaky_relu(z) for slope < 1


def _leaky_bwd(g, z, a, tmp):
    # f'(z) = 1 if z > 0 else 0.01 (f'(0) = 0.01)
    np.greater(z, 0.0, out=tmp)
    tmp *= 1.0 - LEAKY_SLOPE
    tmp += LEAKY_SLOPE
    np.multiply(g, tmp, out=g)


def _leaky_scalar(o):
    zero, one, add, mul = o.zero, o.one, o.add, o.mul
    slope, step = o.const(LEAKY_SLOPE), o.const(1.0 - LEAKY_SLOPE)

    def f(z):
        s = mul(z, slope)
        return s if z <= s else z  # np.maximum(z, 0.01 z)

    def d(g, z, a):
        return mul(g, add(mul(one if z > zero else zero, step), slope))

    return f, d


def _tanh_fwd(z, out):
    # The shared tanh, not np.tanh: its last bit varies with the CPU's SIMD width and
    # differs from the C library's and CUDA's (engines/ieee_math.py).
    out[...] = _math(z).tanh(z)


def _tanh_bwd(g, z, a, tmp):
    # f'(z) = 1 - tanh(z)^2, with tanh(z) == a bit for bit (the posted formula).
    np.multiply(a, a, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    np.multiply(g, tmp, out=g)


def _tanh_scalar(o):
    one, sub, mul, tanh = o.one, o.sub, o.mul, o.tanh

    def f(z):
        return tanh(z)

    def d(g, z, a):
        return mul(g, sub(one, mul(a, a)))

    return f, d


def _sigmoid_fwd(z, out):
    # The posted 1 / (1 + exp(-z)), evaluated by the shared sigmoid (engines/ieee_math.py):
    # one division over exp(-|z|), so no overflow and no warning at any z.
    out[...] = _math(z).sigmoid(z)


def _sigmoid_bwd(g, z, a, tmp):
    # f'(z) = s (1 - s) with s == a bit for bit (the posted formula).
    np.subtract(1.0, a, out=tmp)
    np.multiply(a, tmp, out=tmp)
    np.multiply(g, tmp, out=g)


def _sigmoid_scalar(o):
    one, sub, mul, sigmoid = o.one, o.sub, o.mul, o.sigmoid

    def f(z):
        return sigmoid(z)

    def d(g, z, a):
        return mul(g, mul(a, sub(one, a)))

    return f, d


def _elu_fwd(z, out):
    np.minimum(z, 0.0, out=out)
    out[...] = _math(out).expm1(out)  # the shared expm1 (engines/ieee_math.py)
    out *= ELU_ALPHA
    np.copyto(out, z, where=z > 0)


def _elu_bwd(g, z, a, tmp):
    # f'(z) = 1 if z > 0 else alpha * exp(z) = a + alpha
    np.add(a, ELU_ALPHA, out=tmp)
    np.copyto(tmp, 1.0, where=z > 0)
    np.multiply(g, tmp, out=g)


def _elu_scalar(o):
    zero, one, add, mul, expm1 = o.zero, o.one, o.add, o.mul, o.expm1
    alpha = o.const(ELU_ALPHA)

    def f(z):
        m = zero if z >= zero else z  # np.minimum(z, 0)
        return z if z > zero else mul(expm1(m), alpha)

    def d(g, z, a):
        return mul(g, one if z > zero else add(a, alpha))

    return f, d


def _identity_fwd(z, out):
    np.copyto(out, z)


def _identity_bwd(g, z, a, tmp):
    pass  # f'(z) = 1


def _identity_scalar(o):
    def f(z):
        return z

    def d(g, z, a):
        return g

    return f, d


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", _relu_fwd, _relu_bwd, _relu_scalar, relu_family=True),
    Activation("leaky_relu", _leaky_fwd, _leaky_bwd, _leaky_scalar, relu_family=True, cost=0.5),
    Activation("tanh", _tanh_fwd, _tanh_bwd, _tanh_scalar, relu_family=False, whole_layer=True, cost=6.3),
    Activation("sigmoid", _sigmoid_fwd, _sigmoid_bwd, _sigmoid_scalar, relu_family=False, whole_layer=True, cost=6.3),
    Activation("elu", _elu_fwd, _elu_bwd, _elu_scalar, relu_family=False, whole_layer=True, cost=12.0),
    Activation("identity", _identity_fwd, _identity_bwd, _identity_scalar, relu_family=False),
)}
RELU_FAMILY = tuple(n for n, a in ACTIVATIONS.items() if a.relu_family)  # units that can be dead
WHOLE_LAYER = tuple(n for n, a in ACTIVATIONS.items() if a.whole_layer)  # numba's rows_<act> loops


def get_activation(name: str) -> Activation:
    """Look up an activation by name; ValueError lists the allowed names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}") from None
