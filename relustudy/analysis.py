"""DataFrame-level analyses of the runs table: selections, per-cell rates, paired comparisons
between cells, and the named findings the report formats.

Pure functions of the runs/curves DataFrames (no plotting, no I/O); the array-level
statistics they apply are in :mod:`relustudy.stats`. Conventions:

* A run *fails* when its outcome is not ``"solved"``; with an explicit threshold
  ``solved_mse`` it fails when ``final_mse >= solved_mse`` or ``final_mse`` is not finite
  (so the report can show how conclusions move with the threshold), see :func:`is_failure`.
* Cells that share a seed share the init draws: they are compared as pairs.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep

from .config import FACTOR_NAMES
from .outcomes import OUTCOMES
from .vocabulary import RELU_FAMILY, born_dead, hidden_layer_dead, labels, output_dead_at_end  # one definition per word
from .stats import (
    auroc,
    bootstrap_ci,
    cohen_kappa,
    fisher_exact,
    holm,
    log10_mse,
    mann_whitney,
    mcnemar_exact,
    proportion_ci,
    vargha_delaney_a,
    wilcoxon_log_mse,
    wilcoxon_paired,
)

# The columns that define a cell (everything but the seed): every factor of the registry, so a
# per-cell rate never pools levels of a factor added later (init_gain, data_order, ...).
FACTOR_COLS = FACTOR_NAMES
BOOTSTRAP_STATS = ("median", "iqm")
PAIRED_MODES = ("auto", "paired", "unpaired")


# --------------------------------------------------------------------------- selections
def select(runs: pd.DataFrame, where: Mapping[str, object]) -> pd.DataFrame:
    """Rows of ``runs`` whose columns equal every value in ``where`` (lists mean 'any of')."""
    mask = np.ones(len(runs), dtype=bool)
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
            mask &= hit[s.cat.codes.to_numpy()]
        elif s.dtype == object or pd.api.types.is_string_dtype(s):
            # Labels compare as strings, so a level given as e.g. a number still matches.
            mask &= s.astype(str).isin([str(v) for v in vals]).to_numpy()
        else:
            mask &= s.isin(vals).to_numpy()
    return runs[mask]


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
    accuracy: float  # share of runs "dead at init => fails, alive => solves" gets right
    n_solved_dead: int  # misclassified: dead at init, solved (revived)


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
    accuracy = (fd + (na - fa)) / len(runs)
    return DeadInitResult(
        len(runs), nd, na, fd, fa, pd_, pd_ci, pa, pa_ci, odds, odds_ci, haldane, fisher_p,
        au_dead, au_frac, accuracy, nd - fd,
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


# --------------------------------------------------------------------------- how runs fail
FAILURE_MODES = ("born dead", "died in training", "diverged", "other failure")


def failure_mode(runs: pd.DataFrame, *, solved_mse: float | None = None) -> np.ndarray:
    """How each run failed: "solved" or one of :data:`FAILURE_MODES` (first match wins).

    * ``diverged``: the outcome is diverged;
    * ``born dead``: :func:`born_dead`;
    * ``died in training``: a ReLU-family net alive at init by that test and dead at the end
      by the same test on the final weights;
    * ``other failure``: the rest (still descending, collapsed while alive, tanh/sigmoid).

    Parameters
    ----------
    runs : runs DataFrame with outcome, activation, output, output_dead_init/final and the
        dead-fraction columns.
    solved_mse : failure threshold, see :func:`is_failure`.

    Returns
    -------
    (R,) array of str.
    """
    _require_columns(runs, ["outcome", "output_dead_final"])
    fail = is_failure(runs, solved_mse)
    dead_end = output_dead_at_end(runs) | hidden_layer_dead(runs, "final")
    diverged = labels(runs["outcome"]) == "diverged"
    return np.select(
        [~fail, diverged, born_dead(runs), dead_end], ["solved", "diverged", "born dead", "died in training"],
        default="other failure",
    )


def failure_mode_table(
    runs: pd.DataFrame, by: Sequence[str] | str = FACTOR_COLS, *, solved_mse: float | None = None
) -> pd.DataFrame:
    """Failures per group split by :func:`failure_mode`, as counts and shares of all runs.

    Returns
    -------
    DataFrame, one row per observed group: the ``by`` columns, ``n``, ``n_fail``, then per
    mode m of :data:`FAILURE_MODES` the count ``m`` and ``share <m>`` (of all n runs), and
    ``fail_alive``: P(fail | not :func:`born_dead`) with ``n_alive`` such runs.
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, by)
    mode = pd.Series(failure_mode(runs, solved_mse=solved_mse), index=runs.index)
    born = pd.Series(born_dead(runs), index=runs.index)
    rows = []
    for key, g in _group(runs, by):
        m = mode.loc[g.index]
        counts = {k: int((m == k).sum()) for k in FAILURE_MODES}
        alive = ~born.loc[g.index]
        row = dict(zip(by, _key_tuple(key)), n=len(g), n_fail=int((m != "solved").sum()), **counts)
        row.update({f"share {k}": counts[k] / len(g) for k in FAILURE_MODES})
        row["n_alive"] = int(alive.sum())
        row["fail_alive"] = float((m[alive] != "solved").mean()) if alive.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- momentum
