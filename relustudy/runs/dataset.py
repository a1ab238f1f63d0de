"""The dataset of runs on disk: shard files, the consolidated tables, writing and loading
(what produced a dataset: :mod:`.provenance`; its content digest and what a rerun changed:
:mod:`.content`).

Two kinds of Parquet file, both tagged with JSON under the key ``b"relustudy"`` in the
file's key-value metadata so a foreign file is never mistaken for ours:

* a *shard* (``kind: "shard"``) holds one cell's runs for one block of seeds: the seed,
  every metric of the training core, and the learning curve as a fixed-size list column.
  Factor columns are not stored: the cell named in the metadata determines them.
* the consolidated *runs* and *curves* tables (``kind: "runs"`` / ``"curves"``) hold
  exactly one grid, in canonical order (grid cell order, then seed), with provenance.

Files are written atomically (a temporary ``.tmp-*`` file in the same folder, then
``os.replace``), so a reader sees either nothing or a complete file.
"""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from relustudy.version import __version__
from relustudy.runs import catalog
from relustudy.core.config import CATEGORICAL_LEVELS, FACTOR_NAMES, FACTOR_REGISTRY, OPTIONAL_FACTORS, Cell
from relustudy.core.checks import hidden_str
from relustudy.core.outcomes import OUTCOMES
from relustudy.runs import paths  # read at call time (paths.CHECKOUT, paths.DEFAULT_GRID_DIR), so tests can patch them
from relustudy.runs.paths import CURVES_FILE, RUNS_FILE
from relustudy.core.schema import CATEGORICAL_COLUMNS, CURVE_COLUMNS, DIAGNOSTIC_COLUMNS, POINT_COLUMNS, RESULT_COLUMNS, RUN_COLUMNS, TRACK_OUTPUT_COLUMNS, cell_id
from relustudy.core.engines.layout import curve_epochs as _curve_epochs

META_KEY = b"relustudy"  # Parquet key-value metadata key holding our JSON
FORMAT = 1  # bumped when the on-disk layout changes; old shards are then redone
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9  # the shipped files are written once and read often
# Curves are thinned in time (log-spaced epochs, by the core), not in precision: float64
# keeps them bitwise equal to the core's numbers and the default grid still fits in ~22 MB.
CURVE_DTYPE = np.float64
TMP_PREFIX = ".tmp-"  # gitignored (/data/**/.tmp*); stale ones are removed on the next run
REJECTED_SUBDIR = "rejected"  # unreadable dataset files are moved here (gitignored), never overwritten

NEVER = -1  # epochs_to_1e-3 for "never reached" in shards written before it was NaN/null; null in the runs table


class ShardError(ValueError):
    """A shard file that is unreadable, truncated, foreign or for another cell/seed block."""


# --------------------------------------------------------------------------- writing


