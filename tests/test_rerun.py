"""Rerunning into a folder that holds a dataset, and two runs on one folder (issue 12).

Identical data leave the files untouched (bytes and mtime); changed data are counted,
in runs, before the files are replaced; the data are identified by a content hash that
ignores the Parquet metadata; one run per folder, and a killed run's lock is taken over.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relustudy import load_curves, load_runs
from relustudy.runs import cli
from relustudy.runs import catalog as experiments
from relustudy.runs.content import compare_dataset, content_hash, frame_digest
from relustudy.runs.grid import run_grid
from relustudy.runs.lock import LOCK_FILE, FolderLocked, folder_lock
from relustudy.runs.paths import CURVES_FILE, RUNS_FILE, SHARDS_SUBDIR

from test_cli import SCRIPT, SMALL, snapshot
from test_grid import assert_bitwise_equal, tiny

QUIET = dict(jobs=1, progress=False)


@pytest.fixture
def done(tiny_dataset_copy):
    """A folder holding the tiny grid's finished dataset (a copy of conftest's shared one)."""
    return tiny_dataset_copy


def _rewrite(path, change) -> None:
    """Rewrite a dataset file with ``change(df)`` applied, keeping its metadata."""
    table = pq.read_table(path)
    df = change(table.to_pandas())
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(table.schema.metadata), path)


# --------------------------------------------------------------------------- rerun


def test_retraining_an_identical_dataset_leaves_its_files_untouched(done):
    shutil.rmtree(done / SHARDS_SUBDIR)  # everything is retrained, as on a fresh clone
    before = snapshot(done)
    messages = []
    res = run_grid(tiny(done), log=messages.append, **QUIET)
    assert res.n_trained == res.n_runs and not res.written
    after = snapshot(done)
    for name in (RUNS_FILE, CURVES_FILE):  # same bytes and mtime: not even rewritten
        assert after[Path(name)] == before[Path(name)]
    assert f"reproduced the existing dataset in {done} bit for bit; files left untouched" in messages


def test_changed_data_are_counted_in_runs_before_replacing(done, tiny_dataset):
    runs_path, curves_path = done / RUNS_FILE, done / CURVES_FILE

    def tamper_runs(df):
        df.loc[3, "final_mse"] = np.nextafter(df.loc[3, "final_mse"], np.inf)  # one bit
        return df.drop(index=5)  # a run the new data have and the old lack

    def tamper_curves(df):  # flip the sign of one curve point of the run in row 10 of runs
        runs = pd.read_parquet(runs_path)
        row = df.index[(df["cell_id"] == runs.loc[10, "cell_id"]) & (df["seed"] == runs.loc[10, "seed"])][0]
        df.loc[row, "epoch_error"] = -df.loc[row, "epoch_error"]
        return df

    _rewrite(curves_path, tamper_curves)  # before runs: it looks up row 10 in the untampered runs
    _rewrite(runs_path, tamper_runs)
    messages = []
    res = run_grid(tiny(done), log=messages.append, **QUIET)
    assert res.written
    assert f"replacing the dataset in {done}: 2 runs differ, 1 are new, 0 are gone" in messages
    assert_bitwise_equal(load_runs(done), load_runs(tiny_dataset))  # the untampered dataset, retrained
    assert_bitwise_equal(load_curves(done), load_curves(tiny_dataset))


def test_runs_gone_and_columns_added_are_reported(done):
    runs, curves = load_runs(done), load_curves(done)
    assert compare_dataset(done, runs, curves).same
    change = compare_dataset(done, runs.drop(index=[0, 1]).assign(extra=1.0), curves)
    assert not change.same and (change.differ, change.new, change.gone) == (0, 0, 2)
    assert change.describe() == "0 runs differ, 0 are new, 2 are gone; columns added: extra"
    assert not compare_dataset(done.parent / "nothing", runs, curves).existing


# --------------------------------------------------------------------------- content hash


def test_content_hash_ignores_metadata_and_sees_every_bit(done, tmp_path):
    path = done / RUNS_FILE
    copy = tmp_path / RUNS_FILE
    table = pq.read_table(path)
    info = json.loads(table.schema.metadata[b"relustudy"])
    info["provenance"]["created"] = "2000-01-01T00:00:00+00:00"
    meta = {**table.schema.metadata, b"relustudy": json.dumps(info).encode()}
    pq.write_table(table.replace_schema_metadata(meta), copy, compression="snappy")
    assert copy.read_bytes() != path.read_bytes()
    assert content_hash(copy) == content_hash(path) == frame_digest(load_runs(path))

    runs = load_runs(path)

    def with_bits(col, bits):  # runs with row 0 of ``col`` set to the float64 of these bits
        values = runs[col].to_numpy().copy()
        values.view(np.uint64)[0] = bits
        return runs.assign(**{col: values})

    zero, minus_zero = with_bits("final_mse", 0x0000000000000000), with_bits("final_mse", 0x8000000000000000)
    assert zero.equals(minus_zero)  # pandas calls them equal; the content hash does not
    assert frame_digest(zero) != frame_digest(minus_zero)
    nan, other_nan = with_bits("final_mse", 0x7FF8000000000000), with_bits("final_mse", 0xFFF8000000000000)
    assert frame_digest(nan) != frame_digest(runs)  # where a NaN is counts
    assert frame_digest(nan) == frame_digest(other_nan)  # its payload does not: files store NaN as null


def test_diverged_runs_reproduce_too(tmp_path):
    """The core's NaN (payload 0xfff8...) reads back as np.nan: still "reproduced"."""
    grid = experiments.get("born_dead", reduced=True, out=tmp_path)
    run_grid(grid, log=lambda m: None, **QUIET)
    assert load_runs(tmp_path)["diverged"].any()
    shutil.rmtree(tmp_path / SHARDS_SUBDIR)
    messages = []
    assert not run_grid(grid, log=messages.append, **QUIET).written
    assert any(m.startswith("reproduced the existing dataset") for m in messages), messages


