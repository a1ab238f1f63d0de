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
from typing import Callable

import numpy as np

from relustudy.core import ieee_math
from relustudy.core import ieee_math32

LEAKY_SLOPE = 0.01  # slope of leaky ReLU for z <= 0
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    """An activation: ``forward(z, out)`` writes f(z); ``backward(g, z, a, tmp)`` does g *= f'(z).

    ``relu_family`` marks activations whose unit is *inactive* (zero or tiny slope) for
    z <= 0, which is what makes an output unit "dead".
    """

    name: str
    forward: Callable[[np.ndarray, np.ndarray], None]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]
    relu_family: bool


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


def _leaky_fwd(z, out):
    np.multiply(z, LEAKY_SLOPE, out=out)
    np.maximum(z, out, out=out)  # max(z, 0.01 z) == leaky_relu(z) for slope < 1


def _leaky_bwd(g, z, a, tmp):
    # f'(z) = 1 if z > 0 else 0.01 (f'(0) = 0.01)
    np.greater(z, 0.0, out=tmp)
    tmp *= 1.0 - LEAKY_SLOPE
    tmp += LEAKY_SLOPE
    np.multiply(g, tmp, out=g)


def _tanh_fwd(z, out):
    # The shared tanh, not np.tanh: its last bit varies with the CPU's SIMD width and
    # differs from the C library's and CUDA's (engines/ieee_math.py).
    out[...] = _math(z).tanh(z)


def _tanh_bwd(g, z, a, tmp):
    # f'(z) = 1 - tanh(z)^2, with tanh(z) == a bit for bit (the posted formula).
    np.multiply(a, a, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    np.multiply(g, tmp, out=g)


def _sigmoid_fwd(z, out):
    # The posted 1 / (1 + exp(-z)), evaluated by the shared sigmoid (engines/ieee_math.py):
    # one division over exp(-|z|), so no overflow and no warning at any z.
    out[...] = _math(z).sigmoid(z)


def _sigmoid_bwd(g, z, a, tmp):
    # f'(z) = s (1 - s) with s == a bit for bit (the posted formula).
    np.subtract(1.0, a, out=tmp)
    np.multiply(a, tmp, out=tmp)
    np.multiply(g, tmp, out=g)


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


def _identity_fwd(z, out):
    np.copyto(out, z)


def _identity_bwd(g, z, a, tmp):
    pass  # f'(z) = 1


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu_fwd, _relu_bwd, relu_family=True),
    "leaky_relu": Activation("leaky_relu", _leaky_fwd, _leaky_bwd, relu_family=True),
    "tanh": Activation("tanh", _tanh_fwd, _tanh_bwd, relu_family=False),
    "sigmoid": Activation("sigmoid", _sigmoid_fwd, _sigmoid_bwd, relu_family=False),
    "elu": Activation("elu", _elu_fwd, _elu_bwd, relu_family=False),
    "identity": Activation("identity", _identity_fwd, _identity_bwd, relu_family=False),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; ValueError lists the allowed names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}") from None
