"""Sections on the default grid: Q2, Q1, the posted answer's claims, quirks, inits, figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import analysis, figures, stats, theory
from ..config import MOMENTUM
from ..outcomes import OUTCOMES
from ..problem import MSE_MEAN_OUTPUT, MSE_ZERO_OUTPUT, Y_TRAIN
from .common import (
    ALPHA,
    BOOT_SEED,
    CONDITIONAL_DRAWS,
    FAMILY_COLUMNS,
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
    diff_ci,
    md_table,
    mse_at,
    need,
    num,
    paired,
    pct,
    pval,
    rate_of,
    wilcoxon_text,
)


# --------------------------------------------------------------------------- findings (computed once)


@dataclass(frozen=True)
class MomentumFinding:
    """SGD vs momentum 0.9 at equal lr and at the matched step lr (1 - beta), paired by seed."""

    table: pd.DataFrame  # analysis.momentum_comparisons over the ReLU-family strata
    posted: pd.DataFrame  # its rows for the posted stratum (relu/same/randn/as_posted)
    modes: pd.DataFrame  # failure modes of the posted stratum per optimizer x lr
    missing: list  # matched-step pairs of the posted stratum the dataset lacks


def momentum(ctx: Context) -> MomentumFinding:
    relu = need(ctx.runs, {"activation": list(analysis.RELU_FAMILY), "hidden": "4-4"}, "ReLU-family cells")
    if set(relu["optimizer"].astype(str)) != {"sgd", "momentum"}:
        raise Skip("the dataset lacks sgd or momentum cells")
    table = analysis.momentum_comparisons(relu, MOMENTUM)
    stratum = {k: POSTED[k] for k in ("activation", "output", "init", "update")}
    mask = np.ones(len(table), dtype=bool)
    for k, v in stratum.items():
        mask &= (table[k].astype(str) == v).to_numpy()
    post = table[mask].sort_values(["family", "lr"], kind="stable")
    # The comparison the posted answer needs: sgd at the posted lr vs momentum at the matched step.
    matched = set(post.loc[post["family"] == "matched step", "lr"].astype(float))
    missing = [] if POSTED["lr"] in matched else [POSTED["lr"]]
    cells = analysis.select(ctx.runs, {**stratum, "hidden": "4-4"})
    modes = analysis.failure_mode_table(cells, ["optimizer", "lr"])
    return MomentumFinding(table, post, modes, missing)


@dataclass(frozen=True)
class GradientFinding:
    """Exactly-zero gradients at the final weights, per outcome (ReLU-family output runs)."""

    by_outcome: pd.DataFrame  # analysis.zero_gradient_shares over failing ReLU-output runs
    posted_by_outcome: pd.DataFrame  # the same for the posted cell
    leaky_dead: pd.DataFrame  # leaky_relu runs with an inactive output: zero-gradient share


def gradients(ctx: Context) -> GradientFinding:
    if "grad_norm_final" not in ctx.runs.columns:
        raise Skip("the dataset has no `grad_norm_final` column (made before it was recorded; regenerate it)")
    relu = need(ctx.runs, {"activation": "relu", "output": "same"}, "ReLU cells with a ReLU output")
    post = need(ctx.runs, POSTED, "the posted ReLU cell")
    leaky = analysis.select(ctx.runs, {"activation": "leaky_relu", "output": "same"})
    leaky = leaky[leaky["outcome"].astype(str) == "dead_output"]
    return GradientFinding(
        analysis.zero_gradient_shares(relu[analysis.is_failure(relu)]),
        analysis.zero_gradient_shares(post),
        analysis.zero_gradient_shares(leaky, by=()) if len(leaky) else pd.DataFrame(),
    )


def q1_mse(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The asker's tanh/sigmoid setting (and ReLU beside it): its runs and the bootstrap
    median/IQM of log10 final MSE per activation x update x output (``analysis.mse_summary``)."""
    sel = analysis.select(ctx.runs, {**Q1_CELL, "activation": ["tanh", "sigmoid", "relu"]})
    if sel.empty or not {"tanh", "sigmoid"} <= set(sel["activation"].astype(str)):
        raise Skip("the dataset has no tanh/sigmoid cells with randn init, sgd and lr 0.1")
    return sel, analysis.mse_summary(sel, by=["activation", "update", "output"], seed=BOOT_SEED, n_boot=2000)


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


