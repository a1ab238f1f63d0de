"""Statistics of the study: pure functions over arrays or the runs DataFrame.

Conventions (stated once):

* A run *fails* when its outcome is not ``"solved"``; with an explicit threshold
  ``solved_mse`` it fails when ``final_mse >= solved_mse`` or ``final_mse`` is not finite
  (so the report can show how conclusions move with the threshold), see :func:`is_failure`.
* Comparisons are "a vs b": ``n10`` counts seeds where *a fails and b solves* (b rescues the
  seed), ``n01`` seeds where *a solves and b fails* (b breaks it); differences are b - a.
* ``final_mse`` is compared on the log10 scale after clipping at :data:`MSE_FLOOR` (an MSE of
  exactly 0 has no logarithm); non-finite values (diverged runs) are dropped from the MSE
  tests and the number dropped is reported.
* Randomness only arrives as a ``numpy.random.Generator`` argument.

Every function returns a named result (frozen dataclass) or a tidy DataFrame and raises a
one-line ``ValueError`` for bad input. Nothing here plots.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from statsmodels.stats.contingency_tables import Table2x2, mcnemar
from statsmodels.stats.multitest import multipletests

from .config import FACTORS
from .summaries import select

FACTOR_COLS = FACTORS  # the columns that define a cell (everything but the seed)
MSE_FLOOR = 1e-300  # final_mse is clipped here before log10: log10(0) is -inf
CI_METHODS = ("exact", "wilson")  # binomial CIs: Clopper-Pearson or Wilson score
BOOTSTRAP_STATS = ("median", "iqm")
BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")
PAIRED_MODES = ("auto", "paired", "unpaired")


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


def _require_columns(runs: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks column(s) {missing}; has: {', '.join(map(str, runs.columns))}")


def log10_mse(mse) -> np.ndarray:
    """log10 of MSE values clipped below at :data:`MSE_FLOOR`; NaN/inf pass through.

    Parameters
    ----------
    mse : (R,) array of MSE values (>= 0, possibly inf/NaN).

    Returns
    -------
    (R,) float array.

    Examples
    --------
    >>> log10_mse([1e-2, 0.0]).tolist()
    [-2.0, -300.0]
    """
    a = np.asarray(mse, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(np.where(np.isfinite(a), np.maximum(a, MSE_FLOOR), a))


def is_failure(runs: pd.DataFrame, solved_mse: float | None = None) -> np.ndarray:
    """Whether each run failed.

    Parameters
    ----------
    runs : DataFrame with an ``outcome`` column (or ``final_mse`` if ``solved_mse`` is given).
    solved_mse : None to use ``outcome != "solved"``; else a threshold: a run fails when
        ``final_mse >= solved_mse`` or ``final_mse`` is not finite.

    Returns
    -------
    (R,) bool array.
    """
    if solved_mse is None:
        _require_columns(runs, ["outcome"])
        return np.asarray(runs["outcome"].astype(str) != "solved", dtype=bool)
    if not (np.isfinite(solved_mse) and solved_mse > 0):
        raise ValueError(f"invalid solved_mse {solved_mse!r}; allowed: a finite number > 0")
    _require_columns(runs, ["final_mse"])
    mse = runs["final_mse"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(mse) & (mse < solved_mse))


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

    Uses ``scipy.stats.binomtest(k, n).proportion_ci``.

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
    ci = scipy.stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method=method)
    return ProportionResult(k, n, k / n, float(ci.low), float(ci.high), method)


def _group(runs: pd.DataFrame, by: Sequence[str]):
    """Group ``runs`` by ``by`` (observed categories only, sorted); () means one group."""
    if len(by) == 0:
        return [((), runs)]
    return list(runs.groupby(list(by), observed=True, sort=True, dropna=False))


def _key_tuple(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def failure_rates(
    runs: pd.DataFrame,
    by: Sequence[str] | str = FACTOR_COLS,
    *,
    solved_mse: float | None = None,
    alpha: float = 0.05,
    method: str = "exact",
) -> pd.DataFrame:
    """Failure rate with a binomial (1 - alpha) CI per group of runs (per cell by default).

    Parameters
    ----------
    runs : the runs DataFrame, R rows.
    by : grouping columns (default: every factor, i.e. one row per cell); ``()`` pools all.
    solved_mse : None: failure = ``outcome != "solved"``; else the threshold of
        :func:`is_failure`.
    alpha : 1 - confidence level.
    method : "exact" (Clopper-Pearson) or "wilson".

    Returns
    -------
    DataFrame, one row per observed group: the ``by`` columns, ``n``, ``n_fail``, ``rate``,
    ``ci_low``, ``ci_high``.
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, by)
    if len(runs) == 0:
        raise ValueError("runs is empty; allowed: one or more rows")
    fail = pd.Series(is_failure(runs, solved_mse), index=runs.index)
    rows = []
    for key, g in _group(runs, by):
        k = int(fail.loc[g.index].sum())
        p = proportion_ci(k, len(g), alpha=alpha, method=method)
        rows.append((*_key_tuple(key), p.n, p.k, p.rate, p.ci_low, p.ci_high))
    return pd.DataFrame(rows, columns=[*by, "n", "n_fail", "rate", "ci_low", "ci_high"])


