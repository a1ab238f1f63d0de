"""The phase map: failure over learning rate x init gain, both updates, SGD and momentum (the phase experiment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.stats import paired_tests
from relustudy.stats import proportions as stats
from relustudy.figures import scale as figures_scale
from relustudy.core.optimizers import MOMENTUM
from relustudy.studies.common import ALPHA, POSTED, ci, md_table, num, pct, pval
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict


PHASE_PANELS = ("update", "optimizer")


SAFE = 0.10  # "safe" on the phase map: P(fail) below this


def _shared_runs(default: pd.DataFrame, other: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Runs of the same cell (by cell id) and seed in two tables: ``<col>_d`` and ``<col>_x``."""
    keys = ["cell_id", "seed"]
    a = default[keys + cols].assign(cell_id=default["cell_id"].astype(str))
    b = other[keys + cols].assign(cell_id=other["cell_id"].astype(str))
    return a.merge(b, on=keys, suffixes=("_d", "_x"))


def _not_generated(ctx: Context, name: str, title: str) -> None:
    """Skip, with the command that makes it, when the experiment has no data yet."""
    if name not in ctx.experiments:
        raise Skip(f"not generated yet: `data/{name}/` holds no dataset (make it with "
                   f"`python scripts/run_grid.py --experiment {name}`)", experiment=name)


@dataclass
class PhaseResult:
    rates: pd.DataFrame  # per update x optimizer x lr x init_gain: n, rate, CI, failure-mode shares
    posted: pd.Series  # the posted point's row of ``rates``
    moves: pd.DataFrame  # one grid step from the posted point: direction, lr, gain, paired difference + CI, McNemar p
    bitwise: tuple[int, int, str] | None  # (identical outcome and final_mse bits, shared seeds, the dtype compared)
    safe: pd.DataFrame  # per panel: share of map points with P(fail) < SAFE, the best point
    n_seeds: int = 0  # seeds per map point


def select(ctx: Context):
    _not_generated(ctx, "phase", STUDY.title)
    return ctx.experiments["phase"][0], ctx.runs


