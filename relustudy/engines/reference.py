"""The NumPy reference engine: the training loop as readable array code.

This is the documentation of the arithmetic that every faster engine translates: the
order of every sum (sequential over the tiny layer axes, input order), when each
parameter moves relative to the gradient passed down, how the epoch error accumulates.
Every array carries the run axis last -- a layer's weights are ``(n_out, n_in, R)``, its
biases and activations ``(n_out, R)`` -- and all arithmetic is elementwise along it, so a
run's bits do not depend on how many other runs share its batch or where it sits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..activations import Activation
from ..config import MOMENTUM, Cell
from ..inits import Params
from ..outcomes import EPOCH_ERROR_TARGET
from .layout import curve_epochs


@dataclass(frozen=True)
class MomentumRule:
    """A variant of momentum for the mechanism probes (issue 17.3); the NumPy engine only.

    Per parameter kind (weights W, biases b) a coefficient beta: 0 moves the parameter by the
    plain step (SGD's bits), otherwise ``v = beta v + c step; p -= v`` with c = 1, or with
    ``dampened`` c = 1 - beta (so the velocity's steady state is the step itself: the same
    effective step at any beta, only the inertia differs). ``MomentumRule(MOMENTUM, MOMENTUM)``
    is the ``momentum`` factor, bit for bit.
    """

    beta_w: float
    beta_b: float
    dampened: bool = False

    def __post_init__(self) -> None:
        for name in ("beta_w", "beta_b"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v < 1):
                raise ValueError(f"invalid {name} {v!r}; allowed: a number in [0, 1)")


def sgd(params: Params, acts: Sequence[Activation], lr: np.ndarray, cell: Cell, x_train, y_train,
        observer: Callable[[int, int, int, Params], None] | None = None, rule: MomentumRule | None = None):
    """The training loop; updates ``params`` in place.

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)), modified in place.
    acts : one Activation per layer.
    lr : (R,) learning rate per run.
    cell : supplies update, optimizer and epochs.
    x_train, y_train : (S, 2) inputs and (S,) targets, visited in order every epoch.
    observer : optional ``observer(epoch, sample, layer, params)``, called right after each
        layer's update (layer L-1 first, as the backward pass goes) with the live
        parameters, which it must not modify; :mod:`relustudy.forensics` watches how a
        unit dies this way. It reads state only, so the run's bits do not change.
    rule : optional :class:`MomentumRule` replacing the momentum factor's rule (mechanism
        probes; needs ``cell.optimizer == "momentum"``). Other engines have no such option.

    Returns
    -------
    (curve_epochs (P,), curve (P, R), epochs_to_target (R,) int64 with -1 for never,
    last_epoch_error (R,))
    """
    L = len(params)
    R = lr.shape[0]
    posted = cell.update == "as_posted"
    momentum = cell.optimizer == "momentum"
    if rule is not None and not momentum:
        raise ValueError(f"a MomentumRule needs optimizer 'momentum'; got {cell.optimizer!r}")
    if rule is None and momentum:
        rule = MomentumRule(MOMENTUM, MOMENTUM)
    sizes = [params[0][0].shape[1]] + [w.shape[0] for w, _ in params]

    # Preallocated buffers: nothing is allocated inside the loop.
    z = [np.empty((n, R)) for n in sizes[1:]]
    a = [np.empty((n, R)) for n in sizes[1:]]
    g = [np.empty((n, R)) for n in sizes[1:]]  # dL/dz of each layer
    tmp = [np.empty((n, R)) for n in sizes[1:]]
    prod = [np.empty(w.shape) for w, _ in params]  # (n_out, n_in, R) products
    bstep = [np.empty(b.shape) for _, b in params]
    vel_w = [np.zeros(w.shape) for w, _ in params] if momentum else None
    vel_b = [np.zeros(b.shape) for _, b in params] if momentum else None
    # A scalar lr is 3x faster to broadcast than an (R,) array and gives the same bits.
    uniform_lr = bool(np.all(lr == lr[0]))
    lr_w = float(lr[0]) if uniform_lr else lr[None, None, :]
    lr_b = float(lr[0]) if uniform_lr else lr[None, :]
    sq = np.empty(R)
    err = np.empty(R)

    epochs_list = curve_epochs(cell.epochs)
    curve = np.empty((len(epochs_list), R))
    next_point = 0
    first_below = np.full(R, -1, dtype=np.int64)
    below = np.empty(R, dtype=bool)
    xs = [(float(x0), float(x1)) for x0, x1 in x_train]
    ys = [float(y) for y in y_train]
    n_samples = len(ys)
    w1, b1 = params[0]

    def move(p: np.ndarray, vel: np.ndarray, d: np.ndarray, beta: float) -> None:
        """p -= d (beta 0), else v = beta v + d (d scaled by 1 - beta if dampened); p -= v."""
        if beta == 0.0:
            p -= d
            return
        vel *= beta
        if rule.dampened:
            d *= 1.0 - beta  # d is a scratch buffer (prod/bstep), rewritten every step
        vel += d
        p -= vel

    def step(l: int) -> None:
        """Apply prod[l] (weight step) and bstep[l] (bias step), with momentum if on."""
        w, b = params[l]
        if momentum:
            move(w, vel_w[l], prod[l], rule.beta_w)
            move(b, vel_b[l], bstep[l], rule.beta_b)
        else:
            w -= prod[l]
            b -= bstep[l]

    def pass_down(l: int) -> None:
        """g[l-1] = W_l^T g[l], summed over the output units in order."""
        w = params[l][0]
        np.multiply(w, g[l][:, None, :], out=prod[l])
        gd = g[l - 1]
        np.copyto(gd, prod[l][0])
        for j in range(1, w.shape[0]):
            gd += prod[l][j]

    with np.errstate(all="ignore"):
        for epoch in range(1, cell.epochs + 1):
            err.fill(0.0)
            for sample, ((x0, x1), y) in enumerate(zip(xs, ys)):
                # ---- forward: z = W a + b summed in input order, then the activation
                np.multiply(w1[:, 0, :], x0, out=z[0])
                np.multiply(w1[:, 1, :], x1, out=tmp[0])
                z[0] += tmp[0]
                z[0] += b1
                acts[0].forward(z[0], a[0])
                for l in range(1, L):
                    w, b = params[l]
                    np.multiply(w, a[l - 1][None, :, :], out=prod[l])
                    np.copyto(z[l], prod[l][:, 0, :])
                    for i in range(1, w.shape[1]):
                        z[l] += prod[l][:, i, :]
                    z[l] += b
                    acts[l].forward(z[l], a[l])
                # ---- loss: (y - out)^2 accumulated in sample order; dL/dout = 2 (out - y)
                out = a[L - 1][0]
                gl = g[L - 1][0]
                np.subtract(out, y, out=gl)
                np.multiply(gl, gl, out=sq)
                err += sq
                gl *= 2.0
                # ---- backward, top layer first
                for l in range(L - 1, -1, -1):
                    acts[l].backward(g[l], z[l], a[l], tmp[l])
                    below_in = a[l - 1] if l > 0 else None
                    if not posted and l > 0:
                        pass_down(l)  # corrected: pass the gradient through the old W
                    # weight step: lr * (g outer input)
                    if l > 0:
                        for j in range(g[l].shape[0]):  # row by row: faster than a 2-way broadcast
                            np.multiply(below_in, g[l][j], out=prod[l][j])
                    else:
                        np.multiply(g[0], x0, out=prod[0][:, 0, :])
                        np.multiply(g[0], x1, out=prod[0][:, 1, :])
                    prod[l] *= lr_w
                    # bias step: the posted rule decays b; the corrected rule follows dL/db
                    np.multiply(params[l][1] if posted else g[l], lr_b, out=bstep[l])
                    step(l)
                    if observer is not None:
                        observer(epoch, sample, l, params)
                    if posted and l > 0:
                        pass_down(l)  # as posted: through the *updated* W
            err /= n_samples
            if next_point < len(epochs_list) and epoch == epochs_list[next_point]:
                curve[next_point] = err
                next_point += 1
            # NaN compares False, so a diverged run never counts as below the target.
            np.less(err, EPOCH_ERROR_TARGET, out=below)
            below &= first_below < 0
            np.copyto(first_below, epoch, where=below)
    return epochs_list, curve, first_below, err.copy()
