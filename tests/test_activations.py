"""One test per registry entry: forward formula, derivative by finite differences, f'(0)."""
import numpy as np
import pytest

from relustudy.core.activations import ACTIVATIONS, LEAKY_SLOPE, get_activation

REFERENCE = {
    "relu": lambda z: np.maximum(0, z),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "identity": lambda z: z,
}
DERIV_AT_0 = {"relu": 0.0, "leaky_relu": LEAKY_SLOPE, "tanh": 1.0, "sigmoid": 0.25, "elu": 1.0, "identity": 1.0}


def _apply(act, z):
    a = np.empty_like(z)
    act.forward(z, a)
    g = np.ones_like(z)
    act.backward(g, z, a, np.empty_like(z))
    return a, g


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_and_derivative(name):
    act = get_activation(name)
    z = np.linspace(-3, 3, 600).reshape(3, -1) + 3.7e-3  # avoid the kink at exactly 0
    a, g = _apply(act, z)
    np.testing.assert_allclose(a, REFERENCE[name](z), rtol=1e-12, atol=1e-15)
    h = 1e-6
    fd = (REFERENCE[name](z + h) - REFERENCE[name](z - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_at_zero_is_stated(name):
    _, g = _apply(get_activation(name), np.zeros((1, 3)))
    assert np.all(g == DERIV_AT_0[name])


def test_sigmoid_saturates_without_warnings():
    a, g = _apply(get_activation("sigmoid"), np.array([[-1e4, -800.0, 800.0, 1e4]]))
    assert a.tolist() == [[0.0, 0.0, 1.0, 1.0]] and np.all(g == 0)


def test_relu_family_flags():
    assert {n for n, a in ACTIVATIONS.items() if a.relu_family} == {"relu", "leaky_relu"}


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'gelu'; allowed: relu, leaky_relu"):
        get_activation("gelu")
