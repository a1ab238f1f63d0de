"""paths: a checkout's defaults, and a non-editable install (the package alone, no data/)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import relustudy
from relustudy.runs import paths
from relustudy.runs.paths import ROOT, find_checkout


def test_a_checkout_is_found_only_beside_pyproject(tmp_path):
    pkg = tmp_path / "relustudy"
    pkg.mkdir()
    assert find_checkout(pkg) is None  # site-packages: no pyproject.toml beside the package
    (tmp_path / "pyproject.toml").write_text("")
    assert find_checkout(pkg) == tmp_path.resolve()
    # The tests run from a checkout: the defaults are inside it, absolute.
    assert paths.CHECKOUT == ROOT == Path(relustudy.__file__).resolve().parent.parent
    assert paths.DEFAULT_GRID_DIR == ROOT / "data" / "default" and ROOT.is_absolute()


# Run as the installed copy: the package as `pip install .` lays it out, data/ nowhere near.
_PROBE = r"""
import json, sys
import relustudy
from relustudy import load_curves, load_runs
from relustudy.report import cli as report_cli
from relustudy.runs import paths, provenance

out = {"file": relustudy.__file__, "checkout": paths.CHECKOUT, "default": str(paths.DEFAULT_GRID_DIR),
       "git": provenance._git_state(), "given": len(load_runs(sys.argv[1])), "curves": len(load_curves(sys.argv[1]))}
for name, load in (("runs", load_runs), ("curves", load_curves)):
    try:
        load()
    except FileNotFoundError as e:
        out["error_" + name] = str(e)
out["report_rc"] = report_cli.main([])
print(json.dumps(out))
"""


def test_an_installed_copy_loads_a_given_folder_and_says_what_to_pass(tiny_dataset, tmp_path):
    site = tmp_path / "site-packages"
    shutil.copytree(Path(relustudy.__file__).parent, site / "relustudy", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"  # the user's working directory: no data/ in it
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-c", _PROBE, str(tiny_dataset)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).parent == site / "relustudy" and out["checkout"] is None
    assert out["default"] == os.path.join("data", "default")  # relative to the working directory
    assert out["git"] == [None, None]  # the working directory's repository is not ours to record
    assert out["given"] == 64 and out["curves"] > 0  # the tiny grid: 8 cells x 8 seeds
    for name in ("runs", "curves"):
        msg = out["error_" + name]
        assert "\n" not in msg and f"pass a dataset folder, e.g. load_{name}('path/to/relustudy/data/default')" in msg
    assert out["report_rc"] == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("make_report.py: error: no dataset at data/default") and "--data DIR" in err[0]
    assert not (work / "reports").exists()  # nothing written on the error


def test_an_installed_copy_finds_data_in_the_working_directory(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CHECKOUT", None)
    monkeypatch.setattr(paths, "DEFAULT_GRID_DIR", Path("data") / "default")
    shutil.copytree(tiny_dataset, tmp_path / "data" / "default")
    monkeypatch.chdir(tmp_path)
    runs = relustudy.load_runs()
    assert runs.equals(relustudy.load_runs(tiny_dataset)) and len(runs) == 64
