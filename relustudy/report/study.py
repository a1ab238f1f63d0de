"""Sections on the default grid: Q2, Q1, the posted answer's claims, quirks, inits, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import figures, stats, summaries, theory
from ..outcomes import OUTCOMES
from ..problem import MSE_MEAN_OUTPUT, MSE_ZERO_OUTPUT
from .common import (
    ALPHA,
    BOOT_SEED,
    POSTED,
    Q1_CELL,
    THEORY_DRAWS,
    THEORY_SEED,
    THRESHOLDS,
    Context,
    Skip,
    _family_table,
    _stratified,
    ci,
    md_table,
    need,
    num,
    paired,
    pct,
    pval,
    rate_of,
    verdict,
)


def section_dataset(ctx: Context) -> str:
    r = ctx.runs
    factors = ["activation", "output", "init", "update", "optimizer", "lr", "epochs", "hidden"]
    levels = ", ".join(f"`{f}` ∈ {{{', '.join(map(str, pd.unique(r[f].astype(str))))}}}" for f in factors)
    n_cells = r["cell_id"].nunique()
    seeds = r["seed"]
    counts = r["outcome"].astype(str).value_counts()
    comp = ", ".join(f"{o} {counts.get(o, 0):,}" for o in OUTCOMES)
    return (
        "## The dataset\n\n"
        f"{len(r):,} training runs in {n_cells} cells (one cell = one combination of factors), "
        f"seeds {seeds.min()}–{seeds.max()} in every cell. Factors: {levels}. "
        f"Outcomes over all runs: {comp}.\n"
    )


def section_q2(ctx: Context) -> str:
    r = ctx.runs
    post = need(r, POSTED, "the posted ReLU cell")
    fr = rate_of(post)
    shares = post["outcome"].astype(str).value_counts(normalize=True)
    fail = stats.is_failure(post)
    dead_final = post["output_dead_final"].to_numpy(bool)
    zero_loss = np.isclose(post["final_mse"].to_numpy(float), MSE_ZERO_OUTPUT, rtol=1e-9)
    dead = stats.dead_init_association(post)
    # Why ReLU is fast when it works: epochs to reach epoch error < 1e-3, solved runs only.
    speed = []
    for act in ("relu", "leaky_relu", "tanh", "sigmoid"):
        sub = summaries.select(r, {**POSTED, "activation": act})
        hit = sub["epochs_to_1e-3"].dropna().to_numpy(float)
        speed.append((act, len(sub), hit.size, np.median(hit) if hit.size else np.nan))
    speed_tbl = md_table(
        pd.DataFrame(
            [(a, n, f"{h:,} ({pct(h / n if n else np.nan)})", num(m, 4)) for a, n, h, m in speed],
            columns=["activation (else as posted)", "runs", "reach epoch error < 1e-3", "median epochs to get there"],
        )
    )
    comp = summaries.outcome_shares(
        summaries.select(r, {k: v for k, v in POSTED.items() if k not in ("activation", "init")}),
        ["activation", "init"],
    )
    comp["label"] = comp["activation"] + " / " + comp["init"]
    fig = ctx.fig(
        figures.outcome_composition(
            comp.assign(panel="same output, as_posted update, sgd, lr 0.01"),
            x="label",
            col="panel",
            title="Outcome of every run, by activation and init",
            label_panels=False,
        ),
        "outcomes_posted.png",
        "outcome composition",
    )
    # A dead output has zero gradient, but the posted bias rule is not a gradient: it shrinks every bias
    # towards 0, which can carry the output unit back into its active region.
    revived = {}
    for upd in ("as_posted", "corrected"):
        cell = summaries.select(r, {**POSTED, "update": upd})
        d0 = cell[cell["output_dead_init"].to_numpy(bool)]
        revived[upd] = (1 - stats.is_failure(d0).mean()) if len(d0) else np.nan
    by_dead = post.assign(
        dead_at_init=np.where(post["output_dead_init"].to_numpy(bool), "output dead at init", "output alive at init")
    )
    dshares = summaries.outcome_shares(by_dead, ["dead_at_init"]).assign(panel="posted ReLU cell")
    fig2 = ctx.fig(
        figures.dead_at_init_vs_outcome(
            dshares, x="dead_at_init", col="panel", title="Dead output unit at init vs outcome"
        ),
        "dead_at_init_vs_outcome.png",
        "dead at init vs outcome",
    )
    return f"""## Q2. Why does ReLU sometimes never learn, and why is it fast when it works?