def test_content_hash_refuses_a_foreign_file(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(ValueError, match="not a relustudy dataset file"):
        content_hash(path)


# --------------------------------------------------------------------------- one run per folder


def test_a_run_on_a_locked_folder_exits_2_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    with folder_lock(out, log=lambda m: None):
        assert cli.main([*SMALL, "--out", str(out), "--no-progress"]) == 2
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing scanned, trained or written
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pid {os.getpid()} on " in err and "in use by another run" in err
    assert not (out / LOCK_FILE).exists()  # released


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with folder_lock(tmp_path, log=lambda m: None):
            raise RuntimeError("boom")
    assert not (tmp_path / LOCK_FILE).exists()
    with folder_lock(tmp_path, log=lambda m: None):  # free again
        with pytest.raises(FolderLocked):
            with folder_lock(tmp_path, log=lambda m: None):
                pass


@pytest.mark.slow
def test_concurrent_run_exits_2_and_a_killed_runs_lock_is_taken_over(tmp_path):
    # A long run (minutes of training) is paused with SIGSTOP as soon as it holds the lock, so
    # it is still "running" however fast the engine or the machine is; then it is killed -9.
    slow = ["--seeds", "0:12", "--block", "2", "--activations", "relu,tanh", "--outputs", "same", "--inits", "randn",
            "--updates", "as_posted", "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "5000000"]
    common = [sys.executable, str(SCRIPT), "--jobs", "1", "--no-progress", "--out", str(tmp_path)]
    first = subprocess.Popen([*common, *slow], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = tmp_path / LOCK_FILE
    deadline = time.monotonic() + 120
    try:
        while not (lock.exists() and lock.read_text().strip()) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first run ended before it was seen holding the lock"
        os.kill(first.pid, signal.SIGSTOP)
        second = subprocess.run([*common, *slow], capture_output=True, text=True, timeout=120)
        still_running = first.poll() is None
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert still_running, "the first run finished before the second did; make it slower"
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and f"pid {first.pid} on " in second.stderr
    assert not (tmp_path / RUNS_FILE).exists()

    # kill -9 left the lock file behind; the next run (a small grid, to be quick) takes it over.
    third = subprocess.run([*common, *SMALL], capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert f"taking over {lock}, left by pid {first.pid} on " in third.stderr
    assert len(load_runs(tmp_path)) == 4 * 6 and not lock.exists()
