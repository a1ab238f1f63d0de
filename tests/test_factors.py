"""The factor registry: one declaration per factor that the Cell, grid, CLI, schema, dataset and analyses read;
old cell ids and shipped data unchanged; the replays honour init_gain."""
import dataclasses
import shlex

import numpy as np
import pytest

from engine_checks import same_bits
from relustudy import Cell, load_runs, train
from relustudy.analysis import cells as analysis
from relustudy.experiments.chaos import perturbed_init
from relustudy.runs.cli import build_parser, make_grid, resolve
from relustudy.core.config import FACTOR_NAMES, FACTOR_REGISTRY, FACTORS, OPTIONAL_FACTORS
from relustudy.runs.dataset import COMPACT_COLUMNS, read_info
from relustudy.experiments.forensics import replay
from relustudy.runs.spec import Grid
from relustudy.runs.paths import DATA_DIR, RUNS_FILE
from relustudy.core.schema import CATEGORICAL_COLUMNS, FACTOR_COLUMNS, OPTIONAL_FACTOR_COLUMNS, cell_id

NEW = {"data_order": "shuffled", "order_seed": 7, "dtype": "float32", "optimizer": "adam"}


def test_every_reader_of_factors_reads_the_registry():
    assert [f.name for f in dataclasses.fields(Cell)] == list(FACTOR_NAMES)
    assert analysis.FACTOR_COLS == FACTOR_NAMES and "init_gain" in analysis.FACTOR_COLS
    assert FACTOR_COLUMNS == ("seed", *FACTORS) and OPTIONAL_FACTOR_COLUMNS == tuple(OPTIONAL_FACTORS)
    grid_fields = {f.name for f in dataclasses.fields(Grid)}
    flags = {a.dest for a in build_parser()._actions}
    for f in FACTOR_REGISTRY.values():
        assert f.grid_field in grid_fields and f.grid_field in flags
        assert getattr(Grid(), f.grid_field)[0] == getattr(Cell(), f.name) or f.grid_field in ("lrs", "init_gains")
        assert (f.column in CATEGORICAL_COLUMNS) == (f.column_dtype == "category")
        assert f.column in COMPACT_COLUMNS
    assert OPTIONAL_FACTORS == {"init_gain": 1.0, "data_order": "fixed", "order_seed": 0, "dtype": "float64",
                                "init_perturb": "none", "task": "posted", "batch": 1}


def test_new_factors_at_their_defaults_leave_the_json_alone():
    assert Cell().to_json() == ('{"activation":"relu","epochs":5000,"hidden":"4-4","init":"randn","lr":0.01,'
                                '"optimizer":"sgd","output":"same","update":"as_posted"}')
    assert cell_id(Cell()) == cell_id(Cell(data_order="fixed", order_seed=0, dtype="float64", init_gain=1.0))
    c = Cell(**NEW)
    d = c.to_dict()
    assert {k: d[k] for k in NEW} == NEW and Cell.from_dict(d) == c
    ids = {cell_id(Cell(**{k: v})) for k, v in NEW.items() if k != "order_seed"}
    assert len(ids) == 3 and cell_id(Cell()) not in ids
    assert cell_id(Cell(data_order="shuffled", order_seed=1)) != cell_id(Cell(data_order="shuffled", order_seed=2))


@pytest.mark.parametrize("kw, message", [
    (dict(order_seed=3), "order_seed 3 with data_order 'fixed'; allowed: order_seed 0 with fixed"),
    (dict(data_order="random"), "unknown data_order 'random'; allowed: fixed, shuffled"),
    (dict(data_order="shuffled", order_seed=-1), r"invalid order_seed -1; allowed: an integer in \[0, 2\*\*32\)"),
    (dict(data_order="shuffled", order_seed=2**32), "invalid order_seed"),
    (dict(data_order="shuffled", order_seed=1.0), "invalid order_seed 1.0"),
    (dict(data_order="shuffled", order_seed=True), "invalid order_seed True"),
    (dict(dtype="float16"), "unknown dtype 'float16'; allowed: float64, float32"),
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'; allowed: sgd, momentum, adam"),
])
def test_bad_values_are_one_line_errors_that_list_what_is_allowed(kw, message):
    with pytest.raises(ValueError, match=message) as e:
        Cell(**kw)
    assert "\n" not in str(e.value)


def test_structure_batches_order_seeds_but_not_orders_or_dtypes():
    base = Cell(data_order="shuffled", order_seed=1)
    assert base.structure == dataclasses.replace(base, order_seed=9, lr=0.1, init="he", init_gain=2.0).structure
    assert base.structure != dataclasses.replace(base, dtype="float32").structure
    assert base.structure != Cell().structure


def test_ids_of_the_shipped_default_grid_are_unchanged():
    """The cell ids the shipped data/default was written with are the ones the registry makes today."""
    info = read_info(DATA_DIR / "default" / RUNS_FILE)
    assert info["levels"]["cell_id"] == [cell_id(c) for c in Grid().cells()]


