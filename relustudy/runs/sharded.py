"""Small experiments outside the grid (forensics, chaos): shard files, resume, consolidated tables.

The same rules as the grid runner: one run per folder (``lock.folder_lock``), every file
written atomically, a shard that exists is reused (rerunning resumes), the consolidated
tables carry our JSON metadata (``kind`` and provenance) so a foreign file is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
from relustudy.core.engines.cores import usable_cores
from relustudy.runs.dataset import _meta
from relustudy.runs.dataset import write_atomic
from relustudy.runs.dataset import read_info
from relustudy.runs.dataset import remove_stale_tmp

SHARDS = "shards"


def missing(items: Sequence[tuple[Sequence[Path], Callable, tuple]]) -> list:
    """The items (the files a call writes, fn, args) whose files do not all exist yet."""
    return [it for it in items if not all(Path(p).exists() for p in it[0])]


def run_missing(items: Sequence[tuple[Sequence[Path], Callable, tuple]], *, jobs: int | None) -> list:
    """Run ``fn(*args)`` for every :func:`missing` item, in parallel processes; return those items."""
    import joblib


    todo = missing(items)
    n_jobs = max(1, min(jobs or usable_cores(), len(todo)))
    joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(fn)(*args) for _, fn, args in todo)
    return todo


def write_frame(df: pd.DataFrame, path: Path, info: dict | None = None) -> Path:
    """Write ``df`` to ``path`` atomically; ``info`` (e.g. kind, provenance) goes in our metadata."""
    import pyarrow as pa


    table = pa.Table.from_pandas(df, preserve_index=False)
    return write_atomic(_meta(table, info) if info is not None else table, path)


def read_frame(path: Path, kind: str, make: str) -> pd.DataFrame:
    """A consolidated table of ``kind``; one-line errors naming the command ``make`` that makes it."""

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {kind} table at {path}; run `{make}` to make it")
    if read_info(path).get("kind") != kind:
        raise ValueError(f"{path} is not a relustudy {kind} table")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:  # the footer reads, the data does not: corrupt pages
        reason = str(e).splitlines()[0] if str(e) else ""
        raise ValueError(f"{path} is not a readable relustudy {kind} table ({type(e).__name__}: {reason}); "
                         f"rerun `{make}`") from None


def prepare(out: Path) -> Path:
    """Create ``out/shards`` (clearing stale temporary files) and return it; call under the folder lock."""

    shards = Path(out) / SHARDS
    shards.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(shards)
    return shards
