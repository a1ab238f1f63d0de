"""DataFrame-level analyses on tiny tables worked out by hand, and against independent pandas computations."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from relustudy import Cell, train
from relustudy.analysis import cells as A
from relustudy.analysis import mechanisms
from relustudy.analysis import vocabulary
from relustudy.stats import paired_tests
from relustudy.stats import proportions as S
from relustudy.stats import unpaired_tests
from relustudy.core.config import FACTOR_REGISTRY


def _runs(rows):
    """A runs DataFrame from dicts; factor defaults are the posted program."""
    base = {name: f.table_default() for name, f in FACTOR_REGISTRY.items()}  # hidden "4-4"
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("activation", "output", "init", "update", "optimizer", "hidden", "outcome"):
        if c in df:
            df[c] = df[c].astype("category")
    df["cell_id"] = df[list(A.FACTOR_COLS)].astype(str).agg("/".join, axis=1)
    return df


def _cell(seeds, fails, mses=None, **factors):
    mses = mses if mses is not None else [0.5 if f else 1e-5 for f in fails]
    return [dict(seed=s, outcome="slow" if f else "solved", final_mse=m, **factors)
            for s, f, m in zip(seeds, fails, mses)]


# --------------------------------------------------------------------------- failure
def test_is_failure_outcome_and_threshold():
    df = _runs([dict(seed=0, outcome="solved", final_mse=5e-4),
                dict(seed=1, outcome="slow", final_mse=5e-3),
                dict(seed=2, outcome="diverged", final_mse=np.nan),
                dict(seed=3, outcome="diverged", final_mse=np.inf)])
    assert A.is_failure(df).tolist() == [False, True, True, True]
    assert A.is_failure(df, solved_mse=1e-2).tolist() == [False, False, True, True]
    assert A.is_failure(df, solved_mse=1e-4).tolist() == [True, True, True, True]
    with pytest.raises(ValueError, match="solved_mse"):
        A.is_failure(df, solved_mse=-1)


def test_failure_rates_per_cell():
    df = _runs(_cell(range(4), [1, 1, 0, 0], optimizer="sgd")
               + _cell(range(4), [0, 0, 0, 1], optimizer="momentum"))
    fr = A.failure_rates(df)
    assert len(fr) == 2
    row = fr.set_index("optimizer").loc["sgd"]
    assert (row.n, row.n_fail, row.rate) == (4, 2, 0.5)
    lo, hi = proportion_confint(2, 4, method="beta")
    assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi))
    pooled = A.failure_rates(df, by=())
    assert pooled[["n", "n_fail"]].values.tolist() == [[8, 3]]
    # threshold sensitivity: with a loose threshold the 0.5-MSE runs still fail
    assert A.failure_rates(df, "optimizer", solved_mse=1.0)["n_fail"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="lacks column"):
        A.failure_rates(df, by=["nonexistent"])
    with pytest.raises(ValueError, match="empty"):
        A.failure_rates(df.iloc[:0])


# --------------------------------------------------------------------------- paired table
def test_paired_table_aligns_on_seed():
    df = _runs(_cell([3, 1, 2], [1, 0, 0], [0.3, 0.1, 0.2], optimizer="sgd")
               + _cell([2, 3, 4], [0, 0, 1], [0.02, 0.03, 0.04], optimizer="momentum"))
    t = A.paired_table(df, {"optimizer": "sgd"}, {"optimizer": "momentum"})
    assert t["seed"].tolist() == [2, 3]
    assert t["final_mse_a"].tolist() == [0.2, 0.3] and t["final_mse_b"].tolist() == [0.02, 0.03]
    assert t["failed_a"].tolist() == [False, True] and t["failed_b"].tolist() == [False, False]
    with pytest.raises(ValueError, match="several runs per seed"):
        A.paired_table(df, {"activation": "relu"}, {"optimizer": "sgd"})
    with pytest.raises(ValueError, match="no runs"):
        A.paired_table(df, {"optimizer": "adam"}, {"optimizer": "sgd"})


# --------------------------------------------------------------------------- compare cells
def _grid():
    seeds = range(6)
    rows = []
    # relu stratum: sgd fails on seeds 0-3, momentum rescues 0,1,2 and breaks 5
    rows += _cell(seeds, [1, 1, 1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5, 1e-5, 1e-6], optimizer="sgd")
    rows += _cell(seeds, [0, 0, 0, 1, 0, 1], [1e-4, 1e-5, 1e-6, 0.5, 1e-5, 0.5], optimizer="momentum")
    # tanh stratum: identical outcomes
    rows += _cell(seeds, [1, 0, 1, 0, 1, 0], activation="tanh", optimizer="sgd")
    rows += _cell(seeds, [1, 0, 1, 0, 1, 0], activation="tanh", optimizer="momentum")
    return _runs(rows)


def test_compare_cells_paired():
    out = A.compare_cells(_grid(), "optimizer", "sgd", "momentum")
    assert len(out) == 2 and set(A.COMPARE_COLUMNS) <= set(out.columns)
    relu = out.set_index("activation").loc["relu"]
    assert relu.design == "paired" and relu.n_pairs == 6
    assert (relu.n10, relu.n01) == (3, 1)
    assert (relu.rate_a, relu.rate_b, relu.rate_diff) == pytest.approx((4 / 6, 2 / 6, -2 / 6))
    assert relu.p_fail == pytest.approx(paired_tests.mcnemar_exact([1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 1]).pvalue)
    assert relu.odds_ratio == pytest.approx(1 / 3)
    w = paired_tests.wilcoxon_log_mse([0.5, 0.5, 0.5, 0.5, 1e-5, 1e-6], [1e-4, 1e-5, 1e-6, 0.5, 1e-5, 0.5])
    assert (relu.p_mse, relu.median_log10_diff) == pytest.approx((w.pvalue, w.median_diff))
    assert (relu.n_mse_used, relu.n_mse_lower, relu.n_mse_higher) == (w.n_used, w.n_lower, w.n_higher)
    assert (relu.diff_low, relu.diff_high) == pytest.approx(paired_tests.paired_rate_diff_ci(3, 1, 6))
    tanh = out.set_index("activation").loc["tanh"]
    assert (tanh.n10, tanh.n01, tanh.p_fail, tanh.p_mse) == (0, 0, 1.0, 1.0)
    # Holm across the two strata of this family
    assert out["p_fail_holm"].to_numpy() == pytest.approx(S.holm(out["p_fail"].to_numpy()))
    assert out["family"].unique().tolist() == ["optimizer: sgd vs momentum"]


def test_compare_cells_within_and_unpaired():
    df = _grid()
    out = A.compare_cells(df, "optimizer", "sgd", "momentum", within={"activation": "relu"}, family="H2")
    assert out["activation"].tolist() == ["relu"] and out["family"].tolist() == ["H2"]
    assert out["p_fail_holm"].tolist() == out["p_fail"].tolist()  # family of one
    # shift momentum's seeds so the cells share none: unpaired fallback
    df2 = df.copy()
    df2.loc[df2["optimizer"] == "momentum", "seed"] += 100
    out = A.compare_cells(df2, "optimizer", "sgd", "momentum", within={"activation": "relu"})
    row = out.iloc[0]
    assert row.design == "unpaired" and row.fail_test == "fisher_exact" and pd.isna(row.n10)
    fa, fb = [1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 1]
    assert row.p_fail == pytest.approx(unpaired_tests.fisher_exact(fa, fb).pvalue)
    mse_a = [0.5, 0.5, 0.5, 0.5, 1e-5, 1e-6]
    mse_b = [1e-4, 1e-5, 1e-6, 0.5, 1e-5, 0.5]
    assert row.p_mse == pytest.approx(unpaired_tests.mann_whitney(np.log10(mse_a), np.log10(mse_b)).pvalue)
    assert row.vd_a == pytest.approx(unpaired_tests.vargha_delaney_a(mse_b, mse_a))
    lo, hi = confint_proportions_2indep(2, 6, 4, 6, method="newcomb", compare="diff")
    assert (row.diff_low, row.diff_high) == pytest.approx((lo, hi))
    # a diverged run is ranked worst in the unpaired test too, not dropped
    df3 = df2.copy()
    df3.loc[(df3["optimizer"] == "momentum") & (df3["activation"] == "relu"), "final_mse"] = [np.nan] + mse_b[1:]
    row = A.compare_cells(df3, "optimizer", "sgd", "momentum", within={"activation": "relu"}).iloc[0]
    assert (row.n_diverged_b, row.n_mse_used) == (1, 12)
    assert row.p_mse == pytest.approx(unpaired_tests.mann_whitney(np.log10(mse_a), [np.inf, *np.log10(mse_b[1:])]).pvalue)
    with pytest.raises(ValueError, match="share no seeds"):
        A.compare_cells(df2, "optimizer", "sgd", "momentum", design="paired")
    with pytest.raises(ValueError, match="allowed: auto, paired, unpaired"):
        A.compare_cells(df, "optimizer", "sgd", "momentum", design="maybe")


def test_compare_cells_on_real_runs():
    seeds = range(12)
    frames = []
    for opt in ("sgd", "momentum"):
        cell = Cell(epochs=30, optimizer=opt)
        res = train(cell, seeds)
        d = pd.DataFrame(res.metrics)
        d["seed"] = res.seeds
        for k, v in cell.factor_values().items():
            d[k] = v
        frames.append(d)
    runs = pd.concat(frames, ignore_index=True)
    out = A.compare_cells(runs, "optimizer", "sgd", "momentum")
    assert len(out) == 1 and out.iloc[0].n_pairs == 12
    fr = A.failure_rates(runs)
    assert fr["n"].tolist() == [12, 12]
    r = mechanisms.dead_init_association(runs[runs.optimizer == "sgd"])
    assert r.n == 12 and r.n_dead + r.n_alive == 12


def test_mse_summary_order_independent():
    df = _grid()
    a = A.mse_summary(df, ["activation", "optimizer"], seed=3, n_boot=200)
    b = A.mse_summary(df.iloc[::-1], ["activation", "optimizer"], seed=3, n_boot=200)
    pd.testing.assert_frame_equal(a, b)
    relu_sgd = a[(a.activation == "relu") & (a.optimizer == "sgd")].iloc[0]
    assert relu_sgd["median"] == pytest.approx(np.log10(0.5))
    only_one = A.mse_summary(df[df.activation == "relu"], ["activation", "optimizer"], seed=3, n_boot=200)
    pd.testing.assert_frame_equal(only_one, a[a.activation == "relu"].reset_index(drop=True),
                                  check_categorical=False)


# --------------------------------------------------------------------------- dead at init
def _dead_df(dead, fail, frac=None):
    rows = [dict(seed=i, outcome="slow" if f else "solved", final_mse=0.5 if f else 1e-5,
                 output_dead_init=bool(d)) for i, (d, f) in enumerate(zip(dead, fail))]
    df = _runs(rows)
    if frac is not None:
        df["dead_frac_init"] = frac
    return df


def test_dead_init_association_by_hand():
    # dead: 4 runs, 3 fail; alive: 6 runs, 1 fails
    dead = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    fail = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]
    frac = [1.0, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0]
    r = mechanisms.dead_init_association(_dead_df(dead, fail, frac))
    assert (r.n, r.n_dead, r.n_alive, r.n_fail_dead, r.n_fail_alive) == (10, 4, 6, 3, 1)
    assert (r.p_fail_dead, r.p_fail_alive) == pytest.approx((0.75, 1 / 6))
    assert r.p_fail_dead_ci == pytest.approx(proportion_confint(3, 4, method="beta"))
    assert r.odds_ratio == pytest.approx((3 / 1) / (1 / 5)) and not r.haldane
    assert r.odds_ratio_ci == pytest.approx(Table2x2(np.array([[3, 1], [1, 5]])).oddsratio_confint())
    assert r.fisher_pvalue == pytest.approx(scipy.stats.fisher_exact([[3, 1], [1, 5]]).pvalue)
    # fail scores (dead): 1,1,1,0; solved: 1,0,0,0,0,0 -> (3*5 + 0.5*(3*1 + 1*5)) / 24
    assert r.auroc_dead == pytest.approx(19 / 24)
    brute = np.mean([(f > s) + 0.5 * (f == s) for f in [1, .5, .5, .25] for s in [.25, 0, 0, 0, 0, 0]])
    assert r.auroc_dead_frac == pytest.approx(brute)
    # "dead => fails" right on 3 dead-failing + 5 alive-solved of 10; wrong on 1 revived, 1 died
    assert (r.accuracy, r.n_solved_dead) == (0.8, 1)


def test_dead_init_association_zero_cell_haldane():
    dead = [1, 1, 1, 0, 0, 0, 0]
    fail = [1, 1, 1, 1, 0, 0, 0]  # every dead run fails: a zero cell
    r = mechanisms.dead_init_association(_dead_df(dead, fail))
    assert r.haldane
    assert r.odds_ratio == pytest.approx((3.5 * 3.5) / (0.5 * 1.5))
    assert np.isnan(r.auroc_dead_frac)  # no dead_frac_init column
    r = mechanisms.dead_init_association(_dead_df([0, 0], [1, 0]))
    assert r.n_dead == 0 and np.isnan(r.p_fail_dead) and np.isnan(r.odds_ratio)
    t = mechanisms.dead_init_table(_dead_df(dead, fail), by="activation")
    assert t.loc[0, "odds_ratio"] == pytest.approx((3.5 * 3.5) / (0.5 * 1.5))
    assert {"p_fail_dead_low", "p_fail_dead_high", "odds_ratio_low", "odds_ratio_high"} <= set(t.columns)


# --------------------------------------------------------------------------- failure modes
def _mode_runs():
    """Hand-made runs: relu same (born dead, died, solved, diverged, other), tanh fail, relu identity."""
    rows = [
        # activation, output, outcome, out_dead_init, out_dead_final, l1_init, l2_init, l1_final, l2_final
        ("relu", "same", "dead_output", True, True, 0.25, 0.5, 0.25, 0.5),  # born dead (output)
        ("relu", "same", "collapsed", False, False, 0.0, 1.0, 0.0, 1.0),  # born dead (layer 2)
        ("relu", "same", "dead_output", False, True, 0.0, 0.25, 0.0, 0.25),  # died in training
        ("relu", "same", "solved", True, False, 0.0, 0.0, 0.0, 0.0),  # born dead but solved
        ("relu", "same", "diverged", False, False, 0.0, 0.0, 0.0, 0.0),
        ("relu", "same", "slow", False, False, 0.0, 0.0, 0.0, 0.0),  # other
        ("relu", "identity", "slow", True, True, 0.0, 0.0, 0.0, 0.0),  # identity output: not dead
        ("tanh", "same", "slow", True, True, 1.0, 1.0, 1.0, 1.0),  # tanh: never "dead"
    ]
    df = pd.DataFrame(rows, columns=["activation", "output", "outcome", "output_dead_init", "output_dead_final",
                                     "dead_frac_init_l1", "dead_frac_init_l2", "dead_frac_final_l1", "dead_frac_final_l2"])
    df["final_mse"] = np.where(df["outcome"] == "solved", 1e-6, 0.5)
    df["seed"] = range(len(df))
    return df


def test_failure_mode_by_hand():
    df = _mode_runs()
    assert mechanisms.failure_mode(df).tolist() == [
        "born dead", "born dead", "died in training", "solved", "diverged", "other failure", "other failure",
        "other failure",
    ]
    assert vocabulary.born_dead(df).tolist() == [True, True, False, True, False, False, False, False]
    t = mechanisms.failure_mode_table(df, ["activation"]).set_index("activation")
    assert t.loc["relu", ["n", "n_fail", "born dead", "died in training", "diverged", "other failure"]].tolist() == [7, 6, 2, 1, 1, 2]
    assert t.loc["relu", "share born dead"] == pytest.approx(2 / 7)
    # P(fail | not born dead): relu rows 2, 4, 5, 6, 7 are alive at init; all five fail
    assert (t.loc["relu", "n_alive"], t.loc["relu", "fail_alive"]) == (4, 1.0)
    assert t.loc["tanh", "other failure"] == 1


def test_momentum_comparisons_pair_equal_lr_and_matched_step():
    rng = np.random.default_rng(0)
    rows = []
    for opt in ("sgd", "momentum"):
        for lr in (0.001, 0.01, 0.1):
            for s in range(40):
                f = rng.random() < (0.3 + (0.4 if opt == "momentum" else 0) * lr * 10)
                rows.append(dict(seed=s, optimizer=opt, lr=lr, outcome="slow" if f else "solved",
                                 final_mse=rng.lognormal() if f else 1e-6 * rng.random()))
    df = _runs(rows)
    out = mechanisms.momentum_comparisons(df, 0.9)
    eq, mt = out[out["family"] == "equal lr"], out[out["family"] == "matched step"]
    assert sorted(eq["lr"].astype(float)) == [0.001, 0.01, 0.1]
    # matched: sgd at lr vs momentum at lr * 0.1, for lr = 0.01 and 0.1 (momentum at 0.0001 and 1.0 absent)
    assert sorted(zip(mt["lr"].astype(float), mt["lr_momentum"].astype(float))) == [(0.01, 0.001), (0.1, 0.01)]
    for d in mt.itertuples(index=False):
        a = df[(df["optimizer"] == "sgd") & np.isclose(df["lr"], d.lr)].set_index("seed")["outcome"] != "solved"
        b = df[(df["optimizer"] == "momentum") & np.isclose(df["lr"], d.lr_momentum)].set_index("seed")["outcome"] != "solved"
        assert (d.n10, d.n01) == (int((a & ~b).sum()), int((~a & b).sum()))
        assert d.rate_diff == pytest.approx(b.mean() - a.mean())
        assert d.p_fail == pytest.approx(paired_tests.mcnemar_exact(a.to_numpy(), b.loc[a.index].to_numpy()).pvalue)
    assert mt["p_fail_holm"].to_numpy() == pytest.approx(S.holm(mt["p_fail"].to_numpy()))


def test_zero_gradient_and_linear_shares_match_pandas():
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({
        "outcome": rng.choice(["solved", "dead_output", "collapsed"], n),
        "grad_norm_final": np.where(rng.random(n) < 0.4, 0.0, rng.random(n)),
        "linear_on_data_final": rng.random(n) < 0.7,
        "activation": rng.choice(["relu", "leaky_relu"], n),
        "output": "same",
    })
    z = mechanisms.zero_gradient_shares(df).set_index("outcome")
    ref = df.groupby("outcome")["grad_norm_final"].agg(lambda g: (g == 0).mean())
    assert z["share"].to_dict() == pytest.approx(ref.to_dict())
    assert z["n"].sum() == n
    lin = mechanisms.linear_on_data_shares(df).set_index("activation")
    solved = df[df["outcome"] == "solved"]
    assert lin["share"].to_dict() == pytest.approx(solved.groupby("activation")["linear_on_data_final"].mean().to_dict())
    with pytest.raises(ValueError, match="grad_norm_final"):
        mechanisms.zero_gradient_shares(df.drop(columns="grad_norm_final"))


def test_seed_agreement_matches_a_crosstab_kappa():
    rng = np.random.default_rng(2)
    outs = ["solved", "dead_output", "collapsed"]
    a = rng.choice(outs, 300)
    b = np.where(rng.random(300) < 0.6, a, rng.choice(outs, 300))
    df = _runs([dict(seed=s, outcome=o, final_mse=0.1) for s, o in enumerate(a)]
               + [dict(seed=s, outcome=o, final_mse=0.1, init="he") for s, o in enumerate(b)])
    t = mechanisms.seed_agreement(df, {"init": "randn"}, {"he": {"init": "he"}}).iloc[0]
    ct = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy() / 300
    po, pe = np.trace(ct), ct.sum(axis=1) @ ct.sum(axis=0)
    assert (t.n, t.same_outcome) == (300, pytest.approx((a == b).mean()))
    assert t.kappa == pytest.approx((po - pe) / (1 - pe))
    assert t.kappa_low < t.kappa < t.kappa_high


def test_speed_comparison_on_seeds_both_reach():
    ep_relu = [10, 20, None, 40, None]
    ep_tanh = [100, None, 300, 50, None]
    rows = [dict(seed=s, activation="relu", outcome="solved", final_mse=1e-5, **{"epochs_to_1e-3": e})
            for s, e in enumerate(ep_relu)]
    rows += [dict(seed=s, activation="tanh", outcome="solved", final_mse=1e-5, **{"epochs_to_1e-3": e})
             for s, e in enumerate(ep_tanh)]
    df = _runs(rows)
    df["epochs_to_1e-3"] = df["epochs_to_1e-3"].astype("Int64")
    t = mechanisms.speed_comparison(df, {"optimizer": "sgd"}, ["relu", "tanh"]).set_index("activation")
    assert (t.loc["tanh", "n_reach"], t.loc["tanh", "median_all"]) == (3, 100.0)
    # seeds 0 and 3 reach in both: tanh 100, 50 vs relu 10, 40
    assert (t.loc["tanh", "n_both"], t.loc["tanh", "median_both"], t.loc["tanh", "median_ref_both"]) == (2, 75.0, 25.0)
    assert t.loc["tanh", "n_faster"] == 0
    assert t.loc["relu", "n_reach"] == 3


def test_fail_by_margin_bins_match_pandas():
    rng = np.random.default_rng(4)
    margin = np.concatenate([-rng.random(50), rng.random(150)])
    fail = np.where(margin <= 0, rng.random(200) < 0.7, rng.random(200) < 0.2)
    df = pd.DataFrame({"output_margin_init": margin, "outcome": np.where(fail, "dead_output", "solved")})
    b = mechanisms.fail_by_margin(df, n_bins=5)
    assert b["bin"].iloc[0].startswith("dead") and b["n"].iloc[0] == 50
    assert b["rate"].iloc[0] == pytest.approx(fail[margin <= 0].mean())
    assert b["n"].sum() == 200 and len(b) == 6
    live = pd.qcut(margin[margin > 0], 5)
    ref = pd.Series(fail[margin > 0]).groupby(live, observed=True).mean().to_numpy()
    assert b["rate"].iloc[1:].to_numpy() == pytest.approx(ref)
