"""Diagnostics of a parameter state: the loss gradient, the activation pattern, the margin.

Pure NumPy functions of R networks at once, run axis last (as in ``train``): params are per
layer ``(W: (n_out, n_in, R), b: (n_out, R))``; pre-activations from ``train.forward_all``
are per layer ``(n_out, S, R)`` for S inputs. They are computed host-side after training,
whatever engine trained the weights, and feed these run columns:

* ``grad_norm_final`` -- Euclidean norm of the gradient of the MSE over the training pairs
  with respect to every weight and bias, by plain backpropagation (the ``corrected`` rule,
  whatever rule trained the net) in the training step's own arithmetic: the per-layer
  functions of :mod:`.engines.reference`. Exactly 0 means no gradient step can move the net; the
  posted update ignores the bias gradient, so a net can be stuck under it with a non-zero
  norm here.
* ``linear_on_data_{init,final}`` -- the net is one affine map on the training inputs:
  every unit of a piecewise-linear activation is on the same side of 0 on all inputs.
* ``output_margin_{init,final}`` -- the output unit's largest pre-activation over the
  inputs; <= 0 is the dataset's "output dead" test, and its size says by how much.

Every sum over a layer or sample axis is sequential and in a fixed order, so a run's
value does not depend on the other runs in its batch (as in ``train``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from relustudy.core.activations import Activation
from relustudy.core.engines import reference

# Activations that are affine on each side of 0: a fixed on/off pattern makes them affine.
PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")


def loss_gradient(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    acts: Sequence[Activation],
    x: np.ndarray,
    y: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Gradient of MSE = mean_s (y_s - out_s)^2 with respect to every W and b (backprop).

    The training step's own arithmetic (:mod:`.engines.reference`, the ``corrected`` rule),
    sample by sample: ``network_forward``, ``output_delta`` scaled by 1/S (the mean),
    the activation's ``backward`` (so e.g. ReLU'(0) = 0), ``weight_gradient`` and
    ``pass_down`` through the unchanged weights; dW and db are summed over the samples in order.

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)).
    acts : one Activation per layer.
    x : (S, 2) inputs; y : (S,) targets.

    Returns
    -------
    per layer (dW: (n_out, n_in, R), db: (n_out, R)), float64, the same shapes as ``params``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    S = x.shape[0]
    R = params[0][0].shape[-1]
    L = len(params)
    z, a, g, tmp = ([np.empty(b.shape) for _, b in params] for _ in range(4))  # (n_out, R) each
    prod = [np.empty(w.shape) for w, _ in params]
    grads = [(np.empty(w.shape), np.empty(b.shape)) for w, b in params]
    sq = np.empty(R)
    with np.errstate(all="ignore"):
        for s in range(S):
            x_s = x[s][:, None]  # (2, 1): the same input for every run
            reference.network_forward(params, acts, x_s, z, a, prod)
            reference.output_delta(a[L - 1][0], y[s], g[L - 1][0], sq)
            g[L - 1] /= S  # dL/dout = 2 (out - y) / S
            for l in range(L - 1, -1, -1):
                acts[l].backward(g[l], z[l], a[l], tmp[l])  # g[l] = dL/dz_l
                dw, db = grads[l]
                if s == 0:  # the first sample's terms start the sums (0 + -0 would lose a sign)
                    reference.weight_gradient(g[l], a[l - 1] if l > 0 else x_s, dw)
                    np.copyto(db, g[l])
                else:
                    reference.weight_gradient(g[l], a[l - 1] if l > 0 else x_s, prod[l])
                    dw += prod[l]
                    db += g[l]
                if l > 0:
                    reference.pass_down(params[l][0], g[l], g[l - 1], prod[l])
    return grads


def grad_norm(
    params: Sequence[tuple[np.ndarray, np.ndarray]],
    acts: Sequence[Activation],
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """(R,) Euclidean norm of :func:`loss_gradient` over all weights and biases.

    Squares are summed parameter by parameter in layer order (W then b), so the value is
    exactly 0 iff every partial derivative is exactly 0; NaN for a non-finite net.

    Examples
    --------
    >>> from relustudy.core.activations import get_activation
    >>> relu, ident = get_activation("relu"), get_activation("identity")
    >>> params = [(np.ones((1, 2, 1)), np.full((1, 1), -5.0)), (np.ones((1, 1, 1)), np.zeros((1, 1)))]
    >>> x, y = np.array([[0.1, 0.2]]), np.array([0.3])
    >>> grad_norm(params, [relu, ident], x, y).tolist()
    [0.6]
    """
    R = params[0][0].shape[-1]
    total = np.zeros(R)
    with np.errstate(all="ignore"):
        for dw, db in loss_gradient(params, acts, x, y):
            for row in (*dw.reshape(-1, R), *db.reshape(-1, R)):
                total += row * row
        return np.sqrt(total)


def linear_on_data(zs: Sequence[np.ndarray], acts: Sequence[Activation]) -> np.ndarray:
    """(R,) bool: the net computes one affine map on all S inputs.

    True when every layer's activation is piecewise linear (:data:`PIECEWISE_LINEAR`) and
    each unit with a kink (all but identity) has its pre-activation on the same side of 0
    (> 0, or <= 0) on every input: one activation pattern for all inputs.

    Parameters
    ----------
    zs : pre-activations per layer, (n_out, S, R).
    acts : one Activation per layer.

    Examples
    --------
    >>> from relustudy.core.activations import get_activation
    >>> relu, ident = get_activation("relu"), get_activation("identity")
    >>> z1 = np.array([[[1.0, 0.0], [2.0, 3.0]], [[-1.0, -2.0], [-1.0, 1.0]]])  # (2 units, S=2, R=2)
    >>> linear_on_data([z1, np.zeros((1, 2, 2))], [relu, ident]).tolist()
    [True, False]
    """
    R = zs[0].shape[-1]
    if any(act.name not in PIECEWISE_LINEAR for act in acts):
        return np.zeros(R, dtype=bool)
    same = np.ones(R, dtype=bool)
    for z, act in zip(zs, acts):
        if act.name == "identity":
            continue
        on = z > 0.0
        same &= (on == on[:, :1, :]).all(axis=(0, 1))
    return same


def output_margin(zs: Sequence[np.ndarray]) -> np.ndarray:
    """(R,) the output unit's largest pre-activation over the S inputs (<= 0: dead).

    Examples
    --------
    >>> output_margin([np.array([[[-1.0, 2.0], [0.5, -3.0]]])]).tolist()   # (1 unit, S=2, R=2)
    [0.5, 2.0]
    """
    return zs[-1][0].max(axis=0)