def phase(data) -> PhaseResult:
    """The finding behind the phase-diagram section: ``data`` = (the map's runs, the default grid's runs)."""
    runs, default = data
    by = [*PHASE_PANELS, "lr", "init_gain"]
    rates = analysis.failure_rates(runs, by, alpha=ALPHA).merge(mechanisms.failure_mode_table(runs, by), on=by,
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
        mc = paired_tests.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
        # Per doubling of the parameter moved: lr steps are 10^(1/4), gain steps 2^(1/2) on the shipped grid.
        doublings = abs(np.log2((lrs[i + di] / lrs[i]) if di else (gains[j + dj] / gains[j])))
        moves.append(dict(direction=name, lr=lrs[i + di], init_gain=gains[j + dj], n=mc.n, rate=mc.rate_b,
                          diff=mc.diff, low=mc.diff_low, high=mc.diff_high, p=mc.pvalue, per_doubling=mc.diff / doublings))
    moves = pd.DataFrame(moves)
    if len(moves):
        moves["p_holm"] = stats.holm(moves["p"].to_numpy())
    bitwise = None
    ref = analysis.select(default, POSTED) if "lr" in default.columns else default.iloc[:0]
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
    return PhaseResult(rates, post, moves, bitwise, pd.DataFrame(safe), int(runs["seed"].nunique()))


def verdict(f: PhaseResult) -> Verdict:
    """Which one-step move from the posted point lowers P(fail) most per doubling of the parameter
    moved: "<direction>" when its paired difference is significant (Holm p < ALPHA, CI below 0),
    "borderline" when it falls but its CI reaches 0 or Holm p >= ALPHA, "none" when no move lowers it."""
    post = f.posted
    at = f"P(fail) at the posted point is {pct(post['rate'])} {ci(post['ci_low'], post['ci_high'])} of {int(post['n']):,}"
    if f.moves.empty:
        return Verdict("none", f"{at}; the grid has no neighbour of the posted point.")
    best = f.moves.sort_values("per_doubling").iloc[0]
    move = (f"{best['direction']} (to lr {num(best['lr'], 4)}, gain {num(best['init_gain'], 4)}): "
            f"{100 * best['diff']:+.1f} pp [{100 * best['low']:+.1f}, {100 * best['high']:+.1f}], "
            f"{100 * best['per_doubling']:+.1f} pp per doubling, McNemar Holm {pval(best['p_holm'])}, {int(best['n']):,} pairs")
    if best["diff"] >= 0:
        return Verdict("none", f"{at}; no single grid step lowers it (the least harmful is {move}).")
    if best["p_holm"] < ALPHA and best["high"] < 0:
        return Verdict(str(best["direction"]), f"{at}; the fastest way down is {move}.")
    return Verdict("borderline", f"{at}; the steepest fall is {move}, but its CI reaches 0 or its Holm p is not below "
                                 f"{ALPHA}: it reads as a way down or as no change.")


def figures_(f: PhaseResult):
    r, post = f.rates, f.posted
    mark = (float(post["lr"]), 1.0)
    modes = list(mechanisms.FAILURE_MODES)
    shown = [k for k in modes if (r[f"share {k}"] > 0).any()]  # a mode with no run anywhere gets no empty row
    long = pd.concat([r.assign(kind=f"failed: {k}", share=r[f"share {k}"]) for k in shown], ignore_index=True)
    return [
        Figure("phase_fail.png", figures_scale.phase_heatmaps(
            r, x="lr", y="init_gain", col="panel", mark=mark,
            title="P(fail) over lr × init gain (white: 50% contour of the 3×3-smoothed map; star: the posted "
                  "program; circle: each panel's lowest P(fail))", annotate_min=True), "phase diagram"),
        Figure("phase_modes.png", figures_scale.phase_heatmaps(
            long, x="lr", y="init_gain", col="panel", row="kind", value="share", level=None, mark=mark,
            title="Failed runs by mode, shares of all runs (\"failed: born dead\" = born dead and failed)",
            cbar_label="share of runs"), "phase diagram by failure kind"),
    ]


def section(f: PhaseResult, v: Verdict, links) -> str:
    r, post = f.rates, f.posted
    n_seeds = f.n_seeds
    modes = list(mechanisms.FAILURE_MODES)
    moves = md_table(pd.DataFrame(
        [(d.direction, num(d.lr, 4), num(d.init_gain, 4), pct(d.rate), f"{100 * d.diff:+.1f} pp [{100 * d.low:+.1f}, {100 * d.high:+.1f}]",
          f"{100 * d.per_doubling:+.1f} pp", pval(d.p_holm), f"{d.n:,}")
         for d in f.moves.itertuples()],
        columns=["one step", "lr", "gain", "P(fail)", "paired difference vs the posted point [95% CI]",
                 "per doubling", "McNemar p (Holm)", "pairs"],
    )) if len(f.moves) else "(no neighbours on the grid)"
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
    return f"""ReLU 2-4-4-1 (output `same`), randn init with weights and biases multiplied by the init gain (W, b ~ N(0, gain²)),
{len(lr_levels)} learning rates {num(lr_levels[0], 3)}–{num(lr_levels[-1], 3)} (log-spaced) × {len(g_levels)} gains
{num(g_levels[0], 3)}–{num(g_levels[-1], 3)}, both updates, SGD and momentum {MOMENTUM} at equal lr, {n_seeds:,} seeds per
point, paired by seed across the whole map. Once its velocity builds up, momentum at lr moves like SGD at lr / (1 − {MOMENTUM}),
so the matched-step comparison reads the momentum panels one decade to the left of the SGD ones (momentum at lr 0.001
against SGD at lr 0.01).

**Where the posted program sits.** At lr {num(post["lr"], 3)}, gain 1, as posted, SGD: P(fail) = {pct(post["rate"])}
{ci(post["ci_low"], post["ci_high"])}; of all its runs {", ".join(f"{k} {pct(v)}" for k, v in zip(modes, kinds))}. {bit}

**Which way to safety.** One grid step from the posted point, paired by seed (Holm family: these
{len(f.moves)} steps):

{moves}

**{v.text}**

{safe}

{links["phase_fail.png"]}

{links["phase_modes.png"]}
"""


STUDY = Study(name="phase", title="The phase map: failure over learning rate × init gain", select=select,
              finding=phase, verdict=verdict, figures=figures_, section=section)
