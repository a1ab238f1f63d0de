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


def test_ulp_choice_is_reproducible_uniform_and_batch_free():
    from relustudy.chaos import ULP_STREAM_KEY, ulp_choice

    idx, up = ulp_choice(range(37_000), 37)
    again, up2 = ulp_choice([5, 36_999], 37)  # a run's choice depends on its seed alone
    assert np.array_equal(again, idx[[5, 36_999]]) and np.array_equal(up2, up[[5, 36_999]])
    counts = np.bincount(idx, minlength=37)
    assert counts.sum() == 37_000 and scipy_chisq_p(counts) > 1e-4  # uniform over the 37 parameters
    assert abs(up.mean() - 0.5) < 0.02
    # splitmix64 by hand (Python ints) for seed 3: state = 3 ^ key; next() = mix(state + gamma)
    mask = 2**64 - 1
    s = (3 ^ ULP_STREAM_KEY) + 0x9E3779B97F4A7C15 & mask
    z = s
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & mask
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & mask
    assert idx[3] == (z ^ (z >> 31)) % 37
    with pytest.raises(ValueError, match="invalid n_params"):
        ulp_choice([0], 0)


def scipy_chisq_p(counts) -> float:
    import scipy.stats

    return float(scipy.stats.chisquare(counts).pvalue)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_ulp_moves_exactly_one_parameter_by_one_ulp(dtype):
    from relustudy.chaos import one_ulp, ulp_choice

    seeds = list(range(200))
    base = [(w.astype(dtype), b.astype(dtype)) for w, b in init_params("randn", seeds, Cell().layer_sizes)]
    before = flatten_runs(base).copy()
    moved = flatten_runs(one_ulp(base, seeds))
    assert moved.dtype == dtype and np.array_equal(flatten_runs(base), before)  # input untouched
    changed = moved != before
    assert (changed.sum(axis=0) == 1).all()
    idx, up = ulp_choice(seeds, 37)
    r = np.arange(200)
    assert np.array_equal(np.argmax(changed, axis=0), idx)
    assert np.array_equal(moved[idx, r] > before[idx, r], up)
    assert np.array_equal(moved[idx, r], np.nextafter(before[idx, r], np.where(up, np.inf, -np.inf).astype(dtype)))
    with pytest.raises(ValueError, match="params hold 200 runs; got 3 seeds"):
        one_ulp(base, [0, 1, 2])
