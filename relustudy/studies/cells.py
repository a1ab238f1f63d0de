"""Every cell of the dataset, whatever grid made it: failure rate and outcome shares with exact
CIs, final error, and paired one-factor contrasts between its cells.

The part of the report that any dataset supports (a grid of one's own included): it assumes no
posted cell and no experiment. Cells are labelled by the factors the dataset varies; a factor
contrast compares each of its levels (B) with a reference level (A) within every stratum of the
other factors, paired by seed, one Holm family per factor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import intervals
from relustudy.stats import proportions as stats
from relustudy.stats import inputs
from relustudy.core.config import FACTOR_REGISTRY
from relustudy.core.outcomes import OUTCOMES
from relustudy.studies.common import ALPHA, Skip, _family_table, ci, factor_levels, fixed_factors, md_table, mse_at, pct
from relustudy.studies.common import Context
from relustudy.studies.base import Figure, Study

MAX_FIGURE_CELLS = 96  # more cells make the per-cell figure too tall to read: the failure-rates heatmap shows them
MAX_OPEN_ROWS = 24  # a per-cell table longer than this is folded
TOP_CONTRASTS = 12  # stratum contrasts listed, smallest adjusted p first


@dataclass(frozen=True)
class CellsFinding:
    """Per-cell summaries and the one-factor contrasts of a dataset."""

    varied: list  # factors with more than one level, registry order
    fixed: list  # "factor value" of the factors with one level
    cells: pd.DataFrame  # one row per cell (column "cell", grid order): n, failure and outcome CIs, median log10 MSE
    references: dict  # factor -> its reference level (A of its contrasts), as str
    contrasts: pd.DataFrame  # compare_cells rows of every factor's contrasts; p Holm-adjusted within each factor
    dataset: str | None  # a dataset of one's own (its folder's name) or None (the study's)


def select(ctx: Context) -> tuple[pd.DataFrame, str | None]:
    if ctx.runs.empty:
        raise Skip("the dataset has no runs")
    return ctx.runs, ctx.dataset


def _reference(factor: str, levels: list[str]) -> str:
    """The posted program's value where the dataset has it, else the factor's first level."""
    posted = str(FACTOR_REGISTRY[factor].table_default())
    return posted if posted in levels else levels[0]


def _labelled(runs: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """``runs`` with a categorical ``cell`` column: the varied factors' values joined by ' / ', in
    the dataset's (cell-major) order."""
    first = runs.drop_duplicates("cell_id")
    names = (first[varied].astype(str).agg(" / ".join, axis=1) if varied
             else pd.Series("all runs", index=first.index))
    if names.nunique() != len(first):  # cells that no factor column tells apart (should not happen)
        names = names + " (" + first["cell_id"].astype(str) + ")"
    label = runs["cell_id"].map(dict(zip(first["cell_id"], names)))
    return runs.assign(cell=pd.Categorical(label, categories=list(names)))


def _cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    rates = analysis.failure_rates(runs, "cell")
    shares = analysis.outcome_shares(runs, ["cell"])
    out = rates.assign(cell=rates["cell"].astype(str))
    for o in OUTCOMES:
        s = shares[shares["outcome"] == o].set_index("cell")
        k = s.loc[out["cell"], "count"].to_numpy(int)
        n = s.loc[out["cell"], "n"].to_numpy(int)
        cis = [stats.proportion_ci(int(a), int(b), alpha=ALPHA) for a, b in zip(k, n)]
        out[f"{o}_k"], out[f"{o}_rate"] = k, k / n
        out[f"{o}_low"], out[f"{o}_high"] = [c.ci_low for c in cis], [c.ci_high for c in cis]
    # Median log10 final MSE with its order-statistic CI: no resampling (a bootstrap per cell costs
    # ~0.1 s, half a minute on the 288-cell grid), and a diverged run (+inf) ranks worst, never dropped.
    med = {str(k): intervals.median_ci(inputs.log10_mse(g["final_mse"].to_numpy(float)), alpha=ALPHA)
           for k, g in runs.groupby("cell", observed=True, sort=True)}
    out["median"] = [med[c].median for c in out["cell"]]
    out["median_low"] = [med[c].ci_low for c in out["cell"]]
    out["median_high"] = [med[c].ci_high for c in out["cell"]]
    return out


