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
change; MSE floored at {stats.MSE_FLOOR:g}, diverged runs ranked worst, tied pairs excluded from the ranks):

{ttbl}

The largest single improvement is the {best[1]} for {best[0]} (median {num(best[3].median_diff, 2)} decades of MSE). With a tanh
output the targets of 1.0 are reached only as the pre-activation goes to infinity, and a sigmoid output never reaches
them; how much that slows the gradient is measured in the next section. ReLU runs that reach epoch error < 1e-3 get
there in a median of {relu_ep} epochs at this lr (table above).

{fig}
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
    half = float(((fr["ci_high"] - fr["ci_low"]) / 2).max())

    def line(d):
        return f"{d.activation}/{d.output}/{d.init}/{d.update}/{d.optimizer}/lr {d.lr}: {pct(d.rate)} {ci(d.ci_low, d.ci_high)}"

    def extreme(rows: pd.DataFrame, value: float, word: str) -> str:
        """The cells at an extreme rate; when more than five tie there, say so and name five."""
        at = rows[rows["rate"] == value]
        if len(at) > 5:
            return (f"{len(at)} cells tie at the {word} rate, {pct(value)} (e.g. "
                    + "; ".join(line(d) for d in at.head(5).itertuples()) + ")")
        ranked = rows.sort_values("rate", ascending=(word == "lowest"), kind="stable").head(5)
        return "; ".join(line(d) for d in ranked.itertuples())

    worst_txt = extreme(fr, float(fr["rate"].max()), "highest")
    best_txt = extreme(fr, float(fr["rate"].min()), "lowest")
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

Highest: {worst_txt}.
Lowest: {best_txt}.
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