def effective_lr(runs: pd.DataFrame, beta: float) -> np.ndarray:
    """(R,) the step size a run moves by once its velocity builds up: lr, or lr / (1 - beta)
    with momentum (rounded to 12 digits so 0.001 / 0.1 matches 0.01 exactly)."""
    _require_columns(runs, ["lr", "optimizer"])
    lr = runs["lr"].to_numpy(float)
    mom = labels(runs["optimizer"]) == "momentum"
    return np.round(np.where(mom, lr / (1.0 - beta), lr), 12)


def momentum_comparisons(runs: pd.DataFrame, beta: float, *, solved_mse: float | None = None) -> pd.DataFrame:
    """SGD vs momentum in every stratum, at equal lr and at the matched step, paired by seed.

    Two Holm families (:func:`compare_cells` over ``optimizer``: sgd = a, momentum = b):
    ``"equal lr"`` pairs the cells with the same lr; ``"matched step"`` pairs sgd at lr with
    momentum at lr (1 - beta), whose steps are alike once the velocity builds up. In the
    matched family the ``lr`` column is the *sgd* cell's lr (the common effective step).

    Returns
    -------
    DataFrame: the rows of both :func:`compare_cells` calls (``family`` tells them apart),
    plus ``lr_momentum``, the momentum cell's lr.
    """
    eq = compare_cells(runs, "optimizer", "sgd", "momentum", family="equal lr", solved_mse=solved_mse)
    eq["lr_momentum"] = eq["lr"].astype(float)
    matched = compare_cells(
        runs.assign(lr=effective_lr(runs, beta)), "optimizer", "sgd", "momentum", family="matched step",
        solved_mse=solved_mse,
    )
    matched["lr_momentum"] = np.round(matched["lr"].astype(float) * (1.0 - beta), 12)
    return pd.concat([eq, matched], ignore_index=True)


# --------------------------------------------------------------------------- gradients, linearity
def zero_gradient_shares(runs: pd.DataFrame, by: Sequence[str] | str = ("outcome",)) -> pd.DataFrame:
    """Share of runs whose full loss gradient at the final weights is exactly 0, per group.

    Returns
    -------
    DataFrame: the ``by`` columns (observed groups), ``n``, ``n_zero`` (``grad_norm_final
    == 0``), ``share``, ``median_norm`` (of the non-zero finite norms; NaN if none).
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, [*by, "grad_norm_final"])
    rows = []
    for key, g in _group(runs, by):
        gn = g["grad_norm_final"].to_numpy(float)
        nz = gn[np.isfinite(gn) & (gn != 0)]
        rows.append(dict(zip(by, _key_tuple(key)), n=len(g), n_zero=int((gn == 0).sum()),
                         share=float((gn == 0).mean()), median_norm=float(np.median(nz)) if nz.size else np.nan))
    return pd.DataFrame(rows)


def linear_on_data_shares(runs: pd.DataFrame, by: Sequence[str] | str = ("activation", "output")) -> pd.DataFrame:
    """Among solved runs, the share that are one affine map on the six inputs at the end.

    Returns
    -------
    DataFrame: the ``by`` columns, ``n_solved``, ``n_linear`` (``linear_on_data_final``), ``share``.
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(runs, [*by, "linear_on_data_final", "outcome"])
    solved = runs[~is_failure(runs)]
    rows = []
    for key, g in _group(solved, by):
        lin = g["linear_on_data_final"].to_numpy(bool)
        rows.append(dict(zip(by, _key_tuple(key)), n_solved=len(g), n_linear=int(lin.sum()), share=float(lin.mean())))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- seed lottery, speed
def seed_agreement(runs: pd.DataFrame, base: Mapping[str, object], cells: Mapping[str, Mapping[str, object]]) -> pd.DataFrame:
    """Does a seed's outcome in ``base`` carry over to other cells? On every shared seed.

    Returns
    -------
    DataFrame, one row per label of ``cells`` whose selection has runs: ``label``, ``n``
    (shared seeds), ``same_outcome`` (share of seeds with the same outcome), ``kappa`` and
    its CI (Cohen's kappa on the five outcomes), ``kappa_fail`` (on failed / solved).
    """
    b = select(runs, base)
    rows = []
    for label, where in cells.items():
        t = paired_table(runs, base, where, values=("outcome", "failed")) if len(select(runs, where)) else None
        if t is None or t.empty or b.empty:
            continue
        k = cohen_kappa(t["outcome_a"], t["outcome_b"])
        kf = cohen_kappa(t["failed_a"], t["failed_b"])
        rows.append(dict(label=label, n=len(t), same_outcome=k.agreement, kappa=k.kappa,
                         kappa_low=k.ci_low, kappa_high=k.ci_high, kappa_fail=kf.kappa))
    return pd.DataFrame(rows, columns=["label", "n", "same_outcome", "kappa", "kappa_low", "kappa_high", "kappa_fail"])


