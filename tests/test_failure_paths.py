"""Failure paths (issue 26, part 3): one line, the right exit code, nothing lost.

A corrupt experiment file stops the report; an unwritable output folder is one line and exit 2;
a read-only finished dataset reruns without writing; Ctrl-C and SIGTERM say what was kept and
leave no worker behind; an unreadable runs.parquet is kept aside, never overwritten; hints name
the command for the folder at hand; a bare int is not a seed list.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relustudy import Cell, load_curves, load_runs, train
from relustudy.runs import cli
from relustudy.runs import grid
from relustudy.report import cli as report_cli
from relustudy.runs.dataset import NEVER, assemble, compact_runs, read_shard, shard_table, write_dataset
from relustudy.runs.lock import FolderUnwritable
from relustudy.runs.paths import RUNS_FILE, SHARDS_SUBDIR

from test_cli import SCRIPT, snapshot
from test_grid import TINY, assert_bitwise_equal, tiny

QUIET = dict(jobs=1, progress=False)


def _truncate(path: Path) -> bytes:
    """Cut ``path`` to half its size (a copy interrupted half-way); return the bytes left."""
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    return data


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- the report


def test_a_truncated_experiment_file_stops_the_report(tiny_dataset, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root / "default")
    (root / "remedies").mkdir()
    shutil.copy(tiny_dataset / RUNS_FILE, root / "remedies" / RUNS_FILE)
    kept = _truncate(root / "remedies" / RUNS_FILE)
    assert report_cli.main(["--data", str(root / "default"), "--out", str(tmp_path / "rep"), "--jobs", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(root / "remedies" / RUNS_FILE) in line and "--experiment remedies" in line, line
    assert not (tmp_path / "rep").exists()  # no report with a section silently missing
    assert (root / "remedies" / RUNS_FILE).read_bytes() == kept  # nothing lost


def test_a_truncated_extra_table_stops_the_report(tiny_dataset, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root / "default")
    (root / "optim_probes").mkdir()
    (root / "optim_probes" / "probes.parquet").write_bytes(b"PAR1 half a file")
    assert report_cli.main(["--data", str(root / "default"), "--out", str(tmp_path / "rep"), "--jobs", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "optim_probes/probes.parquet" in line and "not written" in line, line


def test_an_uncreatable_report_folder_is_one_line(tiny_dataset, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the report folder would go")
    assert report_cli.main(["--data", str(tiny_dataset), "--out", str(blocker / "rep"), "--jobs", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("make_report.py: error: cannot write ") and "--out DIR" in line, line


# --------------------------------------------------------------------------- unwritable output


def test_an_uncreatable_output_folder_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = blocker / "grid"
    assert cli.main(["--seeds", "0:2", "--activations", "relu", "--epochs", "5", "--out", str(out), "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"run_grid.py: error: cannot write {out}: ") and "--out DIR" in line, line
    assert blocker.read_text() == "not a folder"


def test_a_no_op_rerun_over_a_read_only_finished_dataset_succeeds(tiny_dataset_copy, monkeypatch):
    # Read-only as the runner sees it (chmod would not stop root, who runs some CI).
    monkeypatch.setattr(grid, "writable", lambda folder: False)
    before = snapshot(tiny_dataset_copy)
    messages = []
    res = grid.run_grid(tiny(tiny_dataset_copy), log=messages.append, **QUIET)
    assert not res.written and res.n_trained == 0 and res.n_reused == res.n_runs
    assert snapshot(tiny_dataset_copy) == before  # no lock file, no tmp file, nothing moved
    assert "read-only" in messages[0] and "left untouched" in messages[0]


def test_a_rerun_that_must_write_into_a_read_only_folder_says_why(tiny_dataset_copy, monkeypatch, capsys):
    monkeypatch.setattr(grid, "writable", lambda folder: False)
    shards = sorted((tiny_dataset_copy / SHARDS_SUBDIR).glob("*.parquet"))
    shards[0].unlink()
    before = snapshot(tiny_dataset_copy)
    with pytest.raises(FolderUnwritable, match=f"holds {len(shards) - 1} of this grid's {len(shards)} finished shards"):
        grid.run_grid(tiny(tiny_dataset_copy), log=lambda m: None, **QUIET)
    # the command line: one line, exit 2
    args = ["--seeds", "0:8", "--activations", "relu,sigmoid", "--outputs", "same", "--inits", "randn,he",
            "--updates", "as_posted,corrected", "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "50", "--block", "4"]
    assert cli.main([*args, "--out", str(tiny_dataset_copy), "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is read-only" in line and "--out DIR" in line, line
    assert snapshot(tiny_dataset_copy) == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_chmod_read_only_folder_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert cli.main(["--seeds", "0:2", "--activations", "relu", "--epochs", "5", "--out", str(out),
                         "--no-progress"]) == 2
    finally:
        out.chmod(0o755)
    assert "is read-only" in _one_line(capsys.readouterr().err)


# --------------------------------------------------------------------------- unreadable runs.parquet


def test_a_rerun_over_an_unreadable_runs_file_keeps_it_aside(tiny_dataset_copy, tiny_dataset):
    kept = _truncate(tiny_dataset_copy / RUNS_FILE)
    messages = []
    res = grid.run_grid(tiny(tiny_dataset_copy), log=messages.append, **QUIET)
    assert res.written and res.n_trained == 0
    aside = tiny_dataset_copy / "rejected" / f"{RUNS_FILE}.0"
    assert aside.read_bytes() == kept  # never destroyed
    said = [m for m in messages if m.startswith("replacing unreadable")]
    assert len(said) == 1 and str(tiny_dataset_copy / RUNS_FILE) in said[0] and str(aside) in said[0], messages
    assert_bitwise_equal(load_runs(tiny_dataset_copy), load_runs(tiny_dataset))


# --------------------------------------------------------------------------- hints


def test_a_missing_folder_hint_names_out_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"run_grid.py --out {tmp_path / 'mine'}")):
        load_runs(tmp_path / "mine")


def test_curves_of_a_compact_dataset_hint_names_columns_full(tiny_dataset, tmp_path):
    runs = load_runs(tiny_dataset)
    command = f"python scripts/run_grid.py --seeds 0:8 --columns compact --out {tmp_path}"
    write_dataset(tmp_path, compact_runs(runs), None, {"command": command})
    with pytest.raises(FileNotFoundError, match="compact dataset") as e:
        load_curves(tmp_path)
    assert f"--seeds 0:8 --columns full --out {tmp_path}_full`" in str(e.value)


# --------------------------------------------------------------------------- seeds, epochs_to_1e-3


@pytest.mark.parametrize("seeds", [5, np.int64(5), "5", None])
def test_a_bare_int_is_not_a_seed_list(seeds):
    with pytest.raises(ValueError, match=r"allowed: a sequence of integers .* e\.g\. range\(5\)"):
        train(Cell(epochs=5), seeds=seeds, engine="numpy")


def test_epochs_to_target_is_nan_for_never_and_null_in_the_files():
    cell = Cell(activation="relu", output="identity", init="he", update="corrected", lr=0.1, epochs=100)
    res = train(cell, range(8), engine="numpy")  # seeds 4, 5, 7 reach 1e-3 within 100 epochs, the rest never
    m = res.metrics
    e = m["epochs_to_1e-3"]
    hit = ~np.isnan(e)
    assert e.dtype == np.float64 and hit.any() and (~hit).any()
    assert np.array_equal(e[hit], np.round(e[hit])) and (e[hit] >= 1).all()
    # the runs table: Int64, null exactly where the record says NaN; the same from a shard of
    # the format before (-1 for never), so old shards still make the same dataset
    new = shard_table(cell, 0, 8, m, res.curve_epochs, res.curve)
    old = shard_table(cell, 0, 8, {**m, "epochs_to_1e-3": np.where(hit, e, NEVER).astype(np.int64)},
                      res.curve_epochs, res.curve)
    col = [assemble([cell], [[t]])[0]["epochs_to_1e-3"] for t in (new, old)]
    assert col[0].dtype == "Int64" and np.array_equal(col[0].isna().to_numpy(), ~hit)
    pd.testing.assert_series_equal(col[0], col[1])


# --------------------------------------------------------------------------- signals

# 12 shards of one run each, on the NumPy engine (nothing to compile): a few seconds per shard.
SIGNAL_GRID = ["--seeds", "0:12", "--block", "1", "--activations", "relu", "--outputs", "same", "--inits", "randn",
               "--updates", "as_posted", "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "1500", "--engine", "numpy",
               "--jobs", "2", "--no-progress"]


def _finished_shards(out: Path) -> list[Path]:
    return [p for p in (out / SHARDS_SUBDIR).glob("*.parquet") if not p.name.startswith(".")]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_workers_keeps_the_shards_and_says_so(tmp_path, sig, code):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "ds"
    command = [sys.executable, str(SCRIPT), *SIGNAL_GRID, "--out", str(out)]
    # Python ignores SIGINT in a child started with it ignored (a background shell job): undo that.
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 300
        while not _finished_shards(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the grid ended before a shard was seen; make it longer"
        children = psutil.Process(proc.pid).children(recursive=True)  # loky workers, resource tracker
        assert children
        os.kill(proc.pid, sig)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code
    line = _one_line(err)
    kept = _finished_shards(out)
    assert line == f"run_grid.py: interrupted: {len(kept)} of 12 shards of {out} kept; rerun the same command to resume"
    assert 1 <= len(kept) < 12 and not (out / RUNS_FILE).exists()
    _, alive = psutil.wait_procs(children, timeout=60)  # gone with their parent, not minutes later
    assert not alive, [p.cmdline() for p in alive]
    for path in kept:  # intact: each reads back as the shard it names
        seed = int(re.search(r"_s(\d+)-", path.name).group(1))
        read_shard(path, Cell(epochs=1500, lr=0.1), seed, seed + 1)
    if sig == signal.SIGTERM:  # the rerun resumes to the bits of an uninterrupted run
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr
        assert f"({12 - len(kept)} trained, {len(kept)} reused)" in rerun.stderr
        whole = grid.run_grid(grid.Grid(**{**TINY, "seeds": (0, 12), "activations": ("relu",), "inits": ("randn",),
                                           "updates": ("as_posted",), "epochs": (1500,), "out": tmp_path / "whole"}),
                              engine="numpy", log=lambda m: None, **QUIET)
        assert_bitwise_equal(load_runs(out), load_runs(whole.runs_path.parent))
        assert_bitwise_equal(load_curves(out), load_curves(whole.runs_path.parent))
