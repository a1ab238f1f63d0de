"""Outcome taxonomy of a run, with its thresholds as named constants.

Precedence (first match wins): ``diverged`` (anything non-finite), ``dead_output``
(ReLU-family output unit inactive on all training inputs), ``collapsed`` (output (near)
constant across the training inputs), ``solved`` (final MSE below threshold),
``partly_dead`` (ReLU-family output unit inactive on some training inputs but not all: those
points give no gradient, and the MSE sits on a plateau such as 1.0**2/6; issue 27), ``slow``.

``partly_dead`` only takes runs that were ``slow`` before it existed (it comes after every
other label), so no run changes between ``solved``, ``dead_output``, ``collapsed`` and
``diverged``; without the per-point counts (``output_dead_points`` None) no run is labelled
``partly_dead``.
"""
from __future__ import annotations

import numpy as np

SOLVED_MSE = 1e-3  # final_mse below this is "solved"; the report varies it (1e-4 .. 1e-2)
COLLAPSE_RANGE = 1e-3  # max - min of the six training predictions below this is "collapsed"
EPOCH_ERROR_TARGET = 1e-3  # the threshold behind the `epochs_to_1e-3` column

# partly_dead last: the categories' codes of tables made before it stay what they were
OUTCOMES = ("solved", "dead_output", "collapsed", "slow", "diverged", "partly_dead")


def classify(
    final_mse: np.ndarray,
    pred_range: np.ndarray,
    output_dead: np.ndarray,
    diverged: np.ndarray,
    relu_family_output: bool | np.ndarray,
    *,
    output_dead_points: np.ndarray | None = None,
    n_points: int | None = None,
    solved_mse: float = SOLVED_MSE,
    collapse_range: float = COLLAPSE_RANGE,
) -> np.ndarray:
    """Outcome label per run.

    Parameters
    ----------
    final_mse, pred_range : (R,) float arrays.
    output_dead, diverged : (R,) bool arrays.
    relu_family_output : bool, or (R,) bool array: whether the output unit is ReLU-like.
    output_dead_points : optional (R,) int, on how many of the ``n_points`` training inputs the
        output's pre-activation is <= 0 (``output_dead_points_final``); with it, a run that would
        be ``slow`` whose ReLU-family output is dead on some but not all points is ``partly_dead``.
    n_points : S, the training inputs (needed with ``output_dead_points``).
    solved_mse, collapse_range : thresholds (defaults: the module constants).

    Returns
    -------
    (R,) array of str, values in :data:`OUTCOMES`.

    Examples
    --------
    >>> classify(np.array([1e-5, 0.6, 0.06, 0.01]), np.array([0.7, 0.0, 0.0, 0.5]),
    ...          np.array([False, True, False, False]), np.zeros(4, bool), True).tolist()
    ['solved', 'dead_output', 'collapsed', 'slow']
    >>> classify(np.array([0.17, 0.17]), np.array([0.5, 0.5]), np.zeros(2, bool), np.zeros(2, bool), True,
    ...          output_dead_points=np.array([1, 0]), n_points=6).tolist()
    ['partly_dead', 'slow']
    """
    final_mse = np.asarray(final_mse, dtype=float)
    pred_range = np.asarray(pred_range, dtype=float)
    dead = np.asarray(output_dead, dtype=bool) & np.asarray(relu_family_output, dtype=bool)
    div = np.asarray(diverged, dtype=bool) | ~np.isfinite(final_mse) | ~np.isfinite(pred_range)
    partly = np.zeros(final_mse.shape, bool)
    if output_dead_points is not None:
        if n_points is None:
            raise ValueError("output_dead_points needs n_points (the training inputs they count from)")
        k = np.asarray(output_dead_points)
        partly = (k > 0) & (k < n_points) & np.asarray(relu_family_output, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.select(
            [div, dead, pred_range < collapse_range, final_mse < solved_mse, partly],
            ["diverged", "dead_output", "collapsed", "solved", "partly_dead"],
            default="slow",
        )
