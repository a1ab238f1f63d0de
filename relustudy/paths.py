"""Every path the package uses, in one place."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository checkout
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
