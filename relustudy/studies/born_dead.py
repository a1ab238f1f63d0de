"""Born dead: deep, narrow ReLU nets at init and after training (the born_dead experiment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.analysis import vocabulary as vocab
from relustudy.studies.common import ALPHA, THEORY_SEED, _experiment, ci, md_table, pct
from relustudy.studies import stored_theory
from relustudy.studies.common import Context, Skip, versus
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.analysis import mechanisms


BORN_DEAD_DRAWS = 20_000  # Monte Carlo draws per architecture and init for the theory curve


RISING_SHARE = 0.75  # the born-dead rate rises from the shallowest to the deepest net in at least this share of series: "rises with depth"
DOMINANT = 0.5  # a failure mode holding more than this share of the deepest alive-at-init nets' failures: the way they fail


@dataclass(frozen=True)
class BornDeadFinding:
    runs: pd.DataFrame  # the experiment's runs with width, depth, born_dead, stuck, solved, diverged, mode
    rates: pd.DataFrame  # per init x output x architecture: n, rates (+CI) of born_dead/stuck/solved/diverged, theory
    rising: int  # width x init series (identity output) whose born-dead rate is higher at the deepest than the shallowest net
    series: int
    deep_modes: pd.DataFrame  # deepest nets, alive at init, failed: per init x output, n_fail and each mode's share
    n_epochs: int


def select(ctx: Context) -> pd.DataFrame:
    return _experiment(ctx, "born_dead")[0]


def finding(runs: pd.DataFrame) -> BornDeadFinding:
    r = runs.assign(
        width=runs["hidden"].astype(str).str.split("-").str[0].astype(int),
        depth=runs["hidden"].astype(str).str.count("-") + 1,
        born_dead=vocab.born_dead(runs),
        stuck=runs["outcome"].astype(str).isin(["collapsed", "dead_output"]),
        solved=runs["outcome"].astype(str) == "solved",
        diverged=runs["outcome"].astype(str) == "diverged",
    )
    archs = sorted(r["hidden"].astype(str).unique(), key=lambda h: (len(h), h))
    inits = sorted(r["init"].astype(str).unique())
    th = stored_theory.born_dead_table(inits, archs, "relu", seed=THEORY_SEED, n_draws=BORN_DEAD_DRAWS)
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
    ident = rates[rates["output"] == "identity"]
    # Does death grow with depth? Compare the shallowest and deepest net of every width and init.
    trend = ident.sort_values("depth").groupby(["init", "width"])["born_dead"]
    rising = int((trend.last() > trend.first()).sum())
    r = r.assign(mode=mechanisms.failure_mode(r))
    deepest = r[(r["depth"] == r["depth"].max()) & ~r["born_dead"] & (r["mode"] != "solved")]
    modes = []
    for (init, out), g in deepest.groupby(["init", "output"], observed=True, sort=True):
        modes.append(dict(init=str(init), output=str(out), n_fail=len(g),
                          **{k: float((g["mode"] == k).mean()) for k in mechanisms.FAILURE_MODES}))
    return BornDeadFinding(r, rates, rising, int(trend.ngroups), pd.DataFrame(modes), int(runs["epochs"].max()))


def verdict(f: BornDeadFinding) -> Verdict:
    """Two rules. Depth: the identity-output born-dead rate rises from the shallowest to the
    deepest net in at least :data:`RISING_SHARE` of the width x init series ("rises", as Lu et al.
    predict for symmetric inits) or not ("does not rise"). How the deepest nets alive at init fail:
    per init x output, the failure mode holding more than :data:`DOMINANT` of their failures
    ("mixed" where none does). Key "<rises|does not rise>+<mode of the randn/same cell, else the first>"."""
    share = f.rising / f.series if f.series else np.nan
    depth_txt = (f"the born-dead rate rises from the shallowest to the deepest net in {f.rising} of {f.series} width × "
                 f"init series ({versus(share, RISING_SHARE)})")
    if share >= RISING_SHARE:
        depth_key, depth_txt = "rises", (f"As Lu, Shin, Su and Karniadakis (2019) [Lu2019] predict for symmetric inits (a deep ReLU "
                                         f"net dies in probability as depth grows), {depth_txt}.")
    else:
        depth_key, depth_txt = "does not rise", (f"Unlike the prediction of Lu, Shin, Su and Karniadakis (2019) [Lu2019] for "
                                                 f"symmetric inits, {depth_txt}, short of a consistent rise.")
    if f.deep_modes.empty:
        return Verdict(f"{depth_key}+none", depth_txt + " No deepest net alive at init fails.")
    depth = int(f.runs["depth"].max())
    parts, keys = [], {}
    for d in f.deep_modes.to_dict("records"):
        shares = {k: d[k] for k in mechanisms.FAILURE_MODES}
        top = max(mechanisms.FAILURE_MODES, key=lambda k: shares[k])
        mode = top if shares[top] > DOMINANT else "mixed"
        keys[(d["init"], d["output"])] = mode
        parts.append(f"{d['init']}/{d['output']}: {mode if mode != 'mixed' else 'no mode above ' + pct(DOMINANT, 0)} "
                     f"({', '.join(f'{k} {pct(v)}' for k, v in shares.items() if v > 0)} of {d['n_fail']:,} failures)")
    main = keys.get(("randn", "same"), next(iter(keys.values())))
    return Verdict(f"{depth_key}+{main}", f"{depth_txt} At depth {depth}, the nets alive at init that fail do so by "
                                          f"(the mode above {pct(DOMINANT, 0)} of their failures): " + "; ".join(parts) + ".")


def _after_training(f: BornDeadFinding, what: str, title: str) -> Figure:
    """P(what) against depth per width, init x output panels."""
    plot = f.rates.rename(columns={what: "rate", f"{what}_low": "ci_low", f"{what}_high": "ci_high"})
    return Figure(f"born_dead_{what}.png", figures.rate_vs_depth(
        plot.drop(columns="theory"), x="depth", hue="width", col="init", row="output",
        title=f"{title} (corrected update, lr 0.01, {f.n_epochs:,} epochs)", ylabel=f"P({what})"), f"{what} vs depth")


def figures_(f: BornDeadFinding):
    plot = f.rates.rename(columns={"born_dead": "rate", "born_dead_low": "ci_low", "born_dead_high": "ci_high"})
    return [
        Figure("born_dead.png", figures.rate_vs_depth(
            plot[plot["output"] == "identity"], x="depth", hue="width", col="init",
            title="Born dead (identity output): a hidden layer dead on the data at init, before the "
                  f"{f.n_epochs:,} training epochs (dashed: Monte Carlo)", ylabel="P(born dead)"),
            "born dead vs depth"),
        _after_training(f, "solved", "Solved after training"),
        _after_training(f, "diverged", "Diverged during training"),
    ]


def section(f: BornDeadFinding, v: Verdict, links) -> str:
    r, rates = f.runs, f.rates
    ident = rates[rates["output"] == "identity"]
    gap = np.nanmax(np.abs(ident["born_dead"] - ident["theory"]))
    deep = ident[ident["depth"] == ident["depth"].max()]
    shallow = ident[ident["depth"] == ident["depth"].min()]
    by_width = deep.groupby("width")["born_dead"].mean()
    dead_runs = r[r["born_dead"]]
    n_dead_solved = int(dead_runs["solved"].sum())
    same = rates[rates["output"] == "same"]
    extra = (same["born_dead"].mean() - ident["born_dead"].mean()) if len(same) else np.nan
    worst_div = rates.sort_values("diverged", ascending=False, kind="stable").iloc[0]
    tbl = md_table(pd.DataFrame(
        [(t.init, t.output, t.hidden, f"{t.n:,}", f"{pct(t.born_dead)} {ci(t.born_dead_low, t.born_dead_high)}",
          pct(t.theory) if np.isfinite(t.theory) else "–", pct(t.stuck), pct(t.diverged), pct(t.solved))
         for t in rates.sort_values(["init", "output", "width", "depth"]).itertuples()],
        columns=["init", "output", "hidden", "runs", "born dead [95% CI]", "theory (MC)",
                 "collapsed or dead after training", "diverged", "solved"]))
    epochs = ", ".join(map(str, sorted(r["epochs"].unique())))
    return f"""ReLU nets of widths {", ".join(map(str, sorted(r["width"].unique())))} and depths {", ".join(map(str, sorted(r["depth"].unique())))}
