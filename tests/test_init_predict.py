"""Predicting failure from the initial weights: features, CV over seeds, AUROC CIs, importance."""
import numpy as np
import pytest

from relustudy.experiments import init_predict as ip
from relustudy.stats import unpaired_tests
from relustudy.core.activations import get_activation
from relustudy.core.config import Cell
from relustudy.core.inits import init_params
from relustudy.core.train import evaluate

RELU = get_activation("relu")


def _tiny_params():
    """A 2-1-1 net, two runs (R = 2): run 1 alive, run 2 with its hidden unit dead (b1 = -5)."""
    w1 = np.array([[[1.0, 1.0], [-1.0, -1.0]]])  # (1, 2, R)
    b1 = np.array([[0.5, -5.0]])
    w2 = np.array([[[2.0, 2.0]]])
    b2 = np.array([[-1.0, -1.0]])
    return [(w1, b1), (w2, b2)]


def test_features_by_hand_on_a_tiny_net():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 2.0])
    f = ip.init_features(_tiny_params(), [RELU, RELU], x, y)
    v = dict(zip(f.names, f.values.T))
    # Run 1: z1 = (1.5, -0.5), a1 = (1.5, 0), z2 = (2, -1), outputs (2, 0), MSE ((2-1)^2 + (0-2)^2)/2 = 2.5.
    # Run 2: z1 = (-4, -6) dead, z2 = (-1, -1) dead, outputs (0, 0), MSE (1 + 4)/2 = 2.5.
    # raw W1, b1, W2, b2 (2 + 1 + 1 + 1); max/min z per unit and dead_l1 (2 + 1 + 2); z_out[0..1], dead, MSE (4).
    assert f.values.shape == (2, len(f.names)) == (2, 5 + 5 + 4)
    assert v["W1[0,1]"].tolist() == [-1.0, -1.0] and v["b2[0]"].tolist() == [-1.0, -1.0]
    assert v["max_z1[0]"].tolist() == [1.5, -4.0] and v["min_z1[0]"].tolist() == [-0.5, -6.0]
    assert v["dead_l1"].tolist() == [0.0, 1.0]
    assert v["max_z2[0]"].tolist() == [2.0, -1.0] and v["min_z2[0]"].tolist() == [-1.0, -1.0]
    assert v["z_out[0]"].tolist() == [2.0, -1.0] and v["z_out[1]"].tolist() == [-1.0, -1.0]
    assert v["output_dead"].tolist() == [0.0, 1.0]
    assert v["mse_init"].tolist() == [2.5, 2.5]
    assert set(f.groups) == {"raw l1", "raw l2", "data l1", "data out"}


def test_features_of_the_posted_net_agree_with_the_recorded_state():
    cell = Cell()
    seeds = np.arange(50)
    f = ip.cell_init_features(cell, seeds)
    assert f.values.shape == (50, 65)
    assert sum(n.startswith(("W", "b")) for n in f.names) == 37
    rec = evaluate(cell, init_params(cell.init, seeds, cell.layer_sizes))
    v = dict(zip(f.names, f.values.T))
    assert np.array_equal(v["output_dead"].astype(bool), rec["output_dead_final"])
    assert np.array_equal(v["dead_l1"], 4 * rec["dead_frac_final_l1"])
    assert np.array_equal(v["max_z3[0]"], rec["output_margin_final"])
    np.testing.assert_allclose(v["mse_init"], rec["final_mse"], rtol=1e-12)
    # The raw weights are the seed's draws in the posted order: W1 row-major first.
    assert v["W1[0,0]"][7] == np.random.RandomState(7).randn()


def test_seed_folds_keep_a_seed_in_one_fold_and_balance_them():
    seeds = np.repeat(np.arange(23), 3)
    folds = ip.seed_folds(seeds, 5, np.random.default_rng(0))
    for s in range(23):
        assert np.unique(folds[seeds == s]).size == 1
    sizes = np.bincount(folds[::3], minlength=5)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 23
    with pytest.raises(ValueError, match="n_splits"):
        ip.seed_folds(np.arange(3), 5, np.random.default_rng(0))