**The posted program fails in {pct(fr.rate)} of seeds** ({fr.k:,} of {fr.n:,}, 95% CI {ci(fr.ci_low, fr.ci_high)}).
Outcomes in that cell: {", ".join(f"{o} {pct(shares.get(o, 0.0))}" for o in OUTCOMES)}.

**The failures are dead units, not a slow descent.** {pct(dead_final[fail].mean() if fail.any() else np.nan)} of the
failing runs end with the output unit's pre-activation <= 0 on all six inputs. A dead ReLU output
emits 0 for every input, so its loss is mean(Y²) = {MSE_ZERO_OUTPUT:.5f}
({pct(zero_loss[fail].mean() if fail.any() else np.nan)} of failing runs end at exactly that loss), and every
gradient in the network is exactly zero: nothing that follows the gradient can move it.

**Initialization decides it.** {pct(dead.n_dead / dead.n)} of the runs start with the output unit already dead
({dead.n_dead:,} of {dead.n:,}). P(fail | output dead at init) = {pct(dead.p_fail_dead)}
{ci(*dead.p_fail_dead_ci)}; P(fail | alive at init) = {pct(dead.p_fail_alive)} {ci(*dead.p_fail_alive_ci)};
odds ratio {num(dead.odds_ratio)} (95% CI {num(dead.odds_ratio_ci[0])}–{num(dead.odds_ratio_ci[1])}{", Haldane-corrected" if dead.haldane else ""}),
Fisher {pval(dead.fisher_pvalue)}. As a predictor of failure, "output dead at init" has AUROC {num(dead.auroc_dead)};
the fraction of dead hidden units at init has AUROC {num(dead.auroc_dead_frac)}.

{fig2}

**Why some runs dead at init still learn.** A dead output unit gets no gradient, yet {pct(revived["as_posted"])} of the
posted cell's runs that start dead end solved. The posted bias rule `b -= lr * b` is not a gradient step: it shrinks
every bias towards 0 whatever the error, which can move the output unit's pre-activation back above 0. With the
corrected update (biases follow the gradient, which is zero), only {pct(revived["corrected"])} of the runs that start
dead end solved.

**Why it is fast when it works.** The target y = x₁ + x₂ is linear, and a ReLU network whose units are
active on the data is exactly linear there, so it can fit the six pairs exactly and its gradients do not
shrink as it approaches the fit; tanh and sigmoid must bend a saturating curve, and (with the output
activation `same`) the targets of 1.0 sit on tanh's asymptote and beyond sigmoid's range. Measured:

{speed_tbl}

{fig}
"""


def section_theory(ctx: Context) -> str:
    r = ctx.runs
    relu = need(r, {"activation": "relu", "hidden": "4-4"}, "ReLU 4-4 cells")
    tbl = theory.output_dead_vs_theory(relu, rng=np.random.default_rng(THEORY_SEED), n_draws=THEORY_DRAWS)
    rows = [
        (
            t.init,
            f"{t.n_seeds:,}",
            f"{pct(t.rate, 2)} {ci(t.ci_low, t.ci_high, 2)}",
            f"{pct(t.p_theory, 2)} {ci(t.p_theory_low, t.p_theory_high, 2)}",
            pval(t.pvalue),
            pct(t.p_first_layer_unit, 2),
        )
        for t in tbl.itertuples(index=False)
    ]
    table = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "init",
                "seeds",
                "measured: output dead at init [95% CI]",
                "theory, Monte Carlo [95% CI]",
                "binomial test",
                "theory: one first-layer unit dead (exact)",
            ],
        )
    )
    return f"""## Theory check: how often is the output unit dead at init?

