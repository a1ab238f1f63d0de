"""Q1 at the asker's scale: tanh and sigmoid for 100,000 epochs (the q1_long experiment)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import inputs
from relustudy.studies.common import _experiment, md_table, mse_at, num, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


def section_q1_long(ctx: Context) -> str:
    runs, curves = _experiment(ctx, "q1_long")
    if curves is None:
        raise Skip("experiment 'q1_long' has no learning curves")
    epochs = int(runs["epochs"].max())
    grid = [e for e in (100, 1000, 10_000, epochs) if e <= epochs]
    bands = analysis.curve_bands(curves, runs, ["activation", "update", "output"])
    rows, slopes = [], {}
    for (act, upd, out), b in bands.groupby(["activation", "update", "output"], sort=False):
        b = b.set_index("epoch")["q50"]
        sub = analysis.select(runs, {"activation": act, "update": upd, "output": out})
        med = {e: float(b.get(e, np.nan)) for e in grid}
        # Late slope of the median curve on log-log axes: 0 is a plateau, -1 is error ~ 1/epoch.
        e0 = max(e for e in b.index if e <= epochs / 10)
        # A median at the precision floor measures rounding, not learning: no slope through it.
        lo_end, hi_end = np.log10([b[e0], med[epochs]])
        floor = np.log10(inputs.MSE_FLOOR) + 1  # within a decade of the floor
        slope = (hi_end - lo_end) / (np.log10(epochs) - np.log10(e0)) if min(lo_end, hi_end) > floor else np.nan
        slopes[(act, upd, out)] = slope
        hit = sub["epochs_to_1e-3"].dropna().to_numpy(float)
        rows.append(
            (
                act,
                upd,
                out,
                f"{len(sub):,}",
                *[mse_at(inputs.log10_mse([med[e]])[0]) for e in grid],
                num(slope, 2) if np.isfinite(slope) else "– (at the floor)",
                pct((sub["final_mse"] < 1e-4).mean()),
                num(np.median(hit), 4) if hit.size else "never",
            )
        )
    tbl = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "activation",
                "update",
                "output",
                "runs",
                *[f"median epoch error @ {e:,}" for e in grid],
                f"late log-log slope ({e0:,}→{epochs:,})",
                "final MSE < 1e-4",
                "median epochs to < 1e-3",
            ],
        )
    )
    sel = bands.assign(curve=bands["activation"] + " / " + bands["update"])
    fig = ctx.fig(
        figures.learning_curves(
            sel,
            hue="curve",
            col="output",
            title=f"tanh and sigmoid for {epochs:,} epochs at lr 0.1 (median, IQR)",
            reference=float(np.nanmedian(sel.loc[sel["epoch"] == sel["epoch"].max(), "q50"])) * sel["epoch"].max() / 1000,
        ),
        "q1_long_curves.png",
        "long learning curves",
    )
    same = [r for r in rows if r[2] == "same"]
    ident = [r for r in rows if r[2] == "identity"]
    return f"""## Q1 at the asker's scale: {epochs:,} epochs

tanh and sigmoid at lr 0.1 (randn init, plain SGD), {runs["seed"].nunique():,} seeds per cell, the error recorded at
log-spaced epochs. A late log-log slope near 0 is a plateau; -1 means the error still falls like 1/epoch (dashed
line in the figure); medians and slopes are clipped at the precision floor {inputs.MSE_FLOOR:g}.

{tbl}

Late slopes with the saturating (`same`) output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in same)}; with a
linear output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in ident)}. {_slope_text(slopes)} Targets of 1.0 sit
on tanh's asymptote and outside sigmoid's open range (0, 1), so a saturating output must drive its pre-activation ever
further; a linear output unit removes that, yet its error too keeps falling like a power of the epoch rather than
reaching zero (the hidden tanh/sigmoid units are smooth, and the gradient shrinks with the error: see the vanishing-
gradient section's measurements). A slope through a median at the precision floor {inputs.MSE_FLOOR:g} would measure the
clip, not learning, and is not given.

{fig}
"""


def _slope_text(slopes: dict) -> str:
    """The range of the measured late slopes per output (those clear of the floor)."""
    parts = []
    for out in ("same", "identity"):
        v = [x for (a, u, o), x in slopes.items() if o == out and np.isfinite(x)]
        if v:
            parts.append(f"with output {out} the median error decays like epoch^{min(v):.1f} to epoch^{max(v):.1f}")
    return ("Measured: " + "; ".join(parts) + ".") if parts else ""


STUDY = text_study('q1-long', "Q1 at the asker's scale", section_q1_long)
