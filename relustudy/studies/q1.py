"""Q1: why are tanh and sigmoid slow? The asker's setting with the output unit and the update switched."""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.stats import inputs
from relustudy.studies.common import BOOT_SEED, Q1_CELL, diff_ci, md_table, mse_at, num, paired, pct, pval, rate_of
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


def q1_mse(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The asker's tanh/sigmoid setting (and ReLU beside it): its runs and the bootstrap
    median/IQM of log10 final MSE per activation x update x output (``analysis.mse_summary``)."""
    sel = analysis.select(ctx.runs, {**Q1_CELL, "activation": ["tanh", "sigmoid", "relu"]})
    if sel.empty or not {"tanh", "sigmoid"} <= set(sel["activation"].astype(str)):
        raise Skip("the dataset has no tanh/sigmoid cells with randn init, sgd and lr 0.1")
    return sel, analysis.mse_summary(sel, by=["activation", "update", "output"], seed=BOOT_SEED, n_boot=2000)


def section_q1(ctx: Context) -> str:
    r = ctx.runs
    sel, summ = ctx.finding(q1_mse)
    rows = []
    for t in summ.itertuples(index=False):
        sub = analysis.select(sel, {"activation": t.activation, "update": t.update, "output": t.output})
        hit = sub["epochs_to_1e-3"].dropna().to_numpy(float)
        fr = rate_of(sub)
        rows.append(
            (
                t.activation,
                t.update,
                t.output,
                f"{len(sub):,}",
                f"{pct(1 - fr.rate)}",
                pct(sub["diverged"].mean()),
                f"{pct(hit.size / len(sub))}, median {num(np.median(hit), 4) if hit.size else 'n/a'}",
                f"{mse_at(t.median)} [{mse_at(t.median_low)}, {mse_at(t.median_high)}]",
                f"{mse_at(t.iqm)} [{mse_at(t.iqm_low)}, {mse_at(t.iqm_high)}]"
                + (f" ({t.n_dropped:,} diverged left out)" if t.n_dropped else ""),
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
                "solved",
                "diverged",
                "reach epoch error < 1e-3 (epochs)",
                "median final MSE of the finite runs [95% CI]",
                "IQM of log10 MSE of the finite runs, as MSE [95% CI]",
            ],
        )
    )
    # Which of the two levers matters: the output unit, or the posted update's quirks?
    tests = []
    for act in ("tanh", "sigmoid"):
        base = {**Q1_CELL, "activation": act, "update": "as_posted", "output": "same"}
        for label, change in (
            ("identity output", {"output": "identity"}),
            ("corrected update", {"update": "corrected"}),
        ):
            try:
                mc, wx = paired(r, base, {**base, **change}, f"{act}: {label}")
            except Skip:
                continue
            tests.append((act, label, mc, wx))
    if not tests:
        raise Skip("no as_posted/same baseline for tanh or sigmoid")
    # One Holm family per test kind over these comparisons (as in every other table).
    p_fail = stats.holm([t[2].pvalue for t in tests])
    p_mse = stats.holm([t[3].pvalue for t in tests])
    ttbl = md_table(
        pd.DataFrame(
            [
                (
                    a,
                    l,
                    f"{pct(mc.rate_a)} → {pct(mc.rate_b)}",
                    diff_ci(mc.diff, mc.diff_low, mc.diff_high),
                    pval(pf),
                    num(wx.median_diff, 2),
                    f"{wx.n_lower:,} / {wx.n_higher:,} ({wx.n_used:,})",
                    pval(pm),
                )
                for (a, l, mc, wx), pf, pm in zip(tests, p_fail, p_mse)
            ],
            columns=[
                "activation",
                "change from the posted code",
                "fail before → after",
                "Δ fail [95% CI]",
                "McNemar p (Holm)",
                "median Δlog10 MSE (paired)",
                "MSE: lower / higher after (pairs ranked)",
                "Wilcoxon p (Holm)",
            ],
        )
    )
    epochs = ", ".join(map(str, sorted(sel["epochs"].unique())))
    if ctx.curves is None:
        raise Skip("no learning curves in the dataset")
    posted_update = analysis.select(sel, {"update": "as_posted"})
    posted_update = posted_update.assign(
        result=np.where(analysis.is_failure(posted_update), "not solved", "solved")
    )
    bands = analysis.curve_bands(ctx.curves, posted_update, ["activation", "output", "result"])
    lrs = ", ".join(f"{x:g}" for x in sorted(sel["lr"].unique()))
    fig = ctx.fig(
        figures.learning_curves(
            bands,
            hue="activation",
            col="output",
            row="result",
            title=f"Learning curves, posted update (randn, sgd) at lr {lrs}: median and IQR, by final outcome",
        ),
        "learning_curves.png",
        "learning curves",
    )
    best = min(tests, key=lambda t: t[3].median_diff)
    relu_hit = analysis.select(sel, {"activation": "relu", "update": "as_posted", "output": "same"})["epochs_to_1e-3"].dropna()
    relu_ep = num(float(relu_hit.median()), 4) if len(relu_hit) else "n/a"
    return f"""## Q1. Why are tanh and sigmoid so slow?

The asker's setting for tanh/sigmoid (randn init, plain SGD, lr 0.1), {epochs} epochs, with the two things that
differ from a textbook network switched on and off: the output unit's activation and the posted update's quirks.

{tbl}

Paired by seed against the posted code (Holm over the {len(tests)} comparisons, per test; negative Δ = lower after the
change; MSE floored at {inputs.MSE_FLOOR:g}, diverged runs ranked worst, tied pairs excluded from the ranks):

{ttbl}

The largest single improvement is the {best[1]} for {best[0]} (median {num(best[3].median_diff, 2)} decades of MSE). With a tanh
output the targets of 1.0 are reached only as the pre-activation goes to infinity, and a sigmoid output never reaches
them; how much that slows the gradient is measured in the next section. ReLU runs that reach epoch error < 1e-3 get
there in a median of {relu_ep} epochs at this lr (table above).

{fig}
"""


def answer(ctx: Context) -> str:
    """Median final MSE of the asker's tanh/sigmoid cells with each lever switched (one paragraph)."""
    _, q1 = ctx.finding(q1_mse)
    med = {(d.activation, d.update, d.output): d.median for d in q1.itertuples(index=False)}
    keys = [(a, u, o) for u in ("as_posted", "corrected") for o in ("same", "identity") for a in ("tanh", "sigmoid")]
    if any(k not in med for k in keys):
        return "Not answerable on this dataset (it lacks tanh or sigmoid with both outputs and both updates)."

    def both(u, o):
        return f"{mse_at(med[('tanh', u, o)])} / {mse_at(med[('sigmoid', u, o)])}"

    ep = int(analysis.select(ctx.runs, {**Q1_CELL, "activation": "tanh"})["epochs"].max())
    return (f"After {ep:,} epochs at lr 0.1 the posted tanh / sigmoid networks reach a median MSE of "
            f"{both('as_posted', 'same')}; with a linear output unit {both('as_posted', 'identity')}, with the corrected "
            f"update {both('corrected', 'same')}, with both {both('corrected', 'identity')} (same seeds). The targets "
            "of 1.0 sit on tanh's asymptote and outside sigmoid's range; the claim-1 section measures what that does to "
            "the gradient.")


STUDY = text_study("q1", "Q1. Why are tanh and sigmoid so slow?", section_q1, answer)
