"""How a run dies: when the output unit goes dead, by whose update, and whether it comes back.

When: at scale from the engine's death-timing columns of ``data/million`` (checked at each
epoch's end, over 10^5+ runs at risk) where that table has them; by whose update and the
per-update detail: from the forensics replay (``data/forensics``, ``scripts/run_forensics.py``,
1,000 seeds per variant, checked after every layer's update)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.figures import forensics as figures_forensics
from relustudy.stats import intervals
from relustudy.analysis import vocabulary as vocab
from relustudy.experiments.forensics import AT_INIT, EARLY_EPOCHS, LATE_EPOCHS, death_summary
from relustudy.studies.common import ci, md_table, num, pct, side, versus
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import POSTED as POSTED_CELL
from relustudy.analysis import cells as analysis

POSTED = "as posted"  # the forensics variant of the posted cell
TRACED = POSTED  # the variant whose margin traces the figure draws


@dataclass(frozen=True)
class DeathsFinding:
    summary: pd.DataFrame  # forensics.death_summary, one row per variant
    hazard: dict  # variant -> vocab.Rate: deaths in training over the outputs alive at init
    median: dict  # variant -> stats.MedianResult of the death epoch (deaths in training)
    runs: pd.DataFrame  # the forensics runs table (for the figure)
    traces: pd.DataFrame
    scale: tuple | None = None  # (vocab.Rate, stats.MedianResult): the posted cell in data/million, or None


def _at_scale(ctx: Context):
    """The posted cell's deaths in training over its runs alive at init and its median first-death
    epoch, from data/million's engine columns (None without them)."""
    if "million" not in ctx.experiments:
        return None

    sub = analysis.select(ctx.experiments["million"][0], POSTED_CELL)
    if sub.empty or "output_death_epoch" not in sub.columns:
        return None
    died = vocab.output_died_in_training(sub, ever=True)
    hazard = vocab.hazard(died, ~vocab.output_born_dead(sub), "outputs alive at init")
    return hazard, intervals.median_ci(sub["output_death_epoch"].to_numpy()[np.asarray(died, bool)].astype(float))


def select(ctx: Context):
    tables = ctx.extras.get("forensics")
    if tables is None:
        raise Skip("no forensics data (data/forensics); run `python scripts/run_forensics.py`", experiment="forensics")
    return tables, _at_scale(ctx)


def finding(data) -> DeathsFinding:
    (runs, traces), scale = data
    hazard, median = {}, {}
    for variant, g in runs.groupby("variant", observed=True, sort=False):
        ep = g["output_death_epoch"].to_numpy()
        hazard[variant] = vocab.hazard(ep > AT_INIT, ep != AT_INIT, "outputs alive at init")
        median[variant] = intervals.median_ci(ep[ep > AT_INIT].astype(float))
    return DeathsFinding(death_summary(runs), hazard, median, runs, traces, scale)


def verdict(f: DeathsFinding) -> Verdict:
    """When outputs die in the posted cell (at scale from data/million where it has the engine's
    death timing, else from the replay), by the median death epoch's 95% CI: "early" when it lies
    below :data:`EARLY_EPOCHS`, "late" when above :data:`LATE_EPOCHS`, "borderline" when it
    reaches either threshold (both readings named), else "spread". The text gives the median's
    distance to the threshold."""
    if POSTED not in f.median:
        raise Skip(f"the forensics table lacks the {POSTED!r} variant")
    h, m = f.scale if f.scale is not None else (f.hazard[POSTED], f.median[POSTED])
    where = ("in data/million, checked at each epoch's end" if f.scale is not None
             else "in the replay, checked after every update")
    if m.n == 0:
        return Verdict("none", f"No output of the posted cell dies during training ({h}; {where}).")
    said = (f"{h.k:,} of the {h.n:,} outputs alive at init die during training ({pct(h.rate)}, {where}), at a median "
            f"epoch of {num(m.median, 3)} (95% CI [{num(m.ci_low, 3)}, {num(m.ci_high, 3)}], n = {m.n:,})")
    early, late = side(m.ci_low, m.ci_high, EARLY_EPOCHS), side(m.ci_low, m.ci_high, LATE_EPOCHS)
    dist = versus(m.median, EARLY_EPOCHS, fmt=lambda x: f"{x:g}")
    if early == "below":
        return Verdict("early", f"Deaths in training come early: {said}, within the first {EARLY_EPOCHS} epochs "
                                f"(median {dist}).")
    if late == "above":
        return Verdict("late", f"Deaths in training come late, after a long descent: {said} (beyond {LATE_EPOCHS}).")
    if early == "borderline":
        return Verdict("borderline", f"Borderline between early and spread-out deaths: {said}; the CI reaches the "
                                     f"threshold of {EARLY_EPOCHS} epochs (median {dist}), so it reads as deaths within "
                                     f"the first {EARLY_EPOCHS} epochs or as deaths spread beyond them.")
    if late == "borderline":
        return Verdict("borderline", f"Borderline between spread-out and late deaths: {said}; the CI reaches the "
                                     f"threshold of {LATE_EPOCHS} epochs, so it reads either way.")
    return Verdict("spread", f"Deaths in training are spread out: {said} (median {dist}).")


