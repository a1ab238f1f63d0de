"""Descriptive summaries that feed the figures: outcome shares, curve bands, seed maps.

Pure functions of the runs/curves DataFrames; no plotting, no I/O.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .outcomes import OUTCOMES


def select(runs: pd.DataFrame, where: Mapping[str, object]) -> pd.DataFrame:
    """Rows of ``runs`` whose columns equal every value in ``where`` (lists mean 'any of')."""
    mask = np.ones(len(runs), dtype=bool)
    for col, val in where.items():
        if col not in runs.columns:
            raise ValueError(f"unknown column {col!r}; allowed: {', '.join(map(str, runs.columns))}")
        vals = list(val) if isinstance(val, (list, tuple, set)) else [val]
        s = runs[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s):
            # Labels compare as strings, so a level given as e.g. a number still matches.
            mask &= s.astype(str).isin([str(v) for v in vals]).to_numpy()
        else:
            mask &= s.isin(vals).to_numpy()
    return runs[mask]


def outcome_shares(runs: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Share of each outcome within each group.

    Returns
    -------
    DataFrame with the ``by`` columns (as str), outcome, n (group size), count, share;
    one row per group x outcome (all five outcomes, zeros included).
    """
    by = list(by)
    keys = runs[by].astype(str)
    counts = (
        pd.DataFrame({**{c: keys[c] for c in by}, "outcome": runs["outcome"].astype(str)})
        .value_counts()
        .rename("count")
        .reset_index()
    )
    groups = keys.drop_duplicates().reset_index(drop=True)
    full = groups.merge(pd.DataFrame({"outcome": list(OUTCOMES)}), how="cross")
    out = full.merge(counts, on=[*by, "outcome"], how="left").fillna({"count": 0})
    out["count"] = out["count"].astype(int)
    out["n"] = out.groupby(by)["count"].transform("sum")
    out["share"] = out["count"] / out["n"]
    return out


def curve_bands(
    curves: pd.DataFrame, runs: pd.DataFrame, by: Sequence[str], q: Sequence[float] = (0.25, 0.5, 0.75)
) -> pd.DataFrame:
    """Quantiles of the epoch error per group and epoch.

    Parameters
    ----------
    curves : long table (cell_id, seed, epoch, epoch_error).
    runs : the runs whose curves to summarise (supplies the ``by`` columns).
    by : grouping columns of ``runs``.

    Returns
    -------
    DataFrame with the ``by`` columns (str), epoch, n, and q25/q50/q75 (for the default q).
    """
    by = list(by)
    keys = runs[["cell_id", "seed", *by]].copy()
    for c in by:
        keys[c] = keys[c].astype(str)
    keys["cell_id"] = keys["cell_id"].astype(str)
    c = curves.assign(cell_id=curves["cell_id"].astype(str)).merge(keys, on=["cell_id", "seed"], how="inner")
    err = c["epoch_error"].astype(float)
    c = c.assign(epoch_error=err.where(np.isfinite(err)))
    g = c.groupby([*by, "epoch"], observed=True)["epoch_error"]
    out = g.quantile(list(q)).unstack()
    out.columns = [f"q{int(round(100 * x))}" for x in q]
    out["n"] = g.size()
    return out.reset_index()


def seed_matrix(runs: pd.DataFrame, cells: Mapping[str, Mapping[str, object]], seeds: Sequence[int]) -> pd.DataFrame:
    """Outcome of each seed (rows) in each labelled cell (columns).

    cells: label -> factor selection identifying one cell. Seeds missing from a cell are
    left as NaN.
    """
    cols = {}
    for label, where in cells.items():
        sub = select(runs, where)
        if sub["seed"].duplicated().any():
            raise ValueError(f"selection {label!r} matches more than one cell: {dict(where)}")
        cols[label] = sub.set_index("seed")["outcome"].astype(str).reindex(list(seeds))
    return pd.DataFrame(cols)


def rescue_counts(fail_a: np.ndarray, fail_b: np.ndarray) -> dict:
    """Among seeds failing in a, how many b rescues; among seeds solved in a, how many b breaks.

    fail_a, fail_b: (n,) bool, aligned on seed.
    """
    fail_a, fail_b = np.asarray(fail_a, bool), np.asarray(fail_b, bool)
    if fail_a.shape != fail_b.shape:
        raise ValueError(f"fail_a and fail_b must align on seed; got {fail_a.shape} and {fail_b.shape}")
    return {
        "n": int(fail_a.size),
        "n_fail_a": int(fail_a.sum()),
        "rescued": int((fail_a & ~fail_b).sum()),
        "broken": int((~fail_a & fail_b).sum()),
    }
