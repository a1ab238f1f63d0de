"""The generated report: answers Q1, Q2 and the posted answer's claims from the dataset.

Every number in ``REPORT.md`` is computed here from the runs/curves tables when the
report is generated; nothing is typed in. Each section is a function of a
:class:`Context`; a section that lacks the cells it needs raises :class:`Skip` with the
reason, and the report lists it under "Skipped sections" instead of failing.
Determinism: bootstrap and Monte Carlo take fixed seeds, and no wall-clock time goes in
the text, so the same data give a byte-identical report.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from . import figures, stats, summaries, theory
from .outcomes import COLLAPSE_RANGE, EPOCH_ERROR_TARGET, OUTCOMES, SOLVED_MSE
from .problem import MSE_MEAN_OUTPUT, MSE_ZERO_OUTPUT

THEORY_DRAWS = 1_000_000  # Monte Carlo draws for P(output dead at init)
THEORY_SEED = 20261126
BOOT_SEED = 12345
THRESHOLDS = (1e-4, 1e-3, 1e-2)  # solved-threshold sensitivity
EXPERIMENTS = ("q1_long", "born_dead", "remedies")  # datasets beside data/default that have sections
ALPHA = 0.05

# The posted program's cell (lr 0.01, ReLU everywhere, randn, both quirks, plain SGD).
POSTED = dict(activation="relu", output="same", init="randn", update="as_posted", optimizer="sgd", lr=0.01, hidden="4-4")


class Skip(Exception):
    """A section cannot be rendered from this dataset; the message says why."""


@dataclass
class Context:
    """What the sections read: the data, where figures go, and what has been said."""

    runs: pd.DataFrame
    curves: pd.DataFrame | None
    figures_dir: Path
    report_dir: Path
    info: dict = field(default_factory=dict)
    experiments: Mapping[str, tuple[pd.DataFrame, pd.DataFrame | None]] = field(default_factory=dict)
    figure_files: list[Path] = field(default_factory=list)

    def fig(self, fig, name: str, alt: str) -> str:
        """Save a figure and return its markdown image link (relative to the report)."""
        path = figures.save(getattr(fig, "figure", fig), self.figures_dir / name)
        self.figure_files.append(path)
        rel = path.relative_to(self.report_dir) if path.is_relative_to(self.report_dir) else path
        return f"![{alt}]({rel.as_posix()})"


# --------------------------------------------------------------------------- formatting


def pct(x: float, digits: int = 1) -> str:
    """0.4321 -> '43.2%'."""
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def ci(lo: float, hi: float, digits: int = 1) -> str:
    """A CI of rates as '[40.1%, 46.2%]'."""
    return f"[{pct(lo, digits)}, {pct(hi, digits)}]"


def pval(p: float) -> str:
    """'p = 0.032', 'p = 3.1e-08', 'p < 1e-300'."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    if p == 0:
        return "p < 1e-300"
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.1e}"


def num(x: float, digits: int = 3) -> str:
    """Significant-digit formatting for reals, 'n/a' for non-finite."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def md_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (values already formatted)."""
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(map(str, r)) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


# --------------------------------------------------------------------------- selections


def need(runs: pd.DataFrame, where: Mapping[str, object], what: str) -> pd.DataFrame:
    """The runs of a selection; Skip if there are none."""
    sub = summaries.select(runs, {k: v for k, v in where.items() if k in runs.columns})
    if sub.empty:
        cond = ", ".join(f"{k}={v}" for k, v in where.items())
        raise Skip(f"the dataset has no runs for {what} ({cond})")
    return sub


def rate_of(runs: pd.DataFrame, solved_mse: float | None = None) -> stats.ProportionResult:
    """Failure rate of a set of runs with its exact CI."""
    fail = stats.is_failure(runs, solved_mse)
    return stats.proportion_ci(int(fail.sum()), int(fail.size), alpha=ALPHA)


def paired(runs: pd.DataFrame, a: Mapping, b: Mapping, what: str, solved_mse: float | None = None):
    """McNemar and Wilcoxon between two cells paired on seed; Skip if either is missing."""
    need(runs, a, what + " (baseline)")
    need(runs, b, what + " (alternative)")
    t = stats.paired_table(runs, a, b, solved_mse=solved_mse)
    if t.empty:
        raise Skip(f"{what}: the two cells share no seeds")
    mc = stats.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
    wx = stats.wilcoxon_log_mse(t["final_mse_a"].to_numpy(), t["final_mse_b"].to_numpy())
    return mc, wx


