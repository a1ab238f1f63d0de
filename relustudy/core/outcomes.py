"""Outcome taxonomy of a run, with its thresholds as named constants.

Precedence (first match wins): ``diverged`` (anything non-finite), ``dead_output``
(ReLU-family output unit inactive on all six inputs), ``collapsed`` (output (near)
constant across the six inputs), ``solved`` (final MSE below threshold), ``slow``.
"""
from __future__ import annotations

import numpy as np

SOLVED_MSE = 1e-3  # final_mse below this is "solved"; the report varies it (1e-4 .. 1e-2)
COLLAPSE_RANGE = 1e-3  # max - min of the six training predictions below this is "collapsed"
EPOCH_ERROR_TARGET = 1e-3  # the threshold behind the `epochs_to_1e-3` column

OUTCOMES = ("solved", "dead_output", "collapsed", "slow", "diverged")


def classify(
    final_mse: np.ndarray,
    pred_range: np.ndarray,
    output_dead: np.ndarray,
    diverged: np.ndarray,
    relu_family_output: bool | np.ndarray,
    *,
    solved_mse: float = SOLVED_MSE,
    collapse_range: float = COLLAPSE_RANGE,
) -> np.ndarray:
    """Outcome label per run.

    Parameters
    ----------
    final_mse, pred_range : (R,) float arrays.
    output_dead, diverged : (R,) bool arrays.
    relu_family_output : bool, or (R,) bool array: whether the output unit is ReLU-like.
    solved_mse, collapse_range : thresholds (defaults: the module constants).

    Returns
    -------
    (R,) array of str, values in :data:`OUTCOMES`.

    Examples
    --------
    >>> classify(np.array([1e-5, 0.6, 0.06, 0.01]), np.array([0.7, 0.0, 0.0, 0.5]),
    ...          np.array([False, True, False, False]), np.zeros(4, bool), True).tolist()
    ['solved', 'dead_output', 'collapsed', 'slow']
    """
    final_mse = np.asarray(final_mse, dtype=float)
    pred_range = np.asarray(pred_range, dtype=float)
    dead = np.asarray(output_dead, dtype=bool) & np.asarray(relu_family_output, dtype=bool)
    div = np.asarray(diverged, dtype=bool) | ~np.isfinite(final_mse) | ~np.isfinite(pred_range)
    with np.errstate(invalid="ignore"):
        return np.select(
            [div, dead, pred_range < collapse_range, final_mse < solved_mse],
            ["diverged", "dead_output", "collapsed", "solved"],
            default="slow",
        )