def _modes_text(m: pd.Series) -> str:
    """'born dead 33.3%, died in training 4.1%, diverged 0.0%, other failure 1.0%' (of all runs)."""
    return ", ".join(f"{k} {pct(m[f'share {k}'])}" for k in analysis.FAILURE_MODES)


def _speed_table(ctx: Context) -> tuple[str, pd.DataFrame]:
    rows, frames = [], []
    for lr in sorted(float(x) for x in ctx.runs["lr"].unique()):
        t = analysis.speed_comparison(ctx.runs, {**POSTED, "lr": lr}, ["relu", "leaky_relu", "tanh", "sigmoid"])
        t["lr"] = lr
        frames.append(t)
        for d in t.itertuples(index=False):
            rows.append(
                (
                    f"{d.activation}, lr {lr:g}",
                    f"{d.n_reach:,} of {d.n:,} ({pct(d.n_reach / d.n)})",
                    num(d.median_all, 4),
                    f"{d.n_both:,}" if d.activation != "relu" else "–",
                    f"{num(d.median_both, 4)} vs {num(d.median_ref_both, 4)}" if d.activation != "relu" and d.n_both else "–",
                    pval(d.p_both) if d.activation != "relu" and d.n_both else "–",
                )
            )
    table = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "activation (else as posted)",
                "reach epoch error < 1e-3",
                "median epochs, all that reach it",
                "seeds both it and relu reach",
                "median epochs there: it vs relu",
                "Wilcoxon p (paired)",
            ],
        )
    )
    return table, pd.concat(frames, ignore_index=True)


def section_q2(ctx: Context) -> str:
    r = ctx.runs
    need(r, POSTED, "the posted ReLU cell")
    speed_tbl, speed = _speed_table(ctx)
    leaky = speed[(speed["activation"] == "leaky_relu") & (speed["n_both"] > 0)]
    leaky_txt = "; ".join(
        f"at lr {d.lr:g} on the {d.n_both:,} seeds both reach, leaky_relu needs a median {num(d.median_both, 4)} epochs "
        f"and relu {num(d.median_ref_both, 4)} (paired Wilcoxon {pval(d.p_both)})"
        for d in leaky.itertuples(index=False)
    )
    try:
        lin = analysis.linear_on_data_shares(analysis.select(r, {k: v for k, v in POSTED.items() if k != "output"}))
        lin = lin[lin["activation"].astype(str) == "relu"]
        lin_txt = "Tested: among the solved runs of the posted ReLU cell and its identity-output twin, " + "; ".join(
            f"output {d.output}: {pct(d.share)} ({d.n_linear:,} of {d.n_solved:,})" for d in lin.itertuples(index=False)
        ) + (
            " end with one activation pattern on all six inputs, i.e. computing a single affine map there "
            "(`linear_on_data_final`)."
        )
    except ValueError:
        lin_txt = (
            "This dataset has no `linear_on_data_final` column, so the claim that solved ReLU nets are one affine map "
            "on the data is not tested here (regenerate the dataset to test it)."
        )
    return f"""## Why is ReLU fast when it works?

{lin_txt} Epochs to reach epoch error < 1e-3 (else as posted), over all runs
that get there and, paired by seed, on the seeds that both an activation and ReLU reach, which removes the
selection of easy seeds:

{speed_tbl}

So {leaky_txt or "no leaky_relu seeds reach the target alongside relu"}: where both succeed they are about as fast, and
leaky_relu's higher median over all its successes comes from seeds ReLU does not solve. tanh and sigmoid are
compared at the asker's lr 0.1 as well as 0.01.
"""


