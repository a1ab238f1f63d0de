"""The NumPy reference engine: the training loop as readable array code.

This is the documentation of the arithmetic that every faster engine translates: the
order of every sum (sequential over the tiny layer axes, input order), when each
parameter moves relative to the gradient passed down, how the epoch error accumulates.
Every array carries the run axis last -- a layer's weights are ``(n_out, n_in, R)``, its
biases and activations ``(n_out, R)`` -- and all arithmetic is elementwise along it, so a
run's bits do not depend on how many other runs share its batch or where it sits.
The per-sample pieces -- :func:`layer_forward` (:func:`network_forward` for all layers),
:func:`output_delta`, :func:`pass_down`, :func:`weight_gradient` -- are module functions:
``diagnostics.loss_gradient`` computes the full-batch gradient with them and
``train.forward_all`` the evaluation's pre-activations, so there is one definition of the
forward and backward arithmetic.

Beyond the posted program (SPEC_NEW_FACTORS, issues 16, 17, 19):

* ``optimizer="adam"``: Adam (:data:`~relustudy.core.config.ADAM_BETA1` 0.9, ``ADAM_BETA2`` 0.999,
  ``ADAM_EPS`` 1e-8) on the *direction* the update rule produces -- for W the gradient
  ``g outer input``; for b, ``corrected``: dL/db = g, ``as_posted``: b itself (the posted
  ``b -= lr*b`` is SGD with "gradient" b). One step counter per run, shared by all
  parameters, t = 1 at the first update; beta**t as running products (no ``pow``, whose last
  bit varies between libraries). Per parameter p with direction d::

      m = BETA1*m + (1-BETA1)*d;  v = BETA2*v + (1-BETA2)*(d*d)
      denom = sqrt(v) / sqrt(1 - BETA2**t) + EPS;  p = p - (lr / (1 - BETA1**t)) * (m / denom)

  each operation one IEEE rounding in exactly this order (sqrt is correctly rounded).
* ``data_order="shuffled"``: each epoch visits the six pairs in a fresh permutation from the
  run's splitmix64 stream seeded by its ``order_seed`` (:func:`order_perms`); the epoch
  error sums in visiting order.
* ``dtype="float32"``: params, lr, buffers and every constant in float32, the shared
  float32 exp/expm1/tanh (:mod:`.ieee_math32`); the epoch error accumulates in float32.
* ``batch`` m > 1 (issue 27): one update per m consecutive samples of the epoch's visiting
  order (fixed or shuffled), the last batch smaller when m does not divide S; the direction is
  the batch's mean gradient, summed in batch order and divided by the batch's own size
  (``batch_update`` inside :func:`sgd` spells out every sum); the posted ``b -= lr*b`` once per
  update, the posted pass-down through the updated W per update, one Adam step per update.
  ``batch=1`` runs the per-sample loop itself (the posted program, unchanged).
* ``track``: the output unit's death epoch and alive <-> dead changes, from its
  pre-activation on all inputs at each epoch's end.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from relustudy.core.activations import Activation
from relustudy.core.config import Cell
from relustudy.core.optimizers import ADAM_BETA1, ADAM_BETA2, ADAM_EPS, MOMENTUM
from relustudy.core.inits import Params
from relustudy.core.outcomes import EPOCH_ERROR_TARGET
from relustudy.core.engines.layout import curve_epochs

FEATURES = frozenset({"adam", "shuffled", "float32", "track_output", "batch"})  # engines.NEW_FEATURES: all of them

# splitmix64 (Steele, Lea, Flood 2014), uint64 arithmetic wrapping modulo 2**64.
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9
SPLITMIX_MUL2 = 0x94D049BB133111EB
NEVER_DEAD = -1  # output_death_epoch of a run whose output is never dead at an epoch's end


class OrderStream:
    """R independent splitmix64 streams, one permutation of the S samples per run and epoch.

    Parameters
    ----------
    order_seed : (R,) integers in [0, 2**32), each run's stream's starting state.
    n_samples : S.

    Each epoch starts from the identity ``[0, 1, ..., S-1]`` and applies Fisher-Yates from
    the top: for i = S-1 .. 1, ``j = next() % (i + 1)``, swap positions i and j (the modulo
    bias is below 1e-18). Samples are then visited as ``perm[0], ..., perm[S-1]``.
    """

    def __init__(self, order_seed, n_samples: int):
        self.state = np.array(order_seed, dtype=np.uint64).reshape(-1)  # a copy: the caller's seeds stay
        self.n_samples = int(n_samples)
        self._runs = np.arange(self.state.shape[0])

    def next(self) -> np.ndarray:
        """(R,) uint64: the next output of every run's stream."""
        self.state += np.uint64(SPLITMIX_GAMMA)  # array arithmetic wraps silently, as uint64 must
        z = self.state.copy()
        z = (z ^ (z >> np.uint64(30))) * np.uint64(SPLITMIX_MUL1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(SPLITMIX_MUL2)
        return z ^ (z >> np.uint64(31))

    def perms(self) -> np.ndarray:
        """(S, R) int64: the next epoch's visiting order of every run."""
        perm = np.repeat(np.arange(self.n_samples, dtype=np.int64)[:, None], self.state.shape[0], axis=1)
        for i in range(self.n_samples - 1, 0, -1):
            j = (self.next() % np.uint64(i + 1)).astype(np.int64)
            pi = perm[i].copy()
            perm[i] = perm[j, self._runs]
            perm[j, self._runs] = pi
        return perm


def batch_size(cell: Cell, n_samples: int) -> int:
    """Samples per update of ``cell`` on ``n_samples`` training pairs (``"full"``: all of them).

    >>> batch_size(Cell(batch="full", task="grid64"), 64), batch_size(Cell(batch=4), 6)
    (64, 4)
    """
    m = n_samples if cell.batch == "full" else int(cell.batch)
    if m > n_samples:
        raise ValueError(f"batch {m} is larger than the {n_samples} training samples; allowed: 1 to {n_samples} or 'full'")
    return m


def order_perms(order_seed: int, epochs: int, n_samples: int = 6) -> np.ndarray:
    """The shuffled order of one run: (epochs, n_samples) int64, row e-1 = epoch e's visiting order.

    A pure function of the seed; every engine computes the same stream (:class:`OrderStream`).

    >>> order_perms(0, 2).tolist()
    [[4, 2, 5, 3, 0, 1], [1, 4, 2, 5, 3, 0]]
    """
    stream = OrderStream([order_seed], n_samples)
    return np.stack([stream.perms()[:, 0] for _ in range(int(epochs))]) if epochs else np.empty((0, n_samples), np.int64)


@dataclass(frozen=True)
class MomentumRule:
    """A variant of momentum for the mechanism probes (issue 17.3); the NumPy engine only.

    Per parameter kind (weights W, biases b) a coefficient beta: 0 moves the parameter by the
    plain step (SGD's bits), otherwise ``v = beta v + c step; p -= v`` with c = 1, or with
    ``dampened`` c = 1 - beta (so the velocity's steady state is the step itself: the same
    effective step at any beta, only the inertia differs). ``MomentumRule(MOMENTUM, MOMENTUM)``
    is the ``momentum`` factor, bit for bit (float64 cells only).
    """

    beta_w: float
    beta_b: float
    dampened: bool = False

    def __post_init__(self) -> None:
        for name in ("beta_w", "beta_b"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v < 1):
                raise ValueError(f"invalid {name} {v!r}; allowed: a number in [0, 1)")


def layer_forward(w: np.ndarray, b: np.ndarray, a_in: np.ndarray, act: Activation,
                  z: np.ndarray, a: np.ndarray, prod: np.ndarray) -> None:
    """One layer's forward for one input: z = W a_in + b summed in input order, a = act(z).

    w : (n_out, n_in, R); b, z, a : (n_out, R), z and a written; prod : (n_out, n_in, R)
    scratch; a_in : (n_in, R) or (n_in, 1) (the network inputs, shared by every run).
    Each z[j] is ((w[j,0] a_in[0] + w[j,1] a_in[1]) + ...) + b[j], one rounding per operation.
    """
    np.multiply(w, a_in[None, :, :], out=prod)
    if w.shape[1] == 1:
        np.copyto(z, prod[:, 0, :])
    else:  # the first addition writes z: no copy
        np.add(prod[:, 0, :], prod[:, 1, :], out=z)
    for i in range(2, w.shape[1]):
        z += prod[:, i, :]
    z += b
    act.forward(z, a)


def network_forward(params: Params, acts: Sequence[Activation], x: np.ndarray, z: list, a: list, prod: list) -> None:
    """Every layer's :func:`layer_forward` for one input x: (n_0, 1), or (n_0, R) when runs differ.

    z, a : per layer (n_out, R), written; prod : per layer (n_out, n_in, R) scratch.
    """
    for l in range(len(params)):
        layer_forward(*params[l], a[l - 1] if l > 0 else x, acts[l], z[l], a[l], prod[l])


def output_delta(out: np.ndarray, y, g: np.ndarray, sq: np.ndarray) -> None:
    """The loss (y - out)^2 of one sample and its derivative: sq = (out - y)^2, g = 2 (out - y).

    out, g, sq : (R,) (g and sq written); y : a scalar or (R,) target.
    """
    np.subtract(out, y, out=g)
    np.multiply(g, g, out=sq)
    g *= g.dtype.type(2.0)


def pass_down(w: np.ndarray, g: np.ndarray, g_below: np.ndarray, prod: np.ndarray) -> None:
    """g_below = W^T g, summed over the output units in order.

    w : (n_out, n_in, R); g : (n_out, R), dL/dz of the layer; g_below : (n_in, R), written
    (dL/da of the layer below); prod : (n_out, n_in, R) scratch.
    """
    np.multiply(w, g[:, None, :], out=prod)
    if w.shape[0] == 1:
        np.copyto(g_below, prod[0])
    else:  # the first addition writes g_below: no copy
        np.add(prod[0], prod[1], out=g_below)
    for j in range(2, w.shape[0]):
        g_below += prod[j]


def weight_gradient(g: np.ndarray, a_in: np.ndarray, out: np.ndarray) -> None:
    """One sample's dL/dW: out[j, i] = a_in[i] * g[j] (one rounding each; dL/db is g itself).

    g : (n_out, R); a_in : (n_in, R) or (n_in, 1), the layer's input; out : (n_out, n_in, R).
    The operand order fixes which NaN comes out when both are NaN (x86 keeps the first).
    """
    if a_in.shape[0] < g.shape[0]:  # loop over the shorter axis (rows, contiguous, on a tie)
        for i in range(a_in.shape[0]):
            np.multiply(a_in[i], g, out=out[:, i, :])
    else:
        for j in range(g.shape[0]):
            np.multiply(a_in, g[j], out=out[j])


def sgd(params: Params, acts: Sequence[Activation], lr: np.ndarray, cell: Cell, x_train, y_train, *,
        order_seed: np.ndarray | None = None, track: tuple[np.ndarray, np.ndarray] | None = None,
        observer: Callable[[int, int, int, Params], None] | None = None,
        perms: Callable[[int], np.ndarray] | None = None, rule: MomentumRule | None = None):
    """The training loop; updates ``params`` in place.

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)) in the cell's dtype, modified in place.
    acts : one Activation per layer.
    lr : (R,) learning rate per run, in the cell's dtype.
    cell : supplies update, optimizer, epochs, data order, dtype and batch (m samples per update;
        ``"full"``: all S).
    x_train, y_train : (S, 2) inputs and (S,) targets (rounded once to the cell's dtype).
    order_seed : (R,) uint64, each run's order seed (``data_order="shuffled"``; default 0s).
    track : optional ``(death_epoch, state_changes)``, two (R,) int32 arrays filled in place:
        the first epoch whose end finds the output unit dead (pre-activation <= 0 on all S
        inputs, for a ReLU-family output; 0 = dead at init, -1 = never) and the number of
        alive <-> dead changes between consecutive epoch ends, from the init state (-1 and 0
        for an output that cannot die).
    observer : optional ``observer(epoch, sample, layer, params)`` (with a batch > 1, ``sample``
        is the update's index within the epoch), called right after each
        layer's update (layer L-1 first, as the backward pass goes) with the live
        parameters, which it must not modify; :mod:`relustudy.experiments.forensics` watches how a
        unit dies this way. It reads state only, so the run's bits do not change.
    perms : optional ``perms(epoch) -> (S, R)`` int visiting order, replacing the data order
        (a test feeds the identity to check the shuffled path against the fixed one).
    rule : optional :class:`MomentumRule` replacing the momentum factor's rule (mechanism
        probes; needs ``cell.optimizer == "momentum"`` and float64). Other engines have no such option.

    Returns
    -------
    (curve_epochs (P,), curve (P, R), epochs_to_target (R,) int64 with -1 for never,
    last_epoch_error (R,)); curve and error in the cell's dtype.
    """
    L = len(params)
    R = lr.shape[0]
    dt = np.dtype(cell.dtype)
    c = dt.type  # every constant is rounded once to the run's precision
    bad = [a.dtype for w, b in params for a in (w, b) if a.dtype != dt] + ([lr.dtype] if lr.dtype != dt else [])
    if bad:
        raise ValueError(f"params and lr must be {dt} for a {cell.dtype} cell; got {bad[0]}")
    posted = cell.update == "as_posted"
    momentum = cell.optimizer == "momentum"
    if rule is not None and (not momentum or cell.dtype != "float64"):
        raise ValueError(f"a MomentumRule needs optimizer 'momentum' in float64; got {cell.optimizer!r}, {cell.dtype}")
    adam = cell.optimizer == "adam"
    sizes = [params[0][0].shape[1]] + [w.shape[0] for w, _ in params]

    # Preallocated buffers: nothing is allocated inside the loop (but the shuffled inputs).
    z = [np.empty((n, R), dt) for n in sizes[1:]]
    a = [np.empty((n, R), dt) for n in sizes[1:]]
    g = [np.empty((n, R), dt) for n in sizes[1:]]  # dL/dz of each layer
    tmp = [np.empty((n, R), dt) for n in sizes[1:]]
    prod = [np.empty(w.shape, dt) for w, _ in params]  # (n_out, n_in, R) products
    bstep = [np.empty(b.shape, dt) for _, b in params]
    if momentum or adam:  # momentum: the velocities; Adam: the first moments m
        vel_w = [np.zeros(w.shape, dt) for w, _ in params]
        vel_b = [np.zeros(b.shape, dt) for _, b in params]
    if adam:  # the second moments v and scratch
        sec_w = [np.zeros(w.shape, dt) for w, _ in params]
        sec_b = [np.zeros(b.shape, dt) for _, b in params]
        scr_w = [np.empty(w.shape, dt) for w, _ in params]
        scr_b = [np.empty(b.shape, dt) for _, b in params]
        beta1, beta2, eps = c(ADAM_BETA1), c(ADAM_BETA2), c(ADAM_EPS)
        one_m_beta1, one_m_beta2 = c(1 - ADAM_BETA1), c(1 - ADAM_BETA2)  # Python-float differences, rounded once
        b1t, b2t = c(1.0), c(1.0)  # beta1**t, beta2**t as running products
    # A scalar lr is 3x faster to broadcast than an (R,) array and gives the same bits.
    uniform_lr = bool(np.all(lr == lr[0]))
    lr_w = lr[0] if uniform_lr else lr[None, None, :]
    lr_b = lr[0] if uniform_lr else lr[None, :]
    sq = np.empty(R, dt)
    err = np.empty(R, dt)

    epochs_list = curve_epochs(cell.epochs)
    curve = np.empty((len(epochs_list), R), dt)
    next_point = 0
    first_below = np.full(R, -1, dtype=np.int64)
    below = np.empty(R, dtype=bool)
    x_arr, y_arr = np.asarray(x_train, dtype=dt), np.asarray(y_train, dtype=dt)
    xs = [xi[:, None] for xi in x_arr]  # (2, 1) per sample: the same inputs for every run
    ys = list(y_arr)
    n_samples = len(ys)
    momentum_c = c(MOMENTUM)
    if perms is None and cell.data_order == "shuffled":
        stream = OrderStream(np.zeros(R, np.uint64) if order_seed is None else order_seed, n_samples)
        perms = lambda epoch: stream.perms()  # noqa: E731 (one permutation per epoch, in order)

    def forward(x: np.ndarray) -> None:
        """z and a of every layer for one input x: (2, 1), or (2, R) when runs differ."""
        network_forward(params, acts, x, z, a, prod)

    tracking = track is not None and acts[-1].relu_family
    if track is not None:
        death_epoch, changes = track
        death_epoch.fill(NEVER_DEAD)
        changes.fill(0)
    if tracking:
        dead_then = np.empty(R, dtype=bool)
        dead_now = np.empty(R, dtype=bool)

        def output_dead(out: np.ndarray) -> None:
            """out[r] = the output pre-activation is <= 0 on every input (same forward as training)."""
            out.fill(True)
            for x in xs:
                forward(x)
                out &= z[L - 1][0] <= 0.0

    def step(l: int) -> None:
        """Apply prod[l] (weight step) and bstep[l] (bias step), with momentum if on."""
        w, b = params[l]
        if momentum and rule is not None:
            probe_move(w, vel_w[l], prod[l], rule.beta_w)
            probe_move(b, vel_b[l], bstep[l], rule.beta_b)
        elif momentum:
            vel_w[l] *= momentum_c
            vel_w[l] += prod[l]
            w -= vel_w[l]
            vel_b[l] *= momentum_c
            vel_b[l] += bstep[l]
            b -= vel_b[l]
        else:
            w -= prod[l]
            b -= bstep[l]

    def probe_move(p: np.ndarray, vel: np.ndarray, d: np.ndarray, beta: float) -> None:
        """A MomentumRule's move: p -= d (beta 0), else v = beta v + d (d scaled by 1 - beta if
        dampened); p -= v."""
        if beta == 0.0:
            p -= d
            return
        vel *= beta
        if rule.dampened:
            d *= 1.0 - beta  # d is a scratch buffer (prod/bstep), rewritten every step
        vel += d
        p -= vel

    def adam_step(p, d, m, v, scratch, lr_bc1, sqrt_bc2) -> None:
        """Adam on parameter p with direction d (SPEC_NEW_FACTORS; one rounding per operation)."""
        m *= beta1
        np.multiply(d, one_m_beta1, out=scratch)
        m += scratch  # m = beta1*m + (1-beta1)*d
        np.multiply(d, d, out=scratch)
        scratch *= one_m_beta2
        v *= beta2
        v += scratch  # v = beta2*v + (1-beta2)*(d*d)
        np.sqrt(v, out=scratch)
        scratch /= sqrt_bc2
        scratch += eps  # denom = sqrt(v)/sqrt(bc2) + eps
        np.divide(m, scratch, out=scratch)
        scratch *= lr_bc1  # (lr/bc1) * (m/denom)
        p -= scratch

    # ---- batch > 1 (Cell.batch): the order of every sum, once (the fused engines follow it)
    m = batch_size(cell, n_samples)
    batched = m > 1
    if batched:  # per batch position i, every layer's z, a and g: (m, n_out, R)
        zb = [np.empty((m, n, R), dt) for n in sizes[1:]]
        ab = [np.empty((m, n, R), dt) for n in sizes[1:]]
        gb = [np.empty((m, n, R), dt) for n in sizes[1:]]
        gsum_b = [np.empty(b.shape, dt) for _, b in params]  # (n_out, R) the bias gradient's sum
        gw_one = [np.empty(w.shape, dt) for w, _ in params]  # (n_out, n_in, R) one sample's dL/dW
        down = [np.empty(w.shape, dt) for w, _ in params]  # pass_down's scratch (prod holds the step)

    def batch_update(epoch: int, k: int, batch: list) -> None:
        """One update from the batch's samples ``[(x, y), ...]`` (m' <= m of them, in visiting order).

        Every sample's forward uses the weights at the batch's start; its squared error joins
        the epoch error in visiting order. Backward, top layer first, per layer l:

        * each sample's g = dL/dz of layer l (the activation's backward, as per sample);
        * ``corrected``: each sample's gradient passed down through the old W_l;
        * the weight direction is the mean of the samples' ``g outer input``:
          ``(((d_0 + d_1) + d_2) + ...) / m'``, summed in batch order, one rounding per operation,
          then divided by the batch's own size m' (the last batch of an epoch is smaller when m
          does not divide S: its own mean); the bias direction likewise from g (``corrected``),
          or b itself (``as_posted``: ``b -= lr*b`` once per update);
        * the step (sgd, momentum or Adam, one Adam step t per update) as per sample;
        * ``as_posted``: each sample's gradient passed down through the *updated* W_l.

        At m' = 1 every division is by 1 (exact), so this is the per-sample loop's arithmetic.
        """
        nonlocal b1t, b2t
        mb = len(batch)
        for i, (x, y) in enumerate(batch):
            network_forward(params, acts, x, [t[i] for t in zb], [t[i] for t in ab], prod)
            output_delta(ab[L - 1][i][0], y, gb[L - 1][i][0], sq)
            np.add(err, sq, out=err)  # the epoch error, in visiting order
        if adam:  # one step t per update, shared by every parameter
            b1t = b1t * beta1
            b2t = b2t * beta2
            lr_bc1 = lr / (c(1.0) - b1t)  # (R,)
            sqrt_bc2 = np.sqrt(c(1.0) - b2t)
            lr_bc1_w = lr_bc1[0] if uniform_lr else lr_bc1[None, None, :]
            lr_bc1_b = lr_bc1[0] if uniform_lr else lr_bc1[None, :]
        size = c(mb)
        for l in range(L - 1, -1, -1):
            for i in range(mb):
                acts[l].backward(gb[l][i], zb[l][i], ab[l][i], tmp[l])
            if not posted and l > 0:
                for i in range(mb):
                    pass_down(params[l][0], gb[l][i], gb[l - 1][i], down[l])  # corrected: through the old W
            for i in range(mb):  # the weight direction's sum, in batch order
                a_in = ab[l - 1][i] if l > 0 else batch[i][0]
                weight_gradient(gb[l][i], a_in, prod[l] if i == 0 else gw_one[l])
                if i > 0:
                    prod[l] += gw_one[l]
            prod[l] /= size  # the mean over the batch
            if not posted:  # the bias direction dL/db: the same sum and mean
                np.copyto(gsum_b[l], gb[l][0])
                for i in range(1, mb):
                    gsum_b[l] += gb[l][i]
                gsum_b[l] /= size
            bias_dir = params[l][1] if posted else gsum_b[l]
            if adam:
                np.copyto(bstep[l], bias_dir)
                adam_step(params[l][0], prod[l], vel_w[l], sec_w[l], scr_w[l], lr_bc1_w, sqrt_bc2)
                adam_step(params[l][1], bstep[l], vel_b[l], sec_b[l], scr_b[l], lr_bc1_b, sqrt_bc2)
            else:
                prod[l] *= lr_w
                np.multiply(bias_dir, lr_b, out=bstep[l])
                step(l)
            if observer is not None:
                observer(epoch, k, l, params)  # k: the update's index in the epoch
            if posted and l > 0:
                for i in range(mb):
                    pass_down(params[l][0], gb[l][i], gb[l - 1][i], down[l])  # as posted: through the *updated* W

    with np.errstate(all="ignore"):
        if tracking:
            output_dead(dead_then)
            death_epoch[dead_then] = 0
        for epoch in range(1, cell.epochs + 1):
            err.fill(0)
            if perms is None:
                order = zip(xs, ys)
            else:  # per run: the inputs and targets it visits at each step, (R,) arrays
                idx = np.asarray(perms(epoch))
                order = ((x_arr[i].T, y_arr[i]) for i in idx)
            if batched:  # batch > 1: one update per batch of consecutive samples (see batch_update)
                order = list(order)
                for k, start in enumerate(range(0, n_samples, m)):
                    batch_update(epoch, k, order[start:start + m])
                order = ()
            for sample, (x, y) in enumerate(order):
                # ---- forward: z = W a + b summed in input order, then the activation
                forward(x)
                # ---- loss: (y - out)^2 accumulated in visiting order; dL/dout = 2 (out - y)
                output_delta(a[L - 1][0], y, g[L - 1][0], sq)
                err += sq
                if adam:  # one step t per sample, shared by every parameter
                    b1t = b1t * beta1
                    b2t = b2t * beta2
                    bc1 = c(1.0) - b1t
                    sqrt_bc2 = np.sqrt(c(1.0) - b2t)
                    lr_bc1 = lr / bc1  # (R,)
                    lr_bc1_w = lr_bc1[0] if uniform_lr else lr_bc1[None, None, :]
                    lr_bc1_b = lr_bc1[0] if uniform_lr else lr_bc1[None, :]
                # ---- backward, top layer first
                for l in range(L - 1, -1, -1):
                    acts[l].backward(g[l], z[l], a[l], tmp[l])
                    if not posted and l > 0:
                        pass_down(params[l][0], g[l], g[l - 1], prod[l])  # corrected: through the old W
                    weight_gradient(g[l], a[l - 1] if l > 0 else x, prod[l])  # weight direction
                    if adam:
                        # bias direction: the posted rule's "gradient" b, the corrected rule's dL/db
                        np.copyto(bstep[l], params[l][1] if posted else g[l])
                        adam_step(params[l][0], prod[l], vel_w[l], sec_w[l], scr_w[l], lr_bc1_w, sqrt_bc2)
                        adam_step(params[l][1], bstep[l], vel_b[l], sec_b[l], scr_b[l], lr_bc1_b, sqrt_bc2)
                    else:
                        prod[l] *= lr_w  # weight step: lr * (g outer input)
                        # bias step: the posted rule decays b; the corrected rule follows dL/db
                        np.multiply(params[l][1] if posted else g[l], lr_b, out=bstep[l])
                        step(l)
                    if observer is not None:
                        observer(epoch, sample, l, params)
                    if posted and l > 0:
                        pass_down(params[l][0], g[l], g[l - 1], prod[l])  # as posted: through the *updated* W
            err /= c(n_samples)
            if next_point < len(epochs_list) and epoch == epochs_list[next_point]:
                curve[next_point] = err
                next_point += 1
            # NaN compares False, so a diverged run never counts as below the target. A float32
            # error compares with the target rounded to float32 (NumPy's rule for a Python float);
            # no float32 number lies between 1e-3 and float32(1e-3), so this is the float64 test.
            np.less(err, EPOCH_ERROR_TARGET, out=below)
            below &= first_below < 0
            np.copyto(first_below, epoch, where=below)
            if tracking:
                output_dead(dead_now)
                changes += dead_now != dead_then
                death_epoch[dead_now & (death_epoch == NEVER_DEAD)] = epoch
                dead_then, dead_now = dead_now, dead_then
    return epochs_list, curve, first_below, err.copy()
