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
from relustudy.studies import samples
from relustudy.stats.intervals import median_ci

MOSTLY_LINEAR = 0.5  # more than this share of solved runs one affine map on the data: "linear" explains the speed


@dataclass(frozen=True)
class SpeedFinding:
    speed: pd.DataFrame  # analysis.speed_comparison per lr (column lr), with p_holm over the whole table
    linear: pd.DataFrame | None  # analysis.linear_on_data_shares of relu by output (None without the column)
    # Epochs to the target per activation on its largest sample (issue 25.2), else as posted: activation,
    # sample, n, n_reach, median, low, high (order-statistic CI)
    largest: pd.DataFrame | None = None


def select(ctx: Context) -> dict:
    need(ctx.runs, POSTED, "the posted ReLU cell")
    lrs = sorted(float(x) for x in ctx.runs["lr"].unique())
    return {"runs": ctx.runs, "lrs": lrs,
            "twins": analysis.select(ctx.runs, {**{k: v for k, v in POSTED.items() if k != "output"}, "activation": "relu"}),
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
    try:
        linear = mechanisms.linear_on_data_shares(d["twins"], by=["output"])
    except ValueError:
        linear = None
    return SpeedFinding(speed, linear, _largest(d.get("largest", {})))


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
    big = ""
    if f.largest is not None and len(f.largest):
        big = ("\n\n**On the largest samples** (else as posted, lr 0.01; order-statistic 95% CI of the median): "
               + "; ".join(f"{d.activation} reaches epoch error < 1e-3 in {d.n_reach:,} of {d.n:,} runs (`{d.sample}`), "
                           f"median {num(d.median, 4)} epochs [{num(d.low, 4)}, {num(d.high, 4)}]"
                           for d in f.largest.itertuples(index=False)) + ".")
    solved = (int(f.linear.loc[f.linear["output"].astype(str) == "same", "n_solved"].sum())
              if f.linear is not None and "output" in f.linear.columns else 0)
    return f"""**Linear on the data?** (from the screen: the solved runs of its 1,000 posted-cell seeds, n = {solved:,}; the
compact confirmation tables do not record the activation pattern) {v.text} {lin}(`linear_on_data_final`: one activation pattern on all six inputs at the end.)
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