def section_theory(ctx: Context) -> str:
    r = ctx.runs
    relu = need(r, {"activation": "relu", "hidden": "4-4"}, "ReLU 4-4 cells")
    tbl = theory.output_dead_vs_theory(relu, rng=np.random.default_rng(THEORY_SEED), n_draws=THEORY_DRAWS)
    cond = {
        init: theory.p_output_dead_conditional(
            init, (4, 4), rng=np.random.default_rng([THEORY_SEED, k]), n_draws=CONDITIONAL_DRAWS
        )
        for k, init in enumerate(sorted(tbl["init"]))
    }
    rows, p_cond = [], []
    for t in tbl.itertuples(index=False):
        c = cond[t.init]
        p_c = stats.binomial_pvalue(t.n_dead, t.n_seeds, c.p)
        p_cond.append(p_c)
        rows.append(
            (
                t.init,
                f"{t.n_seeds:,}",
                f"{pct(t.rate, 2)} {ci(t.ci_low, t.ci_high, 2)}",
                f"{pct(c.p, 2)} {ci(c.ci_low, c.ci_high, 2)}",
                pval(p_c),
                f"{pct(t.p_theory, 2)} {ci(t.p_theory_low, t.p_theory_high, 2)}",
                pct(t.p_first_layer_unit, 2),
            )
        )
    table = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "init",
                "seeds",
                "measured: output dead at init [95% CI]",
                "computed: conditional, last step analytic [95% CI]",
                "binomial test, measured vs computed",
                "Monte Carlo simulation of the same test [95% CI]",
                "one first-layer unit dead (exact geometry)",
            ],
        )
    )
    gap = max(abs(cond[t.init].p - t.p_theory) / np.hypot(cond[t.init].se, (t.p_theory_high - t.p_theory_low) / 3.92)
              for t in tbl.itertuples(index=False))
    return f"""## Theory check: how often is the output unit dead at init?

The probability that the output unit's pre-activation is <= 0 on all six training inputs, from the init
distributions alone (no training), against the rate measured at init in the dataset (each seed counted once).
It is computed by conditional Monte Carlo ({CONDITIONAL_DRAWS:,} draws of the hidden layers per scheme): given the
hidden layers, the output is dead exactly when one output parameter (the bias for randn, the first weight for
He/Xavier, whose biases are 0) lies below a bound, and that probability is the parameter's CDF at the bound, so the
last step is integrated, not simulated. A plain Monte Carlo simulation of the dataset's own test
({THEORY_DRAWS:,} draws) is shown beside it; it checks the random-number code more than a theory. The exact
probability that one first-layer unit is dead comes from the geometry of the inputs' cone.

{table}

Under every scheme, {pct(min(c.p for c in cond.values()))}–{pct(max(c.p for c in cond.values()))} of randomly initialised
2-4-4-1 ReLU nets start with a dead output unit: He or Xavier scaling changes the weights' scale, not the signs that
decide whether a unit is dead, and with zero biases a dead last hidden layer leaves the output pre-activation at
exactly 0, which counts as dead too. The measured rates agree with the computation (smallest binomial p-value
{pval(min(p_cond))}, uncorrected), and the simulation agrees with the computation within {gap:.1f} standard errors.
"""