From the init distributions alone ({THEORY_DRAWS:,} Monte Carlo draws of the 2-4-4-1 weights per scheme, no
training), the probability that the output unit's pre-activation is <= 0 on all six training inputs, against the
rate measured at init in the dataset (each seed counted once):

{table}

Under every scheme, {pct(tbl["p_theory"].min())}–{pct(tbl["p_theory"].max())} of randomly initialised 2-4-4-1 ReLU nets
start with a dead output unit: He or Xavier scaling changes the weights' scale, not the signs that decide whether a
unit is dead, and with zero biases a dead last hidden layer leaves the output pre-activation at exactly 0, which
counts as dead too. The measured rates agree with the theory (smallest binomial p-value {pval(tbl["pvalue"].min())}).
"""


def section_local_minimum(ctx: Context) -> str:
    r = ctx.runs
    relu_fail = need(r, {"activation": "relu", "output": "same"}, "ReLU cells with a ReLU output")
    fail = stats.is_failure(relu_fail)
    sub = relu_fail[fail]
    if sub.empty:
        raise Skip("no failing ReLU runs")
    shares = sub["outcome"].astype(str).value_counts(normalize=True)
    zero = np.isclose(sub["final_mse"].to_numpy(float), MSE_ZERO_OUTPUT, rtol=1e-9).mean()
    stuck_init = (sub["output_dead_init"].to_numpy(bool) & sub["output_dead_final"].to_numpy(bool)).mean()
    slow = sub[sub["outcome"].astype(str) == "slow"]["final_mse"].to_numpy(float)
    flat = shares.get("dead_output", 0.0) + shares.get("collapsed", 0.0)
    lm_verdict = (
        f"not supported as stated: {pct(flat)} of the failures sit on a zero-gradient plateau (dead or collapsed "
        "output), not in a local minimum"
        if flat > 0.5
        else f"partly supported: only {pct(flat)} of the failures are dead or collapsed; the rest are still descending"
    )
    return f"""## Claim 2 of the posted answer: "the weights reached a local minimum"

Of the {len(sub):,} failing runs with a ReLU output (all ReLU cells), {pct(shares.get("dead_output", 0.0))} end with a dead
output unit, {pct(shares.get("collapsed", 0.0))} collapsed to a constant output, {pct(shares.get("slow", 0.0))} are still
descending ("slow", median final MSE {num(np.median(slow) if slow.size else np.nan)}), {pct(shares.get("diverged", 0.0))} diverged.
{pct(zero)} end at exactly the zero-output loss mean(Y²) = {MSE_ZERO_OUTPUT:.5f}, and {pct(stuck_init)} had the output unit dead
at init and still dead at the end. A dead ReLU output is not a local minimum in the usual sense: the loss there is
the worst constant predictor's ({MSE_ZERO_OUTPUT:.4f} vs {MSE_MEAN_OUTPUT:.4f} for predicting the mean), and the
gradient is exactly zero on a whole flat region of weight space, so gradient descent has nothing to follow.
**Verdict: {lm_verdict}.**
"""


def section_momentum(ctx: Context) -> str:
    mc, wx = paired(ctx.runs, POSTED, {**POSTED, "optimizer": "momentum"}, "momentum on the posted cell")
    fam = _stratified(
        ctx, "optimizer", "sgd", "momentum", {"activation": ["relu", "leaky_relu"]}, "momentum (ReLU family)"
    )
    fam = fam.sort_values(["p_fail_holm", "activation", "output", "init", "update", "lr"], kind="stable")
    n_sig_better = int(((fam["p_fail_holm"] < ALPHA) & (fam["rate_diff"] < 0)).sum())
    n_sig_worse = int(((fam["p_fail_holm"] < ALPHA) & (fam["rate_diff"] > 0)).sum())
    rescue = mc.n10 / max(1, mc.n10 + mc.n11)
    v = verdict(
        mc.pvalue,
        mc.rate_b - mc.rate_a,
        "momentum lowers the failure rate of the posted cell significantly, but it cannot revive a dead unit",
        "momentum makes the posted cell fail more often",
        "momentum does not change the failure rate of the posted cell significantly",
    )
    table = _family_table(fam.head(12), ["activation", "output", "init", "update", "lr"])
    return f"""## Claim 3 of the posted answer: "SGD with momentum avoids the local minimum"

