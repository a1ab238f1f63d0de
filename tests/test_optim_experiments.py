"""The optimizer experiments (issue 17.2, 17.4): grids as specified, reduced versions that run
through the runner and feed the tuned-optimizer table end to end."""
import dataclasses

import numpy as np
import pytest

from relustudy import Cell, load_runs
from relustudy.runs import catalog as experiments
from relustudy.analysis import optimizers as oa
from relustudy.core.optimizers import MOMENTUM
from relustudy.runs.spec import GridUnion
from relustudy.runs.grid import run_grid
from relustudy.analysis.tuning import matched_pairs, split_seeds


def test_tuning_grid_spans_the_issue_and_fits_the_budget():
    g = experiments.get("tuning")
    assert g.updates == ("as_posted", "corrected") and g.init_gains == (0.25, 0.5, 1.0, 2.0)
    assert g.optimizers == ("sgd", "momentum", "adam") and g.columns == "compact"
    lrs = np.array(g.lrs)
    assert lrs.min() == 1e-4 and 0.3 < lrs.max() < 0.35 and 7 <= lrs.size <= 9
    assert np.allclose(np.diff(np.log10(lrs)), 0.5, atol=1e-3)  # a log grid
    assert {0.001, 0.01, 0.1} <= set(g.lrs)  # the default grid's lrs are on it
    assert len(matched_pairs(g.lrs, MOMENTUM)) == 6  # sgd 1e-3 .. 0.3162 each has momentum's matched lr
    assert g.n_runs <= 400_000
    tune = split_seeds(np.arange(*g.seeds))
    assert tune.sum() == (~tune).sum() >= 1000
    assert Cell(init_gain=1.0) in g.cells()  # the posted cell


def test_remedies_optim_holds_every_remedies_cell_under_both_updates():
    g = experiments.get("remedies_optim")
    assert isinstance(g, GridUnion) and g.columns == "compact"
    cells = set(g.cells())
    old = experiments.get("remedies")
    assert set(old.cells()) <= cells and g.parts[0].seeds == old.seeds  # reproduces remedies run for run
    for c in old.cells():
        assert dataclasses.replace(c, update="corrected") in cells
        if c.optimizer == "momentum":
            assert dataclasses.replace(c, lr=0.001) in cells  # the matched step
            assert dataclasses.replace(c, lr=0.001, update="corrected") in cells
            for u in ("as_posted", "corrected"):  # Adam at torch's default lr
                assert dataclasses.replace(c, optimizer="adam", lr=0.001, update=u) in cells
    assert g.n_runs <= 300_000


@pytest.mark.parametrize("name", ["tuning", "remedies_optim"])
def test_reduced_versions_are_small(name):
    small = experiments.get(name, reduced=True)
    assert small.n_runs <= 400 and max(c.epochs for c in small.cells()) <= 500
    assert set(small.cells()) <= {dataclasses.replace(c, epochs=200) for c in experiments.get(name).cells()}


def test_reduced_tuning_runs_and_gives_the_tuned_table(tmp_path):
    g = experiments.get("tuning", reduced=True, out=tmp_path / "tuning")
    run_grid(g, jobs=1, progress=False, log=lambda m: None, engine="numpy")  # every engine gives its bits
    runs = load_runs(g.out)
    assert len(runs) == g.n_runs
    t = oa.tuned_table(runs)
    n_groups = len(g.updates) * len(g.init_gains)
    assert len(t.choices) == n_groups * len(g.optimizers)
    assert (t.choices["n_eval"] == 4).all() and set(t.choices["lr"]) <= set(g.lrs)
    k = len(g.optimizers)
    assert len(t.comparisons) == n_groups * k * (k - 1) // 2
    dec = t.decomposition.groupby(["update", "init_gain", "a", "b"])["contrib"].sum()
    diff = t.comparisons.set_index(["update", "init_gain", "a", "b"])["diff"]
    assert np.allclose(dec.sort_index(), diff.sort_index())
    m = oa.matched_step_table(runs, MOMENTUM)
    assert set(zip(m["lr"], m["lr_momentum"])) == set(matched_pairs(g.lrs, MOMENTUM))