@pytest.mark.parametrize("name", ["phase", "million", "depth_width", "remedies", "born_dead", "q1_long"])
def test_ids_of_every_shipped_experiment_are_unchanged(name):
    from relustudy.runs import catalog as experiments

    path = DATA_DIR / name / RUNS_FILE
    if not path.exists():
        pytest.skip(f"{path} is not generated here")
    assert read_info(path)["levels"]["cell_id"] == [cell_id(c) for c in experiments.get(name).cells()]


def test_the_shipped_default_dataset_loads_with_the_new_columns_at_their_defaults():
    runs = load_runs(DATA_DIR / "default")
    cols = list(runs.columns)
    h = cols.index("hidden")
    assert cols[h + 1 : h + 1 + len(OPTIONAL_FACTOR_COLUMNS)] == list(OPTIONAL_FACTOR_COLUMNS)
    assert (runs["data_order"] == "fixed").all() and (runs["dtype"] == "float64").all()
    assert (runs["init_perturb"] == "none").all()
    assert (runs["order_seed"] == 0).all() and runs["order_seed"].dtype == np.int64
    assert list(runs["data_order"].cat.categories) == ["fixed", "shuffled"]
    assert len(runs) == 288_000 and runs["cell_id"].nunique() == 288


def test_grid_crosses_order_seeds_with_the_shuffled_cells_only():
    g = Grid(seeds=(0, 10), activations=("relu",), outputs=("same",), inits=("randn", "he"), updates=("as_posted",),
             optimizers=("sgd",), lrs=(0.01,), data_orders=("fixed", "shuffled"), order_seeds=(0, 1, 2))
    cells = g.cells()
    assert len(cells) == 2 * (1 + 3) and g.n_runs == 80
    assert [(c.data_order, c.order_seed) for c in cells[:4]] == [("fixed", 0), ("shuffled", 0), ("shuffled", 1),
                                                                 ("shuffled", 2)]
    assert len(set(cells)) == len(cells)
    with pytest.raises(ValueError, match="order seeds 1, 2 with data order fixed only; allowed: order seeds with"):
        Grid(order_seeds=(1, 2))
    with pytest.raises(ValueError, match="duplicate order_seed value"):
        Grid(data_orders=("shuffled",), order_seeds=(1, 1))


def test_cli_order_seeds_imply_shuffled_and_the_command_round_trips(tmp_path):
    argv = ["--seeds", "0:4000", "--order-seeds", "0:16", "--activations", "relu", "--outputs", "same", "--inits",
            "randn", "--updates", "as_posted,corrected", "--optimizers", "sgd,adam", "--lrs", "0.01,0.1",
            "--dtypes", "float64,float32", "--track-output", "--out", str(tmp_path)]
    g, _ = resolve(argv)
    assert g.data_orders == ("shuffled",) and g.order_seeds == tuple(range(16)) and g.track_output
    assert len(g.cells()) == 2 * 2 * 2 * 2 * 16 and g.n_runs == 256 * 4000  # updates x optimizers x lrs x dtypes
    again, _ = resolve(shlex.split(g.command())[2:])
    assert again == g
    assert make_grid({"order_seeds": "3,5", "data_orders": "fixed,shuffled"}).order_seeds == (3, 5)
    assert Grid().to_config() == make_grid({}).to_config() and "data_orders" not in Grid().to_config()


def test_forensics_replay_honours_init_gain():
    """At gain 2 the replay is train()'s run (it used to replay gain 1)."""
    cell = Cell(epochs=40, lr=0.1, init_gain=2.0)
    seeds = range(16)
    f = replay(cell, seeds)
    res = train(cell, seeds, engine="numpy")
    for (wa, ba), (wb, bb) in zip(f.final_params, res.params):
        assert same_bits(wa, wb) and same_bits(ba, bb)
    assert np.array_equal(f.runs["output_dead_end"].to_numpy(), res.metrics["output_dead_final"])
    gain1 = train(dataclasses.replace(cell, init_gain=1.0), seeds, engine="numpy")
    assert not same_bits(gain1.params[0][0], res.params[0][0])  # the gain matters: the test can fail


def test_chaos_perturbation_starts_from_the_cells_init_gain():
    cell = Cell(epochs=30, lr=0.1, init_gain=0.5)
    seeds = range(8)
    res = train(cell, seeds, engine="numpy")
    unmoved = train(cell, seeds, init=perturbed_init(cell, seeds, 0, 0.0), engine="numpy")
    for (wa, ba), (wb, bb) in zip(res.params, unmoved.params):
        assert same_bits(wa, wb) and same_bits(ba, bb)
    for (w, b), (w0, b0) in zip(perturbed_init(cell, seeds, 1, 1e-3), res.init_params):
        assert np.abs(w - w0).max() <= 1e-3 and np.abs(w - w0).max() > 0