def section_local_minimum(ctx: Context) -> str:
    r = ctx.runs
    relu_fail = need(r, {"activation": "relu", "output": "same"}, "ReLU cells with a ReLU output")
    fail = analysis.is_failure(relu_fail)
    sub = relu_fail[fail]
    if sub.empty:
        raise Skip("no failing ReLU runs")
    shares = sub["outcome"].astype(str).value_counts(normalize=True)
    zero = np.isclose(sub["final_mse"].to_numpy(float), MSE_ZERO_OUTPUT, rtol=1e-9).mean()
    stuck_init = (sub["output_dead_init"].to_numpy(bool) & sub["output_dead_final"].to_numpy(bool)).mean()
    slow = sub[sub["outcome"].astype(str) == "slow"]["final_mse"].to_numpy(float)
    y_mean = float(np.mean(Y_TRAIN))
    try:
        g = ctx.finding(gradients)
        rows = [(d.outcome, f"{d.n:,}", f"{d.n_zero:,} ({pct(d.share)})", num(d.median_norm))
                for d in g.by_outcome.itertuples(index=False) if d.n]
        grad_tbl = md_table(pd.DataFrame(rows, columns=["outcome (failing ReLU-output runs)", "runs",
                                                         "gradient exactly 0", "median non-zero norm"]))
        lk = g.leaky_dead
        leaky_txt = (
            f" A leaky ReLU output that is inactive on all six inputs (outcome `dead_output` for leaky_relu: "
            f"{lk['n'].iloc[0]:,} runs) is not dead: its slope is 0.01, and {pct(lk['share'].iloc[0])} of these runs have "
            "an exactly zero gradient; we call it *inactive*."
            if len(lk) else ""
        )
        flat_share = float((sub["grad_norm_final"].to_numpy(float) == 0).mean())
        grad_txt = (
            f"Measured: the full loss gradient at the final weights (`grad_norm_final`, plain backpropagation) is "
            f"exactly zero in {pct(flat_share)} of these failing runs:\n\n{grad_tbl}\n\n"
            "A collapsed output behind a dead hidden layer still has a bias gradient (the posted rule ignores it), so a "
            f"zero gradient is a property of the dead output, not of every failure.{leaky_txt}"
        )
    except Skip as e:
        flat_share = float(shares.get("dead_output", 0.0))  # a dead ReLU output: zero gradient by construction
        grad_txt = (
            f"The gradient at the final weights is not measured in this dataset ({e}); the share below counts the dead "
            "outputs, whose gradient is zero by construction (ReLU'(z) = 0 for z <= 0 on every input)."
        )
    # Does momentum leave the flat region? Seeds born dead that fail under SGD, solved under momentum, per update
    # rule: with the corrected rule only the gradient moves the weights, with the posted one the bias decay too.
    esc, esc_corrected = [], []
    for upd in ("as_posted", "corrected"):
        base = analysis.select(r, {**POSTED, "update": upd})
        born_fail = set(base.loc[analysis.failure_mode(base) == "born dead", "seed"])
        for family, lr_m in (("equal lr", POSTED["lr"]), ("matched step", round(POSTED["lr"] * (1 - MOMENTUM), 12))):
            mom = analysis.select(r, {**POSTED, "update": upd, "optimizer": "momentum", "lr": lr_m})
            mom = mom[mom["seed"].isin(born_fail)]
            if len(mom):
                solved = 1 - analysis.is_failure(mom).mean()
                esc.append(f"{upd} update, {family} (momentum lr {lr_m:g}): {pct(solved)} of {len(mom):,}")
                if upd == "corrected":
                    esc_corrected.append(solved)
    esc_txt = (
        "Of the posted cell's seeds that are born dead and fail under plain SGD, momentum solves: " + "; ".join(esc) + "."
        if esc
        else "The dataset lacks the momentum cells to test whether momentum leaves the flat region."
    )
    if esc_corrected:
        mom_verdict = (
            f"with the corrected update, where only the gradient moves the weights, momentum solves at most "
            f"{pct(max(esc_corrected))} of the born-dead seeds"
        )
    else:
        mom_verdict = "whether momentum leaves it is not testable on this dataset"
    return f"""## Claim 2 of the posted answer: "the weights reached a local minimum"

Of the {len(sub):,} failing runs with a ReLU output (all ReLU cells), {pct(shares.get("dead_output", 0.0))} end with a dead
output unit, {pct(shares.get("collapsed", 0.0))} collapsed to a constant output, {pct(shares.get("slow", 0.0))} are still
descending ("slow", median final MSE {num(np.median(slow) if slow.size else np.nan)}), {pct(shares.get("diverged", 0.0))} diverged.
{pct(zero)} end at exactly the zero-output loss mean(Y²) = {MSE_ZERO_OUTPUT:.5f}, and {pct(stuck_init)} had the output unit dead
at init and still dead at the end. That loss is what an output of 0 costs; a constant output c costs
Var(Y) + (c − mean Y)² = {MSE_MEAN_OUTPUT:.4f} + (c − {y_mean:.3f})², so the dead net is far from even the best constant.

{grad_txt}

A region of weight space where the loss is constant is a (non-strict) local minimum: no small move lowers the loss,
so the posted answer's label is not wrong as such. What the data can test is whether it is a *bad* minimum that
momentum escapes. A zero gradient leaves the momentum buffer at zero, so momentum has nothing to accumulate. {esc_txt}
**Verdict: a flat, non-strict local minimum at the zero-output loss, far above the fit; {pct(flat_share)} of these failures
sit where the gradient is exactly zero, and {mom_verdict}. Where momentum does rescue born-dead seeds under the posted
update, the posted bias decay (`b -= lr * b`, which momentum amplifies) moves the output unit, not the gradient.**
"""


