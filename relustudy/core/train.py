"""The batched training core: R independent 2-...-1 MLPs trained at once.

Every array carries the run axis last: a layer's weights are ``(n_out, n_in, R)``, its
biases and activations ``(n_out, R)``. Training is the posted program's loop: per-sample
SGD over the six pairs in fixed order, MSE loss, the same activation after every hidden
layer. All arithmetic is elementwise along the run axis, and every sum over the tiny
layer axes is an explicit, sequential multiply-add (no BLAS, no pairwise reduction), so
a run's bits do not depend on how many other runs share its batch or where it sits.

Two update rules (``Cell.update``):

* ``as_posted`` reproduces the posted ``Dense.backward``: the weights are updated
  *before* the gradient passed down is computed (so it uses the new weights), and the
  biases decay as ``b -= lr * b`` instead of following their gradient;
* ``corrected`` is plain backprop: the gradient passed down uses the old weights, and
  ``b -= lr * dL/db``.

With ``optimizer="momentum"`` each parameter keeps a velocity ``v = 0.9 v + step`` and
moves by ``-v``, where ``step`` is what the update rule would have subtracted.

With ``optimizer="adam"`` (torch.optim.Adam's defaults: betas 0.9, 0.999, eps 1e-8, bias
corrected) Adam is applied to the *direction* the update rule produces, as momentum is
applied to its step: for W the gradient ``g outer input``; for b, under ``corrected`` its
gradient dL/db, under ``as_posted`` the posted decay's pseudo-gradient b itself (``b -= lr*b``
is SGD on b with "gradient" b), so posted + Adam moves every bias towards 0 at Adam's pace.
``as_posted`` keeps its other quirk: the gradient passed down uses the updated W. The exact
arithmetic is in :mod:`relustudy.core.engines.reference`.

``data_order="shuffled"`` visits the six pairs in a fresh permutation every epoch, from a
splitmix64 stream seeded by the cell's ``order_seed`` (``engines.reference.order_perms``).
``dtype="float32"`` rounds the init (drawn in float64 as always), the lr and the data once to
float32 and trains in float32; the record is computed from the final weights promoted to
float64 (evaluation is float64 for every run).

The loop itself runs in an *engine* (``relustudy/core/engines``): the NumPy reference, a
fused numba kernel (the default) or a CUDA kernel, all bit for bit the same. This module
draws the inits, hands the batch to the engine and records the final state in NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from relustudy.core import diagnostics
from relustudy.core.activations import Activation, get_activation
from relustudy.core.config import STRUCTURE, Cell
from relustudy.core.checks import check_seeds
from relustudy.core.engines import engine_for, run_engine
from relustudy.core.engines.reference import network_forward
from relustudy.core.inits import Params, init_params, perturb_init
from relustudy.core.outcomes import classify
from relustudy.core.problem import get_task
from relustudy.core.schema import TRACK_OUTPUT_COLUMNS


def _activations(cell: Cell) -> list[Activation]:
    """One Activation per dense layer: hidden layers use ``cell.activation``."""
    hidden = get_activation(cell.activation)
    out = hidden if cell.output == "same" else get_activation("identity")
    return [hidden] * len(cell.hidden) + [out]


def forward_all(params: Params, acts: Sequence[Activation], x: np.ndarray) -> list[np.ndarray]:
    """Pre-activations of every layer for S inputs at once.

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)).
    acts : one Activation per layer.
    x : (S, 2) inputs, shared by all runs.

    Returns
    -------
    list of z per layer, each (n_out, S, R); the network output is ``acts[-1](z[-1])``.
    """
    S = x.shape[0]
    z, a = [np.empty_like(b) for _, b in params], [np.empty_like(b) for _, b in params]  # (n_out, R)
    prod = [np.empty_like(w) for w, _ in params]
    zs = [np.empty((w.shape[0], S, w.shape[2]), dtype=w.dtype) for w, _ in params]
    with np.errstate(all="ignore"):
        for s in range(S):  # the training step's own forward, one input at a time
            network_forward(params, acts, np.asarray(x[s], dtype=params[0][0].dtype)[:, None], z, a, prod)
            for z_all, z_l in zip(zs, z):
                z_all[:, s, :] = z_l
    return zs


def _output(z_last: np.ndarray, act: Activation) -> np.ndarray:
    """(S, R) network output from the last layer's (1, S, R) pre-activation."""
    out = np.empty_like(z_last)
    with np.errstate(all="ignore"):
        act.forward(z_last, out)
    return out[0]


