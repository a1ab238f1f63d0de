"""Is the lottery the toy's? Per-cell counts and rates over the setting's factors (task, init,
update, activation/output, batch), and the decomposition of a failure rate's change into the
born-dead share and the deaths in training (the generality experiment, issue 27).

Pure functions of a runs table (R rows) or of the per-cell counts table it reduces to, so the
study's rules can be tested on hand-made counts.

The decomposition is Kitagawa's for a rate that mixes two groups. A cell's failure rate is
``P = p a + (1 - p) b`` with p = P(born dead), a = P(fail | born dead), b = P(fail | alive at
init). Between two cells (1 -> 2), with bars for the two cells' means,

    P2 - P1 = (p2 - p1)(a_bar - b_bar)  +  [p_bar (a2 - a1) + (1 - p_bar)(b2 - b1)]

exactly: the first term is the change carried by how many runs are born dead, the second the
change in how often runs fail given how they started (mostly deaths and stalls in training).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.analysis import vocabulary as vocab
from relustudy.core.outcomes import SOLVED_MSE
from relustudy.core.problem import get_task
from relustudy.stats import proportions as stats

# The factors that name a cell of the generality experiment (every other factor is fixed there).
CELL_FACTORS = ("task", "init", "update", "activation", "output", "batch")
# How a failed run failed, in the order the study reports them; every failed run has exactly one.
FAILURE_MODES = ("born dead", "output died", "output partly dead", "diverged", "other")


def mode_column(mode: str) -> str:
    """The counts table's column of a failure mode: "output partly dead" -> "mode_output_partly_dead"."""
    return "mode_" + mode.replace(" ", "_")


def _modes(runs: pd.DataFrame) -> np.ndarray:
    """(R,) object array: the failure mode of each failed run (:data:`FAILURE_MODES`), "" if solved."""
    failed = vocab.failed(runs)
    born = vocab.born_dead(runs)
    outcome = vocab.labels(runs["outcome"])
    out = np.full(len(runs), "", dtype=object)
    out[failed] = "other"
    out[failed & vocab.output_partly_dead(runs, "final")] = "output partly dead"
    out[failed & vocab.output_dead_at_end(runs)] = "output died"
    out[failed & (outcome == "diverged")] = "diverged"
    out[failed & born] = "born dead"  # last: a property of the init, whatever happened next
    return out


def cell_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Counts per cell of :data:`CELL_FACTORS` (factors as str).

    Returns one row per cell: the factors, ``n`` runs, ``failed``, ``born_dead``,
    ``failed_born_dead`` (failed among the born dead), ``failed_alive`` (failed among the rest),
    and one count per :data:`FAILURE_MODES` entry, :func:`mode_column` (failed runs by mode; they
    sum to ``failed``).
    """
    missing = [c for c in CELL_FACTORS if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks the factor column(s) {missing}; the generality experiment's table has them")
    failed = vocab.failed(runs)
    born = vocab.born_dead(runs)
    modes = _modes(runs)
    frame = pd.DataFrame({c: vocab.labels(runs[c]) for c in CELL_FACTORS})
    frame["n"] = 1
    frame["failed"] = failed
    frame["born_dead"] = born
    frame["failed_born_dead"] = failed & born
    frame["failed_alive"] = failed & ~born
    for m in FAILURE_MODES:
        frame[mode_column(m)] = modes == m
    counts = frame.groupby(list(CELL_FACTORS), sort=True).sum().reset_index()
    num = [c for c in counts.columns if c not in CELL_FACTORS]
    counts[num] = counts[num].astype(np.int64)
    return counts


def _ci(k: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rate, low, high) arrays of exact CIs; NaN where n = 0."""
    out = np.full((3, len(k)), np.nan)
    for i, (ki, ni) in enumerate(zip(k, n)):
        if ni:
            r = stats.proportion_ci(int(ki), int(ni), alpha=alpha)
            out[:, i] = (r.rate, r.ci_low, r.ci_high)
    return out[0], out[1], out[2]


