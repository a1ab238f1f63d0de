"""What produced a dataset: versions, the git commit, the grid config, the engine, the time.

Kept in file metadata only (never in data columns), so the data stay bitwise reproducible.
"""
from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from relustudy.version import __version__
from relustudy.runs import paths  # read at call time (paths.CHECKOUT), so tests can patch it


def provenance(grid_config: dict, command: str | None = None, engine: str | None = None) -> dict:
    """What produced a dataset: versions, git commit, the grid config, the engine, creation time.

    Only ever stored in file metadata, never in data columns, so the data stay bitwise
    reproducible.
    """
    commit, dirty = _git_state()
    return {
        "relustudy": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "grid": grid_config,
        "command": command,
        "engine": engine,
        "numba": _version_of("numba"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _version_of(package: str) -> str | None:
    """An installed package's version, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it), or (None, None) outside git.

    An installed copy (no checkout) has no commit of its own: the working directory's
    repository, if any, is someone else's, so it is not asked.
    """
    if paths.CHECKOUT is None:
        return None, None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.CHECKOUT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=paths.CHECKOUT, capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        return head, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None