Paired by seed on the posted cell (A = plain SGD, B = momentum 0.9, everything else as posted, {mc.n:,} seeds):
failure {pct(mc.rate_a)} → {pct(mc.rate_b)}; momentum rescues {mc.n10:,} of the {mc.n10 + mc.n11:,} seeds that fail under
SGD ({pct(rescue)}) and breaks {mc.n01:,} that SGD solves; exact McNemar {pval(mc.pvalue)}. On log10 final MSE,
Wilcoxon signed-rank {pval(wx.pvalue)} (median paired difference {num(wx.median_diff, 2)} decades, {wx.n:,} pairs).
**Verdict: {v}.** A run whose output unit is dead has zero gradient, so its momentum buffer stays zero too.

Across all {len(fam)} ReLU-family strata (every combination of the other factors; Holm-corrected within this family),
momentum lowers the failure rate significantly in {n_sig_better} and raises it in {n_sig_worse}. The twelve
strata with the smallest adjusted p-values:

{table}
"""


def section_quirks(ctx: Context) -> str:
    mc, wx = paired(ctx.runs, POSTED, {**POSTED, "update": "corrected"}, "the corrected update on the posted cell")
    dead_a = summaries.select(ctx.runs, POSTED)["output_dead_final"].mean()
    dead_b = summaries.select(ctx.runs, {**POSTED, "update": "corrected"})["output_dead_final"].mean()
    fam = _stratified(ctx, "update", "as_posted", "corrected", {"hidden": "4-4"}, "as_posted vs corrected")
    by_act = []
    for act, g in fam.groupby("activation", observed=True):
        by_act.append(
            (
                act,
                len(g),
                int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] < 0)).sum()),
                int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] > 0)).sum()),
                pct(g["rate_a"].mean()),
                pct(g["rate_b"].mean()),
            )
        )
    tbl = md_table(
        pd.DataFrame(
            by_act,
            columns=[
                "activation",
                "strata",
                "corrected fails less (Holm p<0.05)",
                "corrected fails more",
                "mean fail, as posted",
                "mean fail, corrected",
            ],
        )
    )
    return f"""## What the posted code's two quirks do

The posted `Dense.backward` decays the biases (`b -= lr * b`, so they never see the error) and updates the
weights before computing the gradient it passes down. Fixing both (`corrected`) on the posted cell, paired by seed:
failure {pct(mc.rate_a)} → {pct(mc.rate_b)} (rescued {mc.n10:,}, broken {mc.n01:,}, McNemar {pval(mc.pvalue)}); Wilcoxon on log10
final MSE {pval(wx.pvalue)}, median paired difference {num(wx.median_diff, 2)} decades. Over all strata, per activation:

{tbl}

