"""Sections on the scale experiments (issue 11): a million seeds, the phase diagram, depth x width.

Each section's numbers come from one finding (``million``, ``phase``, ``depth_width``),
computed once from the experiment's runs table. A section whose data folder is missing
says so ("not generated yet") with the command that makes it, instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import analysis, figures, figures_scale, stats, theory
from ..config import MOMENTUM
from ..outcomes import OUTCOMES
from .common import ALPHA, POSTED, THEORY_DRAWS, THEORY_SEED, Context, Skip, ci, md_table, num, pct, pval

PHASE_PANELS = ("update", "optimizer")
DEPTH_WIDTH_DRAWS = 10_000  # Monte Carlo networks per init x architecture for the born-dead theory
SAFE = 0.10  # "safe" on the phase map: P(fail) below this


def _not_generated(ctx: Context, name: str, title: str) -> str | None:
    """The stub of a section whose experiment has no data yet, or None if it has."""
    if name in ctx.experiments:
        return None
    return (
        f"## {title}\n\nNot generated yet: `data/{name}/` holds no dataset. Make it with "
        f"`python scripts/run_grid.py --experiment {name}` and rerun `python scripts/make_report.py`.\n"
    )


def _cell(where: dict) -> dict:
    return {**POSTED, **where}


def _rate(k: int, n: int) -> stats.ProportionResult:
    """Rate k / n with its exact CI; all NaN when there is nothing to count (n = 0)."""
    if int(n) == 0:
        return stats.ProportionResult(0, 0, np.nan, np.nan, np.nan, "exact")
    return stats.proportion_ci(int(k), int(n), alpha=ALPHA)


# --------------------------------------------------------------------------- the phase diagram


@dataclass
class PhaseResult:
    rates: pd.DataFrame  # per update x optimizer x lr x init_gain: n, rate, CI, failure-mode shares
    posted: pd.Series  # the posted point's row of ``rates``
    moves: pd.DataFrame  # one grid step from the posted point: direction, lr, gain, paired difference + CI, McNemar p
    bitwise: tuple[int, int, str] | None  # (identical outcome and final_mse bits, shared seeds, the dtype compared)
    safe: pd.DataFrame  # per panel: share of map points with P(fail) < SAFE, the best point


def phase(ctx: Context) -> PhaseResult:
    """The finding behind the phase-diagram section."""
    runs = ctx.experiments["phase"][0]
    by = [*PHASE_PANELS, "lr", "init_gain"]
    rates = analysis.failure_rates(runs, by, alpha=ALPHA).merge(analysis.failure_mode_table(runs, by), on=by,
                                                                suffixes=("", "_m"))
    rates["panel"] = rates["update"].astype(str) + " / " + rates["optimizer"].astype(str)
    at = (rates["update"] == "as_posted") & (rates["optimizer"] == "sgd")
    post = rates[at & np.isclose(rates["lr"], POSTED["lr"]) & (rates["init_gain"] == 1.0)]
    if post.empty:
        raise Skip("the phase experiment lacks the posted point (as_posted, sgd, lr 0.01, gain 1)")
    post = post.iloc[0]
    lrs, gains = np.sort(rates["lr"].unique()), np.sort(rates["init_gain"].unique())
    i, j = int(np.searchsorted(lrs, post["lr"])), int(np.searchsorted(gains, 1.0))
    base = {"update": "as_posted", "optimizer": "sgd", "lr": post["lr"], "init_gain": 1.0}
    moves = []
    for name, di, dj in (("lr up", 1, 0), ("lr down", -1, 0), ("gain up", 0, 1), ("gain down", 0, -1)):
        if not (0 <= i + di < len(lrs) and 0 <= j + dj < len(gains)):
            continue
        other = {**base, "lr": lrs[i + di], "init_gain": gains[j + dj]}
        t = analysis.paired_table(runs, base, other)
        mc = stats.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
        # Per doubling of the parameter moved: lr steps are 10^(1/4), gain steps 2^(1/2) on the shipped grid.
        doublings = abs(np.log2((lrs[i + di] / lrs[i]) if di else (gains[j + dj] / gains[j])))
        moves.append(dict(direction=name, lr=lrs[i + di], init_gain=gains[j + dj], n=mc.n, rate=mc.rate_b,
                          diff=mc.diff, low=mc.diff_low, high=mc.diff_high, p=mc.pvalue, per_doubling=mc.diff / doublings))
    moves = pd.DataFrame(moves)
    if len(moves):
        moves["p_holm"] = stats.holm(moves["p"].to_numpy())
    bitwise = None
    ref = analysis.select(ctx.runs, POSTED) if "lr" in ctx.runs.columns else ctx.runs.iloc[:0]
    mine = analysis.select(runs, {**POSTED, "init_gain": 1.0})
    both = _shared_runs(ref, mine, ["final_mse", "outcome"]) if len(ref) and len(mine) else []
    if len(both):
        # The map's table may be compact (final_mse in float32): compare at the precision it keeps.
        dtype = mine["final_mse"].dtype
        d = both["final_mse_d"].to_numpy().astype(dtype)
        x = both["final_mse_x"].to_numpy().astype(dtype)
        same = (d.view(f"i{dtype.itemsize}") == x.view(f"i{dtype.itemsize}")) & (
            both["outcome_d"].astype(str) == both["outcome_x"].astype(str)).to_numpy()
        bitwise = (int(same.sum()), len(both), str(dtype))
    safe = []
    for panel, g in rates.groupby("panel", sort=False):
        best = g.sort_values(["rate", "lr", "init_gain"]).iloc[0]
        safe.append(dict(panel=panel, points=len(g), safe=float((g["ci_high"] < SAFE).mean()),
                         best_rate=best["rate"], best_lr=best["lr"], best_gain=best["init_gain"]))
    return PhaseResult(rates, post, moves, bitwise, pd.DataFrame(safe))


def section_phase(ctx: Context) -> str:
    title = "The phase diagram: failure over learning rate × init gain"
    stub = _not_generated(ctx, "phase", title)
    if stub:
        return stub
    f = ctx.finding(phase)
    r, post = f.rates, f.posted
    runs = ctx.experiments["phase"][0]
    n_seeds = runs["seed"].nunique()
    mark = (float(post["lr"]), 1.0)
    fig1 = ctx.fig(
        figures_scale.phase_heatmaps(r, x="lr", y="init_gain", col="panel", mark=mark,
                                     title="P(fail) over lr × init gain (white: 50% contour; star: the posted program)"),
        "phase_fail.png", "phase diagram",
    )
    modes = [k for k in analysis.FAILURE_MODES]
    long = pd.concat([r.assign(kind=k, share=r[f"share {k}"]) for k in modes], ignore_index=True)
    fig2 = ctx.fig(
        figures_scale.phase_heatmaps(long, x="lr", y="init_gain", col="panel", row="kind", value="share",
                                     mark=mark, title="How runs fail: share of all runs per failure kind (white: 50%)",
                                     cbar_label="share of runs"),
        "phase_modes.png", "phase diagram by failure kind",
    )
    moves = md_table(pd.DataFrame(
        [(d.direction, num(d.lr, 4), num(d.init_gain, 4), pct(d.rate), f"{100 * d.diff:+.1f} pp [{100 * d.low:+.1f}, {100 * d.high:+.1f}]",
          f"{100 * d.per_doubling:+.1f} pp", pval(d.p_holm), f"{d.n:,}")
         for d in f.moves.itertuples()],
        columns=["one step", "lr", "gain", "P(fail)", "paired difference vs the posted point [95% CI]",
                 "per doubling", "McNemar p (Holm)", "pairs"],
    )) if len(f.moves) else "(no neighbours on the grid)"
    best = f.moves.sort_values("per_doubling").iloc[0] if len(f.moves) else None
    safe = md_table(pd.DataFrame(
        [(d.panel, f"{d.points}", pct(d.safe), pct(d.best_rate), num(d.best_lr, 4), num(d.best_gain, 4)) for d in f.safe.itertuples()],
        columns=["update / optimizer", "map points", f"share with P(fail) < {pct(SAFE, 0)} (upper CI)", "lowest P(fail)",
                 "at lr", "at gain"],
    ))
    kinds = post[[f"share {k}" for k in modes]]
    bit = (
        f"The posted point is the default grid's posted cell (same cell id): on the {f.bitwise[1]:,} seeds both hold, "
        f"{f.bitwise[0]:,} runs have the same outcome and bit-identical final MSEs (compared as {f.bitwise[2]}, the "
        f"precision of this map's table; the runs themselves are equal in float64, `tests/test_scale.py`)."
        if f.bitwise else "The loaded default grid shares no cell with this map, so the posted point is not compared with it here."
    )
    lr_levels = np.sort(r["lr"].unique())
    g_levels = np.sort(r["init_gain"].unique())
    return f"""## {title}