def write_atomic(table: pa.Table, path: Path, *, delta: Sequence[str] = ()) -> Path:
    """Write ``table`` to ``path`` as zstd Parquet via a temporary file and a rename.

    ``delta``: integer columns stored with Parquet's delta encoding instead of a dictionary
    (a run of consecutive seeds then costs almost nothing); the values read back the same.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    options = {}
    if delta:
        options = dict(use_dictionary=[c for c in table.column_names if c not in delta],
                       column_encoding={c: "DELTA_BINARY_PACKED" for c in delta})
    try:
        pq.write_table(table, tmp, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL, **options)
        with open(tmp, "rb+") as f:  # durable before it becomes visible under its name
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_stale_tmp(folder: Path) -> int:
    """Delete ``.tmp-{pid}-*`` files left by killed writers (pid no longer alive); return count."""
    removed = 0
    for tmp in Path(folder).glob(f"{TMP_PREFIX}*"):
        pid = tmp.name[len(TMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _meta(table: pa.Table, info: dict) -> pa.Table:
    """Add our JSON to the table's schema metadata, keeping what is there (e.g. pandas')."""
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(info, sort_keys=True).encode()
    return table.replace_schema_metadata(meta)


# --------------------------------------------------------------------------- shards


def shard_table(cell: Cell, start: int, stop: int, metrics: dict, epochs: np.ndarray, curve: np.ndarray) -> pa.Table:
    """One shard's table: seeds ``start..stop-1`` of ``cell``.

    Parameters
    ----------
    metrics : column name -> (n,) array, ``TrainResult.metrics`` (n = stop - start).
    epochs : (P,) epochs of the learning curve.
    curve : (P, n) epoch error at those epochs.
    """
    n = stop - start
    cols = {"seed": pa.array(np.arange(start, stop, dtype=np.int64))}
    for name, values in metrics.items():
        if name == "epochs_to_1e-3":  # NaN (never) -> null, in an integer column
            values = np.asarray(values, dtype=np.float64)
            cols[name] = pa.array(np.where(np.isnan(values), 0, values).astype(np.int64), mask=np.isnan(values))
        else:
            cols[name] = pa.array(np.asarray(values))
    flat = pa.array(np.ascontiguousarray(curve.T, dtype=np.float64).reshape(-1))
    cols["curve"] = pa.FixedSizeListArray.from_arrays(flat, len(epochs))
    table = pa.table(cols)
    assert table.num_rows == n
    info = {
        "kind": "shard",
        "format": FORMAT,
        "cell": cell.to_json(),
        "start": int(start),
        "stop": int(stop),
        "curve_epochs": [int(e) for e in epochs],
        "relustudy": __version__,
    }
    return _meta(table, info)


def read_shard(path: Path, cell: Cell, start: int, stop: int, track_output: bool = False) -> pa.Table:
    """Read and validate the shard of ``cell`` for seeds ``start..stop-1``; raise ShardError.

    ``track_output``: the shard must also hold :data:`~relustudy.core.schema.TRACK_OUTPUT_COLUMNS`.
    """
    try:
        table = pq.read_table(path)
    except Exception as e:  # truncated, empty, not Parquet at all
        raise ShardError(f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    info = _info(table.schema)
    if info is None:
        raise ShardError("no relustudy metadata (a foreign file)")
    expected = {"kind": "shard", "format": FORMAT, "cell": cell.to_json(), "start": start, "stop": stop}
    for key, want in expected.items():
        if info.get(key) != want:
            raise ShardError(f"metadata {key}={info.get(key)!r}, expected {want!r}")
    if info.get("curve_epochs") != [int(e) for e in _curve_epochs(cell.epochs)]:
        raise ShardError("curve epochs do not match the cell's epochs")
    missing = [c for c in ("seed", "curve", *shard_metric_columns(cell, track_output)) if c not in table.column_names]
    if missing:
        raise ShardError(f"missing columns {missing}")
    seeds = table.column("seed").to_numpy()
    if table.num_rows != stop - start or not np.array_equal(seeds, np.arange(start, stop)):
        raise ShardError(f"holds {table.num_rows} rows, expected seeds {start}..{stop - 1}")
    return table


def shard_metric_columns(cell: Cell, track_output: bool = False) -> list[str]:
    """The metric columns a shard of ``cell`` must have (schema results + per-layer extras,
    and the death-timing columns when the grid tracks the output)."""
    layers = [f"dead_frac_{s}_l{k}" for s in ("init", "final") for k in range(1, len(cell.hidden) + 1)]
    track = list(TRACK_OUTPUT_COLUMNS) if track_output else []
    return [c for c in RESULT_COLUMNS if c != "outcome"] + ["outcome"] + list(DIAGNOSTIC_COLUMNS) + layers + track


def _info(schema: pa.Schema) -> dict | None:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


# --------------------------------------------------------------------------- consolidation


def layer_columns(max_layers: int) -> list[str]:
    """Per-layer dead-fraction columns for nets with up to ``max_layers`` hidden layers."""
    return [f"dead_frac_{s}_l{k}" for s in ("init", "final") for k in range(1, max_layers + 1)]


def assemble(
    cells: Sequence[Cell], shards: Sequence[Sequence[pa.Table]], columns: str = "full", track_output: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Build the runs and curves tables of a grid from its shards.

    Parameters
    ----------
    cells : the grid's C cells, in canonical order.
    shards : per cell, its shard tables in ascending seed order.
    columns : "full", or "compact" for :func:`compact_runs` and no curves.
    track_output : keep the shards' ``TRACK_OUTPUT_COLUMNS`` (the grid asked for them).

    Returns
    -------
    runs : one row per run (cell order, then seed), columns ``RUN_COLUMNS`` with the optional
        factors (``init_gain``, ``data_order``, ``order_seed``, ``dtype``) after ``hidden``,
        ``DIAGNOSTIC_COLUMNS``, per-layer, then ``TRACK_OUTPUT_COLUMNS`` if tracked
        (compact: :data:`COMPACT_COLUMNS`).
    curves : long format ``CURVE_COLUMNS``, one row per (run, curve epoch); None if compact.
    """
    ids = [cell_id(c) for c in cells]
    tables = [pa.concat_tables(ts) if len(ts) > 1 else ts[0] for ts in shards]
    counts = np.array([t.num_rows for t in tables])
    cell_idx = np.repeat(np.arange(len(cells)), counts)  # (N,) row -> cell

    runs = {"cell_id": pd.Categorical.from_codes(cell_idx, categories=ids)}
    runs["seed"] = np.concatenate([t.column("seed").to_numpy() for t in tables])
    hidden_levels = list(dict.fromkeys(hidden_str(c.hidden) for c in cells))
    for name in FACTOR_NAMES:
        runs[name] = _factor_column(name, cells, cell_idx, hidden_levels)
    max_layers = max(len(c.hidden) for c in cells)
    track = list(TRACK_OUTPUT_COLUMNS) if track_output else []
    for name in [*RESULT_COLUMNS, *DIAGNOSTIC_COLUMNS] + layer_columns(max_layers) + track:
        if columns == "full" or name in COMPACT_COLUMNS or name.startswith("dead_frac_"):
            runs[name] = _metric_column(name, tables)
    runs_df = pd.DataFrame(runs)
    if columns == "compact":
        return compact_runs(runs_df), None
    return runs_df, _curves(cells, ids, tables)