In the posted cell, the share of runs ending with a dead output unit is {pct(dead_a)} as posted and {pct(dead_b)}
corrected. With `as_posted` the biases only decay towards 0 and never follow the error; with the corrected rule
they follow it, which can also push an output unit into its dead region during training.
"""


def section_inits(ctx: Context) -> str:
    rows = []
    for alt in ("he", "xavier"):
        try:
            mc, wx = paired(ctx.runs, POSTED, {**POSTED, "init": alt}, f"{alt} init on the posted cell")
        except Skip:
            continue
        rows.append(
            (
                alt,
                f"{mc.n:,}",
                pct(mc.rate_a),
                pct(mc.rate_b),
                f"{mc.n10:,} / {mc.n01:,}",
                pval(mc.pvalue),
                pval(wx.pvalue),
            )
        )
    if not rows:
        raise Skip("the dataset has neither he nor xavier init on the posted cell")
    tbl = md_table(
        pd.DataFrame(
            rows, columns=["init (B)", "seeds", "fail randn", "fail B", "rescued / broken", "McNemar p", "Wilcoxon p"]
        )
    )
    return f"""## He and Xavier init on the posted cell

Same seeds, same underlying normal draws, transformed by the scheme (paired design):

{tbl}
"""


def section_q1(ctx: Context) -> str:
    r = ctx.runs
    sel = summaries.select(r, {**Q1_CELL, "activation": ["tanh", "sigmoid", "relu"]})
    if sel.empty or not {"tanh", "sigmoid"} <= set(sel["activation"].astype(str)):
        raise Skip("the dataset has no tanh/sigmoid cells with randn init, sgd and lr 0.1")
    summ = stats.mse_summary(sel, by=["activation", "update", "output"], seed=BOOT_SEED, n_boot=2000)
    rows = []
    for t in summ.itertuples(index=False):
        sub = summaries.select(sel, {"activation": t.activation, "update": t.update, "output": t.output})
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
                f"{num(10**t.median)} [{num(10**t.median_low)}, {num(10**t.median_high)}]",
                f"{num(10**t.iqm)} [{num(10**t.iqm_low)}, {num(10**t.iqm_high)}]",
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
                "median final MSE of finite runs [95% CI]",
                "IQM of log10 MSE, as MSE [95% CI]",
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
            tests.append((act, label, wx.median_diff, wx.pvalue, mc.rate_a, mc.rate_b, mc.pvalue))
    if not tests:
        raise Skip("no as_posted/same baseline for tanh or sigmoid")
    padj = stats.holm([t[3] for t in tests])
    ttbl = md_table(
        pd.DataFrame(
            [
                (a, l, num(d, 2), pval(p), pct(1 - ra), pct(1 - rb), pval(pm))
                for (a, l, d, _, ra, rb, pm), p in zip(tests, padj)
            ],
            columns=[
                "activation",
                "change from the posted code",
                "median Δlog10 MSE (paired)",
                "Wilcoxon p (Holm)",
                "solved before",
                "solved after",
                "McNemar p",
            ],
        )
    )
    epochs = ", ".join(map(str, sorted(sel["epochs"].unique())))
    if ctx.curves is None:
        raise Skip("no learning curves in the dataset")
    bands = summaries.curve_bands(ctx.curves, summaries.select(sel, {"update": "as_posted"}), ["activation", "output"])
    fig = ctx.fig(
        figures.learning_curves(
            bands,
            hue="activation",
            col="output",
            title="Learning curves as posted (randn, sgd, lr 0.1): median and IQR",
        ),
        "learning_curves.png",
        "learning curves",
    )
    best = min(tests, key=lambda t: t[2])
    return f"""## Q1. Why are tanh and sigmoid so slow?

The asker's setting for tanh/sigmoid (randn init, plain SGD, lr 0.1), {epochs} epochs, with the two things that
differ from a textbook network switched on and off: the output unit's activation and the posted update's quirks.

{tbl}

Paired by seed against the posted code (Holm over the {len(tests)} comparisons; negative Δ = lower MSE after the change):

{ttbl}

