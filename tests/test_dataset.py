"""The on-disk dataset: schema, dtypes, provenance, atomic writes, loading and validation."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import relustudy
from relustudy import load_curves, load_runs
from relustudy.core.config import CATEGORICAL_LEVELS
from relustudy.runs.dataset import META_KEY, remove_stale_tmp, write_atomic
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.core.outcomes import OUTCOMES
from relustudy.runs.paths import CURVES_FILE, DEFAULT_GRID_DIR, RUNS_FILE
from relustudy.core.schema import CURVE_COLUMNS, DIAGNOSTIC_COLUMNS, FACTOR_COLUMNS, OPTIONAL_FACTOR_COLUMNS, RUN_COLUMNS
from relustudy.core.engines.layout import curve_epochs

# Two depths, so the per-layer columns of the shallower net are NaN; relu at lr 0.1 with
# 300 epochs both solves some runs and never reaches 1e-3 in others.
GRID = dict(
    seeds=(0, 12),
    activations=("relu",),
    outputs=("identity", "same"),
    inits=("he",),
    updates=("corrected",),
    optimizers=("sgd",),
    lrs=(0.1,),
    epochs=(300,),
    hidden=((4, 4), (3, 3, 3)),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    run_grid(Grid(**GRID, out=out), jobs=1, progress=False, log=lambda m: None)
    return out


def test_runs_schema_and_dtypes(dataset):
    runs = load_runs(dataset)
    layers = [f"dead_frac_{s}_l{k}" for s in ("init", "final") for k in (1, 2, 3)]
    factors = len(("cell_id",) + FACTOR_COLUMNS)  # the optional factors follow the original factor columns
    assert list(runs.columns) == (
        list(RUN_COLUMNS[:factors]) + list(OPTIONAL_FACTOR_COLUMNS) + list(RUN_COLUMNS[factors:])
        + list(DIAGNOSTIC_COLUMNS) + layers
    )
    assert OPTIONAL_FACTOR_COLUMNS == ("init_gain", "data_order", "order_seed", "dtype", "init_perturb", "task", "batch")
    assert runs["init_gain"].dtype == np.float64 and (runs["init_gain"] == 1.0).all()
    assert runs["order_seed"].dtype == np.int64 and (runs["order_seed"] == 0).all()
    assert (runs["data_order"] == "fixed").all() and (runs["dtype"] == "float64").all()
    assert len(runs) == 4 * 12
    for col, levels in CATEGORICAL_LEVELS.items():
        assert list(runs[col].cat.categories) == list(levels)
    assert list(runs["outcome"].cat.categories) == list(OUTCOMES)
    assert list(runs["hidden"].cat.categories) == ["4-4", "3-3-3"]
    assert runs["seed"].dtype == np.int64 and runs["epochs"].dtype == np.int64
    assert runs["lr"].dtype == np.float64
    assert runs["epochs_to_1e-3"].dtype == "Int64"
    shallow = runs["hidden"] == "4-4"
    assert runs.loc[shallow, "dead_frac_init_l3"].isna().all()
    assert runs.loc[~shallow, "dead_frac_init_l3"].notna().all()


def test_never_reaching_the_target_is_null(dataset):
    runs = load_runs(dataset)
    reached = runs["epochs_to_1e-3"].notna()
    assert reached.any() and (~reached).any()
    assert (runs.loc[reached, "epochs_to_1e-3"] >= 1).all()
    # a run below 1e-3 at the end reached it at some epoch
    assert reached[runs["last_epoch_error"] < 1e-3].all()


def test_curves_schema_and_join(dataset):
    curves = load_curves(dataset)
    runs = load_runs(dataset)
    assert list(curves.columns) == list(CURVE_COLUMNS)
    assert curves["epoch_error"].dtype == np.float64
    assert len(curves) == len(runs) * len(curve_epochs(300))
    last = curves[curves["epoch"] == 300].merge(runs, on=["cell_id", "seed"])
    assert len(last) == len(runs)
    np.testing.assert_array_equal(last["epoch_error"], last["last_epoch_error"])


def test_provenance_in_metadata(dataset):
    for name in (RUNS_FILE, CURVES_FILE):
        meta = json.loads(pq.read_schema(dataset / name).metadata[META_KEY])
        prov = meta["provenance"]
        for key in ("relustudy", "git_commit", "python", "numpy", "pandas", "grid", "created", "command"):
            assert key in prov, key
        assert prov["relustudy"] == relustudy.__version__
        assert prov["grid"]["seeds"] == "0:12" and prov["grid"]["hidden"] == ["4-4", "3-3-3"]
    assert load_runs(dataset).attrs["relustudy"]["numpy"] == np.__version__


def test_data_do_not_depend_on_time(dataset, tmp_path):
    run_grid(Grid(**GRID, out=tmp_path), jobs=1, progress=False, log=lambda m: None)
    a, b = pq.read_table(dataset / RUNS_FILE), pq.read_table(tmp_path / RUNS_FILE)
    assert a.equals(b)  # data only; metadata (creation time) may differ
    assert pq.read_table(dataset / CURVES_FILE).equals(pq.read_table(tmp_path / CURVES_FILE))


def test_pandas_alone_reads_it(dataset):
    runs = pd.read_parquet(dataset / RUNS_FILE)
    assert isinstance(runs["activation"].dtype, pd.CategoricalDtype)
    assert runs["epochs_to_1e-3"].dtype == "Int64"
    assert len(pd.read_parquet(dataset / CURVES_FILE)) > 0


def test_path_may_be_file_or_folder(dataset):
    pd.testing.assert_frame_equal(load_runs(dataset), load_runs(dataset / RUNS_FILE))


@pytest.mark.parametrize("loader", [load_runs, load_curves])
def test_a_foreign_parquet_file_is_refused(tmp_path, loader):
    path = tmp_path / "x.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    with pytest.raises(ValueError, match="not a relustudy dataset file: missing metadata key 'relustudy'"):
        loader(path)


def test_missing_columns_are_named(dataset, tmp_path):
    table = pq.read_table(dataset / RUNS_FILE).drop_columns(["final_mse", "outcome"])
    pq.write_table(table, tmp_path / RUNS_FILE)
    with pytest.raises(ValueError, match="missing columns final_mse, outcome"):
        load_runs(tmp_path)


def test_curves_file_is_not_a_runs_table(dataset):
    with pytest.raises(ValueError, match="not a relustudy runs table: its kind is 'curves'"):
        load_runs(dataset / CURVES_FILE)


def test_not_parquet_and_missing(tmp_path):
    (tmp_path / RUNS_FILE).write_text("hello")
    with pytest.raises(ValueError, match="not readable as Parquet"):
        load_runs(tmp_path)
    with pytest.raises(FileNotFoundError, match="run_grid.py"):
        load_runs(tmp_path / "nothing")


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    write_atomic(pa.table({"a": [1]}), tmp_path / "t.parquet")
    assert os.listdir(tmp_path) == ["t.parquet"]


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    (tmp_path / ".tmp-999999999-a.parquet").write_bytes(b"x")
    (tmp_path / f".tmp-{os.getpid()}-b.parquet").write_bytes(b"x")  # a live writer's: kept
    assert remove_stale_tmp(tmp_path) == 1
    assert os.listdir(tmp_path) == [f".tmp-{os.getpid()}-b.parquet"]


@pytest.mark.skipif(not (DEFAULT_GRID_DIR / RUNS_FILE).exists(), reason="shipped dataset not present")
def test_the_shipped_dataset_loads():
    runs = load_runs()
    assert len(runs) == Grid().n_runs
    assert runs.groupby(["cell_id"], observed=True).size().eq(1000).all()
    assert runs.attrs["relustudy"]["grid"] == Grid().to_config()
    curves = load_curves()
    assert len(curves) == len(runs) * len(curve_epochs(5000))
