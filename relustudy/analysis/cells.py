"""DataFrame-level analyses of the runs table: selections, per-cell rates, paired comparisons
between cells, bootstrap summaries; how runs fail is in :mod:`relustudy.analysis.mechanisms`
(re-exported here).

Pure functions of the runs/curves DataFrames (no plotting, no I/O); the array-level
statistics they apply are in :mod:`relustudy.stats.proportions`. Conventions:

* A run *fails* when its outcome is not ``"solved"``; with an explicit threshold
  ``solved_mse`` it fails when ``final_mse >= solved_mse`` or ``final_mse`` is not finite
  (so the report can show how conclusions move with the threshold), see :func:`is_failure`.
* Cells that share a seed share the init draws: they are compared as pairs.
"""
from __future__ import annotations

import zlib
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep

from relustudy.core.config import FACTOR_NAMES
from relustudy.core.outcomes import OUTCOMES
from relustudy.analysis.vocabulary import RELU_FAMILY, born_dead, labels  # noqa: F401  one definition per word (re-exported)
from relustudy.stats.intervals import bootstrap_ci
from relustudy.stats.unpaired_tests import fisher_exact, mann_whitney, vargha_delaney_a
from relustudy.stats.proportions import holm, proportion_ci
from relustudy.stats.inputs import log10_mse
from relustudy.stats.paired_tests import mcnemar_exact, wilcoxon_log_mse

# The columns that define a cell (everything but the seed): every factor of the registry, so a
# per-cell rate never pools levels of a factor added later (init_gain, data_order, ...).
FACTOR_COLS = FACTOR_NAMES
BOOTSTRAP_STATS = ("median", "iqm")
PAIRED_MODES = ("auto", "paired", "unpaired")


# --------------------------------------------------------------------------- selections
def select(runs: pd.DataFrame, where: Mapping[str, object]) -> pd.DataFrame:
    """Rows of ``runs`` whose columns equal every value in ``where`` (lists mean 'any of')."""
    return runs[mask(runs, where)]