def verdict(p_adj: float, diff: float, better: str, worse: str, none: str) -> str:
    """Pick the sentence the data support: significant improvement, harm, or neither."""
    if np.isfinite(p_adj) and p_adj < ALPHA:
        return better if diff < 0 else worse
    return none


# --------------------------------------------------------------------------- sections


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
            x="label", col="panel", title="Outcome of every run, by activation and init", label_panels=False,
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
        figures.dead_at_init_vs_outcome(dshares, x="dead_at_init", col="panel", title="Dead output unit at init vs outcome"),
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
            columns=["init", "seeds", "measured: output dead at init [95% CI]", "theory, Monte Carlo [95% CI]",
                     "binomial test", "theory: one first-layer unit dead (exact)"],
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


def _stratified(ctx: Context, factor: str, a, b, within: Mapping, family: str, solved_mse=None) -> pd.DataFrame:
    sub = summaries.select(ctx.runs, {k: v for k, v in within.items() if k in ctx.runs.columns})
    if sub.empty or not {a, b} <= set(sub[factor].astype(str).unique()) | {str(a), str(b)} or sub[factor].nunique() < 2:
        raise Skip(f"{family}: the dataset lacks {factor}={a} or {factor}={b} within {dict(within)}")
    return stats.compare_cells(sub, factor, a, b, family=family, solved_mse=solved_mse)


def _family_table(res: pd.DataFrame, label_cols: list[str]) -> str:
    rows = []
    for t in res.itertuples(index=False):
        d = t._asdict()
        rows.append(
            (
                " / ".join(str(d[c]) for c in label_cols),
                f"{d['n_pairs']:,}" if d["design"] == "paired" else f"{d['n_a']:,}/{d['n_b']:,}",
                pct(d["rate_a"]),
                pct(d["rate_b"]),
                f"{d['n10']:,} / {d['n01']:,}" if d["design"] == "paired" else "–",
                pval(d["p_fail_holm"]),
                num(d["median_log10_diff"], 2),
                pval(d["p_mse_holm"]),
            )
        )
    return md_table(
        pd.DataFrame(
            rows,
            columns=[" / ".join(label_cols), "n", "fail A", "fail B", "rescued / broken by B", "McNemar p (Holm)",
                     "median Δlog10 MSE", "Wilcoxon p (Holm)"],
        )
    )


def section_momentum(ctx: Context) -> str:
    within = {k: v for k, v in POSTED.items() if k != "optimizer"}
    mc, wx = paired(ctx.runs, POSTED, {**POSTED, "optimizer": "momentum"}, "momentum on the posted cell")
    fam = _stratified(ctx, "optimizer", "sgd", "momentum", {"activation": ["relu", "leaky_relu"]}, "momentum (ReLU family)")
    fam = fam.sort_values(["p_fail_holm", "activation", "output", "init", "update", "lr"], kind="stable")
    n_sig_better = int(((fam["p_fail_holm"] < ALPHA) & (fam["rate_diff"] < 0)).sum())
    n_sig_worse = int(((fam["p_fail_holm"] < ALPHA) & (fam["rate_diff"] > 0)).sum())
    rescue = mc.n10 / max(1, mc.n10 + mc.n11)
    v = verdict(
        mc.pvalue, mc.rate_b - mc.rate_a,
        "momentum lowers the failure rate of the posted cell significantly, but it cannot revive a dead unit",
        "momentum makes the posted cell fail more often",
        "momentum does not change the failure rate of the posted cell significantly",
    )
    table = _family_table(fam.head(12), ["activation", "output", "init", "update", "lr"])
    del within
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
            (act, len(g), int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] < 0)).sum()),
             int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] > 0)).sum()), pct(g["rate_a"].mean()), pct(g["rate_b"].mean()))
        )
    tbl = md_table(pd.DataFrame(by_act, columns=["activation", "strata", "corrected fails less (Holm p<0.05)",
                                                 "corrected fails more", "mean fail, as posted", "mean fail, corrected"]))
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
        rows.append((alt, f"{mc.n:,}", pct(mc.rate_a), pct(mc.rate_b), f"{mc.n10:,} / {mc.n01:,}", pval(mc.pvalue), pval(wx.pvalue)))
    if not rows:
        raise Skip("the dataset has neither he nor xavier init on the posted cell")
    tbl = md_table(pd.DataFrame(rows, columns=["init (B)", "seeds", "fail randn", "fail B", "rescued / broken", "McNemar p", "Wilcoxon p"]))
    return f"""## He and Xavier init on the posted cell

Same seeds, same underlying normal draws, transformed by the scheme (paired design):

{tbl}
"""


