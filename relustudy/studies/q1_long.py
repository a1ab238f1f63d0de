"""Q1 at the asker's scale: tanh and sigmoid for 100,000 epochs (the q1_long experiment): does the
error plateau, or keep falling like a power of the epoch?"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import inputs
from relustudy.stats import intervals
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import _experiment, md_table, mse_at, num, pct
from relustudy.studies.common import Context, Skip

PLATEAU_SLOPE = -0.1  # late log-log slope of the median curve above this: a plateau; at or below: still falling
FLOOR_DECADES = 1  # a median within this many decades of the precision floor gives no slope (it measures rounding)
SOLVED_LONG = 1e-4  # the table's "final MSE below" column


@dataclass(frozen=True)
class Q1LongFinding:
    rows: pd.DataFrame  # per activation x update x output: n, medians at the grid epochs, slope, final MSE median (+CI),
    #                     share below SOLVED_LONG, median epochs to 1e-3 (+CI, n)
    bands: pd.DataFrame  # analysis.curve_bands per activation x update x output
    epochs: int
    grid: tuple  # the epochs whose median error the table shows
    e0: int  # the late slope runs from e0 to epochs
    n_seeds: int


def select(ctx: Context):
    runs, curves = _experiment(ctx, "q1_long")
    if curves is None:
        raise Skip("experiment 'q1_long' has no learning curves")
    return runs, curves


def finding(data) -> Q1LongFinding:
    runs, curves = data
    epochs = int(runs["epochs"].max())
    grid = tuple(e for e in (100, 1000, 10_000, epochs) if e <= epochs)
    bands = analysis.curve_bands(curves, runs, ["activation", "update", "output"])
    rows, e0 = [], None
    for (act, upd, out), b in bands.groupby(["activation", "update", "output"], sort=False):
        b = b.set_index("epoch")["q50"]
        sub = analysis.select(runs, {"activation": act, "update": upd, "output": out})
        med = {e: float(b.get(e, np.nan)) for e in grid}
        # Late slope of the median curve on log-log axes: 0 is a plateau, -1 is error ~ 1/epoch.
        e0 = max(e for e in b.index if e <= epochs / 10)
        # A median near the precision floor measures rounding, not learning: no slope through it.
        lo_end, hi_end = np.log10([b[e0], med[epochs]])
        floor = np.log10(inputs.MSE_FLOOR) + FLOOR_DECADES
        slope = (hi_end - lo_end) / (np.log10(epochs) - np.log10(e0)) if min(lo_end, hi_end) > floor else np.nan
        final = intervals.median_ci(inputs.log10_mse(sub["final_mse"].to_numpy(float)))
        hit = intervals.median_ci(sub["epochs_to_1e-3"].dropna().to_numpy(float))
        rows.append(dict(activation=act, update=upd, output=out, n=len(sub), **{f"med_{e}": med[e] for e in grid},
                         slope=slope, final=final, solved=float((sub["final_mse"] < SOLVED_LONG).mean()), hit=hit))
    return Q1LongFinding(pd.DataFrame(rows), bands, epochs, grid, int(e0), int(runs["seed"].nunique()))


def verdict(f: Q1LongFinding) -> Verdict:
    """Per output (`same`, `identity`): do the median curves still fall at the end? Each slope
    against :data:`PLATEAU_SLOPE`: "falling" when every measured slope is at or below it,
    "plateau" when every one is above, "mixed" otherwise ("floor" when none is measured: the
    medians sit at the precision floor). Key "same:<x>,identity:<y>"."""
    keys, parts = [], []
    for out in ("same", "identity"):
        g = f.rows[(f.rows["output"] == out)]
        if g.empty:
            continue
        v = g[np.isfinite(g["slope"])]
        each = ", ".join(f"{d.activation}/{d.update} {d.slope:.2f}" for d in v.itertuples())
        if v.empty:
            key, txt = "floor", f"with output {out} the medians reach the precision floor {inputs.MSE_FLOOR:g}, so no slope is given"
        elif (v["slope"] <= PLATEAU_SLOPE).all():
            key, txt = "falling", (f"with output {out} the median error still falls like epoch^{v['slope'].max():.1f} "
                                   f"to epoch^{v['slope'].min():.1f} ({each}; plateau above {PLATEAU_SLOPE:g}): slowly, "
                                   "without reaching zero")
        elif (v["slope"] > PLATEAU_SLOPE).all():
            key, txt = "plateau", f"with output {out} the median error has stopped falling ({each}; plateau above {PLATEAU_SLOPE:g})"
        else:
            key, txt = "mixed", f"with output {out} some median curves still fall and some have stopped ({each}; plateau above {PLATEAU_SLOPE:g})"
        keys.append(f"{out}:{key}")
        parts.append(txt)
    if not keys:
        raise Skip("experiment 'q1_long' has no same or identity output")
    return Verdict(",".join(keys), f"Over epochs {f.e0:,}→{f.epochs:,}, " + "; ".join(parts) + ".")


def figures_(f: Q1LongFinding):
    sel = f.bands.assign(curve=f.bands["activation"] + " / " + f.bands["update"])
    last = float(np.nanmedian(sel.loc[sel["epoch"] == sel["epoch"].max(), "q50"]))
    return [Figure("q1_long_curves.png", figures.learning_curves(
        sel, hue="curve", col="output", title=f"tanh and sigmoid for {f.epochs:,} epochs at lr 0.1 (median, IQR)",
        reference=last * sel["epoch"].max() / 1000), "long learning curves")]


def section(f: Q1LongFinding, v: Verdict, links) -> str:
    def med(m) -> str:
        return f"{mse_at(m.median)} [{mse_at(m.ci_low)}, {mse_at(m.ci_high)}]"

    rows = [(d.activation, d.update, d.output, f"{d.n:,}",
             *[mse_at(inputs.log10_mse([getattr(d, f"med_{e}")])[0]) for e in f.grid],
             num(d.slope, 2) if np.isfinite(d.slope) else "– (at the floor)", med(d.final), pct(d.solved),
             f"{num(d.hit.median, 4)} [{num(d.hit.ci_low, 4)}, {num(d.hit.ci_high, 4)}] (n = {d.hit.n:,})"
             if d.hit.n else "never")
            for d in f.rows.itertuples(index=False)]
    tbl = md_table(pd.DataFrame(rows, columns=[
        "activation", "update", "output", "runs", *[f"median epoch error @ {e:,}" for e in f.grid],
        f"late log-log slope ({f.e0:,}→{f.epochs:,})", "median final MSE [95% CI]", f"final MSE < {SOLVED_LONG:g}",
        "median epochs to < 1e-3 [95% CI] (runs that reach it)"]))
    return f"""tanh and sigmoid at lr 0.1 (randn init, plain SGD), {f.n_seeds:,} seeds per cell, the error recorded at
log-spaced epochs. A late log-log slope near 0 is a plateau; -1 means the error still falls like 1/epoch (dashed
line in the figure); medians and slopes are clipped at the precision floor {inputs.MSE_FLOOR:g}, and no slope is given
through a median within {FLOOR_DECADES} decade of it (it would measure the clip, not learning). CIs of medians are
order-statistic 95% intervals.

{tbl}

**{v.text}** Targets of 1.0 sit on tanh's asymptote and outside sigmoid's open range (0, 1), so a saturating output must
drive its pre-activation ever further; the identity-output rows show what remains without that (the vanishing-gradient
section measures the gradients).

{links["q1_long_curves.png"]}
"""


STUDY = Study(name="q1-long", title="Q1 at the asker's scale", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section)