def section_momentum(ctx: Context) -> str:
    m = ctx.finding(momentum)
    t = m.table
    fam_rows = []
    for fam, g in t.groupby("family", sort=False):
        better = g[(g["p_fail_holm"] < ALPHA) & (g["rate_diff"] < 0)]
        worse = g[(g["p_fail_holm"] < ALPHA) & (g["rate_diff"] > 0)]
        fam_rows.append((fam, len(g), len(better), len(worse)))
    fam_txt = "; ".join(
        f"{fam}: of {n} strata, momentum fails significantly less in {b} and more in {w} (Holm within the family)"
        for fam, n, b, w in fam_rows
    )
    rows = []
    for d in m.posted.itertuples(index=False):
        rows.append(
            (
                d.family,
                f"sgd {float(d.lr):g} vs momentum {float(d.lr_momentum):g}",
                f"{d.n_pairs:,}",
                pct(d.rate_a),
                pct(d.rate_b),
                diff_ci(d.rate_diff, d.diff_low, d.diff_high),
                f"{d.n10:,} / {d.n01:,}",
                pval(d.p_fail_holm),
                f"{d.n_mse_lower:,} / {d.n_mse_higher:,} ({d.n_mse_used:,})",
                pval(d.p_mse_holm),
            )
        )
    post_tbl = md_table(pd.DataFrame(rows, columns=["comparison", "cells", *FAMILY_COLUMNS]))
    verdicts = []
    for fam in ("equal lr", "matched step"):
        g = m.posted[m.posted["family"] == fam]
        if g.empty:
            verdicts.append(f"at {fam}: not in this dataset")
            continue
        parts = [
            f"sgd lr {float(d.lr):g} vs momentum lr {float(d.lr_momentum):g}: momentum "
            + (("fails more" if d.rate_diff > 0 else "fails less") if d.p_fail_holm < ALPHA else "no significant change")
            + f" ({diff_ci(d.rate_diff, d.diff_low, d.diff_high)}, Holm {pval(d.p_fail_holm)})"
            for d in g.itertuples(index=False)
        ]
        verdicts.append(f"at {fam}, " + "; ".join(parts))
    missing = (
        " The dataset lacks the momentum cell at lr "
        + ", ".join(f"{lr * (1 - MOMENTUM):g}" for lr in m.missing)
        + f" needed to match sgd at lr {', '.join(f'{lr:g}' for lr in m.missing)}."
        if m.missing else ""
    )
    mode_rows = [
        (
            f"{d['optimizer']}, lr {float(d['lr']):g}",
            f"{d['n']:,}",
            pct(d["n_fail"] / d["n"]),
            *(pct(d[f"share {k}"]) for k in analysis.FAILURE_MODES),
            f"{pct(d['fail_alive'])} (of {d['n_alive']:,})",
        )
        for d in m.modes.to_dict("records")
    ]
    modes_tbl = md_table(
        pd.DataFrame(
            mode_rows,
            columns=["optimizer, lr", "runs", "fail", "failed: born dead", "failed: died in training",
                     "failed: diverged", "failed: other", "fail rate if not born dead"],
        )
    )
    other = t[(t["family"] == "equal lr")].sort_values(["p_fail_holm", "activation", "output", "init", "update", "lr"], kind="stable")
    table = _family_table(other.head(12), ["activation", "output", "init", "update", "lr"])
    return f"""## Claim 3 of the posted answer: "SGD with momentum avoids the local minimum"

Momentum 0.9 moves a parameter by about lr/(1 − 0.9) = 10 lr once its velocity builds up, so "momentum at the same
lr" also means "a ten times larger step". Momentum is therefore compared with plain SGD twice, paired by seed (A =
SGD, B = momentum, everything else as posted): at the same lr, and at the matched step (momentum at lr × (1 − 0.9)
against SGD at lr).{missing}

{post_tbl}

**Verdict:** {"; ".join(verdicts)}.

How the posted stratum's runs fail (failed runs by mode, as shares of all runs; "born dead": the output unit or a
hidden layer inactive on all six inputs at init; "died in training": alive at init, dead at the end):

{modes_tbl}

Momentum gives a born-dead unit no gradient to accumulate (under the posted rule only the bias decay, which momentum
amplifies, revives some); what changes most with it is how many live units die during training, which grows with
the step size.

Across the ReLU-family strata ({fam_txt}). The twelve equal-lr strata with the smallest adjusted p-values:

{table}
"""