# Columns a compact runs table keeps (plus the per-layer dead fractions): the factors, the
# outcome and what says how a run failed. Floats that are fractions k/width are exact in
# float32; final_mse in float32 keeps 7 digits down to ~1e-38 (below MSE_FLOOR anyway).
COMPACT_COLUMNS = (
    "cell_id", "seed", *FACTOR_NAMES, "final_mse", "epochs_to_1e-3", "outcome", "diverged", "dead_frac_init",
    "dead_frac_final", "output_dead_init", "output_dead_final", "output_dead_points_init", "output_dead_points_final",
    *TRACK_OUTPUT_COLUMNS,
)
COMPACT_FLOAT32 = ("final_mse", "dead_frac_init", "dead_frac_final")


def compact_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The compact form of a full runs table: :data:`COMPACT_COLUMNS` and the per-layer dead
    fractions, float32 for those and ``final_mse``, Int32 ``epochs_to_1e-3``, uint32 ``seed``.

    What it drops (``last_epoch_error``, ``pred_test``, ``pred_range``, the diagnostics) and
    the float64 bits are in the full table, which ``--columns full`` regenerates.
    """
    layers = [c for c in runs.columns if c.startswith("dead_frac_") and c[-1].isdigit()]
    out = runs[[c for c in COMPACT_COLUMNS if c in runs.columns] + layers].copy()
    for c in [*COMPACT_FLOAT32, *layers]:
        if c in out.columns:
            out[c] = out[c].astype(np.float32)
    out["seed"] = out["seed"].astype(np.uint32)  # seeds are < 2**32
    out["epochs_to_1e-3"] = out["epochs_to_1e-3"].astype("Int32")
    return out


def _factor_column(name: str, cells: Sequence[Cell], cell_idx: np.ndarray, hidden_levels: list[str]):
    """(N,) factor column from the per-cell values, categorical where the schema says so."""
    if name == "hidden":
        per_cell = np.array([hidden_levels.index(hidden_str(c.hidden)) for c in cells])
        return pd.Categorical.from_codes(per_cell[cell_idx], categories=hidden_levels)
    if name == "batch":  # a category without fixed levels, like hidden: the grid's values, in cell order
        values = [FACTOR_REGISTRY[name].table_value(c.batch) for c in cells]
        levels = list(dict.fromkeys(values))
        per_cell = np.array([levels.index(v) for v in values])
        return pd.Categorical.from_codes(per_cell[cell_idx], categories=levels)
    if name in CATEGORICAL_LEVELS:
        levels = list(CATEGORICAL_LEVELS[name])
        per_cell = np.array([levels.index(getattr(c, name)) for c in cells])
        return pd.Categorical.from_codes(per_cell[cell_idx], categories=levels)
    return np.array([getattr(c, name) for c in cells], dtype=FACTOR_REGISTRY[name].column_dtype)[cell_idx]


def _metric_column(name: str, tables: Sequence[pa.Table]):
    """(N,) metric column across all shards; NaN for per-layer columns a cell lacks."""
    parts = []
    for t in tables:
        if name in t.column_names:
            parts.append(t.column(name).to_numpy(zero_copy_only=False))
        else:
            parts.append(np.full(t.num_rows, np.nan))
    values = np.concatenate(parts)
    if name == "outcome":
        return pd.Categorical(values, categories=list(OUTCOMES))
    if name == "epochs_to_1e-3":  # null in a shard (NaN here) or, in older shards, NEVER
        never = np.isnan(values) | (values == NEVER) if values.dtype.kind == "f" else values == NEVER
        return pd.arrays.IntegerArray(np.where(never, 0, values).astype(np.int64), mask=never)
    return values


def _curves(cells: Sequence[Cell], ids: list[str], tables: Sequence[pa.Table]) -> pd.DataFrame:
    """Long-format learning curves (cell order, seed, epoch)."""
    codes, seeds, epochs, errors = [], [], [], []
    for k, (cell, t) in enumerate(zip(cells, tables)):
        ep = _curve_epochs(cell.epochs)
        n, p = t.num_rows, len(ep)
        codes.append(np.full(n * p, k, dtype=np.int32))
        seeds.append(np.repeat(t.column("seed").to_numpy(), p))
        epochs.append(np.tile(ep, n))
        flat = pa.concat_arrays(t.column("curve").chunks).flatten() if t.num_rows else pa.array([], pa.float64())
        errors.append(flat.to_numpy().astype(CURVE_DTYPE))
    return pd.DataFrame(
        {
            "cell_id": pd.Categorical.from_codes(np.concatenate(codes), categories=ids),
            "seed": np.concatenate(seeds),
            "epoch": np.concatenate(epochs).astype(np.int64),
            "epoch_error": np.concatenate(errors),
        }
    )


def write_dataset(out: Path, runs: pd.DataFrame, curves: pd.DataFrame | None, prov: dict) -> tuple[Path, Path]:
    """Write ``out/runs.parquet`` and ``out/curves.parquet`` atomically, with provenance.

    ``curves`` None (a compact dataset, :func:`compact_runs`): no curves file, and a stale
    one from an earlier full dataset in ``out`` is removed so the two never disagree.
    """
    out = Path(out)
    levels = {
        "hidden": list(runs["hidden"].cat.categories),
        **({"batch": list(runs["batch"].cat.categories)} if "batch" in runs.columns else {}),
        "cell_id": list(runs["cell_id"].cat.categories),
    }
    compact = curves is None
    written = []
    for kind, df, name in (("runs", runs, RUNS_FILE), ("curves", curves, CURVES_FILE)):
        if df is None:
            (out / name).unlink(missing_ok=True)
            written.append(out / name)
            continue
        table = pa.Table.from_pandas(df, preserve_index=False)
        info = {"kind": kind, "format": FORMAT, "levels": levels, "provenance": prov}
        if compact:
            info["columns"] = "compact"
        written.append(write_atomic(_meta(table, info), out / name, delta=("seed",) if compact else ()))
    return written[0], written[1]


def set_aside(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` as ``NAME.k``, the first k that clobbers nothing; the new path."""
    folder.mkdir(exist_ok=True)
    k = 0
    while (dest := folder / f"{path.name}.{k}").exists():
        k += 1
    os.replace(path, dest)
    return dest