ReLU 2-4-4-1 (output `same`), randn init with weights and biases multiplied by the init gain (W, b ~ N(0, gain²)),
{len(lr_levels)} learning rates {num(lr_levels[0], 3)}–{num(lr_levels[-1], 3)} (log-spaced) × {len(g_levels)} gains
{num(g_levels[0], 3)}–{num(g_levels[-1], 3)}, both updates, SGD and momentum {MOMENTUM} at equal lr, {n_seeds:,} seeds per
point, paired by seed across the whole map. Once its velocity builds up, momentum at lr moves like SGD at lr / (1 − {MOMENTUM}),
so the matched-step comparison reads the momentum panels one decade to the left of the SGD ones (momentum at lr 0.001
against SGD at lr 0.01).

**Where the posted program sits.** At lr {num(post["lr"], 3)}, gain 1, as posted, SGD: P(fail) = {pct(post["rate"])}
{ci(post["ci_low"], post["ci_high"])}; of all its runs {", ".join(f"{k} {pct(v)}" for k, v in zip(modes, kinds))}. {bit}

**Which way to safety.** One grid step from the posted point, paired by seed:

{moves}

{f"The fastest way down is {best['direction']} ({100 * best['per_doubling']:+.1f} percentage points per doubling of the parameter moved)." if best is not None else ""}