Q1_CELL = dict(init="randn", optimizer="sgd", lr=0.1, hidden="4-4")  # the asker's tanh/sigmoid setting


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
                t.activation, t.update, t.output, f"{len(sub):,}",
                f"{pct(1 - fr.rate)}",
                pct(sub["diverged"].mean()),
                f"{pct(hit.size / len(sub))}, median {num(np.median(hit), 4) if hit.size else 'n/a'}",
                f"{num(10 ** t.median)} [{num(10 ** t.median_low)}, {num(10 ** t.median_high)}]",
                f"{num(10 ** t.iqm)} [{num(10 ** t.iqm_low)}, {num(10 ** t.iqm_high)}]",
            )
        )
    tbl = md_table(pd.DataFrame(rows, columns=[
        "activation", "update", "output", "runs", "solved", "diverged", "reach epoch error < 1e-3 (epochs)",
        "median final MSE of finite runs [95% CI]", "IQM of log10 MSE, as MSE [95% CI]"]))
    # Which of the two levers matters: the output unit, or the posted update's quirks?
    tests = []
    for act in ("tanh", "sigmoid"):
        base = {**Q1_CELL, "activation": act, "update": "as_posted", "output": "same"}
        for label, change in (("identity output", {"output": "identity"}), ("corrected update", {"update": "corrected"})):
            try:
                mc, wx = paired(r, base, {**base, **change}, f"{act}: {label}")
            except Skip:
                continue
            tests.append((act, label, wx.median_diff, wx.pvalue, mc.rate_a, mc.rate_b, mc.pvalue))
    if not tests:
        raise Skip("no as_posted/same baseline for tanh or sigmoid")
    padj = stats.holm([t[3] for t in tests])
    ttbl = md_table(pd.DataFrame(
        [(a, l, num(d, 2), pval(p), pct(1 - ra), pct(1 - rb), pval(pm)) for (a, l, d, _, ra, rb, pm), p in zip(tests, padj)],
        columns=["activation", "change from the posted code", "median Δlog10 MSE (paired)", "Wilcoxon p (Holm)",
                 "solved before", "solved after", "McNemar p"]))
    epochs = ", ".join(map(str, sorted(sel["epochs"].unique())))
    if ctx.curves is None:
        raise Skip("no learning curves in the dataset")
    bands = summaries.curve_bands(
        ctx.curves, summaries.select(sel, {"update": "as_posted"}).assign(), ["activation", "output"]
    )
    fig = ctx.fig(
        figures.learning_curves(bands, hue="activation", col="output",
                                title="Learning curves as posted (randn, sgd, lr 0.1): median and IQR"),
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
            rows.append((act, out, num(np.median(p), 4), num(np.median(np.abs(p - 0.6)), 3), num(np.median(sub["last_epoch_error"].to_numpy(float)), 3)))
    if not rows:
        raise Skip("no tanh/sigmoid cells with randn init, sgd, lr 0.1 and the posted update")
    tbl = md_table(pd.DataFrame(rows, columns=["activation", "output", "median prediction at (0.1, 0.5)", "median |error| (truth 0.6)", "median last-epoch error"]))
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
    fig = ctx.fig(figures.ecdf_final_mse(sub, hue="activation", col="output"), "ecdf_final_mse.png", "ECDF of final MSE")
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
        figures.failure_rate_dots(fr, y="cell", hue="variant", col="output", row="update", title="Failure rate per cell (95% Clopper-Pearson CI)"),
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
    fig = ctx.fig(figures.seed_lottery(m, title="The seed lottery: the same seeds across cells"), "seed_lottery.png", "seed lottery")
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
    tbl = md_table(pd.DataFrame(rows, columns=["solved if final MSE <", "posted ReLU fails", "with momentum (McNemar)",
                                               "corrected (McNemar)", "identity output (McNemar)", "tanh fails", "sigmoid fails"]))
    relu_rates = [rate_of(post, t).rate for t in THRESHOLDS]
    return f"""## How the conclusions move with the `solved` threshold

Over thresholds {", ".join(f"{t:g}" for t in THRESHOLDS)}, the posted ReLU cell's failure rate ranges from
{pct(min(relu_rates))} to {pct(max(relu_rates))}: its failures sit at MSE {MSE_ZERO_OUTPUT:.4f}, far above every threshold.
The tanh/sigmoid rates, whose runs are still descending, are the ones the threshold decides.

{tbl}
"""


def _experiment(ctx: Context, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The runs and curves of a named experiment; Skip if it was not loaded."""
    if name not in ctx.experiments:
        raise Skip(f"no dataset for experiment {name!r} (run `python scripts/run_grid.py --experiment {name}`)")
    return ctx.experiments[name]


def section_q1_long(ctx: Context) -> str:
    runs, curves = _experiment(ctx, "q1_long")
    if curves is None:
        raise Skip("experiment 'q1_long' has no learning curves")
    epochs = int(runs["epochs"].max())
    grid = [e for e in (100, 1000, 10_000, epochs) if e <= epochs]
    bands = summaries.curve_bands(curves, runs, ["activation", "update", "output"])
    rows = []
    for (act, upd, out), b in bands.groupby(["activation", "update", "output"], sort=False):
        b = b.set_index("epoch")["q50"]
        sub = summaries.select(runs, {"activation": act, "update": upd, "output": out})
        med = {e: float(b.get(e, np.nan)) for e in grid}
        # Late slope of the median curve on log-log axes: 0 is a plateau, -1 is error ~ 1/epoch.
        e0 = max(e for e in b.index if e <= epochs / 10)
        slope = (np.log10(med[epochs]) - np.log10(b[e0])) / (np.log10(epochs) - np.log10(e0))
        hit = sub["epochs_to_1e-3"].dropna().to_numpy(float)
        rows.append(
            (act, upd, out, f"{len(sub):,}", *[num(med[e], 3) for e in grid], num(slope, 2),
             pct((sub["final_mse"] < 1e-4).mean()), num(np.median(hit), 4) if hit.size else "never")
        )
    tbl = md_table(pd.DataFrame(rows, columns=[
        "activation", "update", "output", "runs", *[f"median epoch error @ {e:,}" for e in grid],
        f"late log-log slope ({e0:,}→{epochs:,})", "final MSE < 1e-4", "median epochs to < 1e-3"]))
    sel = bands.assign(curve=bands["activation"] + " / " + bands["update"])
    fig = ctx.fig(
        figures.learning_curves(sel, hue="curve", col="output", title=f"tanh and sigmoid for {epochs:,} epochs at lr 0.1 (median, IQR)"),
        "q1_long_curves.png",
        "long learning curves",
    )
    same = [r for r in rows if r[2] == "same"]
    ident = [r for r in rows if r[2] == "identity"]
    return f"""## Q1 at the asker's scale: {epochs:,} epochs

tanh and sigmoid at lr 0.1 (randn init, plain SGD), {runs["seed"].nunique():,} seeds per cell, the error recorded at
log-spaced epochs. A late log-log slope near 0 is a plateau; -1 means the error still falls like 1/epoch.

{tbl}

Late slopes with the saturating (`same`) output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in same)}; with a
linear output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in ident)}. Targets of 1.0 sit on tanh's asymptote and
outside sigmoid's open range (0, 1): the output unit must drive its pre-activation towards infinity, where its
derivative, and with it every gradient in the net, shrinks towards 0, so the error keeps falling ever more slowly
instead of reaching zero. A linear output unit has no such target problem.

