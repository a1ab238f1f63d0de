"""Shared pieces of the report: constants, the section Context, formatting and selections.

Every number in ``REPORT.md`` is computed from the runs/curves tables when the report is
generated; nothing is typed in. Each section is a function of a :class:`Context`; a
section that lacks the cells it needs raises :class:`Skip` with the reason, and the
report lists it under "Skipped sections" instead of failing. Determinism: bootstrap and
Monte Carlo take fixed seeds, and no wall-clock time goes in the text, so the same data
give a byte-identical report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.core.config import FACTOR_NAMES, FACTOR_REGISTRY, Cell
from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.stats import paired_tests
from relustudy.stats import inputs
from relustudy.runs import stored

THEORY_DRAWS = 1_000_000  # Monte Carlo draws for P(output dead at init)
CONDITIONAL_DRAWS = 200_000  # draws of the hidden layers for the conditional computation of it
THEORY_SEED = 20261126
BOOT_SEED = 12345
THRESHOLDS = (1e-4, 1e-3, 1e-2)  # solved-threshold sensitivity
EXPERIMENTS = ("q1_long", "born_dead", "remedies", "million", "phase", "depth_width", "noise", "tuning", "remedies_optim",
               "confirm", "confirm_q1", "generality")  # datasets beside data/default with sections
ALPHA = 0.05

# The posted program's cell (lr 0.01, ReLU everywhere, randn, both quirks, plain SGD): Cell()'s
# defaults, as the runs table stores them, for the factors the sections select on.
POSTED = {k: v for k, v in Cell().factor_values().items()
          if k in ("activation", "output", "init", "update", "optimizer", "lr", "hidden")}
Q1_CELL = dict(init="randn", optimizer="sgd", lr=0.1, hidden="4-4")  # the asker's tanh/sigmoid setting


class Skip(Exception):
    """A section cannot be rendered from this dataset; the message says why.

    ``experiment`` names the study's own experiment (a folder beside ``data/default``, e.g.
    ``"million"``) whose absence is the reason; None: the dataset lacks the cells. The report
    groups its skipped sections by it (:func:`relustudy.report.document.skipped_line`).
    """

    def __init__(self, message: str, *, experiment: str | None = None):
        super().__init__(message)
        self.experiment = experiment


@dataclass
class Context:
    """What the sections read: the data, where figures go, and what has been said."""

    runs: pd.DataFrame
    curves: pd.DataFrame | None
    figures_dir: Path
    report_dir: Path
    info: dict = field(default_factory=dict)
    # A dataset of one's own: its folder's name, which the title, the opening and the skipped
    # sections' line use; None: the study's own data/default (with its experiments beside it).
    dataset: str | None = None
    experiments: Mapping[str, tuple[pd.DataFrame, pd.DataFrame | None]] = field(default_factory=dict)
    figure_files: list[Path] = field(default_factory=list)
    findings: dict = field(default_factory=dict)
    extras: Mapping[str, object] = field(default_factory=dict)  # tables that are not runs tables, e.g. forensics
    timings: dict = field(default_factory=dict)  # "what" -> seconds; printed by make_report.py, never in the text

    def finding(self, study):
        """A study's named result, computed once per report (the answers, its section and other
        studies share it): ``study.finding(study.select(self))`` for a
        :class:`~relustudy.studies.base.Study`, ``study(self)`` for a plain function.

        A finding that cannot be computed raises :class:`Skip` each time it is asked for.
        """
        name = f"study {study.name}" if hasattr(study, "select") else study.__name__
        if name not in self.findings:
            start = time.perf_counter()
            try:
                if not hasattr(study, "select"):
                    self.findings[name] = study(self)
                elif getattr(study, "stored", False) and self.info.get("hashes"):
                    # Keyed by the content of every data file this report read and by the source its
                    # computation reaches (stored.source_key): other data or code is computed afresh.

                    key = {"study": study.name, "code": stored.source_key(study.select, study.finding),
                           "data": self.info["hashes"]}
                    self.findings[name] = stored.pickled(f"finding_{study.name.replace('-', '_')}", key,
                                                         lambda: study.finding(study.select(self)))
                else:
                    self.findings[name] = study.finding(study.select(self))
            except Skip as e:
                self.findings[name] = e
            self.timings[f"finding {name}"] = time.perf_counter() - start
        result = self.findings[name]
        if isinstance(result, Skip):
            raise result
        return result

    def fig(self, fig, name: str, alt: str) -> str:
        """Save a figure and return its markdown image link (relative to the report)."""
        start = time.perf_counter()
        path = figures.save(getattr(fig, "figure", fig), self.figures_dir / name)
        self.timings[f"save {name}"] = time.perf_counter() - start
        self.figure_files.append(path)
        rel = path.relative_to(self.report_dir) if path.is_relative_to(self.report_dir) else path
        return f"![{alt}]({rel.as_posix()})"


# --------------------------------------------------------------------------- formatting


def pct(x: float, digits: int = 1) -> str:
    """0.4321 -> '43.2%'."""
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def ci(lo: float, hi: float, digits: int = 1) -> str:
    """A CI of rates as '[40.1%, 46.2%]'."""
    return f"[{pct(lo, digits)}, {pct(hi, digits)}]"


def pval(p: float) -> str:
    """'p = 0.032', 'p = 3.1e-08', 'p < 1e-300'."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    if p == 0:
        return "p < 1e-300"
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.1e}"