def dead_units(zs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per layer, (n_out, R) bool: pre-activation <= 0 on every one of the S inputs."""
    return [np.all(z <= 0.0, axis=1) for z in zs]


@dataclass
class TrainResult:
    """What one batch of R runs produced. Every array's last axis is the run axis."""

    cell: Cell
    seeds: np.ndarray  # (R,) int64
    params: Params  # final weights: per layer (W: (n_out, n_in, R), b: (n_out, R)), float64 (float32 runs' exactly)
    metrics: dict[str, np.ndarray]  # column name -> (R,) array, the dataset's run record (NaN where the files hold null)
    curve_epochs: np.ndarray  # (P,) epochs at which the epoch error was recorded
    curve: np.ndarray  # (P, R) epoch error after each of those epochs
    init_params: Params = field(repr=False, default_factory=list)


def _state_metrics(prefix: str, params: Params, acts: Sequence[Activation], x: np.ndarray) -> dict:
    """Dead-unit statistics of a parameter state ('init' or 'final') on inputs x (S, 2)."""
    zs = forward_all(params, acts, x)
    dead = dead_units(zs)
    hidden = dead[:-1]
    m = {f"dead_frac_{prefix}": np.concatenate(hidden, axis=0).mean(axis=0)}
    for k, d in enumerate(hidden, start=1):
        m[f"dead_frac_{prefix}_l{k}"] = d.mean(axis=0)
    m[f"output_dead_{prefix}"] = dead[-1][0]
    # on how many of the S inputs the output's pre-activation is <= 0 (S: dead_output; 0 < k < S: partly)
    m[f"output_dead_points_{prefix}"] = np.count_nonzero(zs[-1][0] <= 0.0, axis=0).astype(np.int32)
    m[f"output_margin_{prefix}"] = diagnostics.output_margin(zs)
    m[f"linear_on_data_{prefix}"] = diagnostics.linear_on_data(zs, acts)
    return m, zs


def evaluate(
    cell: Cell, params: Params, *, data: tuple | None = None, last_epoch_error: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Final-state record of R networks: MSE, predictions, dead units, outcome.

    Parameters
    ----------
    cell : supplies the activations and the task (its training set and evaluation points).
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)).
    data : optional (X (S, 2), Y (S,)); default the cell's task's training set.
    last_epoch_error : optional (R,); a non-finite value marks the run diverged.

    Returns
    -------
    dict of (R,) arrays: final_mse, pred_test (at the task's first evaluation point; posted:
    (0.1, 0.5)), eval_mse (over all the task's evaluation points), pred_range, diverged, outcome,
    grad_norm_final, and the ``*_final`` dead-unit, margin and linearity columns.
    """
    acts = _activations(cell)
    task = get_task(cell.task)
    x, y = (task.x, task.y) if data is None else data
    dead_m, zs = _state_metrics("final", params, acts, x)
    out = _output(zs[-1], acts[-1])  # (S, R)
    with np.errstate(all="ignore"):
        d = y[:, None] - out
        sq = d * d
        total = sq[0].copy()
        for s in range(1, sq.shape[0]):  # sequential, like the posted epoch error
            total += sq[s]
        final_mse = total / sq.shape[0]
        pred_range = out.max(axis=0) - out.min(axis=0)
        pred_eval = _output(forward_all(params, acts, task.x_eval)[-1], acts[-1])  # (k, R)
        pred_test = pred_eval[0]
        de = task.y_eval[:, None] - pred_eval
        eval_total = de[0] * de[0]
        for s in range(1, de.shape[0]):  # sequential, as final_mse
            eval_total += de[s] * de[s]
        eval_mse = eval_total / de.shape[0]
        finite = np.isfinite(final_mse) & np.isfinite(pred_test)
        if last_epoch_error is not None:
            finite &= np.isfinite(last_epoch_error)
        for w, b in params:
            finite &= np.isfinite(w).all(axis=(0, 1)) & np.isfinite(b).all(axis=0)
    diverged = ~finite
    outcome = classify(final_mse, pred_range, dead_m["output_dead_final"], diverged, acts[-1].relu_family)
    return {
        "final_mse": final_mse,
        "pred_test": pred_test,
        "eval_mse": eval_mse,
        "outcome": outcome,
        "pred_range": pred_range,
        "diverged": diverged,
        "grad_norm_final": diagnostics.grad_norm(params, acts, x, y),
        **dead_m,
    }


def train(
    cell: Cell,
    seeds: Sequence[int],
    *,
    init: Params | None = None,
    data: tuple | None = None,
    engine: str | None = None,
    track_output: bool = False,
) -> TrainResult:
    """Train one network per seed for ``cell`` and record the dataset's run record (schema.py).

    Parameters
    ----------
    cell : the factor values (validated on construction).
    seeds : R seeds, a sequence (``range(5)``, ``[5]``); run r starts from
        ``init_params(cell.init, [seeds[r]], ...)``. A bare int is a ValueError: ``5`` could
        mean seed 5 or seeds 0..4.
    init : optional initial parameters (per layer W: (n_out, n_in, R), b: (n_out, R))
        to use instead of the seeded draws, e.g. for gradient checks.
    data : optional (X (S, 2), Y (S,)) training set instead of the cell's task's (default the
        asker's six pairs), e.g. two samples for a hand-computed check.
    engine : "numba" (fused CPU kernel, the default when numba is installed), "numpy"
        (the readable reference) or "cuda" (GPU); every engine gives the same bits. The
        default falls back to numpy, with a notice, for a cell the default engine cannot train.
    track_output : also record ``schema.TRACK_OUTPUT_COLUMNS`` (the output's death epoch and
        alive <-> dead changes, checked at each epoch's end).

    Returns
    -------
    TrainResult with (R,)-shaped metrics and a (P, R) learning curve. ``epochs_to_1e-3`` is
    float64, NaN for a run whose epoch error never fell below 1e-3 (null in the dataset's files).

    Examples
    --------
    >>> res = train(Cell(activation="relu", epochs=50), seeds=[0, 1, 2])
    >>> res.metrics["final_mse"].shape, res.curve.shape
    ((3,), (6, 3))
    """
    return train_group([cell], seeds, inits=None if init is None else [init], data=data, engine=engine,
                       track_output=track_output)[0]


def train_group(
    cells: Sequence[Cell],
    seeds: Sequence[int],
    *,
    inits: Sequence[Params] | None = None,
    data: tuple | None = None,
    engine: str | None = None,
    track_output: bool = False,
) -> list[TrainResult]:
    """Train several cells that share a structure (see ``Cell.structure``) in one batch.

    Cells may differ in ``init``, ``init_gain``, ``init_perturb``, ``lr`` and ``order_seed``; the batch holds
    ``len(cells) * len(seeds)`` runs. Results are bitwise identical to training each cell alone.

    Returns
    -------
    One TrainResult per cell, in order, each over ``seeds``.
    """
    seeds = np.asarray(check_seeds(seeds), dtype=np.int64)
    if not cells:
        raise ValueError("empty cell list; allowed: one or more Cells sharing a structure")
    structure = cells[0].structure
    for c in cells:
        if c.structure != structure:
            raise ValueError(
                f"cells in one batch must share {', '.join(STRUCTURE)}; got {cells[0].to_json()} and {c.to_json()}"
            )
    cell0 = cells[0]
    engine = engine_for(engine, cell0, track_output)  # fail on a bad or unavailable engine before any work
    dtype = np.dtype(cell0.dtype)
    acts = _activations(cell0)
    if inits is None:
        inits = [init_params(c.init, seeds, cell0.layer_sizes, c.init_gain) for c in cells]
    params = [
        (np.concatenate([p[l][0] for p in inits], axis=-1), np.concatenate([p[l][1] for p in inits], axis=-1))
        for l in range(len(cell0.layer_sizes) - 1)
    ]
    R = params[0][0].shape[-1]
    if R != len(cells) * len(seeds):
        raise ValueError(f"init parameters hold {R} runs; expected {len(cells) * len(seeds)}")
    # float32: the float64 init, lr and data rounded once; the engine trains in the cell's dtype.
    params = [(w.astype(dtype, copy=False), b.astype(dtype, copy=False)) for w, b in params]
    # Cell.init_perturb moves the init in the run's own dtype (after float32's rounding).
    n = len(seeds)
    for k, c in enumerate(cells):
        if c.init_perturb != "none":
            sl = slice(k * n, (k + 1) * n)
            moved = perturb_init(c.init_perturb, [(w[..., sl], b[..., sl]) for w, b in params], seeds)
            for (w, b), (mw, mb) in zip(params, moved):  # params are this call's own arrays (concatenated)
                w[..., sl], b[..., sl] = mw, mb
    lr = np.concatenate([np.full(len(seeds), c.lr) for c in cells]).astype(dtype)
    order_seed = None
    if cell0.data_order == "shuffled":
        order_seed = np.concatenate([np.full(len(seeds), c.order_seed, dtype=np.uint64) for c in cells])
    track = (np.empty(R, np.int32), np.empty(R, np.int32)) if track_output else None
    # The record is computed in float64, on the float64 data as for any weights, from the run's
    # own (for float32: rounded) init and final weights.
    init_copy = [(w.astype(np.float64), b.astype(np.float64)) for w, b in params]

    task = get_task(cell0.task)
    x_train, y_train = (task.x, task.y) if data is None else (np.asarray(data[0], float), np.asarray(data[1], float))
    if x_train.ndim != 2 or x_train.shape[1] != 2 or y_train.shape != (x_train.shape[0],) or not len(y_train):
        raise ValueError(f"data must be (X (S, 2), Y (S,)) with S >= 1; got {x_train.shape} and {y_train.shape}")
    x_run, y_run = x_train.astype(dtype), y_train.astype(dtype)
    init_m, _ = _state_metrics("init", init_copy, acts, x_train)
    epoch_curve, curve, first_below, last_err = run_engine(engine, params, acts, lr, cell0, x_run, y_run,
                                                           order_seed=order_seed, track=track)
    params = [(w.astype(np.float64, copy=False), b.astype(np.float64, copy=False)) for w, b in params]
    curve, last_err = curve.astype(np.float64, copy=False), last_err.astype(np.float64, copy=False)
    final_m = evaluate(cell0, params, data=(x_train, y_train), last_epoch_error=last_err)
    # The engines mark "never" with -1; the record says NaN, as the files say null (data/README.md).
    epochs_to = np.where(first_below < 0, np.nan, first_below.astype(np.float64))
    metrics = {"last_epoch_error": last_err, "epochs_to_1e-3": epochs_to, **init_m, **final_m}
    if track is not None:
        metrics.update(zip(TRACK_OUTPUT_COLUMNS, track))
    results = []
    for k, c in enumerate(cells):
        sl = slice(k * n, (k + 1) * n)
        results.append(
            TrainResult(
                cell=c,
                seeds=seeds.copy(),
                params=[(w[..., sl].copy(), b[..., sl].copy()) for w, b in params],
                metrics={name: v[sl].copy() for name, v in metrics.items()},
                curve_epochs=epoch_curve,
                curve=curve[:, sl].copy(),
                init_params=[(w[..., sl].copy(), b[..., sl].copy()) for w, b in init_copy],
            )
        )
    return results
