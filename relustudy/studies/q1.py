"""Q1: why are tanh and sigmoid slow? The asker's setting with the output unit and the update switched."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.stats import inputs
from relustudy.stats import intervals
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import ALPHA, BOOT_SEED, Q1_CELL, diff_ci, md_table, mse_at, num, paired, pct, pval, rate_of
from relustudy.studies.common import Context, Skip
from relustudy.studies import samples

LEVERS = (("identity output", {"output": "identity"}), ("corrected update", {"update": "corrected"}))
LEVER_DECADES = 1.0  # a lever "matters" when it lowers the paired median log10 MSE by at least this many decades


@dataclass(frozen=True)
class Q1Finding:
    runs: pd.DataFrame  # the asker's setting (tanh, sigmoid and relu at lr 0.1)
    summary: pd.DataFrame  # analysis.mse_summary per activation x update x output (bootstrap median/IQM of log10 MSE)
    tests: pd.DataFrame  # activation, lever, mc, wx, p_fail_holm, p_mse_holm (Holm over these comparisons, per test)
    curves: pd.DataFrame | None  # curve bands of the posted update, by activation x output x result
    relu_hit: intervals.MedianResult  # epochs to 1e-3 of the posted ReLU runs that reach it (this lr)
    source: str = ""  # which sample the tanh/sigmoid statistics come from (samples.sample_text)


# The 8 tanh/sigmoid cells the statistics compare: read from their largest sample (confirm_q1's 100,000
# seeds when it is loaded, the screen's 1,000 otherwise; issue 25.2), all from one sample.
Q1_CHANGES = {f"{a}, {o} output, {u}": {"activation": a, "output": o, "update": u, "lr": Q1_CELL["lr"]}
              for a in ("tanh", "sigmoid") for o in ("same", "identity") for u in ("as_posted", "corrected")}


def select(ctx: Context):
    sel = analysis.select(ctx.runs, {**Q1_CELL, "activation": ["tanh", "sigmoid", "relu"]})
    if sel.empty or not {"tanh", "sigmoid"} <= set(sel["activation"].astype(str)):
        raise Skip("the dataset has no tanh/sigmoid cells with randn init, sgd and lr 0.1")
    if ctx.curves is None:
        raise Skip("no learning curves in the dataset")
    big, found = samples.largest_frame(ctx, Q1_CHANGES, common_seeds=True)
    one = len(found) == len(Q1_CHANGES) and len({s.name for s in found.values()}) == 1
    if not one or next(iter(found.values())).name == samples.SCREEN:
        big, found = None, {}
    return ctx.runs, sel, ctx.curves, big, found


def finding(data) -> Q1Finding:
    r, sel, curves, big, found = data
    source = ""
    if big is not None:  # the tanh/sigmoid statistics from the confirmation sample, ReLU's row from the screen
        relu = analysis.select(sel, {"activation": "relu"})
        cols = [c for c in big.columns if c in relu.columns]
        relu = relu[cols].astype({c: str for c in cols if isinstance(relu[c].dtype, pd.CategoricalDtype)})
        stats_runs = pd.concat([big[cols], relu], ignore_index=True)
        r = stats_runs
        source = samples.sample_text({"tanh and sigmoid": next(iter(found.values()))})
    else:
        stats_runs = sel
    summ = analysis.mse_summary(stats_runs, by=["activation", "update", "output"], seed=BOOT_SEED, n_boot=2000)
    tests = []
    for act in ("tanh", "sigmoid"):
        base = {**Q1_CELL, "activation": act, "update": "as_posted", "output": "same"}
        for label, change in LEVERS:
            try:
                mc, wx = paired(r, base, {**base, **change}, f"{act}: {label}")
            except Skip:
                continue
            tests.append(dict(activation=act, lever=label, mc=mc, wx=wx))
    if not tests:
        raise Skip("no as_posted/same baseline for tanh or sigmoid")
    tests = pd.DataFrame(tests)
    # One Holm family per test kind over these comparisons (as in every other table).
    tests["p_fail_holm"] = stats.holm([mc.pvalue for mc in tests["mc"]])
    tests["p_mse_holm"] = stats.holm([wx.pvalue for wx in tests["wx"]])
    posted_update = analysis.select(sel, {"update": "as_posted"})
    posted_update = posted_update.assign(result=np.where(analysis.is_failure(posted_update), "not solved", "solved"))
    bands = analysis.curve_bands(curves, posted_update, ["activation", "output", "result"])
    hit = analysis.select(sel, {"activation": "relu", "update": "as_posted", "output": "same"})["epochs_to_1e-3"].dropna()
    return Q1Finding(stats_runs, summ, tests, bands, intervals.median_ci(hit.to_numpy(float)), source)


def verdict(f: Q1Finding) -> Verdict:
    """Which lever speeds tanh/sigmoid up? Per lever, the paired median change in log10 final MSE
    of each activation (significant by Wilcoxon, Holm): it "matters" when it lowers MSE by at least
    :data:`LEVER_DECADES` decades for both activations. Key: the levers that matter joined by
    "+", or "neither"; "borderline" when a lever clears the bar for one activation only."""
    said, matters, partly = [], [], []
    for lever, g in f.tests.groupby("lever", sort=False):
        ok = [(d.wx.median_diff <= -LEVER_DECADES) and d.p_mse_holm < ALPHA for d in g.itertuples()]
        said.append(f"{lever}: " + ", ".join(f"{d.activation} {num(d.wx.median_diff, 2)} decades ({pval(d.p_mse_holm)}, "
                                            f"n = {d.wx.n:,})" for d in g.itertuples()))
        if all(ok) and len(ok) == 2:
            matters.append(lever)
        elif any(ok):
            partly.append(lever)
    nums = "; ".join(said)
    bar = f"the bar is a drop of {LEVER_DECADES:g} decade{'s' if LEVER_DECADES != 1 else ''}, Wilcoxon Holm p < {ALPHA}"
    if partly and not matters:
        return Verdict("borderline", f"Borderline: {' and '.join(partly)} lowers the median final MSE by enough for one "
                                     f"activation only, so it reads as a lever for that one or for neither ({nums}; {bar}).")
    if matters:
        return Verdict("+".join(matters), f"The {' and the '.join(matters)} lower{'s' if len(matters) == 1 else ''} "
                                          f"the median final MSE of both tanh and sigmoid by at least {LEVER_DECADES:g} "
                                          f"decade ({nums}; {bar}).")
    return Verdict("neither", f"Neither lever lowers the median final MSE by {LEVER_DECADES:g} decade for both ({nums}; {bar}).")


def figures_(f: Q1Finding):
    lrs = ", ".join(f"{x:g}" for x in sorted(f.runs["lr"].unique()))
    return [Figure("learning_curves.png", figures.learning_curves(
        f.curves, hue="activation", col="output", row="result",
        title=f"Learning curves, posted update (randn, sgd) at lr {lrs}: median and IQR, by final outcome"),
        "learning curves")]


def section(f: Q1Finding, v: Verdict, links) -> str:
    sel, rows = f.runs, []
    for t in f.summary.itertuples(index=False):
        sub = analysis.select(sel, {"activation": t.activation, "update": t.update, "output": t.output})
        hit = intervals.median_ci(sub["epochs_to_1e-3"].dropna().to_numpy(float))
        fr = rate_of(sub)
        rows.append((
            t.activation, t.update, t.output, f"{len(sub):,}", f"{pct(1 - fr.rate)}", pct(sub["diverged"].mean()),
            f"{pct(hit.n / len(sub))}, median {num(hit.median, 4)} [{num(hit.ci_low, 4)}, {num(hit.ci_high, 4)}]"
            if hit.n else f"{pct(0)}",
            f"{mse_at(t.median)} [{mse_at(t.median_low)}, {mse_at(t.median_high)}]",
            f"{mse_at(t.iqm)} [{mse_at(t.iqm_low)}, {mse_at(t.iqm_high)}]"
            + (f" ({t.n_dropped:,} diverged left out)" if t.n_dropped else ""),
        ))
    tbl = md_table(pd.DataFrame(rows, columns=[
        "activation", "update", "output", "runs", "solved", "diverged", "reach epoch error < 1e-3 (median epochs [95% CI])",
        "median final MSE of the finite runs [95% CI]", "IQM of log10 MSE of the finite runs, as MSE [95% CI]"]))
    ttbl = md_table(pd.DataFrame(
        [(d.activation, d.lever, f"{pct(d.mc.rate_a)} → {pct(d.mc.rate_b)}", diff_ci(d.mc.diff, d.mc.diff_low, d.mc.diff_high),
          pval(d.p_fail_holm), num(d.wx.median_diff, 2), f"{d.wx.n_lower:,} / {d.wx.n_higher:,} ({d.wx.n_used:,})",
          pval(d.p_mse_holm)) for d in f.tests.itertuples()],
        columns=["activation", "change from the posted code", "fail before → after", "Δ fail [95% CI]",
                 "McNemar p (Holm)", "median Δlog10 MSE (paired)", "MSE: lower / higher after (pairs ranked)",
                 "Wilcoxon p (Holm)"]))
    epochs = ", ".join(map(str, sorted(sel["epochs"].unique())))
    h = f.relu_hit
    relu = (f"ReLU runs that reach epoch error < 1e-3 get there in a median of {num(h.median, 4)} epochs "
            f"[{num(h.ci_low, 4)}, {num(h.ci_high, 4)}] (n = {h.n:,}) at this lr." if h.n else
            "No ReLU run reaches epoch error < 1e-3 at this lr.")
    n_screen = len(analysis.select(sel, {"activation": "relu", "update": "as_posted", "output": "same"}))
    sample = (f"Sample: {f.source} (the confirmation sample, paired by seed); ReLU's rows and the learning curves "
              f"are the screen's ({n_screen:,} seeds per cell)." if f.source else
              f"Sample: the screen, {n_screen:,} seeds per cell (`confirm_q1` would confirm it on "
              f"{samples.CONFIRMED_SEEDS:,}).")
    return f"""The asker's setting for tanh/sigmoid (randn init, plain SGD, lr 0.1), {epochs} epochs, with the two things that
