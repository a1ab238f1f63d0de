"""The one-ulp init perturbation (Cell.init_perturb, issue 19.2): the seed's stream, exactly one
parameter moved by one ulp in the run's dtype, the factor through train, the grid and every engine."""

import numpy as np
import pytest

from engine_checks import same_bits
from relustudy import Cell, train
from relustudy.core.inits import flatten_runs
from relustudy.runs.spec import Grid
from relustudy.runs.grid import plan_tasks
from relustudy.core.inits import init_params, one_ulp, perturb_init


def test_ulp_choice_is_reproducible_uniform_and_batch_free():
    from relustudy.core.inits import ULP_STREAM_KEY, ulp_choice

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
    from relustudy.core.inits import one_ulp, ulp_choice

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



def test_the_factor_trains_from_the_perturbed_init_the_same_bits_as_an_explicit_init():
    cell = Cell(epochs=300, lr=0.1, init_perturb="one_ulp")
    seeds = range(40)
    res = train(cell, seeds, engine="numpy")
    plain = init_params("randn", seeds, cell.layer_sizes)
    explicit = train(Cell(epochs=300, lr=0.1), seeds, init=one_ulp(plain, seeds), engine="numpy")  # chaos's path
    for name in ("final_mse", "last_epoch_error", "pred_test"):
        assert same_bits(res.metrics[name], explicit.metrics[name]), name
    moved = flatten_runs(res.init_params) != flatten_runs(plain)
    assert (moved.sum(axis=0) == 1).all()
    fast = train(cell, seeds, engine="numba")
    assert same_bits(fast.metrics["final_mse"], res.metrics["final_mse"])


def test_float32_run_moves_by_one_float32_ulp():
    cell = Cell(epochs=5, dtype="float32", init_perturb="one_ulp")
    seeds = range(30)
    rounded = [(w.astype(np.float32), b.astype(np.float32)) for w, b in init_params("randn", seeds, cell.layer_sizes)]
    got = flatten_runs(train(cell, seeds, engine="numpy").init_params)  # recorded in float64, exactly
    assert np.array_equal(got, flatten_runs(one_ulp(rounded, seeds)).astype(np.float64))


def test_factor_is_optional_batched_and_validated():
    assert "init_perturb" not in Cell().to_json() and '"init_perturb":"one_ulp"' in Cell(init_perturb="one_ulp").to_json()
    assert Cell.from_dict(Cell(init_perturb="one_ulp").to_dict()) == Cell(init_perturb="one_ulp")
    g = Grid(seeds=(0, 10), activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",),
             optimizers=("sgd",), lrs=(0.01,), init_perturbs=("none", "one_ulp"))
    assert [c.init_perturb for c in g.cells()] == ["none", "one_ulp"]
    assert len(plan_tasks(g.shards())) == 1  # perturbed and plain runs share a batch
    with pytest.raises(ValueError, match="unknown init_perturb 'two_ulp'; allowed: none, one_ulp"):
        Cell(init_perturb="two_ulp")
    p = init_params("randn", range(3), Cell().layer_sizes)
    assert perturb_init("none", p, range(3)) is p
