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
from relustudy.studies.base import Figure, Study, Verdict


DEPTH_WIDTH_DRAWS = 10_000  # Monte Carlo networks per init x architecture for the born-dead theory
UPDATE_MAJORITY = 0.5  # an update "fails less" when it does so (CIs apart) in more than this share of the cells


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


def select(ctx: Context) -> pd.DataFrame:
    _not_generated(ctx, "depth_width", STUDY.title)
    return ctx.experiments["depth_width"][0]


def depth_width(runs: pd.DataFrame) -> pd.DataFrame:
    """The finding behind the depth x width section: one row per init x update x architecture with
    P(fail), the failure-mode shares, P(a hidden layer dead at init) with CIs and its Monte Carlo."""
    runs = _arch(runs)
    by = ["init", "update", "hidden"]
    rates = analysis.failure_rates(runs, by, alpha=ALPHA).merge(mechanisms.failure_mode_table(runs, by), on=by,
                                                                suffixes=("", "_m"))
    dead = pd.Series(vocab.hidden_layer_dead(runs, "init"), index=runs.index)  # the theory's event
    extra = []
    for key, g in runs.groupby(by, observed=True, sort=True):
        p = _rate(dead.loc[g.index].sum(), len(g))
        extra.append(dict(zip(by, key), width=int(g["width"].iloc[0]), depth=int(g["depth"].iloc[0]),
                          lr=float(g["lr"].iloc[0]), epochs=int(g["epochs"].max()),
                          layer_dead=p.rate, ld_low=p.ci_low, ld_high=p.ci_high))
    rates = rates.merge(pd.DataFrame(extra), on=by)
    inits = sorted(rates["init"].astype(str).unique())
    archs = sorted(rates["hidden"].astype(str).unique(), key=lambda s: (len(s), s))
    th = stored_theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=DEPTH_WIDTH_DRAWS)
    th = th.assign(init=th["init"].astype(str), hidden=th["hidden"].astype(str))[["init", "hidden", "p_layer_dead"]]
    rates = rates.assign(init=rates["init"].astype(str), update=rates["update"].astype(str), hidden=rates["hidden"].astype(str))
    return rates.merge(th.rename(columns={"p_layer_dead": "theory"}), on=["init", "hidden"], how="left")


def verdict(r: pd.DataFrame) -> Verdict:
    """Which update fails less over the init x architecture cells: the one lower in more than
    :data:`UPDATE_MAJORITY` of the cells whose exact 95% CIs do not overlap ("as_posted" or
    "corrected"), "mixed" when neither is, "untested" without both updates."""
    ci_of = r.pivot_table(index=["init", "hidden"], columns="update", values=["rate", "ci_low", "ci_high"])
    if not {"as_posted", "corrected"} <= set(r["update"]):
        return Verdict("untested", "The experiment does not hold both updates.")
    a, c = ci_of.xs("as_posted", axis=1, level=1), ci_of.xs("corrected", axis=1, level=1)
    corr_less = int((c["ci_high"] < a["ci_low"]).sum())
    post_less = int((a["ci_high"] < c["ci_low"]).sum())
    n = len(ci_of)
    diff = float((a["rate"] - c["rate"]).mean())
    said = (f"of the {n} init × architecture cells, the corrected update fails less in {corr_less} and the posted update "
            f"in {post_less} (exact 95% CIs apart; threshold: more than {pct(UPDATE_MAJORITY, 0)} of the cells); "
            f"averaged over the cells the posted update's P(fail) is {100 * diff:+.1f} percentage points from the "
            "corrected one's")
    if corr_less > UPDATE_MAJORITY * n:
        return Verdict("corrected", f"The corrected update fails less: {said}.")
    if post_less > UPDATE_MAJORITY * n:
        return Verdict("as_posted", f"The posted update fails less: {said}.")
    return Verdict("mixed", f"Neither update fails less across the architectures: {said}.")