differ from a textbook network switched on and off: the output unit's activation and the posted update's quirks.
Medians of epochs carry order-statistic 95% CIs. {sample}

{tbl}

Paired by seed against the posted code (Holm family: the {len(f.tests)} comparisons of this table, one family per
test; negative Δ = lower after the change; MSE floored at {inputs.MSE_FLOOR:g}, diverged runs ranked worst, tied pairs
excluded from the ranks):

{ttbl}

**{v.text}** With a tanh output the targets of 1.0 are reached only as the pre-activation goes to infinity, and a
sigmoid output never reaches them; how much that slows the gradient is measured in the next section. {relu}

{links["learning_curves.png"]}
"""


def answer(f: Q1Finding, v: Verdict) -> str:
    """Median final MSE of the asker's tanh/sigmoid cells with each lever switched (one paragraph)."""
    med = {(d.activation, d.update, d.output): d.median for d in f.summary.itertuples(index=False)}
    keys = [(a, u, o) for u in ("as_posted", "corrected") for o in ("same", "identity") for a in ("tanh", "sigmoid")]
    if any(k not in med for k in keys):
        return "Not answerable on this dataset (it lacks tanh or sigmoid with both outputs and both updates)."

    def both(u, o):
        return f"{mse_at(med[('tanh', u, o)])} / {mse_at(med[('sigmoid', u, o)])}"

    ep = int(analysis.select(f.runs, {"activation": "tanh"})["epochs"].max())
    n = int(analysis.select(f.runs, {"activation": "tanh", "update": "as_posted", "output": "same"})["seed"].nunique())
    return (f"After {ep:,} epochs at lr 0.1 the posted tanh / sigmoid networks reach a median MSE of "
            f"{both('as_posted', 'same')}; with a linear output unit {both('as_posted', 'identity')}, with the corrected "
            f"update {both('corrected', 'same')}, with both {both('corrected', 'identity')} (the same {n:,} seeds per "
            f"cell). {v.text} The claim-1 section measures what the saturating output does to the gradient.")


STUDY = Study(name="q1", title="Q1. Why are tanh and sigmoid so slow?", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section, answer=answer)  # not stored: it holds the runs table (~235 MB pickled)
