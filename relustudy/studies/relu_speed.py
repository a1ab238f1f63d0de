"""Q2's second half: why is ReLU fast when it works? Epochs to the target per activation
(paired on the seeds both reach) and the pace at which the solved runs' error falls through
its last decade before the target (decades per 100 epochs, from the learning curves)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import mechanisms
from relustudy.core.outcomes import EPOCH_ERROR_TARGET
from relustudy.stats import proportions as stats
from relustudy.studies.common import POSTED, md_table, need, num, pct, pval, side, versus
from relustudy.studies.common import Context
from relustudy.studies.base import Study, Verdict
from relustudy.studies import samples
from relustudy.stats.intervals import median_ci

# ReLU's solved runs fall through their last decade before the target (epoch error 1e-2 .. 1e-3) at
# least STEEPER times as fast per epoch and per unit of lr as tanh's at the asker's lr 0.1: "steeper"
# (the 95% CIs of both rates decide; a ratio whose bounds straddle STEEPER is "borderline").
STEEPER = 2.0
LAST_DECADE = (EPOCH_ERROR_TARGET, 10 * EPOCH_ERROR_TARGET)  # epoch errors of the last decade before the target
DESCENT_SETTINGS = (("relu", 0.01), ("leaky_relu", 0.01), ("tanh", 0.1), ("sigmoid", 0.1))  # (activation, lr)


@dataclass(frozen=True)
class SpeedFinding:
    speed: pd.DataFrame  # analysis.speed_comparison per lr (column lr), with p_holm over the whole table
    # mechanisms.descent_rates of DESCENT_SETTINGS (else as posted): per window of recorded epochs, the
    # solved runs' median fall in decades of epoch error per 100 epochs; None without curves
    descent: pd.DataFrame | None
    # Epochs to the target per activation on its largest sample (issue 25.2), else as posted: activation,
    # sample, n, n_reach, median, low, high (order-statistic CI)
    largest: pd.DataFrame | None = None


def select(ctx: Context) -> dict:
    need(ctx.runs, POSTED, "the posted ReLU cell")
    lrs = sorted(float(x) for x in ctx.runs["lr"].unique())
    return {"runs": ctx.runs, "lrs": lrs, "curves": ctx.curves,
            "largest": {a: samples.largest(ctx, {"activation": a}) for a in LARGEST_ACTIVATIONS}}


LARGEST_ACTIVATIONS = ("relu", "leaky_relu")  # the ReLU family at the posted lr: million's and confirm's cells


def _largest(found: dict) -> pd.DataFrame:
    rows = []
    for act, s in found.items():
        if s is None:
            continue
        hit = s.runs["epochs_to_1e-3"].dropna().to_numpy(float)
        m = median_ci(hit)
        rows.append(dict(activation=act, sample=s.name, n=s.n, n_reach=hit.size, median=m.median, low=m.ci_low,
                         high=m.ci_high))
    return pd.DataFrame(rows)


def finding(d: dict) -> SpeedFinding:
    frames = []
    for lr in d["lrs"]:
        t = mechanisms.speed_comparison(d["runs"], {**POSTED, "lr": lr}, ["relu", "leaky_relu", "tanh", "sigmoid"])
        frames.append(t.assign(lr=lr))
    speed = pd.concat(frames, ignore_index=True)
    tested = speed["p_both"].notna().to_numpy()
    speed["p_holm"] = np.nan
    if tested.any():  # one Holm family: every paired speed comparison of the table
        speed.loc[tested, "p_holm"] = stats.holm(speed.loc[tested, "p_both"].to_numpy())
    curves = d.get("curves")
    descent = (mechanisms.descent_rates(d["runs"], curves, POSTED, DESCENT_SETTINGS)
               if curves is not None and len(curves) else None)
    return SpeedFinding(speed, descent, _largest(d.get("largest", {})))


def last_decade(descent: pd.DataFrame, activation: str, lr: float) -> pd.Series | None:
    """The window of recorded epochs in which the setting's solved runs cross the last decade
    before the target: the first whose median epoch error at its end is below LAST_DECADE[1]
    (None if no window gets there)."""
    d = descent[(descent["activation"] == activation) & np.isclose(descent["lr"], lr)].sort_values("a")
    d = d[d["error_b"] < LAST_DECADE[1]]
    return None if d.empty else d.iloc[0]


def verdict(f: SpeedFinding) -> Verdict:
    """Is ReLU fast because its error falls faster through the last decade before the target? The
    ratio of ReLU's median rate there (lr 0.01) to tanh's (lr 0.1), each divided by its lr (per unit
    of step), with bounds from the two rates' 95% CIs: "steeper" when its lower bound is above
    :data:`STEEPER`, "comparable" when its upper bound is below, "borderline" otherwise;
    "untested" without curves."""
    if f.descent is None or f.descent.empty:
        return Verdict("untested", "The dataset has no learning curves, so the pace of the descent is not measured.")
    relu, tanh = last_decade(f.descent, "relu", 0.01), last_decade(f.descent, "tanh", 0.1)
    if relu is None or tanh is None or tanh["low"] <= 0:
        return Verdict("untested", "ReLU's or tanh's solved runs do not fall through the last decade before the target.")
    per = relu["lr"] / tanh["lr"]  # tanh's rate per unit of lr, on ReLU's lr scale
    ratio, low, high = (relu["median"] / (tanh["median"] * per), relu["low"] / (tanh["high"] * per),
                        relu["high"] / (tanh["low"] * per))
    said = (f"the solved ReLU runs (lr 0.01) lose a median {num(relu['median'], 3)} decades of epoch error per 100 epochs "
            f"[{num(relu['low'], 3)}, {num(relu['high'], 3)}] in epochs {relu['a']:,}–{relu['b']:,}, where they cross "
            f"{LAST_DECADE[1]:g}; tanh's at the asker's lr 0.1, ten times the step, lose {num(tanh['median'], 3)} "
            f"[{num(tanh['low'], 3)}, {num(tanh['high'], 3)}] in epochs {tanh['a']:,}–{tanh['b']:,}, where they cross "
            f"it. Per unit of lr, ReLU's pace is {versus(ratio, STEEPER, fmt=lambda x: f'{x:.3g}x')} tanh's "
            f"[{low:.3g}x, {high:.3g}x]")
    where = side(low, high, STEEPER)
    if where == "above":
        return Verdict("steeper", f"ReLU is fast because its error keeps falling steeply once it learns: {said}. An "
                                  "active ReLU unit passes its gradient at slope 1, while tanh's slope vanishes near the "
                                  "targets of 1.0 (Q1).")
    if where == "below":
        return Verdict("comparable", f"ReLU's pace through the last decade does not set it apart: {said}.")
    return Verdict("borderline", f"Borderline: {said}; read as steeper, the pace explains ReLU's speed, read as "
                                 "comparable, its head start does.")


def section(f: SpeedFinding, v: Verdict, links) -> str:
    rows = []
    for d in f.speed.itertuples(index=False):
        paired = d.activation != "relu" and d.n_both
        rows.append((f"{d.activation}, lr {d.lr:g}", f"{d.n_reach:,} of {d.n:,} ({pct(d.n_reach / d.n)})",
                     num(d.median_all, 4), f"{d.n_both:,}" if d.activation != "relu" else "–",
                     f"{num(d.median_both, 4)} vs {num(d.median_ref_both, 4)}" if paired else "–",
                     pval(d.p_holm) if paired else "–"))
    table = md_table(pd.DataFrame(rows, columns=[
        "activation (else as posted)", "reach epoch error < 1e-3", "median epochs, all that reach it",
        "seeds both it and relu reach", "median epochs there: it vs relu", "Wilcoxon p (paired, Holm over the table)"]))
    leaky = f.speed[(f.speed["activation"] == "leaky_relu") & (f.speed["n_both"] > 0)]
    leaky_txt = "; ".join(
        f"at lr {d.lr:g}, on the {d.n_both:,} seeds both reach, leaky_relu needs a median {num(d.median_both, 4)} epochs "
        f"and relu {num(d.median_ref_both, 4)} (Holm {pval(d.p_holm)})" for d in leaky.itertuples(index=False))
    pace = ""
    if f.descent is not None and len(f.descent):
        rows = [(f"{d.activation}, lr {d.lr:g}", f"{d.a:,}–{d.b:,}", f"{d.n:,}",
                 f"{num(d.median, 3)} [{num(d.low, 3)}, {num(d.high, 3)}]", num(d.error_b, 3))
                for d in f.descent.itertuples(index=False)]
        pace = md_table(pd.DataFrame(rows, columns=[
            "activation (else as posted)", "epochs", "solved runs", "median fall, decades per 100 epochs [95% CI]",
            "median epoch error at the window's end"]))
    big = ""
    if f.largest is not None and len(f.largest):
        big = ("\n\n**On the largest samples** (else as posted, lr 0.01; order-statistic 95% CI of the median): "
               + "; ".join(f"{d.activation} reaches epoch error < 1e-3 in {d.n_reach:,} of {d.n:,} runs (`{d.sample}`), "
                           f"median {num(d.median, 4)} epochs [{num(d.low, 4)}, {num(d.high, 4)}]"
                           for d in f.largest.itertuples(index=False)) + ".")
    n_cell = int(f.speed["n"].max()) if len(f.speed) else 0
    recorded = (sorted(set(f.descent["a"]) | set(f.descent["b"])) if f.descent is not None and len(f.descent) else [])
    rec = ", ".join(f"{e:,}" for e in recorded)
    return f"""**The pace of the descent** (from the screen's learning curves, the only sample that records them: the solved runs of
its {n_cell:,} seeds per cell, epoch error at epochs {rec}). Per window between recorded epochs, how
many decades the epoch error falls per 100 epochs (the median over the solved runs, order-statistic 95% CI):

**{v.text}**

<details><summary>Every window</summary>

{pace}

</details>

What the data show about speed, in epochs to reach epoch error < 1e-3 (else as posted), over all runs that get
there and, paired by seed, on the seeds both an activation and ReLU reach (which removes the selection of easy seeds):

{table}

So {leaky_txt or "no leaky_relu seeds reach the target alongside relu"}. tanh and sigmoid are compared at the asker's
lr 0.1 as well as 0.01; their slowness is the subject of Q1.{big}
"""


def answer(f: SpeedFinding, v: Verdict) -> str:
    relu = f.speed[(f.speed["activation"] == "relu")]
    fast = "; ".join(f"at lr {d.lr:g} in a median {num(d.median_all, 4)} epochs ({d.n_reach:,} of {d.n:,} runs)"
                     for d in relu.itertuples(index=False))
    return f"ReLU runs that reach epoch error < 1e-3 get there {fast}. {v.text}"


STUDY = Study(name="relu-speed", title="Why is ReLU fast when it works?", select=select, finding=finding,
              verdict=verdict, section=section, answer=answer)
