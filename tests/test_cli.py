"""scripts/run_grid.py: flags, config files, bad input (exit 2, one line), SIGKILL + resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from relustudy import load_curves, load_runs
from relustudy.runs import cli
from relustudy.runs import backends as grid_backends
from relustudy.runs.cli import QUICK_DIR, main, resolve
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.runs.paths import DEFAULT_GRID_DIR, ROOT, SHARDS_SUBDIR

from test_grid import assert_bitwise_equal

SCRIPT = ROOT / "scripts" / "run_grid.py"
SMALL = [
    "--seeds", "0:6", "--activations", "relu,tanh", "--outputs", "same", "--inits", "randn,he",
    "--updates", "corrected", "--optimizers", "sgd", "--lrs", "0.1", "--epochs", "30", "--block", "3",
]


def snapshot(folder):
    """Every file under ``folder`` with its bytes and mtime."""
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """An output folder holding a finished small grid."""
    out = tmp_path_factory.mktemp("existing")
    assert main([*SMALL, "--out", str(out), "--no-progress"]) == 0
    return out


def test_small_grid_runs_and_loads(existing):
    runs = load_runs(existing)
    assert len(runs) == 4 * 6
    assert set(runs["activation"].astype(str)) == {"relu", "tanh"}
    assert runs.attrs["relustudy"]["command"].startswith("python scripts/run_grid.py --seeds 0:6")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--activations", "relu,swish"], "unknown activation 'swish'; allowed: relu, leaky_relu"),
        (["--outputs", "linear"], "unknown output 'linear'; allowed: same, identity"),
        (["--inits", "kaiming"], "unknown init 'kaiming'; allowed: randn, he, xavier"),
        (["--updates", "fixed"], "unknown update 'fixed'; allowed: as_posted, corrected"),
        (["--optimizers", "rmsprop"], "unknown optimizer 'rmsprop'; allowed: sgd, momentum, adam"),
        (["--seeds", "5:5"], "invalid seed range 5:5; allowed: A:B"),
        (["--seeds", "5"], "invalid --seeds '5'; allowed: A:B"),
        (["--epochs", "0"], "invalid epochs 0; allowed: an integer >= 1"),
        (["--epochs", "1e3"], "invalid epochs '1e3'; allowed: an integer"),
        (["--lrs", "-1"], "invalid lr '-1'; allowed: a finite number > 0"),
        (["--lrs", "0.1,"], "invalid --lrs '0.1,'; allowed: comma-separated values"),
        (["--hidden", "4-x"], "malformed hidden spec '4-x'; allowed: positive widths"),
        (["--backend", "ray"], "invalid choice: 'ray' (choose from 'loky', 'dask')"),
        (["--backend", "dask"], "backend dask needs a scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "only applies to backend dask"),
        (["--jobs", "0"], "invalid jobs 0; allowed: an integer >= 1"),
        (["--jobs", "two"], "invalid jobs 'two'; allowed: an integer"),
        (["--block", "0"], "invalid block 0"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], "cannot reach dask scheduler 'tcp://127.0.0.1:1'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_touches_nothing(existing, capsys, monkeypatch, args, message):
    monkeypatch.setattr(grid_backends, "CONNECT_TIMEOUT", "1s")
    before = snapshot(existing)
    assert main([*SMALL, "--out", str(existing), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("run_grid.py: error: "), err
    assert message in err and "Traceback" not in err
    assert snapshot(existing) == before


def test_bad_input_does_not_create_the_output_folder(tmp_path, capsys):
    assert main(["--epochs", "0", "--out", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()


def test_another_grid_needs_an_explicit_out(capsys):
    before = snapshot(DEFAULT_GRID_DIR) if DEFAULT_GRID_DIR.exists() else None
    assert main(["--seeds", "0:10"]) == 2
    assert "differs from the default study grid; pass --out DIR" in capsys.readouterr().err
    assert (snapshot(DEFAULT_GRID_DIR) if DEFAULT_GRID_DIR.exists() else None) == before


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--seeds", "--activations", "--outputs", "--inits", "--updates", "--optimizers", "--lrs",
                 "--epochs", "--hidden", "--jobs", "--backend", "--scheduler", "--out", "--config", "--quick"):
        assert flag in out, flag


def test_no_flags_is_the_default_grid():
    grid, run = resolve([])
    assert grid == Grid() and grid.out == DEFAULT_GRID_DIR
    assert run == {"jobs": None, "backend": "loky", "scheduler": None, "progress": True, "engine": "numba"}


def test_engine_flag_is_checked_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["--seeds", "0:2", "--epochs", "1", "--out", str(out), "--engine", "torch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "run_grid.py: error: unknown engine 'torch'; allowed: numba, numpy, cuda" and not out.exists()
    assert resolve(["--engine", "numpy", "--quick"])[1]["engine"] == "numpy"


def test_quick_is_small_and_never_writes_to_the_default_folder():
    grid, _ = resolve(["--quick"])
    assert grid.out == QUICK_DIR != DEFAULT_GRID_DIR
    assert grid.n_runs <= 1000 and max(grid.epochs) <= 2000
    grid, _ = resolve(["--quick", "--epochs", "10"])  # flags still override
    assert grid.epochs == (10,)


def test_config_file_with_flag_override(tmp_path):
    cfg = tmp_path / "grid.toml"
    cfg.write_text(
        'seeds = "0:20"\nactivations = ["relu", "tanh"]\nlrs = [0.01, 0.1]\nepochs = 100\n'
        'hidden = ["4-4", "2-2-2"]\njobs = 1\nout = "somewhere"\n'
    )
    grid, run = resolve(["--config", str(cfg), "--epochs", "200"])
    assert grid.seeds == (0, 20) and grid.activations == ("relu", "tanh")
    assert grid.lrs == (0.01, 0.1) and grid.epochs == (200,) and grid.hidden == ((4, 4), (2, 2, 2))
    assert run["jobs"] == 1 and str(grid.out) == "somewhere"
    cfg.write_text("seeds = [0, 5]\nquick = true\n")
    grid, _ = resolve(["--config", str(cfg)])
    assert grid.seeds == (0, 5) and grid.out == QUICK_DIR and grid.activations == ("relu", "tanh")


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour = 'red'\n", "unknown key(s) colour"),
        ("epochs = [0]\n", "invalid epochs 0"),
        ("backend = 'ray'\n", "unknown backend 'ray'; allowed: loky, dask"),
        ("quick = 'yes'\n", "invalid quick 'yes'"),
        ("seeds = \n", "invalid TOML"),
    ],
)
def test_bad_config_files(tmp_path, capsys, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert main(["--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2


@pytest.mark.slow
def test_sigkill_then_rerun_completes_the_same_dataset(tmp_path):
    # 12 single-shard tasks of ~0.2 s each; kill -9 as soon as the first shard is on disk.
    args = ["--seeds", "0:12", "--block", "2", "--activations", "relu,tanh", "--outputs", "same",
            "--inits", "randn", "--updates", "as_posted", "--optimizers", "sgd", "--lrs", "0.1",
            "--epochs", "800", "--jobs", "1", "--no-progress"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shard_dir = killed / SHARDS_SUBDIR
    deadline = time.monotonic() + 60
    while not list(shard_dir.glob("*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "finished before it could be killed"
    done = list(shard_dir.glob("*.parquet"))
    assert 1 <= len(done) < 12 and not (killed / "runs.parquet").exists()

    rerun = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(killed)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "trained" in rerun.stderr and "bad shard" not in rerun.stderr

    whole = tmp_path / "whole"
    grid, run = resolve([*args, "--out", str(whole)])
    run_grid(grid, jobs=2, progress=False, log=lambda m: None)
    assert_bitwise_equal(load_runs(killed), load_runs(whole))
    assert_bitwise_equal(load_curves(killed), load_curves(whole))
