"""The optimizer question on the runs table (issue 17): tuned optimizers, decompositions,
matched-step curves.

DataFrame-level wrappers of :mod:`relustudy.analysis.tuning` (the array statistics): they select
cells, align them by seed and collect the results in long-form tables the report formats.
Pure functions: no plotting, no I/O.

Vocabulary (:func:`run_states`, the one place it is read from the runs table, from
:mod:`relustudy.analysis.vocabulary`): *born dead* (the output unit or a whole hidden layer dead on all
six inputs at init); *died in training*: not born dead, and the output unit or a whole hidden
layer dead at the end (the net's counterpart of ``vocabulary.output_died_in_training``);
*fails*: not solved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import vocabulary
from relustudy.stats.proportions import holm
from relustudy.stats.paired_tests import mcnemar_exact
from relustudy.analysis.tuning import COMPONENTS, TIE_RULE, compare_tuned, decompose_change, matched_pairs, split_seeds, tune_then_evaluate

OPTIMIZER_ORDER = ("sgd", "momentum", "adam")  # report order; comparisons are a vs b in this order
DEFAULT_BY = ("update", "init_gain")


def run_states(runs: pd.DataFrame, solved_mse: float | None = None) -> pd.DataFrame:
    """Per run: ``failed``, ``born_dead``, ``died`` (alive at init, dead at the end); index kept.

    The single place the decomposition reads the vocabulary from, so a change of definition
    (e.g. "died ever" from the death-timing columns) is made here only.
    """
    born = vocabulary.born_dead(runs)
    dead_end = vocabulary.output_dead_at_end(runs) | vocabulary.hidden_layer_dead(runs, "final")
    return pd.DataFrame(
        {"failed": analysis.is_failure(runs, solved_mse), "born_dead": born, "died": dead_end & ~born},
        index=runs.index,
    )


@dataclass(frozen=True)
class LrMatrix:
    """One optimizer's runs over an lr grid, aligned by seed (every array's last axis = seeds)."""

    lrs: np.ndarray  # (n_lr,) ascending
    seeds: np.ndarray  # (n_seeds,) ascending
    failed: np.ndarray  # (n_lr, n_seeds) bool
    died: np.ndarray  # (n_lr, n_seeds) bool
    born_dead: np.ndarray  # (n_seeds,) bool (a property of the init: the same at every lr)


def lr_matrix(runs: pd.DataFrame, where: Mapping[str, object], *, solved_mse: float | None = None) -> LrMatrix:
    """Pivot the runs of one cell-without-lr (``where`` fixes every other factor) to
    (n_lr, n_seeds) arrays; ValueError if a seed is missing at some lr or a (lr, seed) repeats."""
    sel = analysis.select(runs, where)
    if sel.empty:
        raise ValueError(f"selection {dict(where)} matches no runs")
    st = run_states(sel, solved_mse)
    lr = sel["lr"].to_numpy(float)
    seed = sel["seed"].to_numpy(np.int64)
    lrs, li = np.unique(lr, return_inverse=True)
    seeds, si = np.unique(seed, return_inverse=True)
    if len(sel) != lrs.size * seeds.size or np.unique(li * seeds.size + si).size != len(sel):
        raise ValueError(
            f"selection {dict(where)} is not a complete lr x seed grid ({len(sel)} runs for {lrs.size} lrs x "
            f"{seeds.size} seeds); fix every factor but lr and seed"
        )
    failed = np.zeros((lrs.size, seeds.size), bool)
    died = np.zeros_like(failed)
    failed[li, si] = st["failed"].to_numpy()
    died[li, si] = st["died"].to_numpy()
    born = np.zeros((lrs.size, seeds.size), bool)
    born[li, si] = st["born_dead"].to_numpy()
    return LrMatrix(lrs, seeds, failed, died, born[0])


def _groups(runs: pd.DataFrame, by: Sequence[str]):
    keys = runs[list(by)].drop_duplicates().sort_values(list(by))
    return [dict(zip(by, k)) for k in keys.itertuples(index=False)]


@dataclass(frozen=True)
class TunedTables:
    """Each optimizer at its tuned lr (``choices``), the tuned optimizers compared on held-out
    seeds (``comparisons``, one Holm family: the whole table), and each comparison's
    decomposition (``decomposition``, long form: one row per comparison and component)."""

    choices: pd.DataFrame
    comparisons: pd.DataFrame
    decomposition: pd.DataFrame
    curves: pd.DataFrame  # by + optimizer, lr, tune_rate, held_out_rate, chosen
    tie_rule: str = TIE_RULE


def tuned_table(
    runs: pd.DataFrame,
    *,
    by: Sequence[str] = DEFAULT_BY,
    optimizers: Sequence[str] = OPTIMIZER_ORDER,
    split: str = "parity",
    within: Mapping[str, object] | None = None,
    solved_mse: float | None = None,
    alpha: float = 0.05,
) -> TunedTables:
    """Tune lr per (``by`` group, optimizer) on half the seeds, compare on the other half.

    Parameters
    ----------
    runs : runs with several lrs per cell; ``within`` fixes the factors outside ``by``,
        optimizer, lr and seed (e.g. activation, output, init, hidden).
    by : the strata, default (update, init_gain).
    optimizers : those present are tuned; pairs are compared in this order (a = earlier).
    split : :func:`relustudy.analysis.tuning.split_seeds` rule.

    Returns
    -------
    TunedTables
    """
    sub = analysis.select(runs, dict(within or {}))
    present = [o for o in optimizers if o in set(sub["optimizer"].astype(str))]
    if len(present) < 2:
        raise ValueError(f"need at least two of optimizers {list(optimizers)}; present: {present}")
    choices, comps, decs, curves = [], [], [], []
    for group in _groups(sub, by):
        tuned = {}
        seeds = None
        for opt in present:
            m = lr_matrix(sub, {**group, "optimizer": opt}, solved_mse=solved_mse)
            if seeds is None:
                seeds = m.seeds
            elif not np.array_equal(seeds, m.seeds):
                raise ValueError(f"optimizers in {group} ran on different seeds; allowed: one seed set")
            tune = split_seeds(m.seeds, split)
            r = tune_then_evaluate(m.failed, m.lrs, tune, alpha=alpha)
            tuned[opt] = (r, m, tune)
            choices.append({
                **group, "optimizer": opt, "lr": r.choice.lr, "n_tied": r.choice.n_tied,
                "n_tune": r.choice.n_tune, "tune_rate": float(r.choice.tune_rates[r.choice.index]),
                "n_eval": r.held_out.n, "rate": r.held_out.rate, "ci_low": r.held_out.ci_low,
                "ci_high": r.held_out.ci_high, "optimism": r.optimism,
                "edge": r.choice.index in (0, m.lrs.size - 1),  # the best lr sits on the grid's edge
            })
            for i, lr in enumerate(m.lrs):
                curves.append({**group, "optimizer": opt, "lr": float(lr), "tune_rate": float(r.choice.tune_rates[i]),
                               "held_out_rate": float(r.held_out_rates[i]), "chosen": i == r.choice.index})
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                (ra, ma, tune), (rb, mb, _) = tuned[a], tuned[b]
                mc = compare_tuned(ra, rb, alpha=alpha)
                ev = ~tune
                comps.append({
                    **group, "a": a, "b": b, "lr_a": ra.choice.lr, "lr_b": rb.choice.lr, "n": mc.n,
                    "rate_a": mc.rate_a, "rate_b": mc.rate_b, "diff": mc.diff, "diff_low": mc.diff_low,
                    "diff_high": mc.diff_high, "n10": mc.n10, "n01": mc.n01, "p": mc.pvalue,
                })
                d = decompose_change(
                    ra.fail_eval, rb.fail_eval, ma.born_dead[ev], ma.died[ra.choice.index, ev],
                    mb.died[rb.choice.index, ev], alpha=alpha,
                )
                decs.extend(_decomposition_rows(d, {**group, "a": a, "b": b}))
    comparisons = pd.DataFrame(comps)
    comparisons["p_holm"] = holm(comparisons["p"].to_numpy()) if len(comparisons) else []
    return TunedTables(pd.DataFrame(choices), comparisons, pd.DataFrame(decs), pd.DataFrame(curves))


def _decomposition_rows(d, key: Mapping[str, object]) -> list[dict]:
    rows = []
    for k, name in enumerate(COMPONENTS):
        rows.append({
            **key, "component": name, "n": d.n, "n_born_dead": d.n_born_dead, "rate_a": d.rate_a, "rate_b": d.rate_b,
            "diff": d.diff, "diff_low": d.diff_low, "diff_high": d.diff_high,
            "contrib": float(d.contrib[k]), "contrib_low": float(d.contrib_low[k]),
            "contrib_high": float(d.contrib_high[k]), "n10": int(d.n10[k]), "n01": int(d.n01[k]),
            "fail_born_a": d.fail_born_a, "fail_born_b": d.fail_born_b,
            "die_alive_a": d.die_alive_a, "die_alive_b": d.die_alive_b,
        })
    return rows


def decomposition_table(
    runs: pd.DataFrame,
    contrasts: Mapping[str, tuple[Mapping[str, object], Mapping[str, object]]],
    *,
    solved_mse: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`relustudy.analysis.tuning.decompose_change` for named contrasts ``label -> (a, b)`` (each a
    selection of one cell), paired on the seeds both hold; one row per contrast and component
    (``label``, ``component``, ``contrib`` with its CI, ``n10``/``n01``, the total ``diff`` with
    its CI, the exact McNemar ``p`` of the total and ``p_holm`` over the contrasts, and the
    conditional rates). Strata are A's state at init."""
    rows = []
    for label, (a, b) in contrasts.items():
        sa, sb = analysis.select(runs, a), analysis.select(runs, b)
        if sa.empty or sb.empty:
            raise ValueError(f"contrast {label!r}: a selection matches no runs")
        ta = run_states(sa, solved_mse).assign(seed=sa["seed"].to_numpy())
        tb = run_states(sb, solved_mse).assign(seed=sb["seed"].to_numpy())
        t = ta.merge(tb, on="seed", suffixes=("_a", "_b")).sort_values("seed")
        if t.empty:
            raise ValueError(f"contrast {label!r}: the two cells share no seeds")
        d = decompose_change(t["failed_a"], t["failed_b"], t["born_dead_a"], t["died_a"], t["died_b"], alpha=alpha)
        p = mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy()).pvalue
        rows.extend(_decomposition_rows(d, {"label": label, "p": p}))
    out = pd.DataFrame(rows)
    if not out.empty:  # one family: the contrasts of this table (each appears once per component)
        first = out.drop_duplicates("label")
        out["p_holm"] = out["label"].map(dict(zip(first["label"], holm(first["p"].to_numpy()))))
    return out