def _contrasts(runs: pd.DataFrame, varied: list[str], references: dict) -> pd.DataFrame:
    frames = []
    for f in varied:
        values = {str(v): v for v in pd.unique(runs[f])}  # str label -> the column's value
        parts = [analysis.compare_cells(runs, f, values[references[f]], values[b], family=f)
                 for b in values if b != references[f]]
        fam = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
        if fam is None:
            continue
        others = [c for c in varied if c != f]
        fam["stratum"] = fam[others].astype(str).agg(" / ".join, axis=1) if others else "all"
        # One Holm family per factor: every level against the reference, in every stratum.
        fam["p_fail_holm"] = stats.holm(fam["p_fail"].to_numpy(float))
        fam["p_mse_holm"] = stats.holm(fam["p_mse"].to_numpy(float))
        frames.append(fam[["stratum", *analysis.COMPARE_COLUMNS]])
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=["stratum", *analysis.COMPARE_COLUMNS]))


def finding(found: tuple[pd.DataFrame, str | None]) -> CellsFinding:
    runs, dataset = found
    levels = factor_levels(runs)
    varied = [f for f, v in levels.items() if len(v) > 1]
    fixed = fixed_factors(levels)
    references = {f: _reference(f, levels[f]) for f in varied}
    labelled = _labelled(runs, varied)
    return CellsFinding(varied, fixed, _cell_table(labelled), references, _contrasts(runs, varied, references), dataset)


def _summary(c: CellsFinding) -> pd.DataFrame:
    """One row per factor level B against the factor's reference A: strata, pairs, pooled rates,
    and in how many strata B differs significantly (Holm within the factor)."""
    rows = []
    for (fam, b), g in c.contrasts.groupby(["family", "level_b"], sort=False):
        sig = g["p_fail_holm"] < ALPHA
        sig_mse = g["p_mse_holm"] < ALPHA
        lower = g["median_log10_diff"].astype(float) < 0
        rows.append((
            f"{fam}: {g['level_a'].iloc[0]} → {b}",
            f"{len(g):,}",
            f"{int(g['n_pairs'].sum()):,}" if (g["design"] == "paired").all() else "unpaired",
            pct(g["n_fail_a"].sum() / g["n_a"].sum()),
            pct(g["n_fail_b"].sum() / g["n_b"].sum()),
            f"{100 * float(g['rate_diff'].median()):+.1f} pp",
            f"{int((sig & (g['rate_diff'] < 0)).sum())} / {int((sig & (g['rate_diff'] > 0)).sum())}",
            f"{int((sig_mse & lower).sum())} / {int((sig_mse & ~lower).sum())}",
        ))
    return pd.DataFrame(rows, columns=["factor: A → B", "strata", "pairs", "fail A", "fail B",
                                       "median Δ fail over strata", "strata where B fails significantly less / more",
                                       "strata where B's MSE is significantly lower / higher"])


def _counts(c: CellsFinding) -> tuple[int, int]:
    """(stratum contrasts, those whose failure rates differ at Holm-adjusted p < ALPHA)."""
    return len(c.contrasts), int((c.contrasts["p_fail_holm"] < ALPHA).sum())


def _mse(log10_value: float) -> str:
    return "diverged" if log10_value == np.inf else mse_at(log10_value)


def _cell_rows(c: CellsFinding) -> pd.DataFrame:
    t = c.cells
    rows = [(
        d["cell"], f"{d['n']:,}", f"{pct(d['rate'])} {ci(d['ci_low'], d['ci_high'])}",
        *(f"{pct(d[f'{o}_rate'])} {ci(d[f'{o}_low'], d[f'{o}_high'])}" for o in OUTCOMES),
        f"{_mse(d['median'])} [{_mse(d['median_low'])}, {_mse(d['median_high'])}]",
    ) for d in t.to_dict("records")]
    head = " / ".join(c.varied) or "cell"
    return pd.DataFrame(rows, columns=[head, "runs", "fail [95% CI]", *OUTCOMES, "median final MSE [95% CI]"])


