"""Named experiments (issue 5): the registry matches the issue, the reduced versions run
through the CLI and the runner, resume, and bad names are one line with exit 2."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from relustudy import Cell, load_curves, load_runs
from relustudy.runs import catalog
from relustudy.runs.cli import main, resolve, resolve_grids
from relustudy.core.engines import resolve_engine
from relustudy.runs.catalog import EXPERIMENTS, born_dead_at_init
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.core.inits import init_params
from relustudy.core.outcomes import OUTCOMES
from relustudy.runs.paths import DATA_DIR, experiment_dir
from relustudy.core.schema import cell_id
from relustudy.core.train import _activations, forward_all
from relustudy.core.problem import X_TRAIN

from test_cli import snapshot
from test_grid import assert_bitwise_equal

NAMES = ["q1_long", "born_dead", "remedies", "million", "phase", "depth_width", "noise", "tuning", "remedies_optim",
         "generality", "confirm", "confirm_q1"]
GRIDS = NAMES[:3] + ["depth_width"]  # Grids with curves (million, phase: compact tables, tests/test_scale.py)


# --------------------------------------------------------------------------- the registry


def test_registry_names_and_folders():
    assert catalog.names() == NAMES == list(EXPERIMENTS)
    for name in NAMES:
        e = EXPERIMENTS[name]
        assert e.name == name and "\n" not in e.description and e.description
        assert e.full.out == experiment_dir(name) == DATA_DIR / name
        assert catalog.get(name) == e.full and catalog.get(name).out == e.full.out
        assert catalog.get(name, reduced=True).out == DATA_DIR / "quick" / name  # never the shipped folder
        assert catalog.get(name, out="elsewhere").out.name == "elsewhere"


def test_q1_long_is_q1_at_its_own_scale():
    g = catalog.get("q1_long")
    assert g.activations == ("tanh", "sigmoid") and g.lrs == (0.1,) and g.epochs == (100_000,)
    assert set(g.outputs) == {"same", "identity"} and set(g.updates) == {"as_posted", "corrected"}
    assert g.inits == ("randn",) and g.optimizers == ("sgd",) and g.hidden == ((4, 4),)
    assert g.seeds[1] - g.seeds[0] >= 200 and len(g.cells()) == 8


def test_born_dead_covers_every_width_and_depth():
    g = catalog.get("born_dead")
    assert set(g.hidden) == {(w,) * d for w in (2, 3, 4, 5, 8) for d in (1, 2, 3, 5, 8, 10)}
    assert len(g.hidden) == 30 and (8,) * 10 in g.hidden
    assert g.activations == ("relu",) and set(g.inits) == {"randn", "he"} and g.updates == ("corrected",)
    assert set(g.outputs) == {"same", "identity"} and g.optimizers == ("sgd",)
    assert g.seeds[1] - g.seeds[0] >= 500
    assert 1000 <= g.epochs[0] <= 5000


def test_remedies_pair_the_posted_cell_with_every_remedy():
    g = catalog.get("remedies")
    cells = set(g.cells())
    posted = Cell()  # relu, same, randn, as_posted, sgd, lr 0.01, 5000 epochs, 4-4
    assert posted in cells and len(cells) == 24
    for remedy in (dict(optimizer="momentum"), dict(activation="leaky_relu"), dict(output="identity"),
                   dict(init="he"), dict(init="xavier")):
        assert dataclasses.replace(posted, **remedy) in cells, remedy
    assert {c.update for c in cells} == {"as_posted"} and {c.epochs for c in cells} == {5000}
    assert g.seeds[1] - g.seeds[0] >= 2000


@pytest.mark.parametrize("name", [*GRIDS, "phase"])
def test_reduced_grid_is_a_small_version_of_the_full(name):
    full, small = catalog.get(name), catalog.get(name, reduced=True)
    assert small.n_runs <= 300 and max(small.epochs) <= 500
    for key in ("activations", "outputs", "inits", "updates", "optimizers"):
        assert getattr(small, key) == getattr(full, key), key
    assert set(small.lrs) <= set(full.lrs) and set(small.init_gains) <= set(full.init_gains)
    assert set(small.hidden) <= set(full.hidden)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown experiment 'nope'; allowed: " + ", ".join(NAMES)) as info:
        catalog.get("nope")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- running the reduced versions


@pytest.fixture(scope="module")
def reduced_all(tmp_path_factory):
    """`--experiment all --quick --out DIR`: every reduced experiment, each in DIR/NAME."""
    parent = tmp_path_factory.mktemp("experiments")
    assert main(["--experiment", "all", "--quick", "--out", str(parent), "--no-progress", "--jobs", "2"]) == 0
    return parent


@pytest.mark.slow  # end to end: every reduced experiment trained (~100 CPU s on a fresh clone)
@pytest.mark.parametrize("name", GRIDS)
def test_reduced_experiment_runs_and_loads(reduced_all, name):
    grid = catalog.get(name, reduced=True)
    runs, curves = load_runs(reduced_all / name), load_curves(reduced_all / name)
    assert len(runs) == grid.n_runs
    assert list(runs["cell_id"].cat.categories) == [cell_id(c) for c in grid.cells()]
    assert set(runs["outcome"].astype(str)) <= set(OUTCOMES)
    assert len(curves) == grid.n_runs * len(curves["epoch"].unique())
    assert curves["epoch"].max() == max(grid.epochs)
    assert runs.attrs["relustudy"]["command"] == (
        f"python scripts/run_grid.py --experiment all --quick --out {reduced_all} --no-progress --jobs 2"
    )


@pytest.mark.slow  # end to end: every reduced experiment trained (~100 CPU s on a fresh clone)
@pytest.mark.parametrize("name", GRIDS)
def test_rerun_reuses_every_shard_bitwise(reduced_all, name):
    folder = reduced_all / name
    before = load_runs(folder), load_curves(folder)
    out = run_grid(catalog.get(name, reduced=True, out=folder), jobs=1, progress=False, log=lambda m: None)
    assert out.n_trained == 0 and out.n_reused == catalog.get(name, reduced=True).n_runs
    assert_bitwise_equal(load_runs(folder), before[0])
    assert_bitwise_equal(load_curves(folder), before[1])


@pytest.mark.slow  # end to end: every reduced experiment trained (~100 CPU s on a fresh clone)
def test_one_experiment_via_the_cli_reuses_the_shards_of_all(reduced_all, tmp_path, capsys):
    folder = reduced_all / "q1_long"
    assert main(["--experiment", "q1_long", "--quick", "--out", str(folder), "--no-progress"]) == 0
    assert "(0 trained, 64 reused)" in capsys.readouterr().err


@pytest.mark.slow  # end to end: every reduced experiment trained (~100 CPU s on a fresh clone)
def test_born_dead_at_init_is_a_constant_output_on_the_data(reduced_all):
    runs = load_runs(reduced_all / "born_dead")
    flag = born_dead_at_init(runs).to_numpy()
    grid = catalog.get("born_dead", reduced=True)
    seeds = range(*grid.seeds)
    for cell in grid.cells():
        params = init_params(cell.init, seeds, cell.layer_sizes)
        acts = _activations(cell)
        z = forward_all(params, acts, X_TRAIN)[-1]
        out = np.empty_like(z)
        with np.errstate(all="ignore"):
            acts[-1].forward(z, out)
        constant = np.all(out[0] == out[0][:1], axis=0)  # (R,)
        rows = (runs["cell_id"] == cell_id(cell)).to_numpy()
        assert np.array_equal(flag[rows], constant), cell
    assert 0 < flag.sum() < len(flag)  # both kinds occur among the reduced runs


# --------------------------------------------------------------------------- the command line


def test_list_experiments_prints_one_line_each(capsys):
    assert main(["--list-experiments"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES
    for line, name in zip(lines, NAMES):
        assert EXPERIMENTS[name].description in line


def test_experiment_defaults_to_its_data_folder():
    grid, run = resolve(["--experiment", "born_dead", "--jobs", "1", "--no-progress"])
    assert grid == catalog.get("born_dead") and grid.out == DATA_DIR / "born_dead"
    assert run == {"jobs": 1, "backend": "loky", "scheduler": None, "progress": False, "engine": resolve_engine(None)}
    grids, _ = resolve_grids(["--experiment", "all"])
    assert [g.out for g in grids] == [DATA_DIR / n for n in NAMES]
    grid, _ = resolve([])  # no flags: still the default grid
    assert grid == Grid()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--experiment", "nope"], "unknown experiment 'nope'; allowed: " + ", ".join(NAMES) + ", all"),
        (["--experiment", "remedies", "--seeds", "0:10"], "--experiment remedies fixes its grid; drop --seeds"),
        (["--experiment", "all", "--epochs", "10", "--block", "5"], "drop --epochs, --block"),
        (["--experiment", "q1_long", "--jobs", "0"], "invalid jobs 0"),
    ],
)
def test_bad_experiment_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    data_before = {p.name for p in DATA_DIR.iterdir()} if DATA_DIR.exists() else set()
    assert main([*args, "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("run_grid.py: error: ") and message in err, err
    assert not (tmp_path / "new").exists()
    assert main(args) == 2  # without --out: nothing appears under data/ either
    assert ({p.name for p in DATA_DIR.iterdir()} if DATA_DIR.exists() else set()) == data_before


def test_experiment_in_a_config_file(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('experiment = "remedies"\njobs = 1\n')
    grid, run = resolve(["--config", str(cfg)])
    assert grid == catalog.get("remedies") and run["jobs"] == 1
    cfg.write_text('experiment = "remedies"\nseeds = "0:10"\n')
    with pytest.raises(Exception, match="fixes its grid; drop --seeds"):
        resolve(["--config", str(cfg)])


def test_noise_experiment_holds_the_designs_of_issue_19():
    g = catalog.get("noise")
    cells = g.cells()
    base = {Cell(), Cell(update="corrected"), Cell(lr=0.1)}
    strip = lambda c: dataclasses.replace(c, data_order="fixed", order_seed=0, dtype="float64", init_perturb="none")  # noqa: E731
    assert {strip(c) for c in cells} == base
    runs = {}
    for part in g.parts:
        for c in part.cells():
            key = ("crossed" if c.data_order == "shuffled" else "float32" if c.dtype == "float32"
                   else "ulp" if c.init_perturb == "one_ulp" else "float64")
            runs.setdefault((key, strip(c)), set()).add((c.order_seed, part.seeds))
    for cell in base:
        crossed = runs[("crossed", cell)]
        assert {o for o, _ in crossed} == set(range(16)) and all(s[1] - s[0] >= 4000 for _, s in crossed)
        for key in ("float32", "ulp"):
            assert all(s[1] - s[0] >= 100_000 for _, s in runs[(key, cell)])
    # float64 fixed order: only lr 0.1 is trained; posted and corrected are million's runs (same cell ids)
    assert {c for k, c in runs if k == "float64"} == {Cell(lr=0.1)}
    million = set(catalog.get("million").cells())
    assert Cell() in million and Cell(update="corrected") in million
    assert g.columns == "compact"
    small = catalog.get("noise", reduced=True)
    assert small.n_runs <= 1000 and {c.epochs for c in small.cells()} == {200}