{fig}
"""


def born_dead_flags(runs: pd.DataFrame) -> np.ndarray:
    """(R,) bool: the output is constant on the six inputs at init (some hidden layer is all dead)."""
    cols = [c for c in runs.columns if c.startswith("dead_frac_init_l")]
    return (runs[cols].to_numpy(float) == 1.0).any(axis=1)


BORN_DEAD_DRAWS = 20_000  # Monte Carlo draws per architecture and init for the theory curve


def section_born_dead(ctx: Context) -> str:
    runs, _ = _experiment(ctx, "born_dead")
    r = runs.assign(
        width=runs["hidden"].astype(str).str.split("-").str[0].astype(int),
        depth=runs["hidden"].astype(str).str.count("-") + 1,
        born_dead=born_dead_flags(runs),
        stuck=runs["outcome"].astype(str).isin(["collapsed", "dead_output"]),
        solved=runs["outcome"].astype(str) == "solved",
    )
    archs = sorted(r["hidden"].astype(str).unique(), key=lambda h: (len(h), h))
    inits = sorted(r["init"].astype(str).unique())
    th = theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=BORN_DEAD_DRAWS)
    th = th.assign(hidden=th["hidden"].astype(str), init=th["init"].astype(str))
    rates = []
    for (init, out, width, depth, hidden), g in r.groupby(["init", "output", "width", "depth", "hidden"], observed=True):
        row = dict(init=str(init), output=str(out), width=width, depth=depth, hidden=str(hidden), n=len(g))
        for what in ("born_dead", "stuck", "solved"):
            pr = stats.proportion_ci(int(g[what].sum()), len(g), alpha=ALPHA)
            row.update({what: pr.rate, f"{what}_low": pr.ci_low, f"{what}_high": pr.ci_high})
        rates.append(row)
    rates = pd.DataFrame(rates).merge(th[["init", "hidden", "p"]].rename(columns={"p": "theory"}), on=["init", "hidden"], how="left")
    plot = rates.rename(columns={"born_dead": "rate", "born_dead_low": "ci_low", "born_dead_high": "ci_high"})
    fig1 = ctx.fig(
        figures.rate_vs_depth(plot[plot["output"] == plot["output"].iloc[0]], x="depth", hue="width", col="init",
                              title="Born dead: output constant on the data at init (dashed: Monte Carlo theory)",
                              ylabel="P(born dead)"),
        "born_dead.png",
        "born dead vs depth",
    )
    plot2 = rates.rename(columns={"solved": "rate", "solved_low": "ci_low", "solved_high": "ci_high"}).drop(columns="theory")
    fig2 = ctx.fig(
        figures.rate_vs_depth(plot2, x="depth", hue="width", col="init", row="output",
                              title="Solved after training (corrected update, lr 0.01)", ylabel="P(solved)"),
        "born_dead_solved.png",
        "solved vs depth",
    )
    agree = rates.drop_duplicates(["init", "hidden"])
    gap = np.nanmax(np.abs(agree["born_dead"] - agree["theory"]))
    deep = rates[rates["depth"] == rates["depth"].max()]
    shallow = rates[rates["depth"] == rates["depth"].min()]
    # Does death grow with depth? Compare the shallowest and deepest net of every width and init.
    trend = rates.drop_duplicates(["init", "hidden"]).sort_values("depth").groupby(["init", "width"])["born_dead"]
    rising = int((trend.last() > trend.first()).sum())
    by_width = deep.drop_duplicates(["init", "hidden"]).groupby("width")["born_dead"].mean()
    tbl = md_table(pd.DataFrame(
        [(t.init, t.output, t.hidden, f"{t.n:,}", f"{pct(t.born_dead)} {ci(t.born_dead_low, t.born_dead_high)}",
          pct(t.theory), pct(t.stuck), pct(t.solved)) for t in rates.sort_values(["init", "output", "width", "depth"]).itertuples()],
        columns=["init", "output", "hidden", "runs", "born dead [95% CI]", "theory (MC)", "collapsed or dead after training", "solved"]))
    epochs = ", ".join(map(str, sorted(r["epochs"].unique())))
    return f"""## Born dead: depth and width