def mask(runs: pd.DataFrame, where: Mapping[str, object]) -> np.ndarray:
    """(len(runs),) bool: the rows :func:`select` keeps."""
    keep = np.ones(len(runs), dtype=bool)
    for col, val in where.items():
        if col not in runs.columns:
            raise ValueError(f"unknown column {col!r}; allowed: {', '.join(map(str, runs.columns))}")
        vals = list(val) if isinstance(val, (list, tuple, set)) else [val]
        s = runs[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            # Compare the few category labels, then index by code: astype(str) on the whole column
            # costs ~0.3 s per call on the 288,000-run grid and dominated the report's time.
            cat_labels = np.asarray(s.cat.categories.astype(str), dtype=object)
            hit = np.append(np.isin(cat_labels, [str(v) for v in vals]), False)  # code -1 (missing) -> False
            keep &= hit[s.cat.codes.to_numpy()]
        elif s.dtype == object or pd.api.types.is_string_dtype(s):
            # Labels compare as strings, so a level given as e.g. a number still matches.
            keep &= s.astype(str).isin([str(v) for v in vals]).to_numpy()
        else:
            keep &= s.isin(vals).to_numpy()
    return keep


def outcome_shares(runs: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Share of each outcome within each group.

    Returns
    -------
    DataFrame with the ``by`` columns (as str), outcome, n (group size), count, share;
    one row per group x outcome (all five outcomes, zeros included).
    """
    by = list(by)
    keys = runs[by].astype(str)
    counts = (
        pd.DataFrame({**{c: keys[c] for c in by}, "outcome": runs["outcome"].astype(str)})
        .value_counts()
        .rename("count")
        .reset_index()
    )
    groups = keys.drop_duplicates().reset_index(drop=True)
    full = groups.merge(pd.DataFrame({"outcome": list(OUTCOMES)}), how="cross")
    out = full.merge(counts, on=[*by, "outcome"], how="left").fillna({"count": 0})
    out["count"] = out["count"].astype(int)
    out["n"] = out.groupby(by)["count"].transform("sum")
    out["share"] = out["count"] / out["n"]
    return out


def curve_bands(
    curves: pd.DataFrame, runs: pd.DataFrame, by: Sequence[str], q: Sequence[float] = (0.25, 0.5, 0.75)
) -> pd.DataFrame:
    """Quantiles of the epoch error per group and epoch.

    Parameters
    ----------
    curves : long table (cell_id, seed, epoch, epoch_error).
    runs : the runs whose curves to summarise (supplies the ``by`` columns).
    by : grouping columns of ``runs``.

    Returns
    -------
    DataFrame with the ``by`` columns (str), epoch, n, and q25/q50/q75 (for the default q).
    A non-finite epoch error (a diverged run) counts as +inf, the worst value: it is kept.
    """
    by = list(by)
    keys = runs[["cell_id", "seed", *by]].copy()
    for c in by:
        keys[c] = keys[c].astype(str)
    keys["cell_id"] = keys["cell_id"].astype(str)
    c = curves.assign(cell_id=curves["cell_id"].astype(str)).merge(keys, on=["cell_id", "seed"], how="inner")
    err = c["epoch_error"].astype(float)
    c = c.assign(epoch_error=err.where(np.isfinite(err), np.inf))
    g = c.groupby([*by, "epoch"], observed=True)["epoch_error"]
    out = g.quantile(list(q), interpolation="lower").unstack()  # an order statistic: inf stays inf
    out.columns = [f"q{int(round(100 * x))}" for x in q]
    out["n"] = g.size()
    return out.reset_index()


def seed_matrix(runs: pd.DataFrame, cells: Mapping[str, Mapping[str, object]], seeds: Sequence[int]) -> pd.DataFrame:
    """Outcome of each seed (rows) in each labelled cell (columns).

    cells: label -> factor selection identifying one cell. Seeds missing from a cell are
    left as NaN.
    """
    cols = {}
    for label, where in cells.items():
        sub = select(runs, where)
        if sub["seed"].duplicated().any():
            raise ValueError(f"selection {label!r} matches more than one cell: {dict(where)}")
        cols[label] = sub.set_index("seed")["outcome"].astype(str).reindex(list(seeds))
    return pd.DataFrame(cols)


# --------------------------------------------------------------------------- failure
def _require_columns(runs: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks column(s) {missing}; has: {', '.join(map(str, runs.columns))}")



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
        return labels(runs["outcome"]) != "solved"
    if not (np.isfinite(solved_mse) and solved_mse > 0):
        raise ValueError(f"invalid solved_mse {solved_mse!r}; allowed: a finite number > 0")
    _require_columns(runs, ["final_mse"])
    mse = runs["final_mse"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(mse) & (mse < solved_mse))



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
    "n_fail_a", "n_fail_b", "rate_a", "rate_b", "rate_diff", "diff_low", "diff_high", "n10", "n01",
    "fail_test", "p_fail", "p_fail_holm", "odds_ratio",
    "mse_test", "mse_stat", "p_mse", "p_mse_holm", "n_mse_used", "n_mse_lower", "n_mse_higher",
    "n_diverged_a", "n_diverged_b", "median_log10_diff", "vd_a",
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
    la, lb = log10_mse(ma), log10_mse(mb)  # diverged = +inf: ranked worst
    # A = P(mse_b > mse_a) + ties/2 over all runs: > 0.5 means b ends at higher MSE.
    row = dict(
        n_a=len(ga), n_b=len(gb), n_fail_a=int(fa.sum()), n_fail_b=int(fb.sum()),
        rate_a=float(fa.mean()), rate_b=float(fb.mean()), vd_a=vargha_delaney_a(lb, la),
        n_diverged_a=int(np.isinf(la).sum()), n_diverged_b=int(np.isinf(lb).sum()),
    )
    row["rate_diff"] = row["rate_b"] - row["rate_a"]
    if use_pairs:
        mc = mcnemar_exact(fa, fb)
        wx = wilcoxon_log_mse(ma, mb)
        row.update(
            design="paired", n_pairs=int(shared.size), n10=mc.n10, n01=mc.n01,
            diff_low=mc.diff_low, diff_high=mc.diff_high,
            fail_test="mcnemar_exact", p_fail=mc.pvalue, odds_ratio=mc.odds_ratio,
            mse_test="wilcoxon_log10", mse_stat=wx.statistic, p_mse=wx.pvalue,
            n_mse_used=wx.n_used, n_mse_lower=wx.n_lower, n_mse_higher=wx.n_higher,
            median_log10_diff=wx.median_diff,
        )
    else:
        fi = fisher_exact(fa, fb)
        lo, hi = confint_proportions_2indep(
            row["n_fail_b"], row["n_b"], row["n_fail_a"], row["n_a"], method="newcomb", compare="diff"
        )
        mw = mann_whitney(la, lb)
        row.update(
            design="unpaired", n_pairs=0, n10=pd.NA, n01=pd.NA, diff_low=float(lo), diff_high=float(hi),
            fail_test="fisher_exact", p_fail=fi.pvalue, odds_ratio=fi.odds_ratio,
            mse_test="mannwhitney_log10", mse_stat=mw.statistic, p_mse=mw.pvalue,
            n_mse_used=len(ga) + len(gb), n_mse_lower=pd.NA, n_mse_higher=pd.NA,
            median_log10_diff=float(np.median(lb) - np.median(la)),
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
    :data:`COMPARE_COLUMNS`. Effects are b relative to a: ``rate_diff = rate_b - rate_a``
    with its 95% CI ``diff_low``/``diff_high`` (paired: Agresti-Min; unpaired: Newcombe);
    ``n10`` = seeds a fails and b solves (rescued), ``n01`` = a solves and b fails (broken);
    ``odds_ratio`` of failing under b vs a (paired: n01/n10; unpaired: sample OR);
    ``median_log10_diff`` (paired: median of per-seed differences; unpaired: difference
    of medians); ``n_mse_used`` pairs ranked (ties excluded), of which b is lower in
    ``n_mse_lower`` and higher in ``n_mse_higher``; ``vd_a`` = P(mse_b > mse_a) + ties/2.
    Diverged runs rank worst (``n_diverged_a``/``_b`` count them).
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
    for c in ("n10", "n01", "n_mse_lower", "n_mse_higher"):
        out[c] = out[c].astype("Int64")
    return out[cols]



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
