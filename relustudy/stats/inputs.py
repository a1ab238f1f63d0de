"""Input checks and the precision floor shared by the statistics modules (:mod:`relustudy.stats.proportions`,
:mod:`relustudy.stats.paired_tests`, :mod:`relustudy.stats.unpaired_tests`): pure functions, one-line errors."""
from __future__ import annotations

import numpy as np

# The one precision floor of final_mse, used by every statistic and figure: float64 MSE below
# ~1e-12 measures rounding depth, not learning (targets ~1, so residuals ~1e-6 and below).
MSE_FLOOR = 1e-12


def as_bool(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty; allowed: one or more values")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1); got values {np.unique(a)[:5]}")
        a = a.astype(bool)
    return a


def as_float(x, name: str, *, allow_empty: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    if a.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty; allowed: one or more values")
    return a


def same_length(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{na} and {nb} must have the same length; got {a.size} and {b.size}")


def log10_mse(mse) -> np.ndarray:
    """log10 of MSE values clipped below at :data:`MSE_FLOOR`; non-finite (diverged) -> +inf.

    Parameters
    ----------
    mse : (R,) array of MSE values (>= 0, possibly inf/NaN).

    Returns
    -------
    (R,) float array; +inf marks a diverged run, the worst value.

    Examples
    --------
    >>> log10_mse([1e-2, 0.0, 1e-20, np.nan]).tolist()
    [-2.0, -12.0, -12.0, inf]
    """
    a = np.asarray(mse, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(np.where(np.isfinite(a), np.maximum(a, MSE_FLOOR), np.inf))