# --------------------------------------------------------------------------- loading

_REQUIRED = {"runs": tuple(RUN_COLUMNS), "curves": tuple(CURVE_COLUMNS)}
TABLE_FILES = {"runs": RUNS_FILE, "curves": CURVES_FILE}  # a dataset folder's tables, by kind


def load_runs(path: str | Path | None = None) -> pd.DataFrame:
    """The runs table (one row per run) as a DataFrame with categorical factor columns.

    Parameters
    ----------
    path : a dataset folder or a ``runs.parquet`` file; default the shipped default grid
        (``data/default``).

    Returns
    -------
    DataFrame with columns ``schema.RUN_COLUMNS`` plus the optional factors after ``hidden``
    (``init_gain``, ``data_order``, ``order_seed``, ``dtype``; a table made before one existed
    gets its default: 1.0, fixed, 0, float64), per-layer ``dead_frac_*_l{k}``, and the
    death-timing columns where the grid tracked them; a compact table
    (``Grid.columns == "compact"``) has :data:`COMPACT_COLUMNS` only.
    ``df.attrs["relustudy"]`` holds the provenance.

    Select columns with brackets, ``runs["update"]``, not attributes: the factor column
    ``update`` (a public name, never renamed) is shadowed by the method
    ``DataFrame.update``, so ``runs.update == "corrected"`` is the scalar False. Alone,
    ``runs[runs.update == "corrected"]`` raises ``KeyError: False``; combined with another
    condition, ``runs[(runs.update == "corrected") & (runs["init"] == "he")]`` silently
    selects no rows.

    Examples
    --------
    >>> runs = load_runs()  # doctest: +SKIP
    >>> runs.groupby("activation", observed=True)["outcome"].value_counts(normalize=True)  # doctest: +SKIP
    >>> corrected = runs[runs["update"] == "corrected"]  # doctest: +SKIP
    """
    return load_table("runs", path)


