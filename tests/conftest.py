import shutil
import sys
from pathlib import Path

import pytest

# Test helpers (test_grid, engine_checks, ...) live beside the tests, and the posted program in
# examples/ (the user-facing copy, the only one); make both importable.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The tiny grid's finished dataset folder (``test_grid.TINY``: 8 cells x 8 seeds x 50
    epochs, shards included), trained once per session with 2 loky workers.

    Shared by every test that needs a small dataset: read it, never write to it; a test that
    changes a dataset takes ``tiny_dataset_copy``.
    """
    from relustudy.runs.grid import run_grid
    from test_grid import tiny

    out = tmp_path_factory.mktemp("tiny") / "ds"
    run_grid(tiny(out), jobs=2, progress=False, log=lambda m: None)
    return out


@pytest.fixture
def tiny_dataset_copy(tiny_dataset, tmp_path) -> Path:
    """A private copy of :func:`tiny_dataset` (same bytes) that the test may change."""
    return Path(shutil.copytree(tiny_dataset, tmp_path / "ds"))