def section_quirks(ctx: Context) -> str:
    mc, wx = paired(ctx.runs, POSTED, {**POSTED, "update": "corrected"}, "the corrected update on the posted cell")
    dead_a = analysis.select(ctx.runs, POSTED)["output_dead_final"].mean()
    dead_b = analysis.select(ctx.runs, {**POSTED, "update": "corrected"})["output_dead_final"].mean()
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
failure {pct(mc.rate_a)} → {pct(mc.rate_b)}, {diff_ci(mc.diff, mc.diff_low, mc.diff_high)} (rescued {mc.n10:,}, broken {mc.n01:,},
McNemar {pval(mc.pvalue)}); {wilcoxon_text(wx)}. Over all strata, per activation:

{tbl}

In the posted cell, the share of runs ending with a dead output unit is {pct(dead_a)} as posted and {pct(dead_b)}
corrected. With `as_posted` the biases only decay towards 0 and never follow the error; with the corrected rule
they follow it, which can also push an output unit into its dead region during training.
"""


def section_inits(ctx: Context) -> str:
    tests = []
    for alt in ("he", "xavier"):
        try:
            tests.append((alt, *paired(ctx.runs, POSTED, {**POSTED, "init": alt}, f"{alt} init on the posted cell")))
        except Skip:
            continue
    if not tests:
        raise Skip("the dataset has neither he nor xavier init on the posted cell")
    p_fail = stats.holm([mc.pvalue for _, mc, _ in tests])
    p_mse = stats.holm([wx.pvalue for _, _, wx in tests])
    rows = [
        (
            alt,
            f"{mc.n:,}",
            pct(mc.rate_a),
            pct(mc.rate_b),
            diff_ci(mc.diff, mc.diff_low, mc.diff_high),
            f"{mc.n10:,} / {mc.n01:,}",
            pval(pf),
            f"{wx.n_lower:,} / {wx.n_higher:,} ({wx.n_used:,})",
            pval(pm),
        )
        for (alt, mc, wx), pf, pm in zip(tests, p_fail, p_mse)
    ]
    tbl = md_table(pd.DataFrame(rows, columns=["init (B)", *FAMILY_COLUMNS]))
    return f"""## He and Xavier init on the posted cell

Same seeds, same underlying normal draws, transformed by the scheme (paired design; A = randn; Holm over the
{len(tests)} comparisons per test; MSE floored at {stats.MSE_FLOOR:g}, diverged ranked worst, ties excluded):

{tbl}
"""


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
                f"{mse_at(t.iqm)} [{mse_at(t.iqm_low)}, {mse_at(t.iqm_high)}]",
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
change; MSE floored at {stats.MSE_FLOOR:g}, diverged runs ranked worst, tied pairs excluded from the ranks):

{ttbl}

The largest single improvement is the {best[1]} for {best[0]} (median {num(best[3].median_diff, 2)} decades of MSE). With a tanh
output the targets of 1.0 are reached only as the pre-activation goes to infinity, and a sigmoid output never reaches
them; the last part of the descent runs through an ever smaller output derivative. ReLU runs that reach epoch error
< 1e-3 get there in a median of {relu_ep} epochs at this lr (table above); the Q2 section compares the speeds on the
seeds both activations solve.

{fig}
"""


def section_vanishing(ctx: Context) -> str:
    r = ctx.runs
    rows = []
    for act in ("tanh", "sigmoid"):
        for out in ("same", "identity"):
            sub = analysis.select(r, {**Q1_CELL, "activation": act, "output": out, "update": "as_posted"})
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
                "median absolute error (truth 0.6)",
                "median last-epoch error",
            ],
        )
    )
    fam = _stratified(ctx, "output", "same", "identity", {"activation": ["tanh", "sigmoid"]}, "output same vs identity")
    sig = fam["p_mse_holm"] < ALPHA
    lower = fam["n_mse_lower"].astype(float) > fam["n_mse_higher"].astype(float)  # most pairs move down
    better, worse = sig & lower, sig & ~lower
    share = better.mean()
    cols = ["activation", "init", "update", "optimizer", "lr"]
    worse_txt = (
        " Significant the other way (the identity output ends at a higher MSE): "
        + "; ".join(
            f"{' / '.join(str(d[c]) for c in cols)} (higher in {d['n_mse_higher']:,}, lower in {d['n_mse_lower']:,} "
            f"of {d['n_mse_used']:,} pairs, {pval(d['p_mse_holm'])})"
            for d in fam[worse].to_dict("records")
        )
        + "."
        if worse.any()
        else " None is significant the other way."
    )
    untested = len(fam) - int(sig.sum())
    v = (
        "partly right: the gradient does vanish, but at the output unit, because the targets of 1.0 lie on tanh's "
        "asymptote and outside sigmoid's open range; a linear output unit removes most of the slowness"
        if share > 0.5
        else "not confirmed: a linear output unit does not remove the slowness in most strata"
    )
    return f"""## Claim 1 of the posted answer: "the loss does not reach exactly zero because of vanishing gradients"

{tbl}

Replacing only the output unit's activation by the identity (same hidden layers, same seeds) lowers final MSE
significantly (Wilcoxon on log10 MSE floored at {stats.MSE_FLOOR:g}, Holm over the {len(fam)} tanh/sigmoid strata) in
{int(better.sum())} of them ({pct(share)}); {untested} show no significant difference.{worse_txt}
**Verdict: {v}.**
"""


