"""Paired comparisons of two conditions on the same seeds (the conventions of :mod:`relustudy.stats.proportions`):
McNemar's exact test with the paired difference's CI, Wilcoxon signed-rank on log10 MSE or any
paired values, Cohen's kappa. Importable from :mod:`relustudy.stats.proportions` as well."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import cohens_kappa

from relustudy.stats.inputs import MSE_FLOOR, as_bool, as_float, same_length, log10_mse  # noqa: F401


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired failure indicators (a vs b).

    ``statistic`` is min(n10, n01) (the exact binomial form); ``odds_ratio`` is the
    conditional (matched-pairs) odds ratio of failing under b vs a, n01 / n10. ``diff`` is
    the paired difference in failure rate, rate_b - rate_a = (n01 - n10) / n, with the
    Agresti-Min CI of :func:`paired_rate_diff_ci`.
    """

    statistic: float
    pvalue: float
    n: int  # pairs
    n11: int  # both fail
    n10: int  # a fails, b solves (rescued by b)
    n01: int  # a solves, b fails (broken by b)
    n00: int  # both solve
    rate_a: float
    rate_b: float
    odds_ratio: float
    diff: float  # rate_b - rate_a
    diff_low: float
    diff_high: float


def paired_rate_diff_ci(n10: int, n01: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """CI of the paired difference in failure rate, rate_b - rate_a = (n01 - n10) / n.

    Agresti & Min (2005): the Wald interval after adding 1/2 to each of the four cells of
    the paired 2x2 table, d* = (n01 - n10) / (n + 2), p* = (n_ij + 1/2) / (n + 2),
    var = (p01* + p10* - d*^2) / (n + 2); clipped to [-1, 1].

    Parameters
    ----------
    n10 : pairs where a fails and b solves; n01 : a solves and b fails; n : all pairs.

    Returns
    -------
    (low, high)

    Examples
    --------
    >>> [round(v, 4) for v in paired_rate_diff_ci(0, 0, 100)]   # +- 1.96 sqrt(1/102) / sqrt(102)
    [-0.0192, 0.0192]
    """
    n10, n01, n = int(n10), int(n01), int(n)
    if n < 1 or n10 < 0 or n01 < 0 or n10 + n01 > n:
        raise ValueError(f"invalid counts n10={n10}, n01={n01}, n={n}; allowed: 0 <= n10 + n01 <= n, n >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")
    m = n + 2
    d = (n01 - n10) / m
    p01, p10 = (n01 + 0.5) / m, (n10 + 0.5) / m
    half = scipy.stats.norm.ppf(1 - alpha / 2) * np.sqrt((p01 + p10 - d * d) / m)
    return float(max(-1.0, d - half)), float(min(1.0, d + half))


def mcnemar_exact(fail_a, fail_b, *, alpha: float = 0.05) -> McNemarResult:
    """Exact McNemar test: do two paired conditions fail equally often?

    Uses ``statsmodels.stats.contingency_tables.mcnemar(exact=True)`` (a two-sided
    binomial test of n10 against n10 + n01 discordant pairs at p = 1/2).

    Parameters
    ----------
    fail_a, fail_b : (n,) bool, the failure of the same seed under a and under b.
    alpha : 1 - confidence level of the CI of ``diff``.

    Returns
    -------
    McNemarResult

    Examples
    --------
    >>> r = mcnemar_exact([1, 1, 1, 0, 0], [0, 0, 0, 0, 0])
    >>> r.n10, r.n01, r.pvalue, r.diff        # 2 * 0.5**3; (0 - 3) / 5
    (3, 0, 0.25, -0.6)
    """
    a = as_bool(fail_a, "fail_a")
    b = as_bool(fail_b, "fail_b")
    same_length(a, b, "fail_a", "fail_b")
    n11, n10 = int(np.sum(a & b)), int(np.sum(a & ~b))
    n01, n00 = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    res = mcnemar(np.array([[n11, n10], [n01, n00]]), exact=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.float64(n01) / np.float64(n10)
    lo, hi = paired_rate_diff_ci(n10, n01, a.size, alpha=alpha)
    return McNemarResult(
        float(res.statistic), float(res.pvalue), a.size, n11, n10, n01, n00,
        float(a.mean()), float(b.mean()), float(odds), (n01 - n10) / a.size, lo, hi,
    )


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test on paired log10 MSE (differences b - a), diverged = worst."""

    statistic: float
    pvalue: float
    n: int  # pairs
    n_used: int  # pairs the test ranks: n minus the ties
    n_zero: int  # pairs with identical values (both at the floor, both diverged, ...): dropped
    n_lower: int  # pairs where b ends at the lower (better) MSE
    n_higher: int  # pairs where b ends at the higher (worse) MSE
    n_diverged_a: int  # diverged runs under a (ranked worst, not dropped)
    n_diverged_b: int
    median_diff: float  # median of log10(mse_b) - log10(mse_a) in decades (+-inf: diverged)


def _log_diffs(mse_a: np.ndarray, mse_b: np.ndarray) -> np.ndarray:
    """log10(mse_b) - log10(mse_a) after the floor; +-inf where one side diverged, 0 if both."""
    la, lb = log10_mse(mse_a), log10_mse(mse_b)
    with np.errstate(invalid="ignore"):
        d = lb - la
    d[np.isinf(la) & np.isinf(lb)] = 0.0
    return d


def wilcoxon_log_mse(mse_a, mse_b) -> WilcoxonResult:
    """Wilcoxon signed-rank test of log10(mse_b) - log10(mse_a) against 0.

    MSE values are clipped at the precision floor :data:`MSE_FLOOR` before the log. A
    diverged (non-finite) run is the worst outcome: a pair where only b diverged has a
    difference that ranks above every finite one, with sign +, and vice versa; a pair
    where both diverged is a tie. Ties (zero differences) are dropped by the test
    (``zero_method="wilcox"``) and counted; if every difference is zero the result is
    ``statistic=0, pvalue=1``. Uses ``scipy.stats.wilcoxon``.

    Parameters
    ----------
    mse_a, mse_b : (n,) MSE of the same seeds under a and b.

    Returns
    -------
    WilcoxonResult

    Examples
    --------
    >>> r = wilcoxon_log_mse([1e-1, 1e-2, 1e-3, np.nan], [1e-2, 1e-4, 1e-6, 1.0])
    >>> r.pvalue, r.n_used, r.n_lower, r.n_higher, r.n_diverged_a   # exact: 2 / 2**4
    (0.125, 4, 4, 0, 1)
    """
    a = as_float(mse_a, "mse_a")
    b = as_float(mse_b, "mse_b")
    same_length(a, b, "mse_a", "mse_b")
    return _signed_rank(_log_diffs(a, b), int((~np.isfinite(a)).sum()), int((~np.isfinite(b)).sum()))


def _signed_rank(d: np.ndarray, div_a: int = 0, div_b: int = 0) -> WilcoxonResult:
    """Wilcoxon signed-rank on differences d (b - a); +-inf rank above every finite |d|."""
    n_zero = int(np.sum(d == 0))
    n_lower, n_higher = int(np.sum(d < 0)), int(np.sum(d > 0))
    med = float(np.median(d))
    if n_zero == d.size:
        stat, p = 0.0, 1.0
    else:
        finite = np.abs(d[np.isfinite(d)])
        top = (finite.max() if finite.size else 0.0) + 1.0  # diverged: above every finite |d|
        ranked = np.where(np.isinf(d), np.sign(d) * top, d)
        res = scipy.stats.wilcoxon(ranked, zero_method="wilcox")
        stat, p = float(res.statistic), float(res.pvalue)
    return WilcoxonResult(stat, p, int(d.size), int(d.size) - n_zero, n_zero, n_lower, n_higher, div_a, div_b, med)


def wilcoxon_paired(a, b) -> WilcoxonResult:
    """Wilcoxon signed-rank test of b - a against 0 for finite paired values (e.g. epochs).

    Zero differences are dropped by the test and counted, as in :func:`wilcoxon_log_mse`.

    Parameters
    ----------
    a, b : (n,) finite values of the same units under a and b.

    Returns
    -------
    WilcoxonResult (``median_diff`` in the values' units; no diverged runs).

    Examples
    --------
    >>> r = wilcoxon_paired([100, 200, 300, 50], [90, 150, 100, 50])
    >>> r.n_used, r.n_lower, r.n_zero, r.median_diff, r.pvalue   # exact: 2 / 2**3
    (3, 3, 1, -30.0, 0.25)
    """
    a = as_float(a, "a")
    b = as_float(b, "b")
    same_length(a, b, "a", "b")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite; use wilcoxon_log_mse for MSE with diverged runs")
    return _signed_rank(b - a)


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa between two paired label sequences."""

    kappa: float
    ci_low: float  # asymptotic (1 - alpha) CI, statsmodels' standard error
    ci_high: float
    agreement: float  # observed share of identical labels
    n: int


def cohen_kappa(labels_a, labels_b, *, alpha: float = 0.05) -> KappaResult:
    """Cohen's kappa: agreement of two paired labelings beyond chance.

    Uses ``statsmodels.stats.inter_rater.cohens_kappa`` on the square contingency table of
    the labels (every label seen in either sequence is a row and a column).

    Parameters
    ----------
    labels_a, labels_b : (n,) labels (e.g. the outcome of each seed in two cells).

    Returns
    -------
    KappaResult; kappa is 1 for identical labelings and NaN if chance agreement is 1.

    Examples
    --------
    >>> r = cohen_kappa(["s", "s", "d", "d"], ["s", "d", "d", "d"])   # p_o 0.75, p_e 0.5
    >>> r.kappa, r.agreement
    (0.5, 0.75)
    """
    a = np.asarray(labels_a).astype(str)
    b = np.asarray(labels_b).astype(str)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"labels_a and labels_b must be 1-D, non-empty and of equal length; got {a.shape}, {b.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")
    levels = np.union1d(a, b)
    table = np.zeros((levels.size, levels.size))
    np.add.at(table, (np.searchsorted(levels, a), np.searchsorted(levels, b)), 1)
    agreement = float(np.trace(table) / a.size)
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / a.size**2
    if expected >= 1.0:
        return KappaResult(np.nan, np.nan, np.nan, agreement, int(a.size))
    # statsmodels also computes a z-value (unused here) that divides by 0 when, e.g., every pair
    # disagrees in one direction (std_kappa0 = 0): a warning, not a result of ours.
    with np.errstate(divide="ignore", invalid="ignore"):
        res = cohens_kappa(table)
    half = scipy.stats.norm.ppf(1 - alpha / 2) * float(res.std_kappa)
    k = float(res.kappa)
    return KappaResult(k, k - half, k + half, agreement, int(a.size))


