"""The failure rate of every cell of the default grid (descriptive; the factorial screen)."""
from __future__ import annotations

import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.analysis import vocabulary
from relustudy.figures import cells as figures
from relustudy.studies.common import ci, md_table, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


def section_failure_rates(ctx: Context) -> str:
    fr = analysis.failure_rates(ctx.runs)
    if fr.empty:
        raise Skip("no runs")
    # Factors the heatmap's axes do not show (epochs, hidden, init_gain, ...) join the row label
    # where the dataset varies them: one heatmap square per cell.
    shown = ("activation", "output", "init", "update", "optimizer", "lr")
    extra = [f for f in analysis.FACTOR_COLS if f not in shown and f in fr.columns and fr[f].astype(str).nunique() > 1]
    fr = fr.assign(
        **{c: fr[c].astype(str) for c in ("activation", "output", "init", "update", "optimizer", *extra)},
        cell=lambda d: d[["activation", "init", *extra]].agg(" / ".join, axis=1),
        variant=lambda d: d["optimizer"] + ", lr " + d["lr"].astype(str),
    )
    fig = ctx.fig(
        figures.failure_rate_heatmap(
            fr,
            y="cell",
            x="variant",
            col="output",
            row="update",
            title="Failure rate per cell (%), activation / init x optimizer, lr",
        ),
        "failure_rates.png",
        "failure rate per cell",
    )
    half = float(((fr["ci_high"] - fr["ci_low"]) / 2).max())

    def line(d):
        more = "".join(f"/{f} {getattr(d, f)}" for f in extra)
        return (f"{d.activation}/{d.output}/{d.init}/{d.update}/{d.optimizer}/lr {d.lr}{more}: {pct(d.rate)} "
                f"{ci(d.ci_low, d.ci_high)}")

    def extreme(rows: pd.DataFrame, value: float, word: str) -> str:
        """The cells at an extreme rate; when more than five tie there, say so and name five."""
        at = rows[rows["rate"] == value]
        if len(at) > 5:
            return (f"{len(at)} cells tie at the {word} rate, {pct(value)} (e.g. "
                    + "; ".join(line(d) for d in at.head(5).itertuples()) + ")")
        ranked = rows.sort_values("rate", ascending=(word == "lowest"), kind="stable").head(5)
        return "; ".join(line(d) for d in ranked.itertuples())

    worst_txt = extreme(fr, float(fr["rate"].max()), "highest")
    best_txt = extreme(fr, float(fr["rate"].min()), "lowest")
    relu = analysis.select(ctx.runs, {"activation": list(vocabulary.RELU_FAMILY)})
    modes_tbl = ""
    if len(relu):
        mt = mechanisms.failure_mode_table(relu)
        label_cols = ["activation", "output", "init", "update", "optimizer", "lr", *extra]
        mt = mt.sort_values(label_cols, kind="stable")
        rows = [
            (
                " / ".join(str(d[c]) for c in label_cols),
                f"{d['n']:,}",
                pct(d["n_fail"] / d["n"]),
                *(pct(d[f"share {k}"]) for k in mechanisms.FAILURE_MODES),
                pct(d["fail_alive"]),
            )
            for d in mt.to_dict("records")
        ]
        modes_tbl = (
            "\n<details><summary>How the ReLU-family cells fail (failed runs by mode, shares of all runs)</summary>\n\n"
            + md_table(pd.DataFrame(rows, columns=[" / ".join(label_cols), "runs", "fail",
                                                   *(f"failed: {k}" for k in mechanisms.FAILURE_MODES),
                                                   "fail rate if not born dead"]))
            + "\n\n</details>\n"
        )
    return f"""## Failure rate in every cell

Highest: {worst_txt}.
Lowest: {best_txt}.
Every cell's exact 95% CI is at most ±{100 * half:.1f} percentage points wide (half-width).

{fig}
{modes_tbl}"""


STUDY = text_study('failure-rates', 'Failure rate in every cell', section_failure_rates)