def _whose(column: str) -> str:
    """'killed_by layer 2' -> "layer 2's"; 'killed_by output layer' -> "the output layer's"."""
    name = column.split(" ", 1)[1]
    return f"the {name}'s" if name == "output layer" else f"{name}'s"


def figures_(f: DeathsFinding):
    ns = {v: h.k for v, h in f.hazard.items()}
    ax = figures_forensics.death_figure(f.runs, f.traces, variant=TRACED, counts=ns)
    return [Figure("forensics_deaths.png", ax, "Left: ECDF of the epoch at which the output dies, per variant (n deaths "
                                               "in the legend). Right: output margin against sample step for traced runs.")]


def section(f: DeathsFinding, v: Verdict, links) -> str:
    s = f.summary
    killer = [c for c in s.columns if c.startswith("killed_by ") and not c.endswith(" ci")]
    table = pd.DataFrame({
        "variant": s["variant"],
        "n": s["n"],
        "born dead": [f"{k} ({pct(r)})" for k, r in zip(s["born_dead"], s["born_dead_rate"])],
        "died in training / alive at init [95% CI]": [
            f"{f.hazard[x].k} / {f.hazard[x].n} ({pct(f.hazard[x].rate)}, {ci(f.hazard[x].ci_low, f.hazard[x].ci_high)})"
            for x in s["variant"]],
        "death epoch median [95% CI]": [
            "–" if f.median[x].n == 0 else
            f"{num(f.median[x].median, 4)} [{num(f.median[x].ci_low, 4)}, {num(f.median[x].ci_high, 4)}]"
            for x in s["variant"]],
        f"≤ {EARLY_EPOCHS} epochs": [pct(x) if x == x else "–" for x in s["early"]],
        f"> {LATE_EPOCHS} epochs": [pct(x) if x == x else "–" for x in s["late"]],
        **{f"killed by {_whose(c)} update": ["–" if x != x else f"{pct(x)} {ci(*lohi)}" for x, lohi in
                                             zip(s[c], s[c + " ci"])] for c in killer},
        "revived / ever dead": [f"{r} / {e}" for r, e in zip(s["revived"], s["ever_dead"])],
        "dead at the end": s["dead_at_end"],
    })
    posted = s.set_index("variant").loc[POSTED]
    top = max(killer, key=lambda c: posted[c] if posted[c] == posted[c] else -1)
    kill = (f"In the posted cell the update that takes the margin across zero is mostly {_whose(top)} "
            f"({pct(posted[top])} of {f.hazard[POSTED].k} deaths). That attribution depends on the order in which the "
            "code applies the updates within one sample step (the posted backward pass updates the output layer first, "
            "then the layers below, each with the weights already changed above it): another order would split the "
            "same deaths differently. ") if posted["died_in_training"] > 0 else ""
    scale = ""
    if f.scale is not None:
        h, m = f.scale
        scale = (f"**At scale.** The engine records, at each epoch's end, the first epoch at which the output is dead on "
                 f"all six inputs (`output_death_epoch`). Over the posted cell's runs in data/million: {h}; their first "
                 f"death at a median epoch of {num(m.median, 3)} (95% CI [{num(m.ci_low, 3)}, {num(m.ci_high, 3)}], "
                 f"n = {m.n:,}). The million section gives the other cells. The replay below checks after every "
                 f"update instead of every epoch, so its epochs count from the update that kills, on 1,000 seeds.\n\n")
    return scale + f"""Each run of the posted cell and its main variants was replayed update by update in the reference engine (the same
bits as the dataset's runs), recomputing after every layer's update the output unit's margin, its largest
pre-activation over the six inputs (dead iff ≤ 0). A death *in training* is the first update that takes a live margin
to ≤ 0; its rate is over the outputs alive at init (the runs at risk). Revived: the margin came back above zero later
(the posted `b -= lr * b` decays a dead unit's negative bias toward 0). CIs are exact 95%; the median's is the
order-statistic interval.

{md_table(table)}

**Answer.** {v.text} {kill}In the replay of {int(posted["n"]):,} seeds, {posted["revived"]} of the {posted["ever_dead"]} outputs of the posted
cell that were ever dead came back. The figure's traces are of the posted cell ({TRACED}), the seeds the replay kept.

{links["forensics_deaths.png"]}
"""


def answer(f: DeathsFinding, v: Verdict) -> str:
    p = f.summary.set_index("variant").loc[POSTED]
    return (f"{v.text} In the replay of {int(p['n']):,} seeds, {p['revived']} of the {p['ever_dead']} dead outputs come "
            f"back under the posted bias decay.")


STUDY = Study(name="how-runs-die", title="How a run dies", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section, answer=answer)
