"""Born dead: deep, narrow ReLU nets at init and after training (the born_dead experiment)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.analysis import vocabulary as vocab
from relustudy.studies.common import ALPHA, THEORY_SEED, _experiment, ci, md_table, pct
from relustudy.studies import stored_theory
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


BORN_DEAD_DRAWS = 20_000  # Monte Carlo draws per architecture and init for the theory curve


def section_born_dead(ctx: Context) -> str:
    runs, _ = _experiment(ctx, "born_dead")
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
    plot = rates.rename(columns={"born_dead": "rate", "born_dead_low": "ci_low", "born_dead_high": "ci_high"})
    n_epochs = int(runs["epochs"].max())
    fig1 = ctx.fig(
        figures.rate_vs_depth(
            plot[plot["output"] == "identity"],
            x="depth",
            hue="width",
            col="init",
            title="Born dead (identity output): a hidden layer dead on the data at init, before the "
                  f"{n_epochs:,} training epochs (dashed: Monte Carlo)",
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
                title=f"{title} (corrected update, lr 0.01, {n_epochs:,} epochs)", ylabel=f"P({what})",
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


STUDY = text_study('born-dead', 'Born dead: depth and width', section_born_dead)
