"""The seed lottery: each seed's outcome across one-factor changes of the posted cell."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.core.outcomes import OUTCOMES
from relustudy.figures import cells as figures
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import POSTED, md_table, need, pct, side
from relustudy.studies.common import Context, Skip

CHANGES = (
    ("momentum", {"optimizer": "momentum"}),
    ("corrected", {"update": "corrected"}),
    ("he", {"init": "he"}),
    ("xavier", {"init": "xavier"}),
    ("identity out", {"output": "identity"}),
    ("leaky_relu", {"activation": "leaky_relu"}),
    ("lr 0.1", {"lr": 0.1}),
    ("momentum, lr 0.001", {"optimizer": "momentum", "lr": 0.001}),
    ("corrected+he+identity", {"update": "corrected", "init": "he", "output": "identity"}),
)
CARRIES = 0.6  # Cohen's κ above this (Landis & Koch's "substantial"): the seed's fate carries over the change
UNRELATED = 0.2  # κ below this ("slight"): the fate under the change is nearly unrelated to the fate as posted


@dataclass(frozen=True)
class LotteryFinding:
    matrix: pd.DataFrame  # seeds x cells of outcomes, rows sorted by their outcome pattern
    agreement: pd.DataFrame  # mechanisms.seed_agreement: label, n, same_outcome, kappa (+CI), kappa_fail


def select(ctx: Context) -> dict:
    base = need(ctx.runs, POSTED, "the posted ReLU cell")
    cells = {"as posted": POSTED}
    for label, change in CHANGES:
        where = {**POSTED, **change}
        if not analysis.select(ctx.runs, where).empty:
            cells[label] = where
    return {"runs": ctx.runs, "cells": cells, "seeds": sorted(base["seed"].unique())}


def finding(d: dict) -> LotteryFinding:
    m = analysis.seed_matrix(d["runs"], d["cells"], d["seeds"])
    # Rows sorted by their outcome pattern (posted cell first), so seeds that behave alike sit together.
    order = m.apply(lambda c: c.map({o: k for k, o in enumerate(OUTCOMES)})).sort_values(list(m.columns), kind="stable")
    agree = mechanisms.seed_agreement(d["runs"], POSTED, {k: v for k, v in d["cells"].items() if k != "as posted"})
    return LotteryFinding(m.loc[order.index], agree)


def verdict(f: LotteryFinding) -> Verdict:
    """How far the seed's fate carries over the change that preserves it most (highest κ): its
    κ's 95% CI against :data:`CARRIES` and :data:`UNRELATED` ("carries", "partly", "unrelated";
    a CI across a bound: "borderline", naming both readings)."""
    if f.agreement.empty:
        raise Skip("no one-factor change of the posted cell in the dataset")
    top = f.agreement.sort_values("kappa", ascending=False, kind="stable").iloc[0]
    low = f.agreement.sort_values("kappa", kind="stable").iloc[0]
    k = (f"{top['label']} (κ = {top['kappa']:.2f} [{top['kappa_low']:.2f}, {top['kappa_high']:.2f}], "
         f"{int(top['n']):,} seeds)")
    rng = (f"κ runs from {low['kappa']:.2f} ({low['label']}) to {top['kappa']:.2f} over the {len(f.agreement)} changes; "
           "κ near 0 would mean the seed's fate under a change is unrelated to its fate as posted")
    hi, lo = side(top["kappa_low"], top["kappa_high"], CARRIES), side(top["kappa_low"], top["kappa_high"], UNRELATED)
    if hi == "above":
        return Verdict("carries", f"A seed's fate carries over most with {k}, above {CARRIES} (substantial "
                                  f"agreement); {rng}.")
    if hi == "borderline":
        return Verdict("borderline", f"The outcome carries over most with {k}; its CI straddles {CARRIES}, so it "
                                     f"reads as substantial or only moderate agreement; {rng}.")
    if lo == "above":
        return Verdict("partly", f"No change keeps a seed's fate well: the most is {k}, below {CARRIES}; {rng}.")
    if lo == "borderline":
        return Verdict("borderline", f"The outcome carries over most with {k}; its CI straddles {UNRELATED}, so it "
                                     f"reads as slight or as no agreement; {rng}.")
    return Verdict("unrelated", f"Even the change that keeps it most, {k}, leaves a seed's fate nearly unrelated to "
                                f"its fate as posted (below {UNRELATED}); {rng}.")


def figures_(f: LotteryFinding):
    n = len(f.matrix)
    return [Figure("seed_lottery.png", figures.seed_lottery(
        f.matrix, title=f"The seed lottery: all {n:,} seeds, sorted by outcome",
        ylabel=f"{n:,} seeds (rows sorted by their outcomes, left to right)"), "seed lottery")]


def section(f: LotteryFinding, v: Verdict, links) -> str:
    rows = [
        (d.label, f"{d.n:,}", pct(d.same_outcome), f"{d.kappa:.2f} [{d.kappa_low:.2f}, {d.kappa_high:.2f}]",
         f"{d.kappa_fail:.2f}")
        for d in f.agreement.itertuples(index=False)
    ]
    tbl = md_table(pd.DataFrame(rows, columns=["change to the posted cell", "seeds", "same outcome",
                                                "Cohen's κ, five outcomes [95% CI]", "Cohen's κ, failed or not"]))
    return f"""How much a result can hang on the seed alone is a known hazard of deep-learning benchmarks [Picard2021]; here it is
the whole story. Each row is one seed (the same underlying normal draws in every column); each column changes one factor
of the posted cell. Agreement with the posted cell over all shared seeds, raw and beyond chance (Cohen's κ):

{tbl}

{v.text}

{links["seed_lottery.png"]}
"""


STUDY = Study(name="seed-lottery", title="The seed lottery", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section)
