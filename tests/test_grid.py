"""The grid runner: spec, shards, and determinism across jobs, shard sizes, backends, resume."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from relustudy import Cell, load_curves, load_runs, train
from relustudy.runs.spec import DEFAULT_BLOCK, Grid, Shard
from relustudy.runs.grid import plan_tasks, run_grid
from relustudy.runs.paths import DEFAULT_GRID_DIR, SHARDS_SUBDIR
from relustudy.core.schema import cell_id

# 8 cells x 8 seeds x 50 epochs: a second of work, yet every code path of the runner.
TINY = dict(
    seeds=(0, 8),
    activations=("relu", "sigmoid"),
    outputs=("same",),
    inits=("randn", "he"),
    updates=("as_posted", "corrected"),
    optimizers=("sgd",),
    lrs=(0.1,),
    epochs=(50,),
    hidden=((4, 4),),
)


def tiny(out, **kw) -> Grid:
    return Grid(**{**TINY, "block": 4, **kw, "out": out})


def assert_bitwise_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, dtypes and values; floats compared bit for bit (NaN payloads too)."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for col in a.columns:
        if a[col].dtype.kind == "f":
            assert np.array_equal(a[col].to_numpy().view(np.uint8), b[col].to_numpy().view(np.uint8)), col


@pytest.fixture(scope="module")
def reference(tiny_dataset):
    """The tiny grid run once, uninterrupted, with 2 loky workers (conftest's shared dataset)."""
    return load_runs(tiny_dataset), load_curves(tiny_dataset)


# --------------------------------------------------------------------------- spec


def test_default_grid_is_the_study_grid():
    g = Grid()
    assert len(g.cells()) == 288 and g.n_runs == 288_000
    assert sorted(g.lrs) == [0.001, 0.01, 0.1]  # momentum at lr x (1 - 0.9) pairs with sgd at lr
    assert g.out == DEFAULT_GRID_DIR and g.block == DEFAULT_BLOCK
    assert {c.epochs for c in g.cells()} == {5000} and {c.hidden for c in g.cells()} == {(4, 4)}
    assert g.cells()[0] == Cell()  # the posted program comes first


def test_default_tasks_batch_the_inits_together():
    tasks = plan_tasks(Grid().shards())
    assert len(tasks) == 96  # 32 structures x 3 lrs, one task of 3 inits each
    for t in tasks:
        assert [s.cell.init for s in t.shards] == ["randn", "he", "xavier"]
        assert len({(s.cell.structure, s.cell.lr, s.start) for s in t.shards}) == 1
        assert t.n == 3000


def test_blocks_are_aligned_so_grids_share_shards():
    assert Grid(seeds=(5, 23), block=10).blocks() == [(5, 10), (10, 20), (20, 23)]
    assert Grid(seeds=(0, 20), block=10).blocks() == [(0, 10), (10, 20)]
    assert Grid(seeds=(0, 3), block=10).blocks() == [(0, 3)]


def test_shard_name_carries_cell_and_seeds():
    s = Shard(Cell(), 1000, 2000)
    assert s.name == f"{cell_id(Cell())}_s001000-002000.parquet"


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(activations=("relu", "foo")), "unknown activation 'foo'; allowed: relu"),
        (dict(activations=("relu", "relu")), "duplicate activation"),
        (dict(inits=()), "empty init list"),
        (dict(seeds=(5, 5)), "invalid seed range 5:5"),
        (dict(seeds=(-1, 5)), "invalid seed range"),
        (dict(lrs=(-1.0,)), "invalid lr"),
        (dict(epochs=(0,)), "invalid epochs 0"),
        (dict(hidden=("4-x",)), "malformed hidden spec"),
        (dict(block=0), "invalid block 0"),
    ],
)
def test_bad_grids_raise_one_line_errors(kw, match):
    with pytest.raises(ValueError, match=match) as info:
        Grid(**kw)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- the dataset


def test_dataset_equals_training_each_cell_alone(reference):
    runs, curves = reference
    g = Grid(**TINY)
    assert len(runs) == g.n_runs and list(runs["cell_id"].cat.categories) == [cell_id(c) for c in g.cells()]
    for cell in g.cells()[:3]:
        res = train(cell, range(*g.seeds))
        rows = runs[runs["cell_id"] == cell_id(cell)]
        assert rows["seed"].tolist() == list(range(*g.seeds))
        for name in ("final_mse", "last_epoch_error", "pred_test", "dead_frac_init_l2"):
            assert np.array_equal(rows[name].to_numpy(), res.metrics[name]), name
        assert rows["outcome"].astype(str).tolist() == res.metrics["outcome"].tolist()
        crv = curves[curves["cell_id"] == cell_id(cell)]
        assert np.array_equal(crv["epoch"].to_numpy()[: len(res.curve_epochs)], res.curve_epochs)
        assert np.array_equal(crv["epoch_error"].to_numpy(), res.curve.T.reshape(-1))