{safe}

{fig1}

{fig2}
"""


# --------------------------------------------------------------------------- depth x width


def _arch(runs: pd.DataFrame) -> pd.DataFrame:
    h = runs["hidden"].astype(str)
    return runs.assign(width=h.str.split("-").str[0].astype(int), depth=h.str.count("-") + 1)


def layer_dead_at_init(runs: pd.DataFrame) -> np.ndarray:
    """(R,) bool: some hidden layer has every unit dead on all six inputs at init (the theory's event)."""
    cols = [c for c in runs.columns if c.startswith("dead_frac_init_l")]
    return np.column_stack([runs[c].to_numpy(float) == 1.0 for c in cols]).any(axis=1)


def depth_width(ctx: Context) -> pd.DataFrame:
    """The finding behind the depth x width section: one row per init x update x architecture with
    P(fail), the failure-mode shares, P(a hidden layer dead at init) with CIs and its Monte Carlo."""
    runs = _arch(ctx.experiments["depth_width"][0])
    by = ["init", "update", "hidden"]
    rates = analysis.failure_rates(runs, by, alpha=ALPHA).merge(analysis.failure_mode_table(runs, by), on=by,
                                                                suffixes=("", "_m"))
    dead = pd.Series(layer_dead_at_init(runs), index=runs.index)
    extra = []
    for key, g in runs.groupby(by, observed=True, sort=True):
        p = _rate(dead.loc[g.index].sum(), len(g))
        extra.append(dict(zip(by, key), width=int(g["width"].iloc[0]), depth=int(g["depth"].iloc[0]),
                          layer_dead=p.rate, ld_low=p.ci_low, ld_high=p.ci_high))
    rates = rates.merge(pd.DataFrame(extra), on=by)
    inits = sorted(rates["init"].astype(str).unique())
    archs = sorted(rates["hidden"].astype(str).unique(), key=lambda s: (len(s), s))
    th = theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=DEPTH_WIDTH_DRAWS)
    th = th.assign(init=th["init"].astype(str), hidden=th["hidden"].astype(str))[["init", "hidden", "p_layer_dead"]]
    rates = rates.assign(init=rates["init"].astype(str), update=rates["update"].astype(str), hidden=rates["hidden"].astype(str))
    return rates.merge(th.rename(columns={"p_layer_dead": "theory"}), on=["init", "hidden"], how="left")


def section_depth_width(ctx: Context) -> str:
    title = "Depth × width with the posted update, and the published remedies"
    stub = _not_generated(ctx, "depth_width", title)
    if stub:
        return stub
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
    modes = list(analysis.FAILURE_MODES)
    shares = r.sort_values(["width", "depth"]).assign(
        net=lambda d: d["width"].astype(str) + "×" + d["depth"].astype(str), **{k: r[f"share {k}"] for k in modes})
    fig3 = ctx.fig(
        figures_scale.stacked_shares(shares, x="net", col="init", row="update", levels=modes,
                                     title="How runs fail, per architecture width×depth (shares of all runs)"),
        "depth_width_modes.png", "failure kinds vs architecture",
    )
    deepest = r[(r["width"] == r["width"].min()) & (r["depth"] == r["depth"].max())]
    deep_txt = "; ".join(
        f"{d.init}/{d.update} {pct(d.rate)} {ci(d.ci_low, d.ci_high)}" for d in deepest.sort_values(["update", "init"]).itertuples()
    )
    gap = np.nanmax(np.abs(init_rows["layer_dead"] - init_rows["theory"]))
    upd = r.pivot_table(index=["init", "hidden"], columns="update", values="rate")
    upd_txt = (
        f"Averaged over the {len(upd)} init × architecture cells, the posted update fails "
        f"{100 * (upd['as_posted'] - upd['corrected']).mean():+.1f} percentage points more often than the corrected one "
        f"(as posted worse in {int((upd['as_posted'] > upd['corrected']).sum())} of {len(upd)})."
        if {"as_posted", "corrected"} <= set(upd.columns) else ""
    )
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