The largest single improvement is the {best[1]} for {best[0]} (median {num(best[2], 2)} decades of MSE). With a tanh
output the targets of 1.0 are reached only as the pre-activation goes to infinity, and a sigmoid output never reaches
them; the last part of the descent runs through an ever smaller output derivative. When the units work, ReLU reaches
epoch error < 1e-3 within a few hundred epochs (table above), because a ReLU net is linear on the data.

{fig}
"""


def section_vanishing(ctx: Context) -> str:
    r = ctx.runs
    rows = []
    for act in ("tanh", "sigmoid"):
        for out in ("same", "identity"):
            sub = summaries.select(r, {**Q1_CELL, "activation": act, "output": out, "update": "as_posted"})
            if sub.empty:
                continue
            p = sub["pred_test"].to_numpy(float)
            rows.append(
                (
                    act,
                    out,
                    num(np.median(p), 4),
                    num(np.median(np.abs(p - 0.6)), 3),
                    num(np.median(sub["last_epoch_error"].to_numpy(float)), 3),
                )
            )
    if not rows:
        raise Skip("no tanh/sigmoid cells with randn init, sgd, lr 0.1 and the posted update")
    tbl = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "activation",
                "output",
                "median prediction at (0.1, 0.5)",
                "median |error| (truth 0.6)",
                "median last-epoch error",
            ],
        )
    )
    fam = _stratified(ctx, "output", "same", "identity", {"activation": ["tanh", "sigmoid"]}, "output same vs identity")
    better = (fam["p_mse_holm"] < ALPHA) & (fam["median_log10_diff"] < 0)
    share = better.mean()
    v = (
        "partly right: the gradient does vanish, but at the output unit, because the targets of 1.0 lie on tanh's "
        "asymptote and outside sigmoid's open range; a linear output unit removes most of the slowness"
        if share > 0.5
        else "not confirmed: a linear output unit does not remove the slowness in most strata"
    )
    return f"""## Claim 1 of the posted answer: "the loss does not reach exactly zero because of vanishing gradients"

{tbl}

Replacing only the output unit's activation by the identity (same hidden layers, same seeds) lowers final MSE
significantly (Wilcoxon, Holm) in {int(better.sum())} of {len(fam)} tanh/sigmoid strata ({pct(share)}).
**Verdict: {v}.**
"""


def section_ecdf(ctx: Context) -> str:
    sub = need(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("activation", "output")}, "the posted factors")
    fig = ctx.fig(
        figures.ecdf_final_mse(sub, hue="activation", col="output"), "ecdf_final_mse.png", "ECDF of final MSE"
    )
    relu = summaries.select(sub, {"activation": "relu", "output": "same"})["final_mse"].to_numpy(float)
    if relu.size == 0:
        raise Skip("no ReLU runs with the posted output")
    relu_low = (relu < 1e-3).mean()
    relu_zero = np.isclose(relu, MSE_ZERO_OUTPUT, rtol=1e-9).mean()
    relu_mid = 1 - relu_low - relu_zero
    return f"""## Final MSE per activation

Runs with every other factor as posted (randn, as_posted, sgd, lr 0.01), by output activation. With the posted
ReLU output, {pct(relu_low)} of ReLU runs end below MSE 1e-3 and {pct(relu_zero)} at exactly the zero-output loss
{MSE_ZERO_OUTPUT:.4f}, with almost nothing in between ({pct(relu_mid)}); tanh and sigmoid runs end in between.

{fig}
"""


def section_failure_rates(ctx: Context) -> str:
    fr = stats.failure_rates(ctx.runs)
    if fr.empty:
        raise Skip("no runs")
    fr = fr.assign(
        **{c: fr[c].astype(str) for c in ("activation", "output", "init", "update", "optimizer")},
        cell=lambda d: d["activation"] + " / " + d["init"],
        variant=lambda d: d["optimizer"] + ", lr " + d["lr"].astype(str),
    )
    fig = ctx.fig(
        figures.failure_rate_dots(
            fr,
            y="cell",
            hue="variant",
            col="output",
            row="update",
            title="Failure rate per cell (95% Clopper-Pearson CI)",
        ),
        "failure_rates.png",
        "failure rate per cell",
    )
    worst = fr.sort_values("rate", ascending=False).head(5)
    best = fr.sort_values("rate").head(5)

    def line(d):
        return f"{d.activation}/{d.output}/{d.init}/{d.update}/{d.optimizer}/lr {d.lr}: {pct(d.rate)} {ci(d.ci_low, d.ci_high)}"

    return f"""## Failure rate in every cell

