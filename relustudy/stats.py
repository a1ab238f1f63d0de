"""Statistics of the study: pure functions over arrays, returning named results.

Array-level only: the DataFrame-level analyses (per cell, per stratum, the report's
findings) are in :mod:`relustudy.analysis`. Conventions (stated once):

* Comparisons are "a vs b": ``n10`` counts seeds where *a fails and b solves* (b rescues the
  seed), ``n01`` seeds where *a solves and b fails* (b breaks it); differences are b - a.
* ``final_mse`` is compared on the log10 scale after clipping at the precision floor
  :data:`MSE_FLOOR` (float64 MSE below it is rounding, not learning, and an MSE of exactly
  0 has no logarithm); a non-finite value (a diverged run) is the worst outcome: it ranks
  above every finite MSE, it is never dropped.
* Every paired test reports its direction (how many pairs b makes lower / higher) and the
  n it actually used (ties excluded).
* Randomness only arrives as a ``numpy.random.Generator`` argument.

Every function returns a named result (frozen dataclass) or an array and raises a
one-line ``ValueError`` for bad input. Nothing here plots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.multitest import multipletests

# The one precision floor of final_mse, used by every statistic and figure: float64 MSE below
# ~1e-12 measures rounding depth, not learning (targets ~1, so residuals ~1e-6 and below).
MSE_FLOOR = 1e-12
CI_METHODS = ("exact", "wilson")  # binomial CIs: Clopper-Pearson or Wilson score
BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")


# --------------------------------------------------------------------------- helpers
def _as_bool(x, name: str) -> np.ndarray:
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


def _as_float(x, name: str, *, allow_empty: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    if a.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty; allowed: one or more values")
    return a


def _same_length(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
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


# --------------------------------------------------------------------------- binomial CIs
@dataclass(frozen=True)
class ProportionResult:
    """A proportion k/n with its (1 - alpha) confidence interval."""

    k: int
    n: int
    rate: float
    ci_low: float
    ci_high: float
    method: str


def proportion_ci(k: int, n: int, *, alpha: float = 0.05, method: str = "exact") -> ProportionResult:
    """Proportion ``k / n`` with a Clopper-Pearson ("exact") or Wilson CI.

    Clopper-Pearson from the beta quantiles (``Beta(k, n - k + 1)`` at alpha/2, ``Beta(k + 1,
    n - k)`` at 1 - alpha/2; 0 and 1 at the ends), which is what ``scipy.stats.binomtest``'s
    root finding solves for, about 50 times faster (the million-seed study asks for 1,000 of
    them); Wilson from ``binomtest``.

    Examples
    --------
    >>> r = proportion_ci(0, 10)
    >>> r.rate, r.ci_low, round(r.ci_high, 4)   # upper = 1 - 0.025**(1/10)
    (0.0, 0.0, 0.3085)
    """
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; allowed: {', '.join(CI_METHODS)}")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"invalid counts k={k}, n={n}; allowed: n >= 1 and 0 <= k <= n")
    if method == "exact":
        low = 0.0 if k == 0 else float(scipy.stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(scipy.stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        return ProportionResult(k, n, k / n, low, high, method)
    ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method=method)
    return ProportionResult(k, n, k / n, float(ci.low), float(ci.high), method)


# --------------------------------------------------------------------------- paired tests
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
    a = _as_bool(fail_a, "fail_a")
    b = _as_bool(fail_b, "fail_b")
    _same_length(a, b, "fail_a", "fail_b")
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
    a = _as_float(mse_a, "mse_a")
    b = _as_float(mse_b, "mse_b")
    _same_length(a, b, "mse_a", "mse_b")
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
    a = _as_float(a, "a")
    b = _as_float(b, "b")
    _same_length(a, b, "a", "b")
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
    res = cohens_kappa(table)
    half = scipy.stats.norm.ppf(1 - alpha / 2) * float(res.std_kappa)
    k = float(res.kappa)
    return KappaResult(k, k - half, k + half, agreement, int(a.size))


# --------------------------------------------------------------------------- unpaired tests
@dataclass(frozen=True)
class FisherResult:
    """Fisher's exact test on the failure counts of two independent groups.

    ``odds_ratio`` is the sample odds ratio of failing under b vs a
    (``(f_b / s_b) / (f_a / s_a)``; inf or NaN when a count is 0).
    """

    statistic: float  # = odds_ratio (scipy's convention)
    pvalue: float
    n_a: int
    n_b: int
    n_fail_a: int
    n_fail_b: int
    rate_a: float
    rate_b: float
    odds_ratio: float


def fisher_exact(fail_a, fail_b) -> FisherResult:
    """Fisher's exact test (two-sided): do two independent groups fail equally often?

    Uses ``scipy.stats.fisher_exact`` on the table [[fail_b, ok_b], [fail_a, ok_a]].

    Parameters
    ----------
    fail_a : (n_a,) bool; fail_b : (n_b,) bool.

    Returns
    -------
    FisherResult

    Examples
    --------
    >>> r = fisher_exact([1, 1, 1], [0, 0, 0])
    >>> round(r.pvalue, 12), r.odds_ratio     # 2 * C(3,3) C(3,0) / C(6,3)
    (0.1, 0.0)
    """
    a = _as_bool(fail_a, "fail_a")
    b = _as_bool(fail_b, "fail_b")
    fa, fb = int(a.sum()), int(b.sum())
    table = np.array([[fb, b.size - fb], [fa, a.size - fa]])
    res = scipy.stats.fisher_exact(table)
    odds = float(res.statistic)
    return FisherResult(odds, float(res.pvalue), a.size, b.size, fa, fb, fa / a.size, fb / b.size, odds)


def _u_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney U of x: #{x_i > y_j} + 0.5 #{x_i = y_j}, from joint mid-ranks."""
    ranks = scipy.stats.rankdata(np.concatenate([x, y]))
    return float(ranks[: x.size].sum() - x.size * (x.size + 1) / 2)