def load_curves(path: str | Path | None = None) -> pd.DataFrame:
    """The learning curves (long format: cell_id, seed, epoch, epoch_error) as a DataFrame.

    ``epoch_error`` is float64. Join with :func:`load_runs` on ``(cell_id, seed)``.
    """
    return load_table("curves", path)


def read_info(path: Path) -> dict:
    """Our metadata of a consolidated file; ValueError if the file is not ours."""
    try:
        schema = pq.read_schema(path)
    except Exception as e:
        raise ValueError(f"{path} is not a relustudy dataset file: not readable as Parquet ({type(e).__name__})") from None
    info = _info(schema)
    if info is None:
        raise ValueError(f"{path} is not a relustudy dataset file: missing metadata key {META_KEY.decode()!r}")
    return info


def load_table(kind: str, path) -> pd.DataFrame:
    default = path is None
    path = Path(paths.DEFAULT_GRID_DIR if default else path)
    if path.is_dir():
        path = path / TABLE_FILES[kind]
    if not path.exists():
        if default and paths.CHECKOUT is None:  # a non-editable install ships no data/
            raise FileNotFoundError(
                f"no shipped dataset: relustudy is installed without its repository's data/ and {path} "
                f"does not exist; pass a dataset folder, e.g. load_{kind}('path/to/relustudy/data/default')")
        raise FileNotFoundError(_missing_hint(kind, path))
    info = read_info(path)
    if info.get("kind") != kind:
        raise ValueError(f"{path} is not a relustudy {kind} table: its kind is {info.get('kind')!r}")
    names = pq.read_schema(path).names
    required = COMPACT_COLUMNS if info.get("columns") == "compact" else _REQUIRED[kind]
    # Optional factors, the death-timing and the per-point columns may postdate the file.
    missing = [c for c in required if c not in names and c not in OPTIONAL_FACTORS
               and c not in TRACK_OUTPUT_COLUMNS and c not in POINT_COLUMNS]
    if missing:
        raise ValueError(f"{path} is not a relustudy {kind} table: missing columns {', '.join(missing)}")
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as e:  # the footer reads, the data does not: corrupt pages
        reason = str(e).splitlines()[0] if str(e) else ""
        raise ValueError(f"{path} is not a readable relustudy {kind} table ({type(e).__name__}: {reason})") from None
    levels = {**{c: list(v) for c, v in CATEGORICAL_LEVELS.items()}, "outcome": list(OUTCOMES)}
    levels.update(info.get("levels", {}))
    for col in (*CATEGORICAL_COLUMNS, "cell_id"):
        if col in df.columns and col in levels:
            if isinstance(df[col].dtype, pd.CategoricalDtype):
                df[col] = df[col].cat.set_categories(levels[col])
            else:
                df[col] = pd.Categorical(df[col], categories=levels[col])
    if kind == "runs":
        _insert_missing_factors(df)
    df.attrs["relustudy"] = info.get("provenance", {})
    return df