# --------------------------------------------------------------------------- paired tests
@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired failure indicators (a vs b).

    ``statistic`` is min(n10, n01) (the exact binomial form); ``odds_ratio`` is the
    conditional (matched-pairs) odds ratio of failing under b vs a, n01 / n10.
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


def mcnemar_exact(fail_a, fail_b) -> McNemarResult:
    """Exact McNemar test: do two paired conditions fail equally often?

    Uses ``statsmodels.stats.contingency_tables.mcnemar(exact=True)`` (a two-sided
    binomial test of n10 against n10 + n01 discordant pairs at p = 1/2).

    Parameters
    ----------
    fail_a, fail_b : (n,) bool, the failure of the same seed under a and under b.

    Returns
    -------
    McNemarResult

    Examples
    --------
    >>> r = mcnemar_exact([1, 1, 1, 0, 0], [0, 0, 0, 0, 0])
    >>> r.n10, r.n01, r.pvalue        # 2 * 0.5**3
    (3, 0, 0.25)
    """
    a = _as_bool(fail_a, "fail_a")
    b = _as_bool(fail_b, "fail_b")
    _same_length(a, b, "fail_a", "fail_b")
    n11, n10 = int(np.sum(a & b)), int(np.sum(a & ~b))
    n01, n00 = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    res = mcnemar(np.array([[n11, n10], [n01, n00]]), exact=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.float64(n01) / np.float64(n10)
    return McNemarResult(
        float(res.statistic), float(res.pvalue), a.size, n11, n10, n01, n00,
        float(a.mean()), float(b.mean()), float(odds),
    )


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test on paired log10 MSE (differences b - a)."""

    statistic: float
    pvalue: float
    n: int  # finite pairs analysed (zero differences included)
    n_dropped: int  # pairs dropped because either value was not finite
    n_zero: int  # pairs with identical values (dropped by the test, zero_method="wilcox")
    median_diff: float  # median of log10(mse_b) - log10(mse_a): decades of MSE change


def wilcoxon_log_mse(mse_a, mse_b) -> WilcoxonResult:
    """Wilcoxon signed-rank test of log10(mse_b) - log10(mse_a) against 0.

    MSE values are clipped at :data:`MSE_FLOOR` before the log; pairs where either value
    is not finite are dropped (and counted). Zero differences are dropped by the test
    (``zero_method="wilcox"``); if every difference is zero the result is
    ``statistic=0, pvalue=1`` (no evidence of a difference). Uses ``scipy.stats.wilcoxon``.

    Parameters
    ----------
    mse_a, mse_b : (n,) MSE of the same seeds under a and b.

    Returns
    -------
    WilcoxonResult

    Examples
    --------
    >>> r = wilcoxon_log_mse([1e-1, 1e-2, 1e-3, np.nan], [1e-2, 1e-4, 1e-6, 1.0])
    >>> r.statistic, r.pvalue, r.n, r.n_dropped, r.median_diff   # exact: 2 / 2**3
    (0.0, 0.25, 3, 1, -2.0)
    """
    a = _as_float(mse_a, "mse_a")
    b = _as_float(mse_b, "mse_b")
    _same_length(a, b, "mse_a", "mse_b")
    ok = np.isfinite(a) & np.isfinite(b)
    d = log10_mse(b[ok]) - log10_mse(a[ok])
    n_zero = int(np.sum(d == 0))
    if d.size == 0:
        return WilcoxonResult(np.nan, np.nan, 0, int((~ok).sum()), 0, np.nan)
    if n_zero == d.size:
        stat, p = 0.0, 1.0
    else:
        res = scipy.stats.wilcoxon(d, zero_method="wilcox")
        stat, p = float(res.statistic), float(res.pvalue)
    return WilcoxonResult(stat, p, int(d.size), int((~ok).sum()), n_zero, float(np.median(d)))


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


# --------------------------------------------------------------------------- cell selection
def paired_table(
    runs: pd.DataFrame,
    a: Mapping[str, object],
    b: Mapping[str, object],
    values: Sequence[str] | str = ("final_mse", "failed"),
    *,
    solved_mse: float | None = None,
) -> pd.DataFrame:
    """Align the runs of two selections on seed (inner join).

    Parameters
    ----------
    runs : the runs DataFrame.
    a, b : ``{column: value}`` selections, e.g. ``{"optimizer": "sgd", "activation": "relu"}``;
        each must hold at most one run per seed (i.e. pick out a single cell).
    values : columns to carry; ``"failed"`` is derived with :func:`is_failure`.
    solved_mse : passed to :func:`is_failure`.

    Returns
    -------
    DataFrame with ``seed`` and ``<value>_a``, ``<value>_b`` per value, one row per seed
    present in both selections, sorted by seed.
    """
    values = [values] if isinstance(values, str) else list(values)
    _require_columns(runs, ["seed"] + [v for v in values if v != "failed"])
    sides = []
    for name, where in (("a", a), ("b", b)):
        sel = select(runs, where)
        if sel.empty:
            raise ValueError(f"selection {name}={dict(where)} matches no runs")
        if sel["seed"].duplicated().any():
            raise ValueError(
                f"selection {name}={dict(where)} holds several runs per seed; fix more factors"
            )
        t = pd.DataFrame({"seed": sel["seed"].to_numpy()})
        for v in values:
            t[f"{v}_{name}"] = is_failure(sel, solved_mse) if v == "failed" else sel[v].to_numpy()
        sides.append(t)
    return sides[0].merge(sides[1], on="seed", how="inner").sort_values("seed", ignore_index=True)


# --------------------------------------------------------------------------- compare cells
COMPARE_COLUMNS = (
    "family", "factor", "level_a", "level_b", "design", "n_a", "n_b", "n_pairs",
    "n_fail_a", "n_fail_b", "rate_a", "rate_b", "rate_diff", "n10", "n01",
    "fail_test", "p_fail", "p_fail_holm", "odds_ratio",
    "mse_test", "mse_stat", "p_mse", "p_mse_holm", "n_mse_dropped", "median_log10_diff", "vd_a",
)


def _compare_stratum(ga: pd.DataFrame, gb: pd.DataFrame, paired: str, solved_mse) -> dict:
    shared = np.intersect1d(ga["seed"].to_numpy(), gb["seed"].to_numpy())
    use_pairs = paired == "paired" or (paired == "auto" and shared.size > 0)
    if use_pairs:
        if shared.size == 0:
            raise ValueError("design='paired' but the two cells share no seeds")
        ga = ga[ga["seed"].isin(shared)].sort_values("seed")
        gb = gb[gb["seed"].isin(shared)].sort_values("seed")
    fa, fb = is_failure(ga, solved_mse), is_failure(gb, solved_mse)
    ma, mb = ga["final_mse"].to_numpy(float), gb["final_mse"].to_numpy(float)
    fin_a, fin_b = ma[np.isfinite(ma)], mb[np.isfinite(mb)]
    # A = P(mse_b > mse_a) + ties/2 on the finite values: > 0.5 means b ends at higher MSE.
    vd = vargha_delaney_a(fin_b, fin_a) if fin_a.size and fin_b.size else np.nan
    row = dict(
        n_a=len(ga), n_b=len(gb), n_fail_a=int(fa.sum()), n_fail_b=int(fb.sum()),
        rate_a=float(fa.mean()), rate_b=float(fb.mean()), vd_a=vd,
    )
    row["rate_diff"] = row["rate_b"] - row["rate_a"]
    if use_pairs:
        mc = mcnemar_exact(fa, fb)
        wx = wilcoxon_log_mse(ma, mb)
        row.update(
            design="paired", n_pairs=int(shared.size), n10=mc.n10, n01=mc.n01,
            fail_test="mcnemar_exact", p_fail=mc.pvalue, odds_ratio=mc.odds_ratio,
            mse_test="wilcoxon_log10", mse_stat=wx.statistic, p_mse=wx.pvalue,
            n_mse_dropped=wx.n_dropped, median_log10_diff=wx.median_diff,
        )
    else:
        fi = fisher_exact(fa, fb)
        dropped = int((~np.isfinite(ma)).sum() + (~np.isfinite(mb)).sum())
        if fin_a.size and fin_b.size:
            mw = mann_whitney(log10_mse(fin_a), log10_mse(fin_b))
            stat, p = mw.statistic, mw.pvalue
            med = float(np.median(log10_mse(fin_b)) - np.median(log10_mse(fin_a)))
        else:
            stat = p = med = np.nan
        row.update(
            design="unpaired", n_pairs=0, n10=pd.NA, n01=pd.NA,
            fail_test="fisher_exact", p_fail=fi.pvalue, odds_ratio=fi.odds_ratio,
            mse_test="mannwhitney_log10", mse_stat=stat, p_mse=p,
            n_mse_dropped=dropped, median_log10_diff=med,
        )
    return row


def compare_cells(
    runs: pd.DataFrame,
    factor: str,
    level_a,
    level_b,
    *,
    within: Mapping[str, object] | None = None,
    family: str | None = None,
    design: str = "auto",
    solved_mse: float | None = None,
) -> pd.DataFrame:
    """Compare two levels of one factor in every stratum of the other factors.

    A stratum fixes every other factor column present in ``runs`` (so each comparison is
    between two cells that differ only in ``factor``). Within it, when the two cells share
    seeds (``design="auto"``) the shared seeds are analysed as pairs with the exact McNemar
    test (failure) and the Wilcoxon signed-rank test (log10 final_mse); otherwise Fisher's
    exact test and the Mann-Whitney U test. The p-values of each test kind are
    Holm-adjusted across the strata returned (one family per call).

    Parameters
    ----------
    runs : the runs DataFrame.
    factor : the factor compared, e.g. ``"optimizer"``.
    level_a, level_b : its two levels, e.g. ``"sgd"`` (reference) and ``"momentum"``.
    within : optional ``{column: value or list of values}`` restricting the strata,
        e.g. ``{"activation": "relu", "output": "same"}``.
    family : label of the Holm family (default ``"<factor>: <a> vs <b>"``).
    design : "auto", "paired" (error if a stratum shares no seeds) or "unpaired".
    solved_mse : failure threshold, see :func:`is_failure`.

    Returns
    -------
    DataFrame, one row per stratum holding both levels: the stratum's factor columns, then
    :data:`COMPARE_COLUMNS`. Effects are b relative to a: ``rate_diff = rate_b - rate_a``;
    ``n10`` = seeds a fails and b solves (rescued), ``n01`` = a solves and b fails (broken);
    ``odds_ratio`` of failing under b vs a (paired: n01/n10; unpaired: sample OR);
    ``median_log10_diff`` (paired: median of per-seed differences; unpaired: difference
    of medians); ``vd_a`` = P(mse_b > mse_a) + ties/2 over finite values.
    """
    if design not in PAIRED_MODES:
        raise ValueError(f"unknown design {design!r}; allowed: {', '.join(PAIRED_MODES)}")
    _require_columns(runs, [factor, "seed", "final_mse"])
    if within:
        _require_columns(runs, list(within))
        mask = np.ones(len(runs), dtype=bool)
        for col, val in within.items():
            vals = [val] if np.isscalar(val) else list(val)
            mask &= np.asarray(runs[col].astype(str).isin([str(v) for v in vals]))
        runs = runs[mask]
    strata = [c for c in FACTOR_COLS if c != factor and c in runs.columns]
    ra = select(runs, {factor: level_a})
    rb = select(runs, {factor: level_b})
    if ra.empty or rb.empty:
        raise ValueError(f"no runs with {factor}={level_a!r} or {factor}={level_b!r} (after `within`)")
    groups_b = {_key_tuple(k): g for k, g in _group(rb, strata)}
    rows = []
    for key, ga in _group(ra, strata):
        key = _key_tuple(key)
        gb = groups_b.get(key)
        if gb is None:
            continue
        for name, g in (("a", ga), ("b", gb)):
            if g["seed"].duplicated().any():
                raise ValueError(f"stratum {dict(zip(strata, key))} has several {name}-runs per seed")
        rows.append({**dict(zip(strata, key)), **_compare_stratum(ga, gb, design, solved_mse)})
    cols = [*strata, *COMPARE_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    out["family"] = family or f"{factor}: {level_a} vs {level_b}"
    out["factor"], out["level_a"], out["level_b"] = factor, str(level_a), str(level_b)
    out["p_fail_holm"] = holm(out["p_fail"].to_numpy(float))
    out["p_mse_holm"] = holm(out["p_mse"].to_numpy(float))
    for c in ("n10", "n01"):
        out[c] = out[c].astype("Int64")
    return out[cols]


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
    x = _as_float(values, "values")
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


def mse_summary(
    runs: pd.DataFrame,
    by: Sequence[str] | str = FACTOR_COLS,
    *,
    seed: int,
    n_boot: int = 2000,
    alpha: float = 0.05,
    log10: bool = True,
) -> pd.DataFrame:
    """Median and IQM of final_mse per group with bootstrap CIs.

    Each group's generator is ``default_rng([seed, crc32(group key)])`` and its values are
    sorted first, so a group's CI depends neither on the other groups nor on row order.

    Parameters
    ----------
    runs : the runs DataFrame.
    by : grouping columns (default: one row per cell).
    seed : base seed of the bootstrap.
    n_boot, alpha : as in :func:`bootstrap_ci`.
    log10 : summarise log10(final_mse) (clipped at :data:`MSE_FLOOR`) instead of final_mse.

    Returns
    -------
    DataFrame: the ``by`` columns, ``n``, ``n_dropped``, ``median``, ``median_low``,
    ``median_high``, ``iqm``, ``iqm_low``, ``iqm_high`` (log10 units if ``log10``).
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, [*by, "final_mse"])
    if len(runs) == 0:
        raise ValueError("runs is empty; allowed: one or more rows")
    rows = []
    for key, g in _group(runs, by):
        key = _key_tuple(key)
        v = np.sort(g["final_mse"].to_numpy(float))  # row order must not move the CI
        if log10:
            v = log10_mse(v)
        rng_seed = [int(seed), zlib.crc32(repr(tuple(str(k) for k in key)).encode())]
        row = dict(zip(by, key))
        if not np.isfinite(v).any():
            row.update(n=0, n_dropped=len(v))
            rows.append(row)
            continue
        for stat in BOOTSTRAP_STATS:
            r = bootstrap_ci(v, stat, rng=np.random.default_rng(rng_seed), n_boot=n_boot, alpha=alpha)
            row.update({"n": r.n, "n_dropped": r.n_dropped, stat: r.estimate,
                        f"{stat}_low": r.low, f"{stat}_high": r.high})
        rows.append(row)
    cols = [*by, "n", "n_dropped"] + [f"{s}{x}" for s in BOOTSTRAP_STATS for x in ("", "_low", "_high")]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- dead at init