def vargha_delaney_a(x, y) -> float:
    """Vargha-Delaney A: P(X > Y) + 0.5 P(X = Y) over all pairs, = U_x / (n_x n_y).

    0.5 means no effect; 1 means every x exceeds every y. NaN values are not allowed.

    Parameters
    ----------
    x : (n,) values; y : (m,) values.

    Returns
    -------
    float in [0, 1].

    Examples
    --------
    >>> vargha_delaney_a([1, 2, 3], [1, 2])   # (0.5 + 0 + 1 + 0.5 + 1 + 1) / 6
    0.6666666666666666
    """
    x = _as_float(x, "x")
    y = _as_float(y, "y")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("x and y must not contain NaN; drop them first")
    return _u_statistic(x, y) / (x.size * y.size)


@dataclass(frozen=True)
class MannWhitneyResult:
    """Two-sided Mann-Whitney U test with the Vargha-Delaney A effect size."""

    statistic: float  # U of x: #{x > y} + 0.5 #{x = y}
    pvalue: float
    n_x: int
    n_y: int
    a: float  # Vargha-Delaney A = statistic / (n_x n_y); 0.5 = no effect
    n_dropped: int  # NaN values dropped from x and y together


def mann_whitney(x, y) -> MannWhitneyResult:
    """Mann-Whitney U test (two-sided, ``scipy.stats.mannwhitneyu``) with Vargha-Delaney A.

    NaN values are dropped (and counted); +-inf are kept (they rank as extremes). If all
    values are identical the result is ``pvalue=1`` (the test's variance is 0).

    Parameters
    ----------
    x : (n,) values; y : (m,) values.

    Returns
    -------
    MannWhitneyResult

    Examples
    --------
    >>> r = mann_whitney([3, 4, 5], [0, 1, 2])
    >>> r.statistic, r.a, r.pvalue     # exact: 2 / C(6,3)
    (9.0, 1.0, 0.1)
    """
    x = _as_float(x, "x")
    y = _as_float(y, "y")
    dropped = int(np.isnan(x).sum() + np.isnan(y).sum())
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        raise ValueError("x and y need at least one non-NaN value each")
    u = _u_statistic(x, y)
    both = np.concatenate([x, y])
    if np.all(both == both[0]):
        p = 1.0
    else:
        p = float(scipy.stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return MannWhitneyResult(u, p, x.size, y.size, u / (x.size * y.size), dropped)


def binomial_pvalue(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial test of k successes in n trials against probability p.

    ``scipy.stats.binomtest``; p is kept inside (0, 1) (1e-12 from either end).

    Examples
    --------
    >>> binomial_pvalue(5, 10, 0.5)
    1.0
    """
    if int(n) < 1 or not 0 <= int(k) <= int(n):
        raise ValueError(f"invalid counts k={k}, n={n}; allowed: n >= 1 and 0 <= k <= n")
    if not 0 <= p <= 1:
        raise ValueError(f"invalid p {p!r}; allowed: 0 <= p <= 1")
    return float(scipy.stats.binomtest(int(k), int(n), min(max(p, 1e-12), 1 - 1e-12)).pvalue)


def auroc(score, label) -> float:
    """Area under the ROC curve of ``score`` as a predictor of ``label``, ties counting 1/2.

    Equals the Mann-Whitney U of the positives' scores against the negatives', divided by
    n_pos * n_neg: the probability that a random positive scores above a random negative.

    Parameters
    ----------
    score : (n,) numeric (bool allowed); label : (n,) bool, with both classes present.

    Returns
    -------
    float in [0, 1].

    Examples
    --------
    >>> auroc([1, 1, 0, 0], [True, False, False, False])   # (0.5 + 1 + 1) / 3
    0.8333333333333334
    """
    s = _as_float(score, "score")
    lab = _as_bool(label, "label")
    _same_length(s, lab, "score", "label")
    if lab.all() or not lab.any():
        raise ValueError("label must contain both classes (True and False)")
    return vargha_delaney_a(s[lab], s[~lab])


# --------------------------------------------------------------------------- multiplicity
def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (``statsmodels multipletests(method="holm")``).

    NaN p-values are left NaN and do not count towards the family size.

    Parameters
    ----------
    pvalues : (k,) p-values of one family (k may be 0).

    Returns
    -------
    (k,) adjusted p-values, in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()      # 3*0.01, max(2*0.03, .03), max(1*0.04, .06)
    [0.03, 0.06, 0.06]
    """
    p = _as_float(pvalues, "pvalues", allow_empty=True)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        if ((p[ok] < 0) | (p[ok] > 1)).any():
            raise ValueError("p-values must lie in [0, 1]")
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


# Bootstrap and order-statistic intervals live in their own module; importable from here as before.
from .intervals import BootstrapResult, MedianResult, bootstrap_ci, iqm, median_ci  # noqa: E402,F401