def figure_rates(c: CellsFinding) -> list[Figure]:
    """Failure rate per cell with its CI: the last varied factor as colour, the first as panels
    when three or more vary, the rest as rows."""
    if len(c.cells) > MAX_FIGURE_CELLS:
        return []
    v = c.varied
    hue = v[-1] if v else None
    col = v[0] if len(v) >= 3 else None
    rest = [f for f in v if f not in (hue, col)]
    parts = c.cells["cell"].str.split(" / ", expand=True) if v else pd.DataFrame(index=c.cells.index)
    data = c.cells[["rate", "ci_low", "ci_high"]].copy()
    for i, f in enumerate(v):
        data[f] = parts[i].to_numpy()
    data["row"] = data[rest].agg(" / ".join, axis=1) if rest else (hue or "all runs")
    data["colour"] = data[hue] if hue else "all runs"
    fig = figures.failure_rate_dots(data, y="row", hue="colour", col=col, row=None,
                                    title=f"Failure rate per cell, 95% CI (colour: {hue or 'all runs'})", min_height=3.4)
    return [Figure("cells_failure.png", fig, "failure rate per cell with 95% CIs")]


def section(c: CellsFinding, verdict, links) -> str:
    n_cells = len(c.cells)
    varied = ", ".join(c.varied) or "none"
    table = md_table(_cell_rows(c))
    if n_cells > MAX_OPEN_ROWS:
        table = f"<details><summary>Every cell ({n_cells:,} rows)</summary>\n\n{table}\n\n</details>"
    fig = links.get("cells_failure.png", "")
    if not fig:
        fig = (f"({n_cells:,} cells: too many for one figure of dots; the heatmap under "
               "[Failure rate in every cell](#failure-rates) shows them.)")
    n_tests, n_sig = _counts(c)
    if n_tests:
        top = c.contrasts.sort_values(["p_fail_holm", "p_mse_holm", "family", "level_b", "stratum"], kind="stable")
        top = top.head(TOP_CONTRASTS).assign(contrast=lambda d: d["family"] + ": " + d["level_a"] + " → "
                                             + d["level_b"])
        refs = "; ".join(f"{f}: {r}" for f, r in c.references.items())
        contrasts = f"""**Paired contrasts, one factor at a time.** Each level B of a factor against its reference level A
(the posted program's value where the dataset has it, else the factor's first level: {refs}), within every stratum
of the other factors (cells that differ in that factor only), paired by seed: exact McNemar on solved/not with the
paired difference in failure rate, and the Wilcoxon signed-rank test on log10 final MSE. Holm family: one per
factor, all its levels × strata. Of the {n_tests:,} stratum contrasts, {n_sig:,} change the failure rate
significantly (Holm-adjusted p < {ALPHA:g}).

{md_table(_summary(c))}

<details><summary>The {min(TOP_CONTRASTS, n_tests)} stratum contrasts with the smallest adjusted p-values (A → B)</summary>

{_family_table(top, ["contrast", "stratum"])}

</details>"""
    else:
        contrasts = "No factor varies in this dataset: there is nothing to compare."
    return f"""Every cell of this dataset: {n_cells:,} cells, varied: {varied}{'; fixed: ' + ', '.join(c.fixed) if c.fixed else ''}.
Failure = not solved; rates with exact (Clopper–Pearson) 95% CIs; final MSE is the median of final MSE, floored at
{inputs.MSE_FLOOR:g}, with its distribution-free (order-statistic) 95% CI; a diverged run counts as the highest MSE.

{fig}

{table}

{contrasts}
"""


def answer(c: CellsFinding, verdict) -> str | None:
    """For a dataset of one's own only (the study's answers are the questions'): its range of
    failure rates and how many contrasts are significant."""
    if c.dataset is None:
        return None
    t = c.cells
    lo, hi = t.loc[t["rate"].idxmin()], t.loc[t["rate"].idxmax()]
    n_tests, n_sig = _counts(c)
    if lo["rate"] == hi["rate"]:
        who = f"Every one of the {len(t):,} cells" if len(t) > 1 else "The one cell"
        text = f"{who} fails in {pct(lo['rate'])}."
    else:
        text = (f"Failure rates run from {pct(lo['rate'])} {ci(lo['ci_low'], lo['ci_high'])} ({lo['cell']}) to "
                f"{pct(hi['rate'])} {ci(hi['ci_low'], hi['ci_high'])} ({hi['cell']}) over the {len(t):,} cells.")
    if n_tests:
        text += (f" Of {n_tests:,} one-factor contrast{'s' if n_tests != 1 else ''} (paired by seed, Holm within "
                 f"each factor), {n_sig:,} change{'s' if n_sig == 1 else ''} the failure rate significantly.")
    return text


STUDY = Study(name="cells", title="Every cell: failure, outcomes, final error and paired contrasts",
              select=select, finding=finding, section=section, figures=figure_rates, answer=answer)