ReLU nets of widths {", ".join(map(str, sorted(r["width"].unique())))} and depths {", ".join(map(str, sorted(r["depth"].unique())))}
(hidden layers), corrected update, lr 0.01, {epochs} epochs, {r["seed"].nunique():,} seeds per cell. "Born dead" = some hidden
layer is dead on all six inputs at init, so the output is constant on the data and, with the corrected update, no gradient
can ever change that. At depth {deep["depth"].iloc[0]} the born-dead rate is {pct(deep["born_dead"].min())}–{pct(deep["born_dead"].max())}
across widths and inits ({"; ".join(f"width {w}: {pct(v)}" for w, v in by_width.items())}, averaged over inits), against
{pct(shallow["born_dead"].min())}–{pct(shallow["born_dead"].max())} at depth {shallow["depth"].iloc[0]}. The rate rises from the
shallowest to the deepest net in {rising} of {trend.ngroups} width × init series, as Lu, Shin, Su and Karniadakis (2019)
predict for symmetric inits (a deep ReLU net dies in probability as depth grows). The Monte Carlo probability from the init
distributions alone ({BORN_DEAD_DRAWS:,} draws per architecture) differs from the measured rate by at most
{100 * gap:.1f} percentage points.

{fig1}

{fig2}

<details><summary>All cells</summary>

