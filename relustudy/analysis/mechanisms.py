"""How runs fail and why, from the runs table: the dead-at-init association, failure modes,
momentum at equal lr and at the matched step, zero gradients, linearity on the data, the seed
lottery's agreement, speed to the target, P(fail) against the init margin.

Pure functions of DataFrames like :mod:`relustudy.analysis.cells` (which re-exports them); the
words (born dead, died in training, ...) are :mod:`relustudy.analysis.vocabulary`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from statsmodels.stats.contingency_tables import Table2x2

from relustudy.analysis.cells import FACTOR_COLS, _group, _key_tuple, _require_columns, compare_cells, is_failure, paired_table, select
from relustudy.analysis import vocabulary
from relustudy.stats.intervals import median_ci
from relustudy.stats.unpaired_tests import auroc
from relustudy.stats.paired_tests import cohen_kappa, wilcoxon_paired
from relustudy.stats.proportions import proportion_ci
from relustudy.analysis.vocabulary import born_dead, hidden_layer_dead, labels, output_dead_at_end


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


def descent_rates(runs: pd.DataFrame, curves: pd.DataFrame, base: Mapping[str, object],
                  settings: Sequence[tuple[str, float]]) -> pd.DataFrame:
    """How fast the solved runs' epoch error falls: per (activation, lr) of ``settings`` (the other
    factors from ``base``) and per window between consecutive recorded curve epochs (a, b), the
    median over the cell's solved runs of (log10 e(a) - log10 e(b)) / (b - a) * 100, in decades of
    epoch error per 100 epochs, with the order-statistic 95% CI of that median.

    runs : runs table (R rows); curves : curves table (cell_id, seed, epoch, epoch_error).
    Returns one row per setting x window with runs: activation, lr, a, b, n (solved runs with both
    epochs recorded), median, low, high, error_b (median epoch error at b).
    """
    _require_columns(curves, ["cell_id", "seed", "epoch", "epoch_error"])
    rows = []
    for act, lr in settings:
        sub = select(runs, {**base, "activation": act, "lr": lr})
        sub = sub[vocabulary.solved(sub)]
        if sub.empty:
            continue
        keys = pd.MultiIndex.from_arrays([sub["cell_id"].astype(str), sub["seed"].to_numpy(np.int64)])
        c = curves[pd.MultiIndex.from_arrays([curves["cell_id"].astype(str),
                                              curves["seed"].to_numpy(np.int64)]).isin(keys)]
        # One row per solved run, one column per recorded epoch; errors floored where they reach 0.
        wide = c.pivot_table(index="seed", columns="epoch", values="epoch_error", aggfunc="first")
        log_e = np.log10(wide.clip(lower=1e-300))
        epochs = sorted(wide.columns)
        for a, b in zip(epochs[:-1], epochs[1:]):
            r = ((log_e[a] - log_e[b]) / (b - a) * 100).dropna().to_numpy(float)
            if r.size == 0:
                continue
            m = median_ci(r)
            rows.append(dict(activation=act, lr=lr, a=int(a), b=int(b), n=int(r.size), median=m.median,
                             low=m.ci_low, high=m.ci_high, error_b=float(wide[b].median())))
    return pd.DataFrame(rows, columns=["activation", "lr", "a", "b", "n", "median", "low", "high", "error_b"])
