"""Interval estimates that resample or rank: the bootstrap (median, IQM) and the order-statistic
CI of a median. Array-level, named results, randomness as an argument (see :mod:`relustudy.stats.proportions`,
which re-exports these)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from relustudy.stats.inputs import as_float

BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")



# --------------------------------------------------------------------------- bootstrap
@dataclass(frozen=True)
class BootstrapResult:
    """A statistic of one sample with its bootstrap (1 - alpha) CI."""

    estimate: float
    low: float
    high: float
    stat: str
    n: int  # finite values used
    n_dropped: int  # non-finite values dropped
    n_boot: int
    method: str


def iqm(x, axis: int = -1):
    """Interquartile mean: the mean of the middle 50% (``scipy.stats.trim_mean(x, 0.25)``)."""
    return scipy.stats.trim_mean(x, 0.25, axis=axis)


def _median(x, axis: int = -1):
    return np.median(x, axis=axis)


_BOOTSTRAP_FUNCS = {"median": _median, "iqm": iqm}


def bootstrap_ci(
    values,
    stat: str = "median",
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    alpha: float = 0.05,
    method: str = "percentile",
) -> BootstrapResult:
    """Bootstrap CI of the median or IQM of one sample (``scipy.stats.bootstrap``).

    Non-finite values (diverged runs) are dropped and counted. With a single finite value
    the CI collapses to it. Deterministic for a given ``rng`` state.

    Parameters
    ----------
    values : (n,) values, e.g. final_mse of one cell (take log10 first if wanted).
    stat : "median" or "iqm".
    rng : the random generator (required; no global RNG).
    n_boot : bootstrap resamples.
    alpha : 1 - confidence level.
    method : "percentile", "basic" or "BCa".

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> r = bootstrap_ci([1.0, 2.0, 3.0, 4.0], "iqm", rng=np.random.default_rng(0))
    >>> r.estimate, 1.0 <= r.low <= r.high <= 4.0
    (2.5, True)
    """
    if stat not in _BOOTSTRAP_FUNCS:
        raise ValueError(f"unknown stat {stat!r}; allowed: {', '.join(_BOOTSTRAP_FUNCS)}")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(BOOTSTRAP_METHODS)}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    if int(n_boot) < 1:
        raise ValueError(f"invalid n_boot {n_boot!r}; allowed: an integer >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")
    x = as_float(values, "values")
    ok = np.isfinite(x)
    x = x[ok]
    if x.size == 0:
        raise ValueError("values has no finite entries")
    f = _BOOTSTRAP_FUNCS[stat]
    est = float(f(x))
    if x.size == 1 or np.all(x == x[0]):
        low = high = est
    else:
        res = scipy.stats.bootstrap(
            (x,), f, n_resamples=int(n_boot), confidence_level=1 - alpha,
            method=method, vectorized=True, rng=rng,
        )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return BootstrapResult(est, low, high, stat, int(x.size), int((~ok).sum()), int(n_boot), method)


@dataclass(frozen=True)
class MedianResult:
    """A sample median with its distribution-free (order-statistic) CI."""

    median: float
    ci_low: float
    ci_high: float
    n: int


def median_ci(x, *, alpha: float = 0.05) -> MedianResult:
    """Median of ``x`` (n,) with the order-statistic CI [x_(j), x_(n-j+1)], j the alpha/2
    quantile of Binomial(n, 1/2) (at least 1): coverage >= 1 - alpha for any continuous
    distribution, no bootstrap. NaNs are an error; n = 0 gives NaNs.

    Examples
    --------
    >>> r = median_ci(np.arange(1, 23))
    >>> (r.median, r.ci_low, r.ci_high, r.n)
    (11.5, 6.0, 17.0, 22)
    """
    x = np.sort(as_float(x, "x", allow_empty=True))
    if np.isnan(x).any():
        raise ValueError("x has NaN; allowed: finite or infinite numbers")
    n = x.size
    if n == 0:
        return MedianResult(np.nan, np.nan, np.nan, 0)
    j = max(int(scipy.stats.binom.ppf(alpha / 2, n, 0.5)), 1)
    return MedianResult(float(np.median(x)), float(x[j - 1]), float(x[n - j]), n)


@dataclass(frozen=True)
class PooledResult:
    """An estimate pooled over m repetitions (e.g. training draws) with its (1 - alpha) CI."""

    estimate: float  # the mean of the m estimates
    ci_low: float
    ci_high: float
    within: float  # mean of the squared standard errors (the variance inside one repetition)
    between: float  # variance of the estimates across repetitions (ddof 1; 0 when m = 1)
    m: int


def pooled_ci(estimates, std_errors, *, alpha: float = 0.05) -> PooledResult:
    """Pool m estimates of one quantity, each from its own random repetition with its own standard
    error, by Rubin's rules: total variance T = W + (1 + 1/m) B, W the mean squared standard
    error, B the variance between the estimates; t interval with Rubin's (1987) degrees of
    freedom (m - 1)(1 + W / ((1 + 1/m) B))^2 (normal when B = 0, and for m = 1 the repetition's
    own normal interval).

    estimates, std_errors : (m,) floats, m >= 1, std_errors >= 0.

    Examples
    --------
    >>> r = pooled_ci([0.80, 0.82, 0.84], [0.01, 0.01, 0.01])
    >>> round(r.estimate, 3), r.m, bool(r.ci_low < 0.80 < 0.84 < r.ci_high)
    (0.82, 3, True)
    """
    est, se = as_float(estimates, "estimates"), as_float(std_errors, "std_errors")
    if est.ndim != 1 or est.shape != se.shape or est.size == 0:
        raise ValueError(f"estimates and std_errors must be (m,) with m >= 1; got {est.shape} and {se.shape}")
    if (se < 0).any() or not (np.isfinite(est).all() and np.isfinite(se).all()):
        raise ValueError("std_errors must be finite and >= 0, estimates finite")
    m = est.size
    w = float(np.mean(se**2))
    b = float(np.var(est, ddof=1)) if m > 1 else 0.0
    total = w + (1 + 1 / m) * b
    if b > 0:
        df = (m - 1) * (1 + w / ((1 + 1 / m) * b)) ** 2
        q = float(scipy.stats.t.ppf(1 - alpha / 2, df))
    else:
        q = float(scipy.stats.norm.ppf(1 - alpha / 2))
    half = q * np.sqrt(total)
    mean = float(est.mean())
    return PooledResult(mean, mean - half, mean + half, w, b, m)
