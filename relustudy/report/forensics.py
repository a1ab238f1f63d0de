"""Report section: how a run dies (issue 10, part 1), from the forensics tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import figures_forensics
from ..forensics import EARLY_EPOCHS, LATE_EPOCHS, death_summary
from .common import Context, Skip, ci, md_table, num, pct

POSTED = "as posted"


def forensics_tables(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (runs, traces) forensics tables, or Skip with the command that makes them."""
    tables = ctx.extras.get("forensics")
    if tables is None:
        raise Skip("no forensics data (data/forensics); run `python scripts/run_forensics.py`")
    return tables


def deaths(ctx: Context) -> pd.DataFrame:
    """The death summary per variant (a finding: computed once, formatted here and in the summary)."""
    runs, _ = forensics_tables(ctx)
    return death_summary(runs)


def _whose(column: str) -> str:
    """'killed_by layer 2' -> "layer 2's"; 'killed_by output layer' -> "the output layer's"."""
    name = column.split(" ", 1)[1]
    return f"the {name}'s" if name == "output layer" else f"{name}'s"


def section_forensics(ctx: Context) -> str:
    runs, traces = forensics_tables(ctx)
    summ = ctx.finding(deaths)
    killer_cols = [c for c in summ.columns if c.startswith("killed_by ") and not c.endswith(" ci")]
    table = pd.DataFrame({
        "variant": summ["variant"],
        "n": summ["n"],
        "born dead": [f"{k} ({pct(r)})" for k, r in zip(summ["born_dead"], summ["born_dead_rate"])],
        "died in training": [f"{k} ({pct(r)}, {ci(lo, hi)})" for k, r, lo, hi in
                             zip(summ["died_in_training"], summ["died_rate"], summ["died_ci_low"], summ["died_ci_high"])],
        "death epoch median [IQR]": [
            "–" if np.isnan(m) else f"{num(m, 4)} [{num(a, 4)}, {num(b, 4)}]"
            for m, a, b in zip(summ["epoch_median"], summ["epoch_q25"], summ["epoch_q75"])
        ],
        f"≤ {EARLY_EPOCHS} epochs": [pct(v) if v == v else "–" for v in summ["early"]],
        f"> {LATE_EPOCHS} epochs": [pct(v) if v == v else "–" for v in summ["late"]],
        **{f"killed by {_whose(c)} update": [
            "–" if v != v else f"{pct(v)} {ci(*lohi)}" for v, lohi in zip(summ[c], summ[c + " ci"])]
           for c in killer_cols},
        "revived / ever dead": [f"{r} / {e}" for r, e in zip(summ["revived"], summ["ever_dead"])],
        "dead at the end": summ["dead_at_end"],
    })
    posted = summ.set_index("variant").loc[POSTED] if POSTED in set(summ["variant"]) else None
    lines = ["## How a run dies\n",
             "Each run of the posted cell and its main variants was replayed update by update in the reference "
             "engine (the same bits as the dataset's runs), recomputing after every layer's update the output "
             "unit's margin, its largest pre-activation over the six inputs (dead iff ≤ 0). A death *in "
             "training* is the first update that takes a live margin to ≤ 0; *born dead* outputs were dead at "
             "init. The killer is the layer whose update crossed zero (the backward pass updates the output "
             "layer first). Revived: the margin came back above zero later (the posted `b -= lr * b` decays a "
             "dead unit's negative bias toward 0). CIs are Clopper-Pearson 95 %.\n",
             md_table(table), ""]
    if posted is not None and posted["died_in_training"] > 0:
        early, median = posted["early"], posted["epoch_median"]
        when = ("in the first epochs" if median <= EARLY_EPOCHS else
                "after a long healthy descent" if median > LATE_EPOCHS else "within the first few hundred epochs")
        top = max(killer_cols, key=lambda c: posted[c] if posted[c] == posted[c] else -1)
        lines.append(
            f"**Answer.** In the posted cell, {posted['died_in_training']} of {posted['n']} outputs die during "
            f"training ({pct(posted['died_rate'])}) on top of {posted['born_dead']} born dead. They die {when}: median "
            f"epoch {num(median, 4)}, {pct(early)} within {EARLY_EPOCHS} epochs, {pct(posted['late'])} after "
            f"{LATE_EPOCHS}. The update that kills is mostly {_whose(top)} ({pct(posted[top])}). "
            f"{posted['revived']} of the {posted['ever_dead']} outputs that were ever dead came back.\n")
    elif posted is not None:
        lines.append(f"**Answer.** No output of the posted cell died during training in these {posted['n']} runs; "
                     f"{posted['born_dead']} were born dead.\n")
    ax = figures_forensics.death_figure(runs, traces)
    lines.append(ctx.fig(ax, "forensics_deaths.png",
                         "Left: ECDF of the epoch at which the output dies, per variant. Right: output margin "
                         "against sample step for traced runs."))
    return "\n".join(lines) + "\n"
