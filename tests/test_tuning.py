"""The optimizer question's statistics (relustudy.analysis.tuning) and their table wrappers
(relustudy.analysis.optimizers), on inputs small enough to check by hand."""
import numpy as np
import pandas as pd
import pytest

from relustudy.analysis import optimizers as oa
from relustudy.analysis import tuning


# --------------------------------------------------------------------------- choose / evaluate
def test_choose_lr_picks_fewest_tuning_failures_and_ignores_eval_seeds():
    # lr 0.1 is best on the evaluation seeds (cols 2, 3) but worst on the tuning ones (0, 1)
    fail = np.array([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 1, 1]], bool)
    c = tuning.choose_lr(fail, [0.1, 0.01, 0.001], [True, True, False, False])
    assert c.n_tied == 2 and c.lr == 0.001  # 0.01 and 0.001 tie at 1 failure: the smaller lr
    assert c.tune_rates.tolist() == [1.0, 0.5, 0.5]
    assert c.n_tune == 2


def test_choose_lr_tie_rule_is_the_smaller_lr_whatever_the_grid_order():
    fail = np.zeros((3, 2), bool)
    for order in ([0.3, 0.01, 0.1], [0.01, 0.1, 0.3], [0.1, 0.3, 0.01]):
        assert tuning.choose_lr(fail, order, [True, False]).lr == 0.01
    assert tuning.TIE_RULE == "smaller lr"


def test_tune_then_evaluate_reports_held_out_rate_and_optimism():
    # tuning seeds (even) favour lr b (0 of 2 fail); on the held-out seeds b fails 2 of 2
    fail = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], bool)
    r = tuning.tune_then_evaluate(fail, [0.1, 0.01], tuning.split_seeds(np.arange(4)))
    assert r.choice.lr == 0.01
    assert (r.held_out.k, r.held_out.n, r.held_out.rate) == (2, 2, 1.0)
    assert r.held_out_rates.tolist() == [0.0, 1.0]
    assert r.optimism == -1.0  # looked perfect on the seeds that chose it
    assert r.fail_eval.tolist() == [True, True]


@pytest.mark.parametrize("tune", [[False, False], [True, True]])
def test_tune_then_evaluate_needs_both_halves(tune):
    with pytest.raises(ValueError, match="seeds"):
        tuning.tune_then_evaluate(np.zeros((1, 2), bool), [0.1], tune)


def test_bad_shapes_and_lrs_are_one_line_errors():
    with pytest.raises(ValueError, match=r"\(n_lr, n_seeds\)"):
        tuning.choose_lr([1, 0], [0.1], [True, False])
    with pytest.raises(ValueError, match="distinct"):
        tuning.choose_lr(np.zeros((2, 2), bool), [0.1, 0.1], [True, False])
    with pytest.raises(ValueError, match="one per row"):
        tuning.choose_lr(np.zeros((2, 2), bool), [0.1], [True, False])
    with pytest.raises(ValueError, match="tune must have shape"):
        tuning.choose_lr(np.zeros((1, 2), bool), [0.1], [True])
    with pytest.raises(ValueError, match="allowed: parity"):
        tuning.split_seeds([0, 1], "random")


def test_compare_tuned_is_mcnemar_on_the_held_out_seeds():
    tune = np.array([True, False] * 5)
    fa = np.array([[0, 1, 0, 1, 0, 1, 0, 1, 0, 0]], bool)  # held out: seeds 1,3,5,7 fail (4 of 5)
    fb = np.array([[0, 0, 0, 0, 0, 0, 0, 1, 0, 1]], bool)  # held out: seeds 7, 9 fail
    mc = tuning.compare_tuned(tuning.tune_then_evaluate(fa, [0.1], tune), tuning.tune_then_evaluate(fb, [0.1], tune))
    # held-out pairs (a, b): (1,0) (1,0) (1,0) (1,1) (0,1): n10 = 3, n01 = 1, diff = (1 - 3) / 5
    assert (mc.n, mc.n10, mc.n01, mc.n11) == (5, 3, 1, 1)
    assert mc.diff == pytest.approx(-0.4)
    assert mc.pvalue == pytest.approx(0.625)  # 2 * P(Bin(4, .5) <= 1) = 2 * 5/16


