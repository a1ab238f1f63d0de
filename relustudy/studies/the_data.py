"""The dataset: runs, cells, factor levels and outcomes of the default grid (descriptive: no verdict)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from relustudy.core.outcomes import OUTCOMES
from relustudy.studies.base import Study
from relustudy.studies.common import Context

FACTORS = ("activation", "output", "init", "update", "optimizer", "lr", "epochs", "hidden")


@dataclass(frozen=True)
class DataFinding:
    n_runs: int
    n_cells: int
    seeds: tuple[int, int]  # first and last seed
    levels: dict  # factor -> its levels as strings, in order of appearance
    outcomes: dict  # outcome -> runs, in OUTCOMES order


def select(ctx: Context) -> pd.DataFrame:
    return ctx.runs


def finding(r: pd.DataFrame) -> DataFinding:
    counts = r["outcome"].astype(str).value_counts()
    return DataFinding(len(r), int(r["cell_id"].nunique()), (int(r["seed"].min()), int(r["seed"].max())),
                       {f: list(map(str, pd.unique(r[f].astype(str)))) for f in FACTORS if f in r.columns},
                       {o: int(counts.get(o, 0)) for o in OUTCOMES})


def section(f: DataFinding, v, links) -> str:
    levels = ", ".join(f"`{k}` ∈ {{{', '.join(vals)}}}" for k, vals in f.levels.items())
    comp = ", ".join(f"{o} {n:,}" for o, n in f.outcomes.items())
    return (f"{f.n_runs:,} training runs in {f.n_cells} cells (one cell = one combination of factors), "
            f"seeds {f.seeds[0]}–{f.seeds[1]} in every cell. Factors: {levels}. Outcomes over all runs: {comp}.\n")


STUDY = Study(name="the-data", title="The dataset", select=select, finding=finding, section=section)