def figures_(r: pd.DataFrame):
    init_rows = r[r["update"] == sorted(r["update"].unique())[0]]  # the init is the same under both updates
    plot = init_rows[["init", "width", "depth", "layer_dead", "ld_low", "ld_high", "theory"]].rename(
        columns={"layer_dead": "rate", "ld_low": "ci_low", "ld_high": "ci_high"})
    modes = list(mechanisms.FAILURE_MODES)
    shares = r.sort_values(["width", "depth"]).assign(
        net=lambda d: d["width"].astype(str) + "×" + d["depth"].astype(str), **{k: r[f"share {k}"] for k in modes})
    return [
        Figure("depth_width_fail.png", figures.rate_vs_depth(
            r.drop(columns="theory"), x="depth", hue="width", col="init", row="update",
            title=f"P(fail) after {int(r['epochs'].max())} epochs (95% CI)", ylabel="P(fail)"), "failure vs depth and width"),
        Figure("depth_width_born_dead.png", figures.rate_vs_depth(
            plot, x="depth", hue="width", col="init",
            title="A hidden layer dead on the data at init (dashed: Monte Carlo of the init)",
            ylabel="P(layer dead at init)"), "born dead vs depth and width"),
        Figure("depth_width_modes.png", figures_scale.stacked_shares(
            shares, x="net", col="update", row="init", levels=modes,
            title="Failed runs by mode per architecture (x: width×depth; shares of all runs)"),
            "failure kinds vs architecture"),
    ]


def section(r: pd.DataFrame, v: Verdict, links) -> str:
    lr, epochs = float(r["lr"].iloc[0]), int(r["epochs"].max())
    init_rows = r[r["update"] == sorted(r["update"].unique())[0]]  # the init is the same under both updates
    modes = list(mechanisms.FAILURE_MODES)
    deepest = r[(r["width"] == r["width"].min()) & (r["depth"] == r["depth"].max())]
    deep_txt = "; ".join(
        f"{d.init}/{d.update} {pct(d.rate)} {ci(d.ci_low, d.ci_high)}" for d in deepest.sort_values(["update", "init"]).itertuples()
    )
    gap = np.nanmax(np.abs(init_rows["layer_dead"] - init_rows["theory"]))
    decay = (1 - lr) ** (6 * epochs)  # the posted `b -= lr * b`, once per sample, six samples an epoch
    upd_txt = (f"{v.text} Under the posted update every net's biases decay by (1 − lr) per sample step, to "
               f"{decay:.0e} of their initial value after {epochs:,} epochs, randn's included; He starts with zero biases, "
               "and the He-with-bias inits lose theirs: compare the inits within the corrected update.")
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
    return f"""ReLU nets 2-w-…-w-1 (output `same`) of widths {widths} and depths {depths} ({r["hidden"].nunique()} architectures: wide and
deep ones cost too much to run here), lr {lr:g}, {epochs:,} epochs, both updates, {int(r["n"].max()):,} seeds per cell, with
five inits: randn (as posted), He [He2015], RAI (randomized asymmetric initialization, Lu, Shin, Su and Karniadakis 2019 [Lu2019]: per unit
one of its weights or its bias drawn from Beta(2, 1), the rest from N(0, 0.36 / fan_in)), and He with a small positive
bias (0.01, 0.1). Failure = not solved; born dead = the output unit or a hidden layer dead on all six inputs at init.

At the narrowest, deepest net ({deepest["hidden"].iloc[0] if len(deepest) else "–"}): {deep_txt}. Averaged over the
architectures: {init_txt}. {upd_txt} The Monte Carlo of the init distributions ({DEPTH_WIDTH_DRAWS:,} networks per init
and architecture) differs from the measured rate of a dead hidden layer at init by at most {100 * gap:.1f} percentage
points.

{links["depth_width_fail.png"]}

{links["depth_width_born_dead.png"]}

{links["depth_width_modes.png"]}

<details><summary>All cells</summary>

{tbl}

</details>
"""


STUDY = Study(name="depth-width", title="Depth × width with the posted update, and the published remedies",
              select=select, finding=depth_width, verdict=verdict, figures=figures_, section=section)