def speed_comparison(runs: pd.DataFrame, base: Mapping[str, object], activations: Sequence[str], ref: str = "relu") -> pd.DataFrame:
    """Epochs to reach epoch error < 1e-3: each activation vs ``ref``, all reaching runs and
    the seeds both reach (the fair comparison: no selection of easy seeds), paired by seed.

    Parameters
    ----------
    base : the other factors, e.g. the posted cell at some lr (``activation`` is overridden).

    Returns
    -------
    DataFrame, one row per activation with runs: ``activation``, ``n``, ``n_reach``,
    ``median_all`` (epochs over its reaching runs), ``n_both`` (seeds both reach),
    ``median_both``, ``median_ref_both``, ``p_both`` (Wilcoxon signed-rank, activation vs
    ref on those seeds), ``n_faster`` (seeds where the activation needs fewer epochs).
    """
    _require_columns(runs, ["epochs_to_1e-3", "activation", "seed"])
    ref_runs = select(runs, {**base, "activation": ref})
    ref_ep = ref_runs.set_index("seed")["epochs_to_1e-3"].astype("Float64")
    rows = []
    for act in activations:
        sub = select(runs, {**base, "activation": act})
        if sub.empty:
            continue
        ep = sub.set_index("seed")["epochs_to_1e-3"].astype("Float64")
        hit = ep.dropna()
        both = pd.concat([ep.rename("x"), ref_ep.rename("ref")], axis=1, join="inner").dropna()
        row = dict(activation=act, n=len(sub), n_reach=len(hit),
                   median_all=float(hit.median()) if len(hit) else np.nan, n_both=len(both))
        if len(both) and act != ref:
            w = wilcoxon_paired(both["ref"].to_numpy(float), both["x"].to_numpy(float))
            row.update(median_both=float(both["x"].median()), median_ref_both=float(both["ref"].median()),
                       p_both=w.pvalue, n_faster=w.n_lower)
        else:
            row.update(median_both=float(both["x"].median()) if len(both) else np.nan,
                       median_ref_both=float(both["ref"].median()) if len(both) else np.nan, p_both=np.nan, n_faster=0)
        rows.append(row)
    return pd.DataFrame(rows)


def fail_by_margin(runs: pd.DataFrame, n_bins: int = 10, *, alpha: float = 0.05) -> pd.DataFrame:
    """P(fail) against the output unit's init margin (its largest pre-activation over the
    six inputs, ``output_margin_init``), in bins of equal counts; a margin <= 0 is dead at init.

    Bins are quantiles of the margin among runs with margin > 0, plus one bin for all runs
    with margin <= 0, so "dead at init" is one point and the live runs spread out.

    Returns
    -------
    DataFrame, one row per bin in margin order: ``bin`` (label), ``lo``, ``hi`` (margin
    range), ``margin`` (median margin), ``n``, ``n_fail``, ``rate``, ``ci_low``, ``ci_high``
    (Clopper-Pearson).
    """
    _require_columns(runs, ["output_margin_init", "outcome"])
    if int(n_bins) < 1:
        raise ValueError(f"invalid n_bins {n_bins!r}; allowed: an integer >= 1")
    margin = runs["output_margin_init"].to_numpy(float)
    fail = is_failure(runs)
    dead = margin <= 0
    live = margin[~dead & np.isfinite(margin)]
    edges = np.unique(np.quantile(live, np.linspace(0, 1, int(n_bins) + 1))) if live.size else np.array([])
    groups = [("dead (<= 0)", dead)]
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        inside = (margin > 0) & (margin >= lo) & ((margin <= hi) if k == len(edges) - 2 else (margin < hi))
        groups.append((f"{lo:.3g}–{hi:.3g}", inside))
    rows = []
    for label, mask in groups:
        if not mask.any():
            continue
        p = proportion_ci(int(fail[mask].sum()), int(mask.sum()), alpha=alpha)
        rows.append(dict(bin=label, lo=float(margin[mask].min()), hi=float(margin[mask].max()),
                         margin=float(np.median(margin[mask])), n=p.n, n_fail=p.k, rate=p.rate,
                         ci_low=p.ci_low, ci_high=p.ci_high))
    return pd.DataFrame(rows)