def _missing_hint(kind: str, path: Path) -> str:
    """Why there is no ``kind`` table at ``path``, and the command that makes one there."""
    folder = path.parent if path.suffix == ".parquet" else path  # a missing folder is a folder
    runs_file = folder / RUNS_FILE
    if kind == "curves" and runs_file.exists():
        try:
            info = read_info(runs_file)
        except ValueError:
            info = {}
        if info.get("columns") == "compact":
            words = shlex.split(info.get("provenance", {}).get("command", "")) or ["python", "scripts/run_grid.py"]
            keep = []
            for w in words:  # drop --columns/--out and their values: the new ones follow
                if keep and keep[-1] in ("--columns", "--out"):
                    keep.pop()
                elif not w.startswith(("--columns=", "--out=")):
                    keep.append(w)
            command = shlex.join([*keep, "--columns", "full", "--out", f"{folder}_full"])
            return (f"no curves table at {path}: {folder} holds a compact dataset, which keeps no curves; "
                    f"make the full one with `{command}`")
    resolved = folder.resolve()
    if resolved == Path(paths.DEFAULT_GRID_DIR).resolve():
        command = "python scripts/run_grid.py"
    elif resolved.parent == Path(paths.DATA_DIR).resolve() and folder.name in catalog.names():
        command = f"python scripts/run_grid.py --experiment {folder.name}"
    else:
        command = f"python scripts/run_grid.py --out {shlex.quote(str(folder))}` with your grid's flags (e.g. `--quick`)"
        return f"no {kind} table at {path}; run `{command} to make it"
    return f"no {kind} table at {path}; run `{command}` to make it"


def _insert_missing_factors(runs: pd.DataFrame) -> None:
    """Give a runs table made before an optional factor existed that factor's column, at its
    default, in the registry's place (after the factor before it); in place."""
    previous = "hidden"
    for name, default in OPTIONAL_FACTORS.items():
        if name not in runs.columns:
            factor = FACTOR_REGISTRY[name]
            if factor.column_dtype == "category":
                levels = list(factor.levels) if factor.levels is not None else [factor.table_default()]
                values = pd.Categorical.from_codes(np.zeros(len(runs), np.int8), categories=levels)
                assert levels[0] == factor.table_default()  # the default is the first level
            else:
                values = np.full(len(runs), default, dtype=factor.column_dtype)
            runs.insert(runs.columns.get_loc(previous) + 1, name, values)
        previous = name