def section_ecdf(ctx: Context) -> str:
    sub = need(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("activation", "output")}, "the posted factors")
    fig = ctx.fig(
        figures.ecdf_final_mse(sub, hue="activation", col="output"), "ecdf_final_mse.png", "ECDF of final MSE"
    )
    relu = analysis.select(sub, {"activation": "relu", "output": "same"})["final_mse"].to_numpy(float)
    if relu.size == 0:
        raise Skip("no ReLU runs with the posted output")
    relu_low = (relu < 1e-3).mean()
    zero = np.isclose(relu, MSE_ZERO_OUTPUT, rtol=1e-9)
    relu_zero = zero.mean()
    relu_mid = ((relu >= 1e-3) & ~zero).mean()
    return f"""## Final MSE per activation

Runs with every other factor as posted (randn, as_posted, sgd, lr 0.01), by output activation. With the posted
ReLU output, {pct(relu_low)} of ReLU runs end below MSE 1e-3 and {pct(relu_zero)} at exactly the zero-output loss
{MSE_ZERO_OUTPUT:.4f}, with almost nothing in between ({pct(relu_mid)}); tanh and sigmoid runs end in between.

{fig}
"""


def section_failure_rates(ctx: Context) -> str:
    fr = analysis.failure_rates(ctx.runs)
    if fr.empty:
        raise Skip("no runs")
    fr = fr.assign(
        **{c: fr[c].astype(str) for c in ("activation", "output", "init", "update", "optimizer")},
        cell=lambda d: d["activation"] + " / " + d["init"],
        variant=lambda d: d["optimizer"] + ", lr " + d["lr"].astype(str),
    )
    fig = ctx.fig(
        figures.failure_rate_heatmap(
            fr,
            y="cell",
            x="variant",
            col="output",
            row="update",
            title="Failure rate per cell (%), activation / init x optimizer, lr",
        ),
        "failure_rates.png",
        "failure rate per cell",
    )
    worst = fr.sort_values("rate", ascending=False, kind="stable").head(5)
    best = fr.sort_values("rate", kind="stable").head(5)
    half = float(((fr["ci_high"] - fr["ci_low"]) / 2).max())

    def line(d):
        return f"{d.activation}/{d.output}/{d.init}/{d.update}/{d.optimizer}/lr {d.lr}: {pct(d.rate)} {ci(d.ci_low, d.ci_high)}"

    relu = analysis.select(ctx.runs, {"activation": list(analysis.RELU_FAMILY)})
    modes_tbl = ""
    if len(relu):
        mt = analysis.failure_mode_table(relu)
        label_cols = ["activation", "output", "init", "update", "optimizer", "lr"]
        mt = mt.sort_values(label_cols, kind="stable")
        rows = [
            (
                " / ".join(str(d[c]) for c in label_cols),
                f"{d['n']:,}",
                pct(d["n_fail"] / d["n"]),
                *(pct(d[f"share {k}"]) for k in analysis.FAILURE_MODES),
                pct(d["fail_alive"]),
            )
            for d in mt.to_dict("records")
        ]
        modes_tbl = (
            "\n<details><summary>How the ReLU-family cells fail (failed runs by mode, shares of all runs)</summary>\n\n"
            + md_table(pd.DataFrame(rows, columns=[" / ".join(label_cols), "runs", "fail",
                                                   *(f"failed: {k}" for k in analysis.FAILURE_MODES),
                                                   "fail rate if not born dead"]))
            + "\n\n</details>\n"
        )
    return f"""## Failure rate in every cell

Highest: {"; ".join(line(d) for d in worst.itertuples())}.
Lowest: {"; ".join(line(d) for d in best.itertuples())}.
Every cell's exact 95% CI is at most ±{100 * half:.1f} percentage points wide (half-width).

{fig}
{modes_tbl}"""


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
        ("momentum, lr 0.001", {"optimizer": "momentum", "lr": 0.001}),
        ("corrected+he+identity", {"update": "corrected", "init": "he", "output": "identity"}),
    ]:
        where = {**POSTED, **change}
        if not analysis.select(r, where).empty:
            cells[label] = where
    seeds = sorted(base["seed"].unique())
    m = analysis.seed_matrix(r, cells, seeds)
    # Rows sorted by their outcome pattern (posted cell first), so seeds that behave alike sit together.
    order = m.apply(lambda c: c.map({o: k for k, o in enumerate(OUTCOMES)})).sort_values(list(m.columns), kind="stable")
    fig = ctx.fig(
        figures.seed_lottery(
            m.loc[order.index],
            title=f"The seed lottery: all {len(seeds):,} seeds, sorted by outcome",
            ylabel=f"{len(seeds):,} seeds (rows sorted by their outcomes, left to right)",
        ),
        "seed_lottery.png",
        "seed lottery",
    )
    agree = analysis.seed_agreement(r, POSTED, {k: v for k, v in cells.items() if k != "as posted"})
    rows = [
        (d.label, f"{d.n:,}", pct(d.same_outcome), f"{d.kappa:.2f} [{d.kappa_low:.2f}, {d.kappa_high:.2f}]",
         f"{d.kappa_fail:.2f}")
        for d in agree.itertuples(index=False)
    ]
    tbl = md_table(pd.DataFrame(rows, columns=["change to the posted cell", "seeds", "same outcome",
                                                "Cohen's κ, five outcomes [95% CI]", "Cohen's κ, failed or not"]))
    top = agree.sort_values("kappa", ascending=False, kind="stable").iloc[0] if len(agree) else None
    top_txt = (
        f"The outcome carries over most with {top['label']} (κ = {top['kappa']:.2f}); κ near 0 would mean the seed's"
        " fate under the change is unrelated to its fate as posted." if top is not None else ""
    )
    return f"""## The seed lottery

Each row is one seed (the same underlying normal draws in every column); each column changes one factor of the
posted cell. Agreement with the posted cell over all shared seeds, raw and beyond chance (Cohen's κ):

{tbl}
{top_txt}

{fig}
"""


