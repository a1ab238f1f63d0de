"""Sections on the named experiments: Q1 at 100,000 epochs, born dead, remedies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, figures, stats, theory
from ..experiments import born_dead_at_init
from .common import (
    ALPHA,
    POSTED,
    THEORY_SEED,
    Context,
    Skip,
    _experiment,
    ci,
    md_table,
    mse_at,
    need,
    num,
    pct,
    pval,
)


def section_q1_long(ctx: Context) -> str:
    runs, curves = _experiment(ctx, "q1_long")
    if curves is None:
        raise Skip("experiment 'q1_long' has no learning curves")
    epochs = int(runs["epochs"].max())
    grid = [e for e in (100, 1000, 10_000, epochs) if e <= epochs]
    bands = analysis.curve_bands(curves, runs, ["activation", "update", "output"])
    rows, slopes = [], {}
    for (act, upd, out), b in bands.groupby(["activation", "update", "output"], sort=False):
        b = b.set_index("epoch")["q50"]
        sub = analysis.select(runs, {"activation": act, "update": upd, "output": out})
        med = {e: float(b.get(e, np.nan)) for e in grid}
        # Late slope of the median curve on log-log axes: 0 is a plateau, -1 is error ~ 1/epoch.
        e0 = max(e for e in b.index if e <= epochs / 10)
        # A median at the precision floor measures rounding, not learning: no slope through it.
        lo_end, hi_end = np.log10([b[e0], med[epochs]])
        floor = np.log10(stats.MSE_FLOOR) + 1  # within a decade of the floor
        slope = (hi_end - lo_end) / (np.log10(epochs) - np.log10(e0)) if min(lo_end, hi_end) > floor else np.nan
        slopes[(act, upd, out)] = slope
        hit = sub["epochs_to_1e-3"].dropna().to_numpy(float)
        rows.append(
            (
                act,
                upd,
                out,
                f"{len(sub):,}",
                *[mse_at(stats.log10_mse([med[e]])[0]) for e in grid],
                num(slope, 2) if np.isfinite(slope) else "– (at the floor)",
                pct((sub["final_mse"] < 1e-4).mean()),
                num(np.median(hit), 4) if hit.size else "never",
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
                *[f"median epoch error @ {e:,}" for e in grid],
                f"late log-log slope ({e0:,}→{epochs:,})",
                "final MSE < 1e-4",
                "median epochs to < 1e-3",
            ],
        )
    )
    sel = bands.assign(curve=bands["activation"] + " / " + bands["update"])
    fig = ctx.fig(
        figures.learning_curves(
            sel,
            hue="curve",
            col="output",
            title=f"tanh and sigmoid for {epochs:,} epochs at lr 0.1 (median, IQR)",
            reference=float(np.nanmedian(sel.loc[sel["epoch"] == sel["epoch"].max(), "q50"])) * sel["epoch"].max() / 1000,
        ),
        "q1_long_curves.png",
        "long learning curves",
    )
    same = [r for r in rows if r[2] == "same"]
    ident = [r for r in rows if r[2] == "identity"]
    return f"""## Q1 at the asker's scale: {epochs:,} epochs

tanh and sigmoid at lr 0.1 (randn init, plain SGD), {runs["seed"].nunique():,} seeds per cell, the error recorded at
log-spaced epochs. A late log-log slope near 0 is a plateau; -1 means the error still falls like 1/epoch (dashed
line in the figure); medians and slopes are clipped at the precision floor {stats.MSE_FLOOR:g}.

{tbl}