{tbl}

</details>
"""


REMEDIES = [  # label, change from the posted cell
    ("momentum", {"optimizer": "momentum"}),
    ("leaky_relu", {"activation": "leaky_relu"}),
    ("identity output", {"output": "identity"}),
    ("he init", {"init": "he"}),
    ("xavier init", {"init": "xavier"}),
    ("leaky_relu + identity output", {"activation": "leaky_relu", "output": "identity"}),
    ("identity output + he", {"output": "identity", "init": "he"}),
]


def section_remedies(ctx: Context) -> str:
    runs, _ = _experiment(ctx, "remedies")
    base_where = {k: v for k, v in POSTED.items()}
    base = need(runs, base_where, "the posted cell in the remedies experiment")
    fail0 = stats.is_failure(base)
    n_fail = int(fail0.sum())
    if n_fail == 0:
        raise Skip("no failing seeds in the posted cell")
    res = []
    for label, change in REMEDIES:
        where = {**base_where, **change}
        if summaries.select(runs, where).empty:
            continue
        t = stats.paired_table(runs, base_where, where)
        mc = stats.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
        rescued = stats.proportion_ci(mc.n10, mc.n10 + mc.n11, alpha=ALPHA)
        broken = stats.proportion_ci(mc.n01, mc.n01 + mc.n00, alpha=ALPHA)
        res.append(dict(label=label, n=mc.n, rescued=mc.n10, of=mc.n10 + mc.n11, rate=rescued.rate, ci_low=rescued.ci_low,
                        ci_high=rescued.ci_high, broken=mc.n01, of_solved=mc.n01 + mc.n00, b_rate=broken.rate,
                        b_low=broken.ci_low, b_high=broken.ci_high, p=mc.pvalue, fail_b=mc.rate_b))
    if not res:
        raise Skip("the remedies experiment has none of the remedy cells")
    df = pd.DataFrame(res)
    df["p_holm"] = stats.holm(df["p"].to_numpy())
    plot = pd.concat([
        df.assign(measure="rescued: failing seeds now solved"),
        df.assign(measure="broken: solved seeds now failing", rate=df["b_rate"], ci_low=df["b_low"], ci_high=df["b_high"]),
    ]).assign(panel="", row="")
    fig = ctx.fig(
        figures.failure_rate_dots(plot, y="label", hue="measure", col="panel", row="row",
                                  title="Remedies on the posted cell, paired by seed (95% CI)", xlabel="share of seeds"),
        "remedies.png",
        "remedies",
    )
    tbl = md_table(pd.DataFrame(
        [(d.label, f"{d.rescued:,} of {d.of:,}", f"{pct(d.rate)} {ci(d.ci_low, d.ci_high)}", f"{d.broken:,} of {d.of_solved:,}",
          pct(1 - d.fail_b), pval(d.p_holm)) for d in df.itertuples()],
        columns=["remedy (one change to the posted cell)", "failing seeds rescued", "rescue rate [95% CI]",
                 "solved seeds broken", "solved with the remedy", "McNemar p (Holm)"]))
    best = df.sort_values("rate", ascending=False).iloc[0]
    mom = df[df["label"] == "momentum"]
    mom_txt = (
        f"Momentum, the posted answer's remedy, rescues {pct(mom['rate'].iloc[0])} of the failing seeds and breaks "
        f"{pct(mom['b_rate'].iloc[0])} of the solved ones (McNemar, Holm: {pval(mom['p_holm'].iloc[0])})."
        if len(mom) else "Momentum was not in this experiment."
    )
    return f"""## Remedies on the failing seeds