def section_thresholds(ctx: Context) -> str:
    r = ctx.runs
    post = need(r, POSTED, "the posted ReLU cell")
    rows, tests = [], []  # tests: (row, column, McNemarResult), Holm-adjusted over the whole table below
    for t in THRESHOLDS:
        fr = rate_of(post, t)
        row = [f"{t:g}", f"{pct(fr.rate)} {ci(fr.ci_low, fr.ci_high)}"]
        for alt in ({"optimizer": "momentum"}, {"update": "corrected"}, {"output": "identity"}):
            try:
                mc, _ = paired(r, POSTED, {**POSTED, **alt}, "threshold sensitivity", solved_mse=t)
                tests.append((len(rows), len(row), mc))
                row.append(None)
            except Skip:
                row.append("n/a")
        for act in ("tanh", "sigmoid"):
            sub = analysis.select(r, {**POSTED, "activation": act})
            row.append(pct(rate_of(sub, t).rate) if len(sub) else "n/a")
        rows.append(row)
    for (i, j, mc), p_adj in zip(tests, stats.holm([mc.pvalue for _, _, mc in tests])):
        rows[i][j] = f"{pct(mc.rate_b)}, {diff_ci(mc.diff, mc.diff_low, mc.diff_high)} ({pval(p_adj)})"
    tbl = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "solved if final MSE <",
                "posted ReLU fails",
                "with momentum: fails, Δ (McNemar, Holm)",
                "corrected: fails, Δ (McNemar, Holm)",
                "identity output: fails, Δ (McNemar, Holm)",
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
