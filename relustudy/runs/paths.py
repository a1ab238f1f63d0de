"""Every path the package uses, in one place.

From a checkout (the editable install ``pip install -e .``) every default is inside the
checkout: ``data/default``, ``reports/``. A non-editable ``pip install .`` copies only the
package into site-packages, without ``data/`` or ``reports/``; its defaults are then
relative to the working directory (``data/default``, ``reports/``), so the scripts run from
a checkout's root still find its data, and ``load_runs(folder)`` works anywhere.
"""
from __future__ import annotations

from pathlib import Path


def find_checkout(package_dir: Path) -> Path | None:
    """The repository checkout that holds ``package_dir``, or None (an installed copy).

    A checkout has ``pyproject.toml`` beside the package folder; site-packages has not.
    """
    root = Path(package_dir).resolve().parent
    return root if (root / "pyproject.toml").is_file() else None


CHECKOUT = find_checkout(Path(__file__).parent.parent)  # the package folder; None for a non-editable install
ROOT = CHECKOUT if CHECKOUT is not None else Path(".")  # relative: the working directory at use
DATA_DIR = ROOT / "data"  # the shipped dataset, one folder per grid/experiment
DEFAULT_GRID_DIR = DATA_DIR / "default"  # the default study grid: runs.parquet, curves.parquet
SHARDS_SUBDIR = "shards"  # per-shard Parquet files under an output folder (not shipped)
RUNS_FILE = "runs.parquet"
CURVES_FILE = "curves.parquet"
REPORTS_DIR = ROOT / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
REPORT_FILE = REPORTS_DIR / "REPORT.md"


def experiment_dir(name: str) -> Path:
    """Folder of a named experiment's dataset under data/ (the default grid is 'default')."""
    return DATA_DIR / name