# --------------------------------------------------------------------------- decomposition
def test_decomposition_components_add_up_and_are_counted_by_stratum():
    fail_a = [1, 1, 1, 1, 0, 0, 1]
    fail_b = [0, 1, 1, 0, 1, 0, 1]
    born = [1, 1, 0, 0, 0, 0, 0]
    died_a = [1, 1, 1, 1, 0, 0, 0]  # claims on born-dead seeds are ignored: born dead is its own stratum
    died_b = [0, 1, 1, 0, 0, 0, 1]
    d = tuning.decompose_change(fail_a, fail_b, born, died_a, died_b)
    assert d.n == 7 and d.n_born_dead == 2
    # born dead: seed 0 revived by B. died: seed 3 dies under A only, seed 6 under B only.
    # other failure: seed 6 under A only (it fails alive), seed 4 under B only.
    assert d.n10.tolist() == [1, 1, 1]
    assert d.n01.tolist() == [0, 1, 1]
    assert d.contrib.sum() == pytest.approx(d.diff)
    assert d.diff == pytest.approx((4 - 5) / 7)
    assert d.fail_born_a == 1.0 and d.fail_born_b == 0.5
    assert d.die_alive_a == pytest.approx(2 / 5) and d.die_alive_b == pytest.approx(2 / 5)
    assert np.all(d.contrib_low <= d.contrib) and np.all(d.contrib <= d.contrib_high)


def test_decomposition_of_identical_conditions_is_zero_everywhere():
    f = np.array([1, 0, 1, 0, 1], bool)
    d = tuning.decompose_change(f, f, [1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0])
    assert d.diff == 0 and d.contrib.tolist() == [0, 0, 0]
    assert d.n10.tolist() == [0, 0, 0] and d.n01.tolist() == [0, 0, 0]
    assert np.all(d.contrib_low < 0) and np.all(d.contrib_high > 0)


def test_decomposition_without_born_dead_seeds_has_nan_conditional_rate():
    d = tuning.decompose_change([1, 0], [0, 0], [0, 0], [1, 0], [0, 0])
    assert np.isnan(d.fail_born_a) and d.die_alive_a == 0.5 and d.die_alive_b == 0.0
    assert d.contrib.tolist() == [0.0, -0.5, 0.0]


def test_decomposition_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="shape"):
        tuning.decompose_change([1, 0], [1, 0, 0], [0, 0], [0, 0], [0, 0])


# --------------------------------------------------------------------------- matched step
def test_matched_pairs_find_lr_times_one_minus_beta_on_the_grid():
    grid = [float(f"{10 ** (k / 2 - 4):.4g}") for k in range(8)]  # 1e-4 .. 0.3162, half decades
    assert tuning.matched_pairs(grid, 0.9) == [
        (0.001, 0.0001), (0.003162, 0.0003162), (0.01, 0.001), (0.03162, 0.003162), (0.1, 0.01), (0.3162, 0.03162)
    ]
    assert tuning.matched_pairs(grid, 0.0) == [(v, v) for v in sorted(grid)]
    with pytest.raises(ValueError, match="beta"):
        tuning.matched_pairs(grid, 1.0)


# --------------------------------------------------------------------------- tables
def _runs(rows):
    """A runs table from (update, optimizer, lr, seed, outcome, born_dead, dead_final) rows."""
    recs = []
    for upd, opt, lr, seed, outcome, born, dead_end in rows:
        recs.append(dict(
            activation="relu", output="same", init="randn", update=upd, optimizer=opt, lr=lr, epochs=10,
            hidden="4-4", init_gain=1.0, seed=seed, outcome=outcome, output_dead_init=born,
            output_dead_final=dead_end, dead_frac_init_l1=0.0, dead_frac_init_l2=0.0,
            dead_frac_final_l1=0.0, dead_frac_final_l2=0.0,
        ))
    return pd.DataFrame(recs)