@dataclass(frozen=True)
class DeadInitResult:
    """Does a dead output unit at init decide failure? (2x2: dead/alive x fail/solve)."""

    n: int
    n_dead: int
    n_alive: int
    n_fail_dead: int
    n_fail_alive: int
    p_fail_dead: float  # P(fail | output dead at init); NaN if n_dead == 0
    p_fail_dead_ci: tuple[float, float]  # Clopper-Pearson
    p_fail_alive: float  # P(fail | output alive at init); NaN if n_alive == 0
    p_fail_alive_ci: tuple[float, float]
    odds_ratio: float  # odds(fail | dead) / odds(fail | alive)
    odds_ratio_ci: tuple[float, float]  # Woolf (log) CI
    haldane: bool  # True if 0.5 was added to every cell because one was 0
    fisher_pvalue: float
    auroc_dead: float  # AUROC of output_dead_init (binary) as a predictor of failure
    auroc_dead_frac: float  # AUROC of dead_frac_init (continuous); NaN if absent


def dead_init_association(
    runs: pd.DataFrame, *, solved_mse: float | None = None, alpha: float = 0.05
) -> DeadInitResult:
    """Association between ``output_dead_init`` and failure, over the given runs.

    Odds ratio and its Woolf CI come from ``statsmodels Table2x2``; if any cell of the
    2x2 table is 0 the Haldane-Anscombe correction (add 0.5 to every cell) is applied and
    ``haldane`` is True. The p-value is Fisher's exact test (uncorrected counts). AUROCs
    are U / (n_fail n_solved) with ties counting 1/2 (NaN if only one class is present).
    Pass a single cell (or a stratum) — pooling cells that share seeds repeats draws.

    Parameters
    ----------
    runs : runs DataFrame with ``output_dead_init`` (and ideally ``dead_frac_init``).
    solved_mse : failure threshold, see :func:`is_failure`.
    alpha : 1 - confidence level of every CI.

    Returns
    -------
    DeadInitResult
    """
    _require_columns(runs, ["output_dead_init"])
    if len(runs) == 0:
        raise ValueError("runs is empty; allowed: one or more rows")
    dead = runs["output_dead_init"].to_numpy(dtype=bool)
    fail = is_failure(runs, solved_mse)
    nd, na = int(dead.sum()), int((~dead).sum())
    fd, fa = int((fail & dead).sum()), int((fail & ~dead).sum())

    def _p(k, n):
        if n == 0:
            return np.nan, (np.nan, np.nan)
        r = proportion_ci(k, n, alpha=alpha)
        return r.rate, (r.ci_low, r.ci_high)

    pd_, pd_ci = _p(fd, nd)
    pa, pa_ci = _p(fa, na)
    table = np.array([[fd, nd - fd], [fa, na - fa]], dtype=float)
    haldane = bool((table == 0).any())
    if (table.sum(axis=1) == 0).any() or (table.sum(axis=0) == 0).any():
        odds, odds_ci = np.nan, (np.nan, np.nan)  # a whole row or column empty: undefined
    else:
        t = Table2x2(table + 0.5 if haldane else table, shift_zeros=False)
        lo, hi = t.oddsratio_confint(alpha=alpha)
        odds, odds_ci = float(t.oddsratio), (float(lo), float(hi))
    fisher_p = float(scipy.stats.fisher_exact(table.astype(int)).pvalue)
    both = fail.any() and not fail.all()
    au_dead = auroc(dead, fail) if both else np.nan
    if both and "dead_frac_init" in runs.columns:
        au_frac = auroc(runs["dead_frac_init"].to_numpy(float), fail)
    else:
        au_frac = np.nan
    return DeadInitResult(
        len(runs), nd, na, fd, fa, pd_, pd_ci, pa, pa_ci, odds, odds_ci, haldane, fisher_p,
        au_dead, au_frac,
    )


def dead_init_table(
    runs: pd.DataFrame,
    by: Sequence[str] | str = FACTOR_COLS,
    *,
    solved_mse: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`dead_init_association` per group (per cell by default), as a tidy DataFrame.

    Returns
    -------
    DataFrame: the ``by`` columns, then every field of :class:`DeadInitResult`, with the
    CI tuples split into ``*_low`` / ``*_high`` columns.
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, by)
    rows = []
    for key, g in _group(runs, by):
        r = dead_init_association(g, solved_mse=solved_mse, alpha=alpha)
        row = dict(zip(by, _key_tuple(key)))
        for name, val in r.__dict__.items():
            if isinstance(val, tuple):
                row[f"{name.removesuffix('_ci')}_low"], row[f"{name.removesuffix('_ci')}_high"] = val
            else:
                row[name] = val
        rows.append(row)
    return pd.DataFrame(rows)