def test_jobs_1_equals_jobs_2(tmp_path, reference):
    run_grid(tiny(tmp_path), jobs=1, progress=False, log=lambda m: None)
    assert_bitwise_equal(load_runs(tmp_path), reference[0])
    assert_bitwise_equal(load_curves(tmp_path), reference[1])


@pytest.mark.parametrize("block", [1, 3, 1000])
def test_shard_size_does_not_change_the_data(tmp_path, reference, block):
    run_grid(tiny(tmp_path, block=block), jobs=1, progress=False, log=lambda m: None)
    assert_bitwise_equal(load_runs(tmp_path), reference[0])
    assert_bitwise_equal(load_curves(tmp_path), reference[1])


def test_resume_after_lost_truncated_and_foreign_shards(tmp_path, reference):
    g = tiny(tmp_path)
    run_grid(g, jobs=2, progress=False, log=lambda m: None)
    shard_dir = tmp_path / SHARDS_SUBDIR
    shards = sorted(shard_dir.glob("*.parquet"))
    assert len(shards) == len(g.shards())
    shards[0].unlink()  # lost (killed before the rename)
    data = shards[1].read_bytes()
    shards[1].write_bytes(data[: len(data) // 2])  # truncated
    shards[2].write_bytes(b"not a parquet file")  # foreign, named like a shard
    shards[3].write_bytes(shards[4].read_bytes())  # a valid shard, but of another cell/block
    (shard_dir / ".tmp-999999999-x.parquet").write_bytes(b"half")  # a killed writer's leftover
    messages = []
    out = run_grid(g, jobs=2, progress=False, log=messages.append)
    assert sorted(out.rejected) == sorted(p.name for p in shards[1:4])
    assert out.n_trained == 4 * 4 and out.n_reused == g.n_runs - 16
    assert sum("bad shard" in m for m in messages) == 3  # each one reported
    assert len(list((shard_dir / "rejected").iterdir())) == 3  # kept aside, not merged
    assert not list(shard_dir.glob(".tmp-*"))
    assert_bitwise_equal(load_runs(tmp_path), reference[0])
    assert_bitwise_equal(load_curves(tmp_path), reference[1])


def test_other_grids_shards_are_kept_and_reused(tmp_path, reference):
    small = tiny(tmp_path, activations=("relu",))
    run_grid(small, jobs=1, progress=False, log=lambda m: None)
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / SHARDS_SUBDIR).glob("*.parquet")}
    out = run_grid(tiny(tmp_path), jobs=2, progress=False, log=lambda m: None)
    assert out.n_reused == small.n_runs and out.n_trained == small.n_runs
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / SHARDS_SUBDIR).glob("*.parquet")}
    assert all(after[name] == t for name, t in first.items())  # never rewritten
    assert_bitwise_equal(load_runs(tmp_path), reference[0])
    # Going back to the small grid consolidates exactly its runs, from the same shards.
    again = run_grid(small, jobs=1, progress=False, log=lambda m: None)
    assert again.n_trained == 0 and len(load_runs(tmp_path)) == small.n_runs


@pytest.mark.slow
def test_dask_cluster_equals_local(tmp_path, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        out = run_grid(
            tiny(tmp_path), backend="dask", scheduler=cluster.scheduler_address, progress=False, log=lambda m: None
        )
    assert out.n_trained == Grid(**TINY).n_runs
    assert_bitwise_equal(load_runs(tmp_path), reference[0])
    assert_bitwise_equal(load_curves(tmp_path), reference[1])


def test_progress_bar_of_a_resumed_grid_counts_from_the_work_already_done(tmp_path, capsys):
    # Half the shards done before the run: the bar starts there and counts runs (not cost
    # units), its ETA is never negative (as the reset bar once printed), and it ends at its total.
    from relustudy.runs.grid import _progress

    shards = tiny(tmp_path).shards()
    total = sum(s.n for s in shards)
    todo = shards[len(shards) // 2:]
    bar = _progress(shards, todo, True)
    with bar:
        assert bar.bar.n == total - sum(s.n for s in todo)
        for s in todo:
            bar.update(s)
            d = bar.bar.format_dict
            assert d["n"] >= d["initial"]
            assert bar.eta() is None or bar.eta() >= 0
    assert bar.bar.n == bar.bar.total == bar.runs == bar.total_runs == total
    printed = capsys.readouterr().err
    assert f"{total}/{total} runs" in printed and "posted-run" not in printed, printed
    assert not re.search(r"ETA -|<-", printed), printed