def test_cross_validation_never_tests_on_a_seed_it_trained_on(monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    # Two identical rows per seed, labels random per seed: a 1-nearest-neighbour model that saw the
    # twin of a test row in training would score AUROC 1; trained on other seeds only, it is chance.
    rng = np.random.default_rng(1)
    n = 300
    x = np.repeat(rng.normal(size=(n, 3)), 2, axis=0)
    y = np.repeat(rng.random(n) < 0.5, 2)
    seeds = np.repeat(np.arange(n), 2)
    monkeypatch.setitem(ip.MODELS, "1nn", lambda rs: KNeighborsClassifier(n_neighbors=1))
    cv = ip.cross_validate(x, y, seeds, "1nn", random_state=0)
    assert 0.4 < unpaired_tests.auroc(cv.scores, y) < 0.6
    rows_kept_apart = ip.cross_validate(x, y, np.arange(2 * n), "1nn", random_state=0)  # rows as seeds: leaks
    assert unpaired_tests.auroc(rows_kept_apart.scores, y) > 0.75  # the twin is in another fold 4 times in 5
    for k, m in enumerate(cv.models):
        assert m.n_samples_fit_ == int((cv.folds != k).sum())


@pytest.mark.parametrize("model", list(ip.MODELS))
def test_a_label_that_is_a_function_of_one_feature_is_predicted(model):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 5))
    y = x[:, 2] > 0.3
    cv = ip.cross_validate(x, y, np.arange(400), model, random_state=0)
    res = ip.auroc_ci({model: cv.scores}, y, n_boot=300, rng=np.random.default_rng(0))
    assert res.auroc[0] > 0.97 and res.low[0] > 0.95


@pytest.mark.parametrize("model", list(ip.MODELS))
def test_a_label_independent_of_the_features_is_chance(model):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 5))
    y = rng.random(600) < 0.4
    cv = ip.cross_validate(x, y, np.arange(600), model, random_state=0)
    res = ip.auroc_ci({model: cv.scores}, y, n_boot=500, rng=np.random.default_rng(0))
    assert res.low[0] < 0.5 < res.high[0]
    assert res.high[0] - res.low[0] < 0.15


def test_cross_validation_is_deterministic():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 4))
    y = x[:, 0] + rng.normal(size=200) > 0
    a = ip.cross_validate(x, y, np.arange(200), "boosting", random_state=7)
    b = ip.cross_validate(x, y, np.arange(200), "boosting", random_state=7)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.folds, b.folds)


def test_weighted_auroc_equals_auroc_of_repeated_rows():
    score = np.array([0.1, 0.4, 0.4, 0.9, 0.2, 0.4])
    label = np.array([False, True, False, True, False, True])
    w = np.array([[1, 1, 1, 1, 1, 1], [2, 0, 3, 1, 1, 2], [0, 1, 0, 0, 4, 1]])
    got = ip.weighted_auroc(score, label, w)
    for k in range(3):
        rep = np.repeat(np.arange(6), w[k])
        assert got[k] == pytest.approx(unpaired_tests.auroc(score[rep], label[rep]))
    assert ip.weighted_auroc([1, 1, 0, 0], [True, False, False, False], np.ones((1, 4)))[0] == pytest.approx(2.5 / 3)
    assert np.isnan(ip.weighted_auroc(score, label, [[1, 0, 1, 0, 1, 0]])[0])  # no positive left


def test_auroc_ci_pairs_the_bootstrap():
    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.5
    good = y + rng.normal(0, 0.8, 300)
    res = ip.auroc_ci({"good": good, "same": good.copy(), "noise": rng.normal(size=300)}, y, n_boot=400,
                      rng=np.random.default_rng(0))
    a, lo, hi = res.of("good")
    assert lo < a < hi and a == pytest.approx(unpaired_tests.auroc(good, y))
    assert res.minus("good", "same") == (0.0, 0.0, 0.0)  # identical scores: the paired difference is exactly 0
    d, dlo, dhi = res.minus("good", "noise")
    assert dlo > 0 and d == pytest.approx(a - res.of("noise")[0])
    assert (res.n, res.n_pos) == (300, int(y.sum()))
    with pytest.raises(ValueError, match="both classes"):
        ip.auroc_ci({"a": good}, np.ones(300, bool), rng=np.random.default_rng(0))


def test_group_importance_finds_the_group_that_carries_the_signal():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(500, 4))
    y = x[:, 0] + x[:, 1] > 0
    groups = ["signal", "signal", "noise", "noise"]
    cv = ip.cross_validate(x, y, np.arange(500), "logistic", random_state=0)
    imp = ip.group_importance(cv, x, y, groups, subsets={"half": np.arange(500) < 250}, n_repeats=3,
                              rng=np.random.default_rng(0)).set_index(["group", "subset"])["drop"]
    assert imp["signal", "all"] > 0.3 and imp["signal", "half"] > 0.3
    assert abs(imp["noise", "all"]) < 0.02


def test_unknown_model_is_one_line_error():
    with pytest.raises(ValueError, match="allowed: logistic, boosting"):
        ip.make_model("svm", 0)


def test_features_follow_the_cells_init_gain():
    base = ip.cell_init_features(Cell(), range(6))
    doubled = ip.cell_init_features(Cell(init_gain=2.0), range(6))
    raw = [k for k, g in enumerate(base.groups) if g.startswith("raw")]
    np.testing.assert_array_equal(doubled.values[:, raw], 2 * base.values[:, raw])
