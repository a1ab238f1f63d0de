"""Depth x width of ReLU nets with the posted update and the published remedies (the depth_width experiment)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.analysis import mechanisms
from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.figures import scale as figures_scale
from relustudy.stats import proportions as stats
from relustudy.analysis import vocabulary as vocab
from relustudy.studies.common import ALPHA, THEORY_SEED, ci, md_table, pct
from relustudy.studies import stored_theory
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


DEPTH_WIDTH_DRAWS = 10_000  # Monte Carlo networks per init x architecture for the born-dead theory


def _not_generated(ctx: Context, name: str, title: str) -> None:
    """Skip, with the command that makes it, when the experiment has no data yet."""
    if name not in ctx.experiments:
        raise Skip(f"not generated yet: `data/{name}/` holds no dataset (make it with "
                   f"`python scripts/run_grid.py --experiment {name}`)", experiment=name)


def _rate(k: int, n: int) -> stats.ProportionResult:
    """Rate k / n with its exact CI; all NaN when there is nothing to count (n = 0)."""
    if int(n) == 0:
        return stats.ProportionResult(0, 0, np.nan, np.nan, np.nan, "exact")
    return stats.proportion_ci(int(k), int(n), alpha=ALPHA)


def _arch(runs: pd.DataFrame) -> pd.DataFrame:
    h = runs["hidden"].astype(str)
    return runs.assign(width=h.str.split("-").str[0].astype(int), depth=h.str.count("-") + 1)


def depth_width(ctx: Context) -> pd.DataFrame:
    """The finding behind the depth x width section: one row per init x update x architecture with
    P(fail), the failure-mode shares, P(a hidden layer dead at init) with CIs and its Monte Carlo."""
    runs = _arch(ctx.experiments["depth_width"][0])
    by = ["init", "update", "hidden"]
    rates = analysis.failure_rates(runs, by, alpha=ALPHA).merge(mechanisms.failure_mode_table(runs, by), on=by,
                                                                suffixes=("", "_m"))
    dead = pd.Series(vocab.hidden_layer_dead(runs, "init"), index=runs.index)  # the theory's event
    extra = []
    for key, g in runs.groupby(by, observed=True, sort=True):
        p = _rate(dead.loc[g.index].sum(), len(g))
        extra.append(dict(zip(by, key), width=int(g["width"].iloc[0]), depth=int(g["depth"].iloc[0]),
                          layer_dead=p.rate, ld_low=p.ci_low, ld_high=p.ci_high))
    rates = rates.merge(pd.DataFrame(extra), on=by)
    inits = sorted(rates["init"].astype(str).unique())
    archs = sorted(rates["hidden"].astype(str).unique(), key=lambda s: (len(s), s))
    th = stored_theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=DEPTH_WIDTH_DRAWS)
    th = th.assign(init=th["init"].astype(str), hidden=th["hidden"].astype(str))[["init", "hidden", "p_layer_dead"]]
    rates = rates.assign(init=rates["init"].astype(str), update=rates["update"].astype(str), hidden=rates["hidden"].astype(str))
    return rates.merge(th.rename(columns={"p_layer_dead": "theory"}), on=["init", "hidden"], how="left")


def section_depth_width(ctx: Context) -> str:
    title = "Depth × width with the posted update, and the published remedies"
    _not_generated(ctx, "depth_width", title)
    r = ctx.finding(depth_width)
    runs = ctx.experiments["depth_width"][0]
    fig1 = ctx.fig(
        figures.rate_vs_depth(r.drop(columns="theory"), x="depth", hue="width", col="init", row="update",
                              title="P(fail) after 5000 epochs (95% CI)", ylabel="P(fail)"),
        "depth_width_fail.png", "failure vs depth and width",
    )
    init_rows = r[r["update"] == sorted(r["update"].unique())[0]]  # the init is the same under both updates
    plot = init_rows[["init", "width", "depth", "layer_dead", "ld_low", "ld_high", "theory"]].rename(
        columns={"layer_dead": "rate", "ld_low": "ci_low", "ld_high": "ci_high"})
    fig2 = ctx.fig(
        figures.rate_vs_depth(plot, x="depth", hue="width", col="init",
                              title="A hidden layer dead on the data at init (dashed: Monte Carlo of the init)",
                              ylabel="P(layer dead at init)"),
        "depth_width_born_dead.png", "born dead vs depth and width",
    )
    modes = list(mechanisms.FAILURE_MODES)
    shares = r.sort_values(["width", "depth"]).assign(
        net=lambda d: d["width"].astype(str) + "×" + d["depth"].astype(str), **{k: r[f"share {k}"] for k in modes})
    fig3 = ctx.fig(
        figures_scale.stacked_shares(shares, x="net", col="init", row="update", levels=modes,
                                     title="Failed runs by mode per architecture (x: width×depth; shares of all runs)"),
        "depth_width_modes.png", "failure kinds vs architecture",
    )
    deepest = r[(r["width"] == r["width"].min()) & (r["depth"] == r["depth"].max())]
    deep_txt = "; ".join(
        f"{d.init}/{d.update} {pct(d.rate)} {ci(d.ci_low, d.ci_high)}" for d in deepest.sort_values(["update", "init"]).itertuples()
    )
    gap = np.nanmax(np.abs(init_rows["layer_dead"] - init_rows["theory"]))
    upd = r.pivot_table(index=["init", "hidden"], columns="update", values="rate")
    upd_txt = ""
    if {"as_posted", "corrected"} <= set(upd.columns):
        diff = float((upd["as_posted"] - upd["corrected"]).mean())
        worse = int((upd["as_posted"] > upd["corrected"]).sum())
        which = "the corrected update" if diff > 0 else "the posted update"
        upd_txt = (f"Averaged over the {len(upd)} init × architecture cells, {which} fails less often, by "
                   f"{abs(100 * diff):.1f} percentage points (the posted update fails more often in {worse} of "
                   f"{len(upd)} cells). He and the biased He inits start with zero or constant biases, which the posted "
                   "update only decays: under it He is a bias-free network for ever, and the He-with-bias inits lose "
                   "their bias; compare them within the corrected update.")
    by_init = r.groupby("init")[["rate", "share born dead", "share died in training"]].mean()
    init_txt = "; ".join(
        f"{i}: P(fail) {pct(v['rate'])}, born dead {pct(v['share born dead'])}, died in training {pct(v['share died in training'])}"
        for i, v in by_init.iterrows()
    )
    tbl = md_table(pd.DataFrame(
        [(d.init, d.update, d.hidden, f"{d.n:,}", f"{pct(d.rate)} {ci(d.ci_low, d.ci_high)}",
          *[pct(r.loc[d.Index, f"share {k}"]) for k in modes],
          f"{pct(d.layer_dead)}", pct(d.theory) if np.isfinite(d.theory) else "–")
         for d in r.sort_values(["init", "update", "width", "depth"]).itertuples()],
        columns=["init", "update", "hidden", "runs", "P(fail) [95% CI]", *modes, "layer dead at init", "theory (MC)"],
    ))
    widths = ", ".join(map(str, sorted(r["width"].unique())))
    depths = ", ".join(map(str, sorted(r["depth"].unique())))
    return f"""## {title}

ReLU nets 2-w-…-w-1 (output `same`) of widths {widths} and depths {depths} ({r["hidden"].nunique()} architectures: wide and
deep ones cost too much to run here), lr 0.01, 5000 epochs, both updates, {runs["seed"].nunique():,} seeds per cell, with
five inits: randn (as posted), He, RAI (randomized asymmetric initialization, Lu, Shin, Su and Karniadakis 2019: per unit
one of its weights or its bias drawn from Beta(2, 1), the rest from N(0, 0.36 / fan_in)), and He with a small positive
bias (0.01, 0.1). Failure = not solved; born dead = the output unit or a hidden layer dead on all six inputs at init.

At the narrowest, deepest net ({deepest["hidden"].iloc[0] if len(deepest) else "–"}): {deep_txt}. Averaged over the
architectures: {init_txt}. {upd_txt} The Monte Carlo of the init distributions ({DEPTH_WIDTH_DRAWS:,} networks per init
and architecture) differs from the measured rate of a dead hidden layer at init by at most {100 * gap:.1f} percentage
points.

{fig1}

{fig2}

{fig3}

<details><summary>All cells</summary>

{tbl}

</details>
"""


STUDY = text_study('depth-width', 'Depth × width with the posted update, and the published remedies', section_depth_width)