def num(x: float, digits: int = 3) -> str:
    """Significant-digit formatting for reals, 'n/a' for non-finite."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def mse_at(log10_value: float) -> str:
    """An MSE given as log10 (floored): '2.45e-05', or '≤ 1e-12' at the precision floor."""
    if log10_value is None or not np.isfinite(log10_value):
        return "n/a"
    if log10_value <= np.log10(inputs.MSE_FLOOR):
        return f"≤ {inputs.MSE_FLOOR:g}"
    return num(10**log10_value)


def md_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (values already formatted)."""
    def cell(v) -> str:
        return str(v).replace("|", "\\|")  # a literal bar must not split the column

    head = "| " + " | ".join(map(cell, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(map(cell, r)) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def factor_levels(runs: pd.DataFrame) -> dict[str, list[str]]:
    """{factor: its levels as strings, in order of appearance} for every factor column of ``runs``
    (the registry's order); a factor with one level is fixed in this dataset."""
    return {f: list(pd.unique(runs[f].astype(str))) for f in FACTOR_NAMES if f in runs.columns}


def fixed_factors(levels: Mapping[str, list[str]]) -> list[str]:
    """'factor value' for each factor with one level, but an optional factor at its default
    (init_gain 1.0, data_order fixed, ...): a grid that does not use it says nothing of it."""
    return [levels_text(f, v) for f, v in levels.items() if len(v) == 1
            and not (FACTOR_REGISTRY[f].optional and v[0] == str(FACTOR_REGISTRY[f].table_default()))]


def levels_text(name: str, values: list[str]) -> str:
    """'lr ∈ {0.01, 0.1}' for several levels, 'lr 0.01' for one."""
    return f"{name} ∈ {{{', '.join(values)}}}" if len(values) > 1 else f"{name} {values[0]}"


# --------------------------------------------------------------------------- selections


def need(runs: pd.DataFrame, where: Mapping[str, object], what: str) -> pd.DataFrame:
    """The runs of a selection; Skip if there are none."""
    sub = analysis.select(runs, {k: v for k, v in where.items() if k in runs.columns})
    if sub.empty:
        raise Skip(f"the dataset has no runs for {what} ({_where_text(where)})")
    return sub


def _where_text(where: Mapping[str, object]) -> str:
    """'activation=tanh/sigmoid, lr=0.1': a selection as the skipped sections name it."""
    return ", ".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, (list, tuple, set)) else v}" for k, v in where.items())


def rate_of(runs: pd.DataFrame, solved_mse: float | None = None) -> stats.ProportionResult:
    """Failure rate of a set of runs with its exact CI."""
    fail = analysis.is_failure(runs, solved_mse)
    return stats.proportion_ci(int(fail.sum()), int(fail.size), alpha=ALPHA)


def paired(runs: pd.DataFrame, a: Mapping, b: Mapping, what: str, solved_mse: float | None = None):
    """McNemar (with the paired difference in failure rate and its CI) and Wilcoxon on log10
    MSE (floored, diverged ranked worst) between two cells paired on seed; Skip if either is missing."""
    need(runs, a, what + " (baseline)")
    need(runs, b, what + " (alternative)")
    t = analysis.paired_table(runs, a, b, solved_mse=solved_mse)
    if t.empty:
        raise Skip(f"{what}: the two cells share no seeds")
    mc = paired_tests.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
    wx = paired_tests.wilcoxon_log_mse(t["final_mse_a"].to_numpy(), t["final_mse_b"].to_numpy())
    return mc, wx


# --------------------------------------------------------------------------- sections


