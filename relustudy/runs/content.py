"""What a dataset holds, bit for bit: content digests of tables and files, and what a rerun
changed against the dataset on disk (counted in runs).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from relustudy.runs.cards import write_card
from relustudy.runs.dataset import REJECTED_SUBDIR, TABLE_FILES, load_table, read_info, set_aside, write_dataset
from relustudy.runs.paths import CURVES_FILE, RUNS_FILE

RUN_KEY = ("cell_id", "seed")  # a run; the curves add "epoch"


def frame_digest(df: pd.DataFrame) -> str:
    """Hex sha256 of a table's content: column names, dtypes and values, bit for bit.

    Signed zeros and the positions of NaN and nulls count (not NaN payloads, which the
    files do not keep: :func:`_float_bits`); the Parquet file around the data (metadata,
    provenance, compression) does not, so a dataset reproduced exactly has the digest of
    the original whichever run wrote it, and the tables in memory have the digest of the
    files they are written to.
    """
    h = hashlib.sha256()
    for name in df.columns:
        for part in _column_parts(df[name]):
            data = memoryview(part).cast("B") if isinstance(part, np.ndarray) else part
            h.update(len(data).to_bytes(8, "little"))  # length-prefixed: parts cannot run together
            h.update(data)
    return h.hexdigest()


def _column_parts(s: pd.Series) -> list:
    """Byte strings and arrays that determine a column exactly (for :func:`frame_digest`)."""
    dtype = s.dtype
    kind = "category" if isinstance(dtype, pd.CategoricalDtype) else str(dtype)
    head = f"{s.name}\x00{kind}".encode()
    if isinstance(dtype, pd.CategoricalDtype):
        labels = "\x00".join(map(str, dtype.categories)).encode()
        return [head, labels, s.cat.codes.to_numpy(np.int64)]
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [head, _float_bits(s.to_numpy())]
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return [head, np.ascontiguousarray(s.to_numpy())]
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):  # nullable Int64, boolean
        return [head, s.isna().to_numpy(bool), np.ascontiguousarray(s.to_numpy(dtype.numpy_dtype, na_value=0))]
    return [head, s.isna().to_numpy(bool), "\x00".join(map(str, s.to_numpy())).encode()]  # text, objects


def content_hash(path: str | Path) -> str:
    """:func:`frame_digest` of one of our consolidated files, as its loader reads it.

    Runs and curves tables are read as :func:`load_runs` reads them; our other tables
    (forensics, traces, chaos) as plain Parquet. Reads the table once (~0.7 s for the
    default grid's two files); ValueError if the file is not a relustudy table.
    """
    kind = read_info(Path(path)).get("kind")
    return frame_digest(load_table(kind, path) if kind in TABLE_FILES else pd.read_parquet(path))


@dataclass
class DatasetChange:
    """How new runs/curves tables differ from the dataset on disk, counted in runs (cell_id, seed).

    A run differs if any of its values in the runs table or any point of its curve differs
    (bitwise, NaN by position, in the columns both versions have).
    """

    existing: bool  # a readable dataset was there
    same: bool = False  # identical content: same columns, dtypes and values
    differ: int = 0  # runs in both versions whose values differ
    new: int = 0  # runs only in the new tables
    gone: int = 0  # runs only in the old tables
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    unreadable: dict = field(default_factory=dict)  # file there but not a readable table of ours -> why

    def describe(self) -> str:
        """One line, e.g. ``"3 runs differ, 0 are new, 0 are gone; columns added: x"``."""
        text = f"{self.differ} runs differ, {self.new} are new, {self.gone} are gone"
        if self.columns_added:
            text += f"; columns added: {', '.join(self.columns_added)}"
        if self.columns_removed:
            text += f"; columns removed: {', '.join(self.columns_removed)}"
        return text


def compare_dataset(out: Path, runs: pd.DataFrame, curves: pd.DataFrame) -> DatasetChange:
    """Compare new runs and curves tables with the dataset in ``out`` (if any).

    ``curves`` None (compact): the runs tables alone are compared.
    """
    out = Path(out)
    kinds = ("runs", "curves") if curves is not None else ("runs",)
    old, unreadable = {}, {}
    for kind in kinds:
        path = out / TABLE_FILES[kind]
        try:
            old[kind] = load_table(kind, path)
        except FileNotFoundError:  # none there yet
            pass
        except (OSError, ValueError) as e:  # truncated, corrupt, or not ours
            unreadable[path] = str(e).splitlines()[0] if str(e) else type(e).__name__
    if len(old) < len(kinds):  # nothing (complete) to compare with
        return DatasetChange(existing=False, unreadable=unreadable)
    old_runs, old_curves = old["runs"], old.get("curves")
    if frame_digest(runs) == frame_digest(old_runs) and (
        curves is None or frame_digest(curves) == frame_digest(old_curves)
    ):
        return DatasetChange(existing=True, same=True)
    r = _row_changes(runs, old_runs, list(RUN_KEY))
    c = (
        _row_changes(curves, old_curves, [*RUN_KEY, "epoch"])
        if curves is not None
        else pd.DataFrame({k: [] for k in [*RUN_KEY, "_merge", "_h_new", "_h_old"]})
    )
    keys = list(RUN_KEY)
    in_both = r.loc[r["_merge"] == "both", keys]
    changed = pd.concat([
        r.loc[(r["_merge"] == "both") & (r["_h_new"] != r["_h_old"]), keys],
        c.loc[(c["_merge"] != "both") | (c["_h_new"] != c["_h_old"]), keys],
    ]).drop_duplicates()
    return DatasetChange(
        existing=True,
        differ=len(changed.merge(in_both, on=keys)),
        new=int((r["_merge"] == "left_only").sum()),
        gone=int((r["_merge"] == "right_only").sum()),
        columns_added=[c for c in runs.columns if c not in old_runs.columns],
        columns_removed=[c for c in old_runs.columns if c not in runs.columns],
    )


def _row_changes(new: pd.DataFrame, old: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Outer join of two tables' rows on ``keys`` with a bitwise hash of each row's other
    shared columns (``_h_new``, ``_h_old``) and pandas' ``_merge`` indicator."""
    cols = [c for c in new.columns if c in old.columns and c not in keys]
    # Categorical keys (cell_id) as codes over the labels of both: an integer join is fast.
    labels = {k: list(dict.fromkeys([*new[k].cat.categories, *old[k].cat.categories]))
              for k in keys if isinstance(new[k].dtype, pd.CategoricalDtype)}

    def hashed(df: pd.DataFrame) -> pd.DataFrame:
        bits = pd.DataFrame({c: _bits(df[c]) for c in cols})
        h = pd.util.hash_pandas_object(bits, index=False).to_numpy() if cols else np.zeros(len(df), np.uint64)
        key = {k: df[k].cat.set_categories(labels[k]).cat.codes if k in labels else df[k] for k in keys}
        return pd.DataFrame({**key, "_h": h})

    return hashed(new).merge(hashed(old), on=keys, how="outer", suffixes=("_new", "_old"), indicator=True)


def _bits(s: pd.Series):
    """A column as values whose hash is bitwise: floats as their bit patterns (:func:`_float_bits`)."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
        return _float_bits(s.to_numpy())
    return s


def _float_bits(values: np.ndarray) -> np.ndarray:
    """Float values as integers of the same bits, every NaN as the one of ``np.nan``.

    Bitwise for numbers (so -0.0 != 0.0), positional for NaN: the files store a NaN as a
    Parquet null (``pa.Table.from_pandas``), which reads back as ``np.nan`` whatever the
    payload the core computed (e.g. 0xfff8... from inf - inf), so payloads never survive
    a write and must not make a reproduced dataset look different.
    """
    values = np.array(values, dtype=np.float64)  # a copy
    values[np.isnan(values)] = np.nan
    return values.view(np.int64)


def update_dataset(
    out: Path, runs: pd.DataFrame, curves: pd.DataFrame, prov: dict, log: Callable[[str], None]
) -> tuple[Path, Path, bool]:
    """Write the dataset to ``out`` unless ``out`` already holds exactly this content.

    A rerun that reproduces the data leaves the existing files (and so their provenance
    and bytes) untouched; a rerun that changes them says how many runs differ first. A file
    there that is not a readable table of ours (truncated, corrupt, foreign) is moved to
    ``out/rejected/`` with a line saying so, never overwritten.

    Returns
    -------
    runs_path, curves_path, written : ``written`` is False when the files were left as they were.
    """
    out = Path(out)
    change = compare_dataset(out, runs, curves)
    if change.same and curves is None and (out / CURVES_FILE).exists():
        change.same = False  # a compact dataset replaces a full one: its curves file must go
    if change.same:
        log(f"reproduced the existing dataset in {out} bit for bit; files left untouched")
        write_card(out)  # a folder from before cards gets one; an up-to-date card is not rewritten
        return out / RUNS_FILE, out / CURVES_FILE, False
    if change.existing:
        log(f"replacing the dataset in {out}: {change.describe()}")
    for path, reason in change.unreadable.items():  # kept aside, never overwritten
        kept = set_aside(path, out / REJECTED_SUBDIR)
        log(f"replacing unreadable {path} ({reason}); the old file is kept as {kept}")
    runs_path, curves_path = write_dataset(out, runs, curves, prov)
    write_card(out)  # the folder's README.md, read back from the files just written
    return runs_path, curves_path, True
