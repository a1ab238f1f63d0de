"""Which sample a verdict reads: the largest loaded sample that holds a cell (issue 25.2).

The default grid (1,000 seeds per cell) is the factorial *screen*; ``million``, ``noise``,
``confirm`` and ``confirm_q1`` hold some of its cells at 100,000 seeds or more (the
*confirmation* samples, paired by seed: they share seeds 0..99,999). A study that compares
cells asks :func:`largest` for each of them and says which sample and n its verdict rests on
(:func:`sample_text`); where no confirmation sample holds a cell, the screen answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from relustudy.analysis.cells import select
from relustudy.core.config import Cell
from relustudy.core.schema import cell_id
from relustudy.studies.common import POSTED, Context

SCREEN = "default"  # the name a sample from ctx.runs (the default grid) goes by
CONFIRMED_SEEDS = 100_000  # a sample with at least this many seeds of a cell confirms it


@dataclass(frozen=True)
class Sample:
    """The runs of one cell in one dataset: ``name`` (an experiment, or :data:`SCREEN`)."""

    name: str
    runs: pd.DataFrame  # the cell's runs, sorted by seed

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def confirmed(self) -> bool:
        return self.n >= CONFIRMED_SEEDS


def cell_key(change: Mapping[str, object]) -> str | None:
    """The cell id of the posted cell with ``change`` applied (factor -> value); None when a
    factor or value is unknown to this version of the package (a row for a later factor)."""
    try:
        return cell_id(Cell(**{k: (tuple(int(w) for w in str(v).split("-")) if k == "hidden" else v)
                               for k, v in change.items()}))
    except (TypeError, ValueError):
        return None


def _sources(ctx: Context) -> list[tuple[str, pd.DataFrame]]:
    out = [(name, runs) for name, (runs, _) in ctx.experiments.items()]
    return out + [(SCREEN, ctx.runs)] if ctx.dataset is None or not out else out + [(ctx.dataset, ctx.runs)]


def largest(ctx: Context, change: Mapping[str, object]) -> Sample | None:
    """The largest loaded sample of the posted cell with ``change`` applied (ties: the first
    experiment in load order, the screen last); None when no loaded table holds the cell (by
    its id, or on the screen by its factor values)."""
    key = cell_key(change)
    if key is None:
        return None
    best = None
    for name, runs in _sources(ctx):
        if "cell_id" not in runs.columns:
            continue
        ids = runs["cell_id"]
        hit = (ids.cat.codes.to_numpy() == list(ids.cat.categories).index(key)) if (
            isinstance(ids.dtype, pd.CategoricalDtype) and key in set(ids.cat.categories)) else (
            np.zeros(len(runs), bool) if isinstance(ids.dtype, pd.CategoricalDtype) else (ids.astype(str) == key).to_numpy())
        n = int(hit.sum())
        if n and (best is None or n > best[1]):
            best = (name, n, hit, runs)
    if best is None:
        # No table holds the cell as Cell() names it (a grid with other epochs, say): the largest
        # table's runs with the posted cell's factor values and ``change``, when that is one cell.
        where = {**POSTED, **change}
        for name, runs in _sources(ctx):
            if not {"cell_id", *where} <= set(runs.columns):
                continue
            rows = select(runs, where)
            if len(rows) and rows["cell_id"].nunique() == 1 and (best is None or len(rows) > best[1]):
                best = (name, len(rows), None, rows)
        if best is None:
            return None
        return Sample(best[0], best[3].sort_values("seed", kind="stable"))
    name, _, hit, runs = best
    return Sample(name, runs[hit].sort_values("seed", kind="stable"))


def sample_text(samples: Mapping[str, Sample]) -> str:
    """'n = 100,000 per cell from confirm (momentum) and million (posted)': which sample each named
    cell came from, as a section states it."""
    by = {}
    for label, s in samples.items():
        by.setdefault((s.name, s.n), []).append(label)
    return "; ".join(f"{', '.join(labels)}: {n:,} seeds from `{name}`"
                     + (" (the screen)" if name == SCREEN else "") for (name, n), labels in by.items())


def largest_frame(ctx: Context, changes: Mapping[str, Mapping[str, object]], *,
                  common_seeds: bool = False) -> tuple[pd.DataFrame, dict[str, Sample]]:
    """The largest sample of each cell (label -> change to the posted cell) in one runs table (the
    columns every sample has), and {label: Sample} for the cells found. ``common_seeds``: keep
    only the seeds every found cell holds (so per-cell counts and paired counts share one n)."""
    found = {label: s for label, c in changes.items() if (s := largest(ctx, c)) is not None}
    if not found:
        return pd.DataFrame(), {}
    frames = [s.runs for s in found.values()]
    if common_seeds:
        keep = frames[0]["seed"].to_numpy()
        for f in frames[1:]:
            keep = np.intersect1d(keep, f["seed"].to_numpy())
        found = {k: Sample(s.name, s.runs[np.isin(s.runs["seed"].to_numpy(), keep)]) for k, s in found.items()}
        frames = [s.runs for s in found.values()]
    cols = [c for c in frames[0].columns if all(c in f.columns for f in frames[1:])]
    # Categories differ between tables: compare as strings (analysis.select does) after the concat.
    table = pd.concat([f[cols].astype({c: str for c in cols if isinstance(f[c].dtype, pd.CategoricalDtype)})
                       for f in frames], ignore_index=True)
    table["seed"] = table["seed"].astype(np.int64)
    return table, found