def _stratified(ctx: Context, factor: str, a, b, within: Mapping, family: str, solved_mse=None) -> pd.DataFrame:
    sub = need(ctx.runs, within, f"the {family} comparison")
    present = set(sub[factor].astype(str))
    absent = [str(v) for v in (a, b) if str(v) not in present]
    if absent:
        raise Skip(f"{family}: the dataset has no runs with {factor}={' or '.join(absent)} ({_where_text(within)})")
    return analysis.compare_cells(sub, factor, a, b, family=family, solved_mse=solved_mse)


def pp(x: float, digits: int = 1) -> str:
    """A difference of rates in percentage points, signed: 0.136 -> '+13.6 pp'."""
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:+.{digits}f} pp"


def diff_ci(diff: float, lo: float, hi: float) -> str:
    """A paired difference in failure rate with its CI: '+13.6 pp [+10.6, +16.5]'."""
    if not np.isfinite(diff):
        return "n/a"
    return f"{pp(diff)} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def wilcoxon_text(wx: paired_tests.WilcoxonResult) -> str:
    """A paired MSE test, its direction and its n after excluding ties."""
    return (
        f"Wilcoxon signed-rank on log10 final MSE (floored at {inputs.MSE_FLOOR:g}, diverged ranked worst) "
        f"{pval(wx.pvalue)}: B lower in {wx.n_lower:,} and higher in {wx.n_higher:,} of the {wx.n_used:,} pairs "
        f"that differ ({wx.n_zero:,} of {wx.n:,} tied and excluded)"
    )


FAMILY_COLUMNS = (
    "n",
    "fail A",
    "fail B",
    "Δ fail (B − A) [95% CI]",
    "rescued / broken by B",
    "McNemar p (Holm)",
    "MSE: B lower / higher (pairs ranked)",
    "Wilcoxon p (Holm)",
)


def _family_table(res: pd.DataFrame, label_cols: list[str]) -> str:
    rows = []
    for t in res.itertuples(index=False):
        d = t._asdict()
        is_paired = d["design"] == "paired"
        rows.append(
            (
                " / ".join(str(d[c]) for c in label_cols),
                f"{d['n_pairs']:,}" if is_paired else f"{d['n_a']:,}/{d['n_b']:,}",
                pct(d["rate_a"]),
                pct(d["rate_b"]),
                diff_ci(d["rate_diff"], d["diff_low"], d["diff_high"]),
                f"{d['n10']:,} / {d['n01']:,}" if is_paired else "–",
                pval(d["p_fail_holm"]),
                f"{d['n_mse_lower']:,} / {d['n_mse_higher']:,} ({d['n_mse_used']:,})" if is_paired else "–",
                pval(d["p_mse_holm"]),
            )
        )
    return md_table(pd.DataFrame(rows, columns=[" / ".join(label_cols), *FAMILY_COLUMNS]))


def _experiment(ctx: Context, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The runs and curves of a named experiment; Skip if it was not loaded."""
    if name not in ctx.experiments:
        raise Skip(f"no dataset for experiment {name!r} (run `python scripts/run_grid.py --experiment {name}`)",
                   experiment=name)
    return ctx.experiments[name]


# --------------------------------------------------------------------------- verdict helpers


def side(low: float, high: float, threshold: float) -> str:
    """Where a 95% CI [low, high] lies against a threshold: 'above' (low > threshold), 'below'
    (high < threshold) or 'borderline' (it straddles or touches it); a rule's borderline branch
    names both readings.

    Examples
    --------
    >>> side(0.31, 0.35, 0.3), side(0.21, 0.25, 0.3), side(0.28, 0.32, 0.3)
    ('above', 'below', 'borderline')
    """
    if low > threshold:
        return "above"
    if high < threshold:
        return "below"
    return "borderline"


def versus(value: float, threshold: float, fmt=pct) -> str:
    """A number beside its threshold with the distance between them: '43.2% (threshold 50.0%, 6.8 pp below it)'
    (rates formatted by :func:`pct` are apart by percentage points).

    Examples
    --------
    >>> versus(0.432, 0.5)
    '43.2% (threshold 50.0%, 6.8 pp below it)'
    >>> versus(12, 10, fmt=lambda x: f"{x:g}")
    '12 (threshold 10, 2 above it)'
    """
    where = "above" if value > threshold else "below" if value < threshold else "at"
    apart = f"{100 * abs(value - threshold):.1f} pp" if fmt is pct else fmt(abs(value - threshold))
    gap = ", exactly at it" if where == "at" else f", {apart} {where} it"
    return f"{fmt(value)} (threshold {fmt(threshold)}{gap})"
