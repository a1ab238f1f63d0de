"""Q2's second half: why is ReLU fast when it works? Epochs to the target per activation
(paired on the seeds both reach) and how many solved ReLU nets are one affine map on the data."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.stats import proportions as stats
from relustudy.studies.common import POSTED, md_table, need, num, pct, pval
from relustudy.studies.common import Context
from relustudy.studies.base import Study, Verdict

MOSTLY_LINEAR = 0.5  # more than this share of solved runs one affine map on the data: "linear" explains the speed


@dataclass(frozen=True)
class SpeedFinding:
    speed: pd.DataFrame  # analysis.speed_comparison per lr (column lr), with p_holm over the whole table
    linear: pd.DataFrame | None  # analysis.linear_on_data_shares of relu by output (None without the column)


def select(ctx: Context) -> dict:
    need(ctx.runs, POSTED, "the posted ReLU cell")
    lrs = sorted(float(x) for x in ctx.runs["lr"].unique())
    return {"runs": ctx.runs, "lrs": lrs,
            "twins": analysis.select(ctx.runs, {**{k: v for k, v in POSTED.items() if k != "output"}, "activation": "relu"})}


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
    try:
        linear = mechanisms.linear_on_data_shares(d["twins"], by=["output"])
    except ValueError:
        linear = None
    return SpeedFinding(speed, linear)


def verdict(f: SpeedFinding) -> Verdict:
    """Does "a ReLU net is linear on the data, so it fits fast" describe the solved posted runs?
    Yes when more than :data:`MOSTLY_LINEAR` of them end as one affine map on the six inputs."""
    if f.linear is None or f.linear.empty:
        return Verdict("untested", "The dataset has no `linear_on_data_final` column, so the linear explanation is untested.")
    same = f.linear[f.linear["output"].astype(str) == "same"]
    row = (same if len(same) else f.linear).iloc[0]
    said = f"{pct(row['share'])} of the posted cell's solved runs ({row['n_linear']:,} of {row['n_solved']:,})"
    if row["share"] > MOSTLY_LINEAR:
        return Verdict("linear", f"{said} end as one affine map on the six inputs: most fits are linear on the data.")
    return Verdict("mixed", f"Only {said} end as one affine map on the six inputs: most solved ReLU nets use more "
                            "than one activation pattern, so \"linear, hence fast\" describes a minority of fits.")


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
    lin = ""
    if f.linear is not None:
        lin = "Per output: " + "; ".join(f"output {d.output}: {pct(d.share)} ({d.n_linear:,} of {d.n_solved:,})"
                                         for d in f.linear.itertuples(index=False)) + ". "
    return f"""**Linear on the data?** {v.text} {lin}(`linear_on_data_final`: one activation pattern on all six inputs at the end.)
What the data show about speed, in epochs to reach epoch error < 1e-3 (else as posted), over all runs that get
there and, paired by seed, on the seeds both an activation and ReLU reach (which removes the selection of easy seeds):

{table}

So {leaky_txt or "no leaky_relu seeds reach the target alongside relu"}. tanh and sigmoid are compared at the asker's
lr 0.1 as well as 0.01; their slowness is the subject of Q1.
"""


def answer(f: SpeedFinding, v: Verdict) -> str:
    relu = f.speed[(f.speed["activation"] == "relu")]
    fast = "; ".join(f"at lr {d.lr:g} in a median {num(d.median_all, 4)} epochs ({d.n_reach:,} of {d.n:,} runs)"
                     for d in relu.itertuples(index=False))
    return f"ReLU runs that reach epoch error < 1e-3 get there {fast}. {v.text}"


STUDY = Study(name="relu-speed", title="Why is ReLU fast when it works?", select=select, finding=finding,
              verdict=verdict, section=section, answer=answer)
