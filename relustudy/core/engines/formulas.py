"""The per-lane scalar arithmetic of training, written once for every fused engine.

:mod:`.reference` is the readable array spec; the fused engines (numba CPU, CUDA) compute
the same thing one run ("lane") at a time, and both take these formulas from :func:`build`,
bound to their own primitives as :func:`.ieee_math.build` does for ``expm1``/``tanh``/``sigmoid``:

* numba: ``a + b`` etc. (numba never contracts them into an FMA), inlined;
* CUDA: libdevice's correctly rounded ``d*_rn`` intrinsics.

An activation's per-lane formulas are part of its entry in
:data:`relustudy.core.activations.ACTIVATIONS` (its ``scalar``), bound here; an optimizer's
step is written here (and in the reference). The kernels only say which formula runs where. Every formula is the reference's sequence of
IEEE operations for one element, so a lane's bits are the reference's.

Conventions (shared with :mod:`relustudy.core.activations`): ``f_<act>(z)`` is the activation,
``d_<act>(g, z, a)`` returns ``g * f'(z)`` as the reference computes it (from the stored
pre-activation z or the activation a). Constants are made with ``const`` so a float32
engine gets float32 constants (numba would otherwise promote to float64).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

from relustudy.core.activations import ACTIVATIONS
from relustudy.core.optimizers import ADAM_BETA1, ADAM_BETA2, ADAM_EPS, MOMENTUM


def build(add: Callable, sub: Callable, mul: Callable, div: Callable, sqrt: Callable, expm1: Callable,
          tanh: Callable, sigmoid: Callable, const: Callable = float, jit: Callable = lambda f: f) -> SimpleNamespace:
    """The scalar formulas over an engine's primitives (see the module docstring).

    Parameters
    ----------
    add, sub, mul, div, sqrt : correctly rounded IEEE operations, never fused.
    expm1, tanh, sigmoid : :mod:`.ieee_math`'s, built over the same primitives.
    const : turns a Python float into the engine's float type (``float``, ``np.float32``).
    jit : applied to each formula (numba ``njit(inline="always")``, CUDA ``jit(device=True)``).

    Returns a namespace with ``f_<act>``, ``d_<act>`` for every activation of
    :data:`relustudy.core.activations.ACTIVATIONS` and the steps ``sgd``, ``momentum``, ``adam``,
    ``adam_scales``, and the typed constants ``BETA1``, ``BETA2`` (Adam's step counter advances
    ``b1t = b1t * BETA1`` once per update).
    """
    zero, one, two = const(0.0), const(1.0), const(2.0)
    mom = const(MOMENTUM)
    b1, b2, eps = const(ADAM_BETA1), const(ADAM_BETA2), const(ADAM_EPS)
    c1, c2 = const(1.0 - ADAM_BETA1), const(1.0 - ADAM_BETA2)  # Python-float constants, rounded once

    # ---- loss: the squared error's term and dL/dout = 2 (out - y)
    def loss_grad(d):
        return mul(d, two)

    # ---- optimizer steps on one parameter p with direction d (without lr)
    def sgd(p, d, lr):
        return sub(p, mul(d, lr))

    def momentum(p, v, d, lr):
        """(p, v) after v = MOMENTUM v + d lr; p -= v."""
        v = add(mul(v, mom), mul(d, lr))
        return sub(p, v), v

    def adam_scales(lr, b1t, b2t):
        """(lr / (1 - b1^t), sqrt(1 - b2^t)): shared by every parameter of one update."""
        return div(lr, sub(one, b1t)), sqrt(sub(one, b2t))

    def adam(p, m, v, d, lr_bc1, sqrt_bc2):
        """(p, m, v) after one Adam step in the spec's order of operations."""
        m = add(mul(b1, m), mul(c1, d))
        v = add(mul(b2, v), mul(c2, mul(d, d)))
        denom = add(div(sqrt(v), sqrt_bc2), eps)
        return sub(p, mul(lr_bc1, div(m, denom))), m, v

    ns = {k: jit(v) for k, v in locals().items() if k in ("loss_grad", "sgd", "momentum", "adam", "adam_scales")}
    # ---- activations: f_<act>(z) and d_<act>(g, z, a) = g * f'(z), from the registry's entries
    ops = SimpleNamespace(add=add, sub=sub, mul=mul, div=div, expm1=expm1, tanh=tanh, sigmoid=sigmoid,
                          const=const, zero=zero, one=one)
    for name, act in ACTIVATIONS.items():
        fwd, deriv = act.scalar(ops)
        ns[f"f_{name}"], ns[f"d_{name}"] = jit(fwd), jit(deriv)
    return SimpleNamespace(**ns, BETA1=b1, BETA2=b2)
