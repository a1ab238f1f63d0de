"""Unpaired comparisons of two groups (the conventions of :mod:`relustudy.stats.proportions`): Fisher's exact
test, Mann-Whitney U with Vargha-Delaney A, the exact binomial test, AUROC. Importable from
:mod:`relustudy.stats.proportions` as well."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from relustudy.stats.inputs import as_bool, as_float, same_length


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
    a = as_bool(fail_a, "fail_a")
    b = as_bool(fail_b, "fail_b")
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
    x = as_float(x, "x")
    y = as_float(y, "y")
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
    x = as_float(x, "x")
    y = as_float(y, "y")
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
    s = as_float(score, "score")
    lab = as_bool(label, "label")
    same_length(s, lab, "score", "label")
    if lab.all() or not lab.any():
        raise ValueError("label must contain both classes (True and False)")
    return vargha_delaney_a(s[lab], s[~lab])