def test_tuned_table_on_a_hand_built_grid():
    rows = []
    # sgd: lr 0.01 fails only seed 3; lr 0.1 fails seeds 0 and 2 (tuning seeds) -> chooses 0.01
    for seed in range(4):
        rows.append(("as_posted", "sgd", 0.01, seed, "dead_output" if seed == 3 else "solved", False, seed == 3))
        rows.append(("as_posted", "sgd", 0.1, seed, "slow" if seed in (0, 2) else "solved", False, False))
    # momentum: lr 0.001 fails seed 2 (tuning); lr 0.01 fails nothing -> chooses 0.01
        rows.append(("as_posted", "momentum", 0.001, seed, "slow" if seed == 2 else "solved", False, False))
        rows.append(("as_posted", "momentum", 0.01, seed, "solved", False, False))
    t = oa.tuned_table(_runs(rows), by=("update",))
    ch = t.choices.set_index("optimizer")
    assert ch.loc["sgd", "lr"] == 0.01 and ch.loc["momentum", "lr"] == 0.01
    assert ch.loc["sgd", "rate"] == 0.5 and ch.loc["momentum", "rate"] == 0.0  # held out: seeds 1, 3
    assert ch.loc["sgd", "n_eval"] == 2 and bool(ch.loc["momentum", "edge"])
    (c,) = t.comparisons.itertuples()
    assert (c.a, c.b, c.n, c.n10, c.n01, c.diff) == ("sgd", "momentum", 2, 1, 0, -0.5)
    dec = t.decomposition.set_index("component")
    assert dec.loc["alive: died in training", "contrib"] == -0.5  # seed 3 died under sgd, not momentum
    assert dec["contrib"].sum() == pytest.approx(c.diff)
    assert t.curves["chosen"].sum() == 2


def test_lr_matrix_rejects_an_incomplete_grid():
    rows = [("as_posted", "sgd", 0.01, 0, "solved", False, False), ("as_posted", "sgd", 0.1, 1, "solved", False, False)]
    with pytest.raises(ValueError, match="complete lr x seed grid"):
        oa.lr_matrix(_runs(rows), {"optimizer": "sgd"})


def test_matched_step_table_pairs_sgd_lr_with_momentum_lr_tenth():
    rows = []
    for seed in range(3):
        for lr in (0.001, 0.01):
            rows.append(("as_posted", "sgd", lr, seed, "solved" if seed else "dead_output", seed == 0, seed == 0))
            rows.append(("as_posted", "momentum", lr, seed, "solved", seed == 0, False))
    t = oa.matched_step_table(_runs(rows), 0.9, by=("update",))
    assert t[["lr", "lr_momentum"]].values.tolist() == [[0.01, 0.001]]
    r = t.iloc[0]
    assert (r.n, r.rate_sgd, r.rate_momentum, r.n10, r.n01) == (3, 1 / 3, 0.0, 1, 0)
    assert r.born_dead == pytest.approx(-1 / 3) and r.died_alive == 0.0  # the revived seed was born dead


def test_decomposition_table_pairs_two_selections_by_seed():
    rows = [("as_posted", "sgd", 0.01, s, "dead_output", False, True) for s in range(4)]
    rows += [("corrected", "sgd", 0.01, s, "solved" if s < 2 else "dead_output", False, s >= 2) for s in range(1, 5)]
    t = oa.decomposition_table(_runs(rows), {"fix": ({"update": "as_posted"}, {"update": "corrected"})})
    d = t.set_index("component")
    assert d.loc["alive: died in training", "n"] == 3  # seeds 1, 2, 3 are in both
    assert d.loc["alive: died in training", "n10"] == 1 and d.loc["alive: died in training", "n01"] == 0