Late slopes with the saturating (`same`) output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in same)}; with a
linear output: {"; ".join(f"{r[0]}/{r[1]} {r[4 + len(grid)]}" for r in ident)}. {_slope_text(slopes)} Targets of 1.0 sit
on tanh's asymptote and outside sigmoid's open range (0, 1), so a saturating output must drive its pre-activation ever
further; a linear output unit removes that, yet its error too keeps falling like a power of the epoch rather than
reaching zero (the hidden tanh/sigmoid units are smooth, and the gradient shrinks with the error: see the vanishing-
gradient section's measurements). A slope through a median at the precision floor {stats.MSE_FLOOR:g} would measure the
clip, not learning, and is not given.

{fig}
"""


def _slope_text(slopes: dict) -> str:
    """The range of the measured late slopes per output (those clear of the floor)."""
    parts = []
    for out in ("same", "identity"):
        v = [x for (a, u, o), x in slopes.items() if o == out and np.isfinite(x)]
        if v:
            parts.append(f"with output {out} the median error decays like epoch^{min(v):.1f} to epoch^{max(v):.1f}")
    return ("Measured: " + "; ".join(parts) + ".") if parts else ""


BORN_DEAD_DRAWS = 20_000  # Monte Carlo draws per architecture and init for the theory curve


def section_born_dead(ctx: Context) -> str:
    runs, _ = _experiment(ctx, "born_dead")
    r = runs.assign(
        width=runs["hidden"].astype(str).str.split("-").str[0].astype(int),
        depth=runs["hidden"].astype(str).str.count("-") + 1,
        born_dead=born_dead_at_init(runs).to_numpy(),
        stuck=runs["outcome"].astype(str).isin(["collapsed", "dead_output"]),
        solved=runs["outcome"].astype(str) == "solved",
        diverged=runs["outcome"].astype(str) == "diverged",
    )
    archs = sorted(r["hidden"].astype(str).unique(), key=lambda h: (len(h), h))
    inits = sorted(r["init"].astype(str).unique())
    th = theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=BORN_DEAD_DRAWS)
    th = th.assign(hidden=th["hidden"].astype(str), init=th["init"].astype(str))
    rates = []
    for (init, out, width, depth, hidden), g in r.groupby(
        ["init", "output", "width", "depth", "hidden"], observed=True
    ):
        row = dict(init=str(init), output=str(out), width=width, depth=depth, hidden=str(hidden), n=len(g))
        for what in ("born_dead", "stuck", "solved", "diverged"):
            pr = stats.proportion_ci(int(g[what].sum()), len(g), alpha=ALPHA)
            row.update({what: pr.rate, f"{what}_low": pr.ci_low, f"{what}_high": pr.ci_high})
        rates.append(row)
    # The theory counts dead hidden layers (the output is then constant); with a ReLU output a dead output unit
    # also makes it constant, so the theory applies as is only to the identity output.
    rates = pd.DataFrame(rates).merge(
        th[["init", "hidden", "p"]].rename(columns={"p": "theory"}), on=["init", "hidden"], how="left"
    )
    rates.loc[rates["output"] != "identity", "theory"] = np.nan
    if not (rates["output"] == "identity").any():
        raise Skip("the born_dead experiment has no identity-output cells to compare with the theory")
    plot = rates.rename(columns={"born_dead": "rate", "born_dead_low": "ci_low", "born_dead_high": "ci_high"})
    fig1 = ctx.fig(
        figures.rate_vs_depth(
            plot[plot["output"] == "identity"],
            x="depth",
            hue="width",
            col="init",
            title="Born dead (identity output): a hidden layer dead on the data at init (dashed: Monte Carlo)",
            ylabel="P(born dead)",
        ),
        "born_dead.png",
        "born dead vs depth",
    )
    def after_training(what: str, title: str) -> str:
        """P(what) against depth per width, init x output panels, as a figure link."""
        plot = rates.rename(columns={what: "rate", f"{what}_low": "ci_low", f"{what}_high": "ci_high"})
        return ctx.fig(
            figures.rate_vs_depth(
                plot.drop(columns="theory"), x="depth", hue="width", col="init", row="output",
                title=f"{title} (corrected update, lr 0.01)", ylabel=f"P({what})",
            ),
            f"born_dead_{what}.png",
            f"{what} vs depth",
        )

    fig2 = after_training("solved", "Solved after training")
    fig3 = after_training("diverged", "Diverged during training")
    worst_div = rates.sort_values("diverged", ascending=False, kind="stable").iloc[0]
    ident = rates[rates["output"] == "identity"]
    gap = np.nanmax(np.abs(ident["born_dead"] - ident["theory"]))
    deep = ident[ident["depth"] == ident["depth"].max()]
    shallow = ident[ident["depth"] == ident["depth"].min()]
    # Does death grow with depth? Compare the shallowest and deepest net of every width and init.
    trend = ident.sort_values("depth").groupby(["init", "width"])["born_dead"]
    rising = int((trend.last() > trend.first()).sum())
    by_width = deep.groupby("width")["born_dead"].mean()
    dead_runs = r[r["born_dead"]]
    n_dead_solved = int(dead_runs["solved"].sum())
    same = rates[rates["output"] == "same"]
    extra = (same["born_dead"].mean() - ident["born_dead"].mean()) if len(same) else np.nan
    tbl = md_table(
        pd.DataFrame(
            [
                (
                    t.init,
                    t.output,
                    t.hidden,
                    f"{t.n:,}",
                    f"{pct(t.born_dead)} {ci(t.born_dead_low, t.born_dead_high)}",
                    pct(t.theory) if np.isfinite(t.theory) else "–",
                    pct(t.stuck),
                    pct(t.diverged),
                    pct(t.solved),
                )
                for t in rates.sort_values(["init", "output", "width", "depth"]).itertuples()
            ],
            columns=[
                "init",
                "output",
                "hidden",
                "runs",
                "born dead [95% CI]",
                "theory (MC)",
                "collapsed or dead after training",
                "diverged",
                "solved",
            ],
        )
    )
    epochs = ", ".join(map(str, sorted(r["epochs"].unique())))
    return f"""## Born dead: depth and width

ReLU nets of widths {", ".join(map(str, sorted(r["width"].unique())))} and depths {", ".join(map(str, sorted(r["depth"].unique())))}
(hidden layers), corrected update, lr 0.01, {epochs} epochs, {r["seed"].nunique():,} seeds per cell. "Born dead" = the output is constant
on the six inputs at init: some hidden layer is dead on all of them or, with a ReLU output (`same`), the output unit is;
with the corrected update no gradient can ever change that. With the identity output, at depth {deep["depth"].iloc[0]} the born-dead rate is {pct(deep["born_dead"].min())}–{pct(deep["born_dead"].max())}
across widths and inits ({"; ".join(f"width {w}: {pct(v)}" for w, v in by_width.items())}, averaged over inits), against
{pct(shallow["born_dead"].min())}–{pct(shallow["born_dead"].max())} at depth {shallow["depth"].iloc[0]}. The rate rises from the
shallowest to the deepest net in {rising} of {trend.ngroups} width × init series, as Lu, Shin, Su and Karniadakis (2019)
predict for symmetric inits (a deep ReLU net dies in probability as depth grows). The Monte Carlo probability from the init
distributions alone ({BORN_DEAD_DRAWS:,} draws per architecture) differs from the measured rate by at most
{100 * gap:.1f} percentage points. A ReLU output unit adds its own chance of being dead: averaged over all cells the
born-dead rate is {100 * extra:.1f} percentage points higher with `same` than with `identity`. Of the
{len(dead_runs):,} runs born dead, {n_dead_solved:,} end solved{": with the corrected update a dead net stays dead" if n_dead_solved == 0 else ""}.
Deep, wide nets that are alive at init can fail another way: they diverge. Over all cells {pct(r["diverged"].mean())} of
the runs diverge, most in {worst_div["init"]}/{worst_div["output"]}/{worst_div["hidden"]} ({pct(worst_div["diverged"])}).

{fig1}

{fig2}

{fig3}

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


def remedy_results(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The posted cell's runs, and per remedy its paired rescue/break counts, rates with CIs and McNemar p.

    Returns
    -------
    (base runs, DataFrame with one row per remedy present: label, n, rescued, of, rate, ci_low, ci_high,
    broken, of_solved, b_rate, b_low, b_high, p, p_holm, fail_b); Skip if there is nothing to compare.
    """
    base_where = dict(POSTED)
    base = need(runs, base_where, "the posted cell in the remedies experiment")
    if int(analysis.is_failure(base).sum()) == 0:
        raise Skip("no failing seeds in the posted cell")
    res = []
    for label, change in REMEDIES:
        where = {**base_where, **change}
        if analysis.select(runs, where).empty:
            continue
        t = analysis.paired_table(runs, base_where, where)
        mc = stats.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
        rescued = stats.proportion_ci(mc.n10, mc.n10 + mc.n11, alpha=ALPHA)
        broken = stats.proportion_ci(mc.n01, mc.n01 + mc.n00, alpha=ALPHA)
        res.append(
            dict(
                label=label,
                n=mc.n,
                rescued=mc.n10,
                of=mc.n10 + mc.n11,
                rate=rescued.rate,
                ci_low=rescued.ci_low,
                ci_high=rescued.ci_high,
                broken=mc.n01,
                of_solved=mc.n01 + mc.n00,
                b_rate=broken.rate,
                b_low=broken.ci_low,
                b_high=broken.ci_high,
                p=mc.pvalue,
                fail_b=mc.rate_b,
            )
        )
    if not res:
        raise Skip("the remedies experiment has none of the remedy cells")
    df = pd.DataFrame(res)
    df["p_holm"] = stats.holm(df["p"].to_numpy())
    return base, df


def remedies(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The finding behind the remedies section and the summary: :func:`remedy_results`."""
    runs, _ = _experiment(ctx, "remedies")
    return remedy_results(runs)


def section_remedies(ctx: Context) -> str:
    base, df = ctx.finding(remedies)
    n_fail = int(analysis.is_failure(base).sum())
    plot = pd.concat(
        [
            df.assign(measure="rescued: failing seeds now solved"),
            df.assign(
                measure="broken: solved seeds now failing", rate=df["b_rate"], ci_low=df["b_low"], ci_high=df["b_high"]
            ),
        ]
    ).assign(panel="", row="")
    fig = ctx.fig(
        figures.failure_rate_dots(
            plot,
            y="label",
            hue="measure",
            col="panel",
            row="row",
            title="Remedies on the posted cell, paired by seed (95% CI)",
            xlabel="share of seeds",
        ),
        "remedies.png",
        "remedies",
    )
    tbl = md_table(
        pd.DataFrame(
            [
                (
                    d.label,
                    f"{d.rescued:,} of {d.of:,}",
                    f"{pct(d.rate)} {ci(d.ci_low, d.ci_high)}",
                    f"{d.broken:,} of {d.of_solved:,}",
                    pct(1 - d.fail_b),
                    pval(d.p_holm),
                )
                for d in df.itertuples()
            ],
            columns=[
                "remedy (one change to the posted cell)",
                "failing seeds rescued",
                "rescue rate [95% CI]",
                "solved seeds broken",
                "solved with the remedy",
                "McNemar p (Holm)",
            ],
        )
    )
    best = df.sort_values("rate", ascending=False).iloc[0]
    mom = df[df["label"] == "momentum"]
    mom_txt = (
        f"Momentum, the posted answer's remedy, rescues {pct(mom['rate'].iloc[0])} of the failing seeds and breaks "
        f"{pct(mom['b_rate'].iloc[0])} of the solved ones (McNemar, Holm: {pval(mom['p_holm'].iloc[0])})."
        if len(mom)
        else "Momentum was not in this experiment."
    )
    return f"""## Remedies on the failing seeds

The posted cell (ReLU, randn, as posted, plain SGD, lr 0.01) on {len(base):,} seeds fails on {n_fail:,}
({pct(n_fail / len(base))}). Each remedy changes one thing (or two) and runs on the same seeds, so for each we can count
the failing seeds it rescues and the solved seeds it breaks:

{tbl}

{mom_txt} The best rescue rate is {best["label"]}'s ({pct(best["rate"])}).

{fig}
"""