(hidden layers), corrected update, lr 0.01, {epochs} epochs, {r["seed"].nunique():,} seeds per cell. "Born dead" = the output is constant
on the six inputs at init: some hidden layer is dead on all of them or, with a ReLU output (`same`), the output unit is;
with the corrected update no gradient can ever change that, so the share not born dead bounds the share that can be
solved (Shin and Karniadakis's *trainability* [Shin2020]). With the identity output, at depth {deep["depth"].iloc[0]} the born-dead rate is {pct(deep["born_dead"].min())}–{pct(deep["born_dead"].max())}
across widths and inits ({"; ".join(f"width {w}: {pct(v)}" for w, v in by_width.items())}, averaged over inits), against
{pct(shallow["born_dead"].min())}–{pct(shallow["born_dead"].max())} at depth {shallow["depth"].iloc[0]}. The Monte Carlo probability from the init
distributions alone ({BORN_DEAD_DRAWS:,} draws per architecture) differs from the measured rate by at most
{100 * gap:.1f} percentage points. A ReLU output unit adds its own chance of being dead: averaged over all cells the
born-dead rate is {100 * extra:.1f} percentage points higher with `same` than with `identity`. Of the
{len(dead_runs):,} runs born dead, {n_dead_solved:,} end solved{": with the corrected update a dead net stays dead" if n_dead_solved == 0 else ""}.
Over all cells {pct(r["diverged"].mean())} of the runs diverge, most in {worst_div["init"]}/{worst_div["output"]}/{worst_div["hidden"]}
({pct(worst_div["diverged"])}).

**{v.text}**

{links["born_dead.png"]}

{links["born_dead_solved.png"]}

{links["born_dead_diverged.png"]}

<details><summary>All cells</summary>

{tbl}

</details>
"""


STUDY = Study(name="born-dead", title="Born dead: depth and width", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section)