Highest: {"; ".join(line(d) for d in worst.itertuples())}.
Lowest: {"; ".join(line(d) for d in best.itertuples())}.

{fig}
"""


def section_lottery(ctx: Context) -> str:
    r = ctx.runs
    base = need(r, POSTED, "the posted ReLU cell")
    cells = {"as posted": POSTED}
    for label, change in [
        ("momentum", {"optimizer": "momentum"}),
        ("corrected", {"update": "corrected"}),
        ("he", {"init": "he"}),
        ("xavier", {"init": "xavier"}),
        ("identity out", {"output": "identity"}),
        ("leaky_relu", {"activation": "leaky_relu"}),
        ("lr 0.1", {"lr": 0.1}),
        ("corrected+he+identity", {"update": "corrected", "init": "he", "output": "identity"}),
    ]:
        where = {**POSTED, **change}
        if not summaries.select(r, where).empty:
            cells[label] = where
    seeds = sorted(base["seed"].unique())[:150]
    m = summaries.seed_matrix(r, cells, seeds)
    fig = ctx.fig(
        figures.seed_lottery(m, title="The seed lottery: the same seeds across cells"),
        "seed_lottery.png",
        "seed lottery",
    )
    same = (m.eq(m["as posted"], axis=0)).mean()
    agree = ", ".join(f"{c} {pct(same[c])}" for c in m.columns[1:])
    return f"""## The seed lottery

Each row is one seed (the same underlying normal draws in every column); each column changes one factor of the
posted cell. Share of seeds with the same outcome as the posted cell: {agree}.

{fig}
"""


def section_thresholds(ctx: Context) -> str:
    r = ctx.runs
    post = need(r, POSTED, "the posted ReLU cell")
    rows = []
    for t in THRESHOLDS:
        fr = rate_of(post, t)
        row = [f"{t:g}", f"{pct(fr.rate)} {ci(fr.ci_low, fr.ci_high)}"]
        for alt in ({"optimizer": "momentum"}, {"update": "corrected"}, {"output": "identity"}):
            try:
                mc, _ = paired(r, POSTED, {**POSTED, **alt}, "threshold sensitivity", solved_mse=t)
                row.append(f"{pct(mc.rate_b)} ({pval(mc.pvalue)})")
            except Skip:
                row.append("n/a")
        for act in ("tanh", "sigmoid"):
            sub = summaries.select(r, {**POSTED, "activation": act})
            row.append(pct(rate_of(sub, t).rate) if len(sub) else "n/a")
        rows.append(row)
    tbl = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "solved if final MSE <",
                "posted ReLU fails",
                "with momentum (McNemar)",
                "corrected (McNemar)",
                "identity output (McNemar)",
                "tanh fails",
                "sigmoid fails",
            ],
        )
    )
    relu_rates = [rate_of(post, t).rate for t in THRESHOLDS]
    return f"""## How the conclusions move with the `solved` threshold

Over thresholds {", ".join(f"{t:g}" for t in THRESHOLDS)}, the posted ReLU cell's failure rate ranges from
{pct(min(relu_rates))} to {pct(max(relu_rates))}: its failures sit at MSE {MSE_ZERO_OUTPUT:.4f}, far above every threshold.
The tanh/sigmoid rates, whose runs are still descending, are the ones the threshold decides.

{tbl}
"""
