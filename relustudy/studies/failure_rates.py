"""The failure rate of every cell of the default grid (the factorial screen): the extremes, and
whether the screen's seeds per cell resolve what a screen must."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.analysis import vocabulary
from relustudy.figures import cells as figures
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import ci, md_table, pct
from relustudy.studies.common import Context, Skip

SHOWN = ("activation", "output", "init", "update", "optimizer", "lr")  # the heatmap's axes
SCREEN_HALF_WIDTH = 0.035  # every cell's 95% CI half-width at most this: the grid works as a screen


@dataclass(frozen=True)
class FailureRatesFinding:
    rates: pd.DataFrame  # analysis.failure_rates with heatmap labels (cell, variant)
    extra: list  # factors the heatmap's axes do not show but the dataset varies
    modes: pd.DataFrame | None  # mechanisms.failure_mode_table of the ReLU-family cells
    n_min: int  # fewest runs in a cell
    half_width: float  # widest 95% CI half-width over the cells


def select(ctx: Context) -> pd.DataFrame:
    if ctx.runs.empty:
        raise Skip("no runs")
    return ctx.runs


def finding(runs: pd.DataFrame) -> FailureRatesFinding:
    fr = analysis.failure_rates(runs)
    if fr.empty:
        raise Skip("no runs")
    # Factors the heatmap's axes do not show (epochs, hidden, init_gain, ...) join the row label
    # where the dataset varies them: one heatmap square per cell.
    extra = [f for f in analysis.FACTOR_COLS if f not in SHOWN and f in fr.columns and fr[f].astype(str).nunique() > 1]
    fr = fr.assign(
        **{c: fr[c].astype(str) for c in ("activation", "output", "init", "update", "optimizer", *extra)},
        cell=lambda d: d[["activation", "init", *extra]].agg(" / ".join, axis=1),
        variant=lambda d: d["optimizer"] + ", lr " + d["lr"].astype(str),
    )
    relu = analysis.select(runs, {"activation": list(vocabulary.RELU_FAMILY)})
    modes = mechanisms.failure_mode_table(relu) if len(relu) else None
    return FailureRatesFinding(fr, extra, modes, int(fr["n"].min()), float(((fr["ci_high"] - fr["ci_low"]) / 2).max()))


def verdict(f: FailureRatesFinding) -> Verdict:
    """Is the grid a screen? "screen" when every cell's 95% CI half-width is at most
    :data:`SCREEN_HALF_WIDTH`, else "coarse"."""
    hw = f"±{100 * f.half_width:.1f} percentage points (threshold ±{100 * SCREEN_HALF_WIDTH:.1f})"
    if f.half_width <= SCREEN_HALF_WIDTH:
        return Verdict("screen", (
            f"With at least {f.n_min:,} seeds per cell, every cell's exact 95% CI is at most {hw} wide: enough for a "
            f"screen, which ranks cells and resolves differences of about {100 * np.sqrt(2) * f.half_width:.0f} points "
            "or more between independent cells (the half-width of their difference's CI; less between cells paired by "
            "seed), not for headline rates or small effects, which "
            "come from the larger samples."))
    return Verdict("coarse", f"With {f.n_min:,} seeds in the smallest cell, some cell's exact 95% CI is {hw} wide: "
                             "too coarse even for a screen; read only the large differences.")


def _line(d, extra) -> str:
    more = "".join(f"/{e} {getattr(d, e)}" for e in extra)
    return f"{d.activation}/{d.output}/{d.init}/{d.update}/{d.optimizer}/lr {d.lr}{more}: {pct(d.rate)} {ci(d.ci_low, d.ci_high)}"


def _extreme(rows: pd.DataFrame, value: float, word: str, extra) -> str:
    """The cells at an extreme rate; when more than five tie there, say so and name five."""
    at = rows[rows["rate"] == value]
    if len(at) > 5:
        return (f"{len(at)} cells tie at the {word} rate, {pct(value)} (e.g. "
                + "; ".join(_line(d, extra) for d in at.head(5).itertuples()) + ")")
    ranked = rows.sort_values("rate", ascending=(word == "lowest"), kind="stable").head(5)
    return "; ".join(_line(d, extra) for d in ranked.itertuples())


def figures_(f: FailureRatesFinding):
    return [Figure("failure_rates.png", figures.failure_rate_heatmap(
        f.rates, y="cell", x="variant", col="output", row="update",
        title="Failure rate per cell (%), activation / init x optimizer, lr"), "failure rate per cell")]


def section(f: FailureRatesFinding, v: Verdict, links) -> str:
    fr = f.rates
    modes_tbl = ""
    if f.modes is not None:
        label_cols = ["activation", "output", "init", "update", "optimizer", "lr", *f.extra]
        mt = f.modes.sort_values(label_cols, kind="stable")
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
            "\n<details><summary>How the ReLU-family cells fail (failed runs by mode, shares of all runs; in leaky_relu "
            "rows \"born dead\" reads born inactive: a leaky unit is never dead)</summary>\n\n"
            + md_table(pd.DataFrame(rows, columns=[" / ".join(label_cols), "runs", "fail",
                                                   *(f"failed: {k}" for k in mechanisms.FAILURE_MODES),
                                                   "fail rate if not born dead"]))
            + "\n\n</details>\n"
        )
    return f"""Highest: {_extreme(fr, float(fr["rate"].max()), "highest", f.extra)}.
Lowest: {_extreme(fr, float(fr["rate"].min()), "lowest", f.extra)}.
{v.text}

{links["failure_rates.png"]}
{modes_tbl}"""


STUDY = Study(name="failure-rates", title="Failure rate in every cell", select=select, finding=finding,
              verdict=verdict, figures=figures_, section=section)
