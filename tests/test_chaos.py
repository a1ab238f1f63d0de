"""Perturbation experiment: directions, reproducibility, eps = 0 is the run itself, flip rates by hand."""
import numpy as np
import pandas as pd
import pytest

from engine_checks import same_bits
from relustudy import Cell, train
from relustudy.chaos import direction, flatten_runs, flip_rates, load_chaos, perturbed_init, run_chaos
from relustudy.inits import init_params


def test_directions_are_unit_reproducible_and_distinct():
    u, v = direction(0, 37), direction(1, 37)
    assert np.isclose(np.sum(u * u), 1.0) and same_bits(u, direction(0, 37)) and not np.allclose(u, v)
    with pytest.raises(ValueError, match="invalid direction -1; allowed: an integer >= 0"):
        direction(-1, 37)


def test_perturbation_moves_every_run_by_eps_along_the_direction():
    cell = Cell()
    base = flatten_runs(init_params("randn", range(5), cell.layer_sizes))
    moved = flatten_runs(perturbed_init(cell, range(5), 2, 1e-3))
    np.testing.assert_allclose((moved - base) / 1e-3, np.repeat(direction(2, 37)[:, None], 5, axis=1), rtol=1e-9)
    assert same_bits(flatten_runs(perturbed_init(cell, range(5), 2, 0.0)), base)
    with pytest.raises(ValueError, match="invalid eps"):
        perturbed_init(cell, range(5), 0, -1e-3)


def test_run_chaos_table_flips_and_resume(tmp_path):
    cell = Cell(epochs=150, lr=0.1)
    run_chaos(tmp_path, (0, 30), cell=cell, directions=2, epsilons=(1e-10, 1e-1), jobs=1, log=lambda m: None)
    df = load_chaos(tmp_path)
    assert len(df) == 30 * (1 + 2 * 2)
    plain = train(cell, range(30), engine="numpy")  # eps = 0 rows are the runs themselves, any engine
    base = df[df["direction"] == -1].sort_values("seed")
    assert same_bits(base["final_mse"].to_numpy(), plain.metrics["final_mse"])
    # flipped, recomputed by hand: solved-ness differs from the unperturbed run of the same seed
    solved0 = dict(zip(base["seed"], base["outcome"] == "solved"))
    expect = [(o == "solved") != solved0[s] for s, o in zip(df["seed"], df["outcome"])]
    assert df["flipped"].tolist() == expect
    rates = flip_rates(df)
    assert rates["eps"].tolist() == [1e-10, 1e-1] and (rates["n"] == 60).all()
    big = df[df["eps"] == 1e-1]
    assert rates.iloc[1]["flips"] == big["flipped"].sum()
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()}
    logged = []
    run_chaos(tmp_path, (0, 30), cell=cell, directions=2, epsilons=(1e-10, 1e-1), jobs=1, log=logged.append)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()} == stamp
    assert logged == ["chaos: trained 0 of 5 shards x 30 seeds"]


def test_flip_rates_by_hand():
    df = pd.DataFrame({"seed": [0, 1, 0, 1, 0, 1], "direction": [-1, -1, 0, 0, 1, 1], "eps": [0, 0, .1, .1, .1, .1],
                       "outcome": ["solved", "slow", "slow", "slow", "solved", "solved"]})
    df["flipped"] = [False, False, True, False, False, True]
    r = flip_rates(df).iloc[0]
    assert (r["n"], r["flips"], r["rate"], r["label_changed"]) == (4, 2, 0.5, 0.5)