The posted cell (ReLU, randn, as posted, plain SGD, lr 0.01) on {len(base):,} seeds fails on {n_fail:,}
({pct(n_fail / len(base))}). Each remedy changes one thing (or two) and runs on the same seeds, so for each we can count
the failing seeds it rescues and the solved seeds it breaks:

{tbl}

{mom_txt} The best rescue rate is {best["label"]}'s ({pct(best["rate"])}).

{fig}
"""


def section_methods(ctx: Context) -> str:
    return f"""## Methods

- **Task and training.** 2-4-4-1 MLP, six training pairs (x₁, x₂) → x₁ + x₂, per-sample SGD in fixed order, MSE
  loss, {", ".join(map(str, sorted(ctx.runs["epochs"].unique())))} epochs, the same activation after every hidden layer; the output unit uses the hidden activation
  (`same`, as posted) or none (`identity`). The `as_posted` update reproduces the posted code run for run
  (tested against a plain transcription of the posted code, `tests/test_core.py`).
- **Paired design.** For seed s, every init scheme transforms the same `np.random.RandomState(s).randn` draws
  (randn: as drawn; He: × sqrt(2/fan_in), b = 0; Xavier: uniform via the normal CDF, b = 0), so cells that
  share a seed are paired.
- **Outcomes.** First match wins: `diverged` (non-finite); `dead_output` (ReLU-family output, pre-activation <= 0
  on all six inputs); `collapsed` (the six predictions span < {COLLAPSE_RANGE:g}); `solved` (final MSE < {SOLVED_MSE:g});
  `slow` (the rest). Failure = not solved. `epochs_to_1e-3`: first epoch whose epoch error < {EPOCH_ERROR_TARGET:g}.
- **Statistics.** Failure rates with exact Clopper–Pearson 95% CIs; paired comparisons by exact McNemar on
  solved/not and Wilcoxon signed-rank on log10 final MSE (floored at 1e-300); unpaired fallback Fisher exact and
  Mann–Whitney U with Vargha–Delaney A; Holm correction within each family (one family per table); bootstrap
  95% percentile CIs (seed {BOOT_SEED}); dead-at-init association by 2×2 odds ratio (Woolf CI) and AUROC; theory
  by Monte Carlo ({THEORY_DRAWS:,} draws, seed {THEORY_SEED}).
"""


def section_provenance(ctx: Context) -> str:
    p = ctx.info.get("provenance", {})
    hashes = "\n".join(f"- `{name}`: sha256 `{h}`" for name, h in ctx.info.get("hashes", {}).items())
    grid = p.get("grid", {})
    return f"""## Provenance

- Dataset files:
{hashes}
- Produced by relustudy {p.get("relustudy", "?")} at git commit `{p.get("git_commit", "?")}`, Python {p.get("python", "?")},
  NumPy {p.get("numpy", "?")}, pandas {p.get("pandas", "?")}, pyarrow {p.get("pyarrow", "?")}.
- Grid: `{_compact(grid)}`.
- Regenerate everything:

