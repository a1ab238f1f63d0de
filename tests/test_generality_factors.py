"""Issue 27's factors in the reference: tasks, the torch/keras inits, the batch, the partly-dead outcome."""
import numpy as np
import pandas as pd
import pytest

from relustudy import Cell, train
from relustudy.core.config import FACTOR_REGISTRY
from relustudy.core.checks import check_batch
from relustudy.core.diagnostics import loss_gradient
from relustudy.core.engines.reference import order_perms, sgd
from relustudy.core.inits import init_params
from relustudy.analysis import vocabulary
from relustudy.core.outcomes import OUTCOMES
from relustudy.core.problem import MSE_MEAN_OUTPUT, MSE_ZERO_OUTPUT, TASKS, X_TEST, X_TRAIN, Y_TRAIN, get_task
from relustudy.core.schema import cell_id
from relustudy.core.train import _activations


# ---- tasks
def test_the_posted_task_is_the_posted_data_and_constants():
    t = get_task("posted")
    assert np.array_equal(t.x, X_TRAIN) and np.array_equal(t.y, Y_TRAIN) and np.array_equal(t.x_eval[0], X_TEST)
    assert t.mse_zero_output == MSE_ZERO_OUTPUT and t.mse_mean_output == MSE_MEAN_OUTPUT
    assert list(TASKS)[0] == "posted" == FACTOR_REGISTRY["task"].default


def test_standardised_tasks_have_zero_mean_unit_population_std_and_the_posted_targets():
    for name, base in (("posted_std", "posted"), ("grid64_std", "grid64")):
        t, b = get_task(name), get_task(base)
        assert np.allclose(t.x.mean(axis=0), 0, atol=1e-15) and np.allclose(t.x.std(axis=0, ddof=0), 1, rtol=1e-14)
        assert np.allclose(t.x, (b.x - b.x.mean(0)) / b.x.std(0), rtol=2e-15, atol=1e-15)  # StandardScaler's formula
        assert np.array_equal(t.y, b.y)
        # the evaluation points go through the training set's statistics, as StandardScaler.transform
        assert np.allclose(t.x_eval, (b.x_eval - b.x.mean(0)) / b.x.std(0), rtol=2e-15, atol=1e-15)