def matched_step_table(
    runs: pd.DataFrame,
    beta: float,
    *,
    by: Sequence[str] = DEFAULT_BY,
    within: Mapping[str, object] | None = None,
    solved_mse: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Momentum at lr (1 - beta) vs SGD at lr on every matched pair of the lr grid, per ``by``
    group, paired by seed over all seeds (no tuning is involved). One Holm family: the table.

    Returns
    -------
    DataFrame: by columns, ``lr`` (SGD's, the common effective step), ``lr_momentum``, ``n``,
    ``rate_sgd``, ``rate_momentum``, ``diff`` (momentum - sgd) with ``diff_low``/``diff_high``,
    ``n10``/``n01``, ``p``, ``p_holm``, and the decomposition's ``born_dead`` and
    ``died_alive`` contributions.
    """
    sub = analysis.select(runs, dict(within or {}))
    rows = []
    for group in _groups(sub, by):
        ms = lr_matrix(sub, {**group, "optimizer": "sgd"}, solved_mse=solved_mse)
        mm = lr_matrix(sub, {**group, "optimizer": "momentum"}, solved_mse=solved_mse)
        if not np.array_equal(ms.seeds, mm.seeds):
            raise ValueError(f"sgd and momentum in {group} ran on different seeds; allowed: one seed set")
        grid = np.union1d(ms.lrs, mm.lrs)
        for lr_s, lr_m in matched_pairs(grid, beta):
            if lr_s not in ms.lrs or lr_m not in mm.lrs:
                continue
            i, j = int(np.flatnonzero(ms.lrs == lr_s)[0]), int(np.flatnonzero(mm.lrs == lr_m)[0])
            d = decompose_change(ms.failed[i], mm.failed[j], ms.born_dead, ms.died[i], mm.died[j], alpha=alpha)
            mc = mcnemar_exact(ms.failed[i], mm.failed[j], alpha=alpha)
            rows.append({
                **group, "lr": lr_s, "lr_momentum": lr_m, "n": d.n, "rate_sgd": d.rate_a, "rate_momentum": d.rate_b,
                "diff": d.diff, "diff_low": d.diff_low, "diff_high": d.diff_high, "n10": mc.n10, "n01": mc.n01,
                "p": mc.pvalue, "born_dead": float(d.contrib[0]), "died_alive": float(d.contrib[1]),
            })
    out = pd.DataFrame(rows)
    if not out.empty:
        out["p_holm"] = holm(out["p"].to_numpy())
    return out