```bash
pip install -e . && python scripts/run_grid.py && python scripts/make_report.py
```
"""


def _compact(d) -> str:
    import json

    return json.dumps(d, sort_keys=True, separators=(",", ":"))


SECTIONS: list[tuple[str, Callable[[Context], str]]] = [
    ("dataset", section_dataset),
    ("Q2: ReLU sometimes never learns", section_q2),
    ("theory check", section_theory),
    ("claim: local minimum", section_local_minimum),
    ("claim: momentum", section_momentum),
    ("Q1: tanh/sigmoid are slow", section_q1),
    ("claim: vanishing gradient", section_vanishing),
    ("quirks of the posted code", section_quirks),
    ("inits", section_inits),
    ("final MSE ECDF", section_ecdf),
    ("failure rates per cell", section_failure_rates),
    ("seed lottery", section_lottery),
    ("threshold sensitivity", section_thresholds),
    ("experiment: Q1 at 100,000 epochs", section_q1_long),
    ("experiment: born dead", section_born_dead),
    ("experiment: remedies", section_remedies),
]


def summary(ctx: Context) -> str:
    """The few sentences at the top, each from the data (or a note that it could not be computed)."""
    lines = []
    r = ctx.runs
    try:
        post = need(r, POSTED, "posted")
        fr = rate_of(post)
        dead = stats.dead_init_association(post)
        fail = stats.is_failure(post)
        flat = post["outcome"].astype(str).isin(["dead_output", "collapsed"]).to_numpy()[fail].mean()
        lines.append(
            f"- **Q2 (ReLU sometimes never learns).** The posted program fails on {pct(fr.rate)} of seeds "
            f"{ci(fr.ci_low, fr.ci_high)}; {pct(flat)} of those failures end with a dead or collapsed output, where "
            f"every gradient is exactly zero. The random draw decides: a run whose output unit is already dead at "
            f"initialization fails {pct(dead.p_fail_dead)} of the time, one whose output unit is alive "
            f"{pct(dead.p_fail_alive)} (odds ratio {num(dead.odds_ratio)}, AUROC {num(dead.auroc_dead)}). When it works, "
            f"ReLU is fast because a net of active ReLU units is linear on the data, like the target."
        )
        mc, _ = paired(r, POSTED, {**POSTED, "optimizer": "momentum"}, "momentum")
        effect = verdict(mc.pvalue, mc.rate_b - mc.rate_a, "lowers", "raises", "does not significantly change")
        lines.append(
            f"- **The posted answer** (local minimum; use momentum). {pct(flat)} of the failures are zero-gradient "
            f"plateaus, not local minima, and momentum {effect} the posted cell's failure rate "
            f"({pct(mc.rate_a)} → {pct(mc.rate_b)}; rescues {mc.n10:,} failing seeds, breaks {mc.n01:,}; McNemar {pval(mc.pvalue)})."
        )
    except Skip as e:
        lines.append(f"- Q2 summary not available: {e}.")
    try:
        med = {}
        for act in ("tanh", "sigmoid"):
            for upd in ("as_posted", "corrected"):
                for out in ("same", "identity"):
                    sub = summaries.select(r, {**Q1_CELL, "activation": act, "update": upd, "output": out})
                    if len(sub):
                        med[(act, upd, out)] = float(np.median(sub["final_mse"]))
        if len(med) < 8:
            raise Skip("needs tanh and sigmoid with both outputs and both updates at randn, sgd, lr 0.1")
        ep = int(summaries.select(r, {**Q1_CELL, "activation": "tanh"})["epochs"].max())
        lines.append(
            f"- **Q1 (tanh/sigmoid are slow).** After {ep} epochs at lr 0.1, the posted tanh/sigmoid networks reach a "
            f"median MSE of {num(med[('tanh', 'as_posted', 'same')])} / {num(med[('sigmoid', 'as_posted', 'same')])}; "
            f"with a linear output unit {num(med[('tanh', 'as_posted', 'identity')])} / {num(med[('sigmoid', 'as_posted', 'identity')])}, "
            f"with the corrected update {num(med[('tanh', 'corrected', 'same')])} / {num(med[('sigmoid', 'corrected', 'same')])}, "
            f"with both {num(med[('tanh', 'corrected', 'identity')])} / {num(med[('sigmoid', 'corrected', 'identity')])} "
            f"(same seeds). The targets of 1.0 sit on tanh's asymptote and outside sigmoid's range, so the gradient "
            f"vanishes at the output unit; the posted update, which never trains the biases, slows it further."
        )
    except Skip as e:
        lines.append(f"- Q1 summary not available: {e}.")
    return "## Summary\n\n" + "\n".join(lines) + "\n"


def build(ctx: Context, extra_sections: list[tuple[str, Callable[[Context], str]]] = ()) -> str:
    """Render the whole report as markdown; sections that cannot be rendered are listed."""
    parts = [
        "# Why does a tiny ReLU network sometimes never learn to add two numbers?\n",
        "Generated by `python scripts/make_report.py` from the dataset; every number below is computed from it. "
        "The question and the posted answer: `shared/seed/` (see STUDY.md §1).\n",
        summary(ctx),
    ]
    skipped = []
    for title, fn in [*SECTIONS, *extra_sections]:
        try:
            parts.append(fn(ctx))
        except Skip as e:
            skipped.append((title, str(e)))
    parts.append(section_methods(ctx))
    parts.append(section_provenance(ctx))
    if skipped:
        parts.append("## Skipped sections\n\n" + "\n".join(f"- **{t}**: {why}" for t, why in skipped) + "\n")
    text = "\n".join(p.rstrip() + "\n" for p in parts)
    return text


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
