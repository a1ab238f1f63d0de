"""The dataset: runs, cells, factor levels and outcomes of the default grid."""
from __future__ import annotations

import pandas as pd

from relustudy.core.outcomes import OUTCOMES
from relustudy.studies.common import Context
from relustudy.studies.legacy import text_study


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


STUDY = text_study('the-data', 'The dataset', section_dataset)