def cell_rates(counts: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`cell_counts` plus rates with exact (1 - alpha) CIs: ``fail`` = P(fail),
    ``born`` = P(born dead), ``fail_born`` = P(fail | born dead), ``fail_alive`` = P(fail | alive
    at init), each with ``_low`` and ``_high``; and ``threshold_rel``, the solved threshold MSE
    < 1e-3 as a share of the task's target variance (the MSE of predicting the mean)."""
    out = counts.copy()
    for name, k, n in (("fail", "failed", "n"), ("born", "born_dead", "n"),
                       ("fail_born", "failed_born_dead", "born_dead"),
                       ("fail_alive", "failed_alive", None)):
        den = out["n"] - out["born_dead"] if n is None else out[n]
        out[name], out[f"{name}_low"], out[f"{name}_high"] = _ci(out[k].to_numpy(), den.to_numpy(), alpha)
    out["threshold_rel"] = [SOLVED_MSE / get_task(t).mse_mean_output for t in out["task"]]
    return out


def _fill(x1: float, x2: float) -> tuple[float, float]:
    """An undefined (NaN) conditional rate takes the other cell's; both undefined: 0."""
    if np.isnan(x1) and np.isnan(x2):
        return 0.0, 0.0
    return (x2 if np.isnan(x1) else x1), (x1 if np.isnan(x2) else x2)


def kitagawa(p1: float, a1: float, b1: float, p2: float, a2: float, b2: float) -> tuple[float, float]:
    """(born-dead part, in-training part) of P2 - P1 for P = p a + (1 - p) b (module docstring).

    A conditional rate is NaN where its group is empty (no run born dead, or none alive); it has
    weight 0 there, so it takes the other cell's value (0 if both are empty) and the parts still
    add up to P2 - P1 exactly.
    """
    a1, a2 = _fill(a1, a2)
    b1, b2 = _fill(b1, b2)
    pm, am, bm = (p1 + p2) / 2, (a1 + a2) / 2, (b1 + b2) / 2
    return float((p2 - p1) * (am - bm)), float(pm * (a2 - a1) + (1 - pm) * (b2 - b1))


def _mixture(failed: np.ndarray, born: np.ndarray) -> tuple[float, float, float]:
    """(p, a, b) of P = p a + (1 - p) b from (R,) bool arrays: P(born dead), P(fail | born dead),
    P(fail | alive at init); a conditional rate is NaN when its group is empty."""
    failed, born = np.asarray(failed, bool), np.asarray(born, bool)
    if failed.shape != born.shape or failed.size == 0:
        raise ValueError(f"failed and born must be non-empty and of one shape; got {failed.shape} and {born.shape}")
    a = float(failed[born].mean()) if born.any() else np.nan
    b = float(failed[~born].mean()) if (~born).any() else np.nan
    return float(born.mean()), a, b


def paired_split(failed_a, born_a, failed_b, born_b) -> tuple[float, float]:
    """:func:`kitagawa` of P(fail) in b minus a, on the same seeds: each argument (R,) bool, row r
    the same seed in both cells. The parts add up to the paired difference of failure rates."""
    return kitagawa(*_mixture(failed_a, born_a), *_mixture(failed_b, born_b))


def factor_ranges(rates: pd.DataFrame, factors=("task", "init", "update")) -> pd.Series:
    """How far each factor moves the failure rate: for factor F, the mean over the combinations
    of the other factors in ``factors`` of (max - min) P(fail) across F's levels. Every other
    factor of the table must take one value (select the cells first). Returns a Series F -> range."""
    fixed = [c for c in CELL_FACTORS if c not in factors]
    several = [c for c in fixed if rates[c].nunique() > 1]
    if several:
        raise ValueError(f"factor_ranges needs one value of {several}; select the cells first")
    out = {}
    for f in factors:
        rest = [c for c in factors if c != f]
        spread = rates.groupby(rest)["fail"].agg(lambda s: s.max() - s.min())
        out[f] = float(spread.mean())
    return pd.Series(out)