def test_grid_tasks_are_row_major_with_their_targets():
    g, p = get_task("grid64"), get_task("product64")
    assert g.n_samples == 64 and g.x[1].tolist() == [0.1, 0.2] and g.x[8].tolist() == [0.2, 0.1]
    assert g.x[63].tolist() == [0.8, 0.8] and set(g.x[:, 0]) == {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
    assert np.array_equal(g.y, g.x[:, 0] + g.x[:, 1]) and np.array_equal(p.y, g.x[:, 0] * g.x[:, 1])
    assert g.x_eval.shape == (49, 2) and np.allclose(g.x_eval[0], [0.15, 0.15]) and np.allclose(g.x_eval[-1], 0.75)
    assert g.mse_zero_output == pytest.approx(np.mean(g.y ** 2)) and g.mse_mean_output == pytest.approx(0.105)
    with pytest.raises(ValueError):
        g.x[0, 0] = 1.0  # read-only: shared by every run


def test_bad_task_and_batch_are_one_line_errors_listing_what_is_allowed():
    for kw, msg in ((dict(task="mnist"), "unknown task 'mnist'; allowed: posted, posted_std, grid64"),
                    (dict(batch=0), "invalid batch 0; allowed: an integer >= 1"),
                    (dict(batch="half"), "invalid batch 'half'; allowed"),
                    (dict(batch=7), "batch 7 is larger than the 6 samples of task 'posted'; allowed: 1 to 6 or 'full'"),
                    (dict(batch=65, task="grid64"), "allowed: 1 to 64 or 'full'")):
        with pytest.raises(ValueError, match=msg) as e:
            Cell(**kw)
        assert "\n" not in str(e.value)
    assert check_batch("3") == 3 and Cell(batch=6).batch == "full" and Cell(task="grid64", batch=64).batch == "full"
    assert Cell(task="grid64", batch=8).batch_size == 8 and Cell(batch="full").batch_size == 6


def test_default_cells_keep_their_names():
    """Run identity: a cell at the default task and batch serialises as before they existed."""
    assert Cell().to_json() == ('{"activation":"relu","epochs":5000,"hidden":"4-4","init":"randn","lr":0.01,'
                                '"optimizer":"sgd","output":"same","update":"as_posted"}')
    assert cell_id(Cell()) == "52f2c57d2936" == cell_id(Cell(task="posted", batch=1))
    assert '"batch":"full"' in Cell(batch="full").to_json() and '"task":"grid64"' in Cell(task="grid64").to_json()
    assert Cell.from_dict(Cell(task="grid64_std", batch=2).to_dict()) == Cell(task="grid64_std", batch=2)
    assert Cell(batch="full").factor_values()["batch"] == "full" and Cell().factor_values()["batch"] == "1"


# ---- inits
def test_torch_init_is_uniform_within_one_over_sqrt_fan_in_and_paired_with_the_draws():
    seeds, sizes = range(4000), (2, 4, 4, 1)
    torch, randn = init_params("torch", seeds, sizes), init_params("randn", seeds, sizes)
    for (w, b), (zw, zb) in zip(torch, randn):
        bound = 1 / np.sqrt(w.shape[1])
        for p, z in ((w, zw), (b, zb)):
            assert np.abs(p).max() < bound and np.abs(p).max() > 0.99 * bound
            assert np.array_equal(np.sign(p), np.sign(z))  # a monotone transform of the same normal
            assert abs(p.std() - bound / np.sqrt(3)) < 0.02 * bound  # U(-a, a) has std a / sqrt(3)


def test_keras_init_is_glorot_uniform_with_zero_bias_the_xavier_transform():
    keras, xavier = init_params("keras", range(9), (2, 4, 4, 1)), init_params("xavier", range(9), (2, 4, 4, 1))
    for (w, b), (xw, xb) in zip(keras, xavier):
        assert np.array_equal(w, xw) and not b.any()


# ---- batch in the reference
def _one_epoch(cell: Cell, x, y, seeds=range(5)):
    p0 = init_params(cell.init, seeds, cell.layer_sizes)
    p = [(w.copy(), b.copy()) for w, b in p0]
    sgd(p, _activations(cell), np.full(len(seeds), cell.lr), cell, x, y)
    return p0, p


def test_full_batch_corrected_sgd_steps_by_the_mean_of_the_per_sample_gradients():
    """Sum in sample order, divide by the batch size, one rounding each: the documented arithmetic."""
    cell = Cell(update="corrected", batch="full", epochs=1, init="he", lr=0.1)
    x, y = X_TRAIN[:3], Y_TRAIN[:3]
    p0, p = _one_epoch(cell, x, y)
    acts = _activations(cell)
    per_sample = [loss_gradient(p0, acts, x[s:s + 1], y[s:s + 1]) for s in range(3)]  # 1-sample MSE: exact
    for l, (w, b) in enumerate(p):
        gw = (per_sample[0][l][0] + per_sample[1][l][0]) + per_sample[2][l][0]
        gb = (per_sample[0][l][1] + per_sample[1][l][1]) + per_sample[2][l][1]
        assert np.array_equal(w, p0[l][0] - (gw / 3.0) * 0.1) and np.array_equal(b, p0[l][1] - (gb / 3.0) * 0.1)


@pytest.mark.parametrize("batch, updates", [("full", 1), (2, 3), (4, 2), (5, 2)])
def test_the_posted_bias_rule_decays_once_per_update(batch, updates):
    """6 samples: full = 1 update, 2 -> 3, 4 -> 2 (a last batch of 2), 5 -> 2 (a last batch of 1)."""
    cell = Cell(batch=batch, epochs=1, lr=0.1)
    p0, p = _one_epoch(cell, X_TRAIN, Y_TRAIN)
    for (_, b0), (_, b) in zip(p0, p):
        want = b0.copy()
        for _ in range(updates):
            want = want - want * 0.1
        assert np.array_equal(b, want)


def test_a_batch_of_two_differs_from_per_sample_and_from_full():
    out = {b: _one_epoch(Cell(batch=b, epochs=3, update="corrected"), X_TRAIN, Y_TRAIN)[1][0][0] for b in (1, 2, "full")}
    assert not np.array_equal(out[1], out[2]) and not np.array_equal(out[2], out["full"])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batches_follow_the_shuffled_order(optimizer):
    """The identity permutation fed as the shuffled order gives the fixed order's bits; a real
    permutation changes them (the batches are consecutive in the visiting order)."""
    cell = Cell(batch=4, epochs=3, optimizer=optimizer, update="corrected")
    acts = _activations(cell)
    fixed = init_params("randn", range(3), cell.layer_sizes)
    ident = [(w.copy(), b.copy()) for w, b in fixed]
    perm = [(w.copy(), b.copy()) for w, b in fixed]
    lr = np.full(3, 0.05)
    sgd(fixed, acts, lr, cell, X_TRAIN, Y_TRAIN)
    sgd(ident, acts, lr, cell, X_TRAIN, Y_TRAIN, perms=lambda e: np.repeat(np.arange(6)[:, None], 3, axis=1))
    sgd(perm, acts, lr, cell, X_TRAIN, Y_TRAIN, perms=lambda e: np.repeat(order_perms(7, e)[-1][:, None], 3, axis=1))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(fixed, ident))
    assert not np.array_equal(fixed[0][0], perm[0][0])


def test_train_uses_the_cells_task():
    r = train(Cell(task="grid64_std", epochs=2, update="corrected"), seeds=range(3), engine="numpy")
    t = get_task("grid64_std")
    born = r.metrics["output_dead_points_init"]
    assert born.dtype == np.int32 and ((0 <= born) & (born <= 64)).all()
    assert np.array_equal(r.metrics["output_dead_init"], born == 64)
    dead_out = r.metrics["output_dead_points_final"] == 64
    assert np.allclose(r.metrics["final_mse"][dead_out], t.mse_zero_output)
    assert r.metrics["eval_mse"].shape == (3,)


# ---- the partly-dead failure mode
def test_partly_dead_is_a_word_over_the_counts_not_a_new_outcome():
    """The outcome column keeps its five labels (older datasets stay valid); "partly dead" is the
    vocabulary's word over output_dead_points_final: 0 < k < S, ReLU-family output."""
    runs = pd.DataFrame({"activation": ["relu", "relu", "relu", "tanh", "relu"],
                         "output": ["same", "same", "same", "same", "identity"],
                         "task": ["posted", "posted", "grid64", "posted", "posted"],
                         "output_dead_points_final": [1, 6, 63, 1, 1]})
    assert vocabulary.output_partly_dead(runs).tolist() == [True, False, True, False, False]
    assert "partly_dead" not in OUTCOMES
