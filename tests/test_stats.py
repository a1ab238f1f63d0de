"""Statistics on tiny inputs worked out by hand, and cross-checks against scipy/statsmodels."""
from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from relustudy import Cell, train
from relustudy import stats as S


def _runs(rows):
    """A runs DataFrame from dicts; factor defaults are the posted program."""
    base = dict(activation="relu", output="same", init="randn", update="as_posted",
                optimizer="sgd", lr=0.01, epochs=5000, hidden="4-4")
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("activation", "output", "init", "update", "optimizer", "hidden", "outcome"):
        if c in df:
            df[c] = df[c].astype("category")
    df["cell_id"] = df[list(S.FACTOR_COLS)].astype(str).agg("/".join, axis=1)
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
    assert S.is_failure(df).tolist() == [False, True, True, True]
    assert S.is_failure(df, solved_mse=1e-2).tolist() == [False, False, True, True]
    assert S.is_failure(df, solved_mse=1e-4).tolist() == [True, True, True, True]
    with pytest.raises(ValueError, match="solved_mse"):
        S.is_failure(df, solved_mse=-1)


def test_proportion_ci_by_hand_and_statsmodels():
    r = S.proportion_ci(0, 10)
    assert r.ci_low == 0 and r.ci_high == pytest.approx(1 - 0.025 ** (1 / 10))
    r = S.proportion_ci(10, 10)
    assert r.ci_high == 1 and r.ci_low == pytest.approx(0.025 ** (1 / 10))
    for k, n in [(3, 10), (1, 7), (50, 120)]:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="beta")
        r = S.proportion_ci(k, n)
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=1e-9)
        lo, hi = proportion_confint(k, n, alpha=0.1, method="wilson")
        r = S.proportion_ci(k, n, alpha=0.1, method="wilson")
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=1e-9)
    with pytest.raises(ValueError, match="allowed: exact, wilson"):
        S.proportion_ci(1, 2, method="agresti")
    with pytest.raises(ValueError):
        S.proportion_ci(3, 2)


def test_failure_rates_per_cell():
    df = _runs(_cell(range(4), [1, 1, 0, 0], optimizer="sgd")
               + _cell(range(4), [0, 0, 0, 1], optimizer="momentum"))
    fr = S.failure_rates(df)
    assert len(fr) == 2
    row = fr.set_index("optimizer").loc["sgd"]
    assert (row.n, row.n_fail, row.rate) == (4, 2, 0.5)
    lo, hi = proportion_confint(2, 4, method="beta")
    assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi))
    pooled = S.failure_rates(df, by=())
    assert pooled[["n", "n_fail"]].values.tolist() == [[8, 3]]
    # threshold sensitivity: with a loose threshold the 0.5-MSE runs still fail
    assert S.failure_rates(df, "optimizer", solved_mse=1.0)["n_fail"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="lacks column"):
        S.failure_rates(df, by=["nonexistent"])
    with pytest.raises(ValueError, match="empty"):
        S.failure_rates(df.iloc[:0])


# --------------------------------------------------------------------------- McNemar
def test_mcnemar_by_hand():
    a = [1, 1, 1, 1, 0, 0, 1]
    b = [0, 0, 0, 1, 1, 0, 1]
    r = S.mcnemar_exact(a, b)
    assert (r.n, r.n11, r.n10, r.n01, r.n00) == (7, 2, 3, 1, 1)
    # two-sided binomial on 4 discordant pairs: 2 * P(X <= 1) = 2 * (1 + 4) / 16
    assert r.pvalue == pytest.approx(0.625)
    assert r.pvalue == pytest.approx(scipy.stats.binomtest(1, 4).pvalue)
    assert r.statistic == 1 and r.odds_ratio == pytest.approx(1 / 3)
    assert (r.rate_a, r.rate_b) == pytest.approx((5 / 7, 3 / 7))
    assert S.mcnemar_exact([1, 0], [1, 0]).pvalue == 1.0  # no discordant pairs


def test_mcnemar_bad_input():
    with pytest.raises(ValueError, match="same length"):
        S.mcnemar_exact([1, 0], [1])
    with pytest.raises(ValueError, match="empty"):
        S.mcnemar_exact([], [])
    with pytest.raises(ValueError, match="boolean"):
        S.mcnemar_exact([2, 0], [1, 0])


# --------------------------------------------------------------------------- Wilcoxon
def test_wilcoxon_by_hand():
    # differences in decades: -1, -2, -3 (all negative): exact p = 2 / 2**3
    r = S.wilcoxon_log_mse([1e-1, 1e-2, 1e-3], [1e-2, 1e-4, 1e-6])
    assert (r.statistic, r.pvalue, r.n, r.n_dropped, r.median_diff) == (0.0, 0.25, 3, 0, -2.0)


def test_wilcoxon_zero_nan_inf_and_ties():
    r = S.wilcoxon_log_mse([0.0, np.nan, 1.0, np.inf], [1e-300, 1.0, 10.0, 1.0])
    # pair 0: 0 is clipped to 1e-300 -> zero difference; pairs 1 and 3 non-finite -> dropped
    assert (r.n, r.n_dropped, r.n_zero) == (2, 2, 1)
    r = S.wilcoxon_log_mse([1.0, 2.0], [1.0, 2.0])
    assert (r.statistic, r.pvalue, r.median_diff) == (0.0, 1.0, 0.0)
    r = S.wilcoxon_log_mse([np.nan], [1.0])
    assert r.n == 0 and np.isnan(r.pvalue)


def test_wilcoxon_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(size=30), rng.lognormal(size=30) * 3
    r = S.wilcoxon_log_mse(a, b)
    ref = scipy.stats.wilcoxon(np.log10(b) - np.log10(a))
    assert (r.statistic, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))


# --------------------------------------------------------------------------- Fisher, MWU, A
def test_fisher_by_hand_and_scipy():
    r = S.fisher_exact([1, 1, 1], [0, 0, 0])
    assert r.pvalue == pytest.approx(2 * comb(3, 3) * comb(3, 0) / comb(6, 3))
    assert r.odds_ratio == 0.0 and (r.rate_a, r.rate_b) == (1.0, 0.0)
    a, b = [1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]
    r = S.fisher_exact(a, b)
    ref = scipy.stats.fisher_exact([[4, 2], [2, 3]])
    assert (r.odds_ratio, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    assert r.odds_ratio == pytest.approx((4 / 2) / (2 / 3))


def test_vargha_delaney_by_hand():
    # pairs (x, y): (1,1)=.5 (1,2)=0 (2,1)=1 (2,2)=.5 (3,1)=1 (3,2)=1 -> 4/6
    assert S.vargha_delaney_a([1, 2, 3], [1, 2]) == pytest.approx(2 / 3)
    assert S.vargha_delaney_a([1, 2], [1, 2, 3]) == pytest.approx(1 / 3)
    assert S.vargha_delaney_a([5], [5]) == 0.5
    assert S.vargha_delaney_a([np.inf], [1e300]) == 1.0


def test_vargha_delaney_is_u_over_nm_and_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 13).astype(float), rng.integers(0, 5, 9).astype(float)
    brute = np.mean((x[:, None] > y[None]) + 0.5 * (x[:, None] == y[None]))
    assert S.vargha_delaney_a(x, y) == pytest.approx(brute)
    u = scipy.stats.mannwhitneyu(x, y).statistic
    assert S.vargha_delaney_a(x, y) == pytest.approx(u / (x.size * y.size))


def test_mann_whitney_by_hand_and_scipy():
    r = S.mann_whitney([3, 4, 5], [0, 1, 2])
    assert (r.statistic, r.a) == (9.0, 1.0)
    assert r.pvalue == pytest.approx(2 / comb(6, 3))
    x, y = [1.0, 2.0, 2.0, 7.0, np.nan], [0.5, 2.0, 3.0]
    r = S.mann_whitney(x, y)
    ref = scipy.stats.mannwhitneyu(x[:4], y, alternative="two-sided")
    assert (r.statistic, r.pvalue, r.n_dropped) == pytest.approx((ref.statistic, ref.pvalue, 1))
    r = S.mann_whitney([1, 1], [1, 1, 1])  # all tied: no RuntimeWarning, p = 1
    assert (r.pvalue, r.a) == (1.0, 0.5)
    with pytest.raises(ValueError):
        S.mann_whitney([np.nan], [1.0])


def test_auroc_by_hand():
    assert S.auroc([1, 1, 0, 0], [True, False, False, False]) == pytest.approx(2.5 / 3)
    assert S.auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert S.auroc([0.1, 0.8, 0.9], [True, False, False]) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        S.auroc([1, 2], [True, True])


# --------------------------------------------------------------------------- Holm
def test_holm_by_hand_and_statsmodels():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert S.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    p = np.array([0.2, 0.001, 0.04, 0.5, 0.01])
    assert S.holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    out = S.holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])
    assert S.holm([]).shape == (0,)
    with pytest.raises(ValueError):
        S.holm([1.5])


# --------------------------------------------------------------------------- paired table
def test_paired_table_aligns_on_seed():
    df = _runs(_cell([3, 1, 2], [1, 0, 0], [0.3, 0.1, 0.2], optimizer="sgd")
               + _cell([2, 3, 4], [0, 0, 1], [0.02, 0.03, 0.04], optimizer="momentum"))
    t = S.paired_table(df, {"optimizer": "sgd"}, {"optimizer": "momentum"})
    assert t["seed"].tolist() == [2, 3]
    assert t["final_mse_a"].tolist() == [0.2, 0.3] and t["final_mse_b"].tolist() == [0.02, 0.03]
    assert t["failed_a"].tolist() == [False, True] and t["failed_b"].tolist() == [False, False]
    with pytest.raises(ValueError, match="several runs per seed"):
        S.paired_table(df, {"activation": "relu"}, {"optimizer": "sgd"})
    with pytest.raises(ValueError, match="no runs"):
        S.paired_table(df, {"optimizer": "adam"}, {"optimizer": "sgd"})


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
    out = S.compare_cells(_grid(), "optimizer", "sgd", "momentum")
    assert len(out) == 2 and set(S.COMPARE_COLUMNS) <= set(out.columns)
    relu = out.set_index("activation").loc["relu"]
    assert relu.design == "paired" and relu.n_pairs == 6
    assert (relu.n10, relu.n01) == (3, 1)
    assert (relu.rate_a, relu.rate_b, relu.rate_diff) == pytest.approx((4 / 6, 2 / 6, -2 / 6))
    assert relu.p_fail == pytest.approx(S.mcnemar_exact([1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 1]).pvalue)
    assert relu.odds_ratio == pytest.approx(1 / 3)
    w = S.wilcoxon_log_mse([0.5, 0.5, 0.5, 0.5, 1e-5, 1e-6], [1e-4, 1e-5, 1e-6, 0.5, 1e-5, 0.5])
    assert (relu.p_mse, relu.median_log10_diff) == pytest.approx((w.pvalue, w.median_diff))
    tanh = out.set_index("activation").loc["tanh"]
    assert (tanh.n10, tanh.n01, tanh.p_fail, tanh.p_mse) == (0, 0, 1.0, 1.0)
    # Holm across the two strata of this family
    assert out["p_fail_holm"].to_numpy() == pytest.approx(S.holm(out["p_fail"].to_numpy()))
    assert out["family"].unique().tolist() == ["optimizer: sgd vs momentum"]


def test_compare_cells_within_and_unpaired():
    df = _grid()
    out = S.compare_cells(df, "optimizer", "sgd", "momentum", within={"activation": "relu"}, family="H2")
    assert out["activation"].tolist() == ["relu"] and out["family"].tolist() == ["H2"]
    assert out["p_fail_holm"].tolist() == out["p_fail"].tolist()  # family of one
    # shift momentum's seeds so the cells share none: unpaired fallback
    df2 = df.copy()
    df2.loc[df2["optimizer"] == "momentum", "seed"] += 100
    out = S.compare_cells(df2, "optimizer", "sgd", "momentum", within={"activation": "relu"})
    row = out.iloc[0]
    assert row.design == "unpaired" and row.fail_test == "fisher_exact" and pd.isna(row.n10)
    fa, fb = [1, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 1]
    assert row.p_fail == pytest.approx(S.fisher_exact(fa, fb).pvalue)
    mse_a = [0.5, 0.5, 0.5, 0.5, 1e-5, 1e-6]
    mse_b = [1e-4, 1e-5, 1e-6, 0.5, 1e-5, 0.5]
    assert row.p_mse == pytest.approx(S.mann_whitney(np.log10(mse_a), np.log10(mse_b)).pvalue)
    assert row.vd_a == pytest.approx(S.vargha_delaney_a(mse_b, mse_a))
    with pytest.raises(ValueError, match="share no seeds"):
        S.compare_cells(df2, "optimizer", "sgd", "momentum", design="paired")
    with pytest.raises(ValueError, match="allowed: auto, paired, unpaired"):
        S.compare_cells(df, "optimizer", "sgd", "momentum", design="maybe")


def test_compare_cells_on_real_runs():
    seeds = range(12)
    frames = []
    for opt in ("sgd", "momentum"):
        cell = Cell(epochs=30, optimizer=opt)
        res = train(cell, seeds)
        d = pd.DataFrame(res.metrics)
        d["seed"] = res.seeds
        for k, v in cell.to_dict().items():
            d[k] = v
        frames.append(d)
    runs = pd.concat(frames, ignore_index=True)
    out = S.compare_cells(runs, "optimizer", "sgd", "momentum")
    assert len(out) == 1 and out.iloc[0].n_pairs == 12
    fr = S.failure_rates(runs)
    assert fr["n"].tolist() == [12, 12]
    r = S.dead_init_association(runs[runs.optimizer == "sgd"])
    assert r.n == 12 and r.n_dead + r.n_alive == 12


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_estimates_by_hand():
    x = np.arange(1.0, 9.0)  # IQM drops 1,2 and 7,8: mean(3,4,5,6) = 4.5
    r = S.bootstrap_ci(x, "iqm", rng=np.random.default_rng(0), n_boot=500)
    assert r.estimate == 4.5 and r.low <= 4.5 <= r.high and 1 <= r.low and r.high <= 8
    r = S.bootstrap_ci([3.0, 1.0, 2.0, np.inf, np.nan], "median", rng=np.random.default_rng(0))
    assert (r.estimate, r.n, r.n_dropped) == (2.0, 3, 2)
    r = S.bootstrap_ci([7.0, 7.0, 7.0], rng=np.random.default_rng(0))
    assert (r.estimate, r.low, r.high) == (7.0, 7.0, 7.0)


def test_bootstrap_deterministic_and_matches_scipy():
    x = np.random.default_rng(5).lognormal(size=40)
    r1 = S.bootstrap_ci(x, "median", rng=np.random.default_rng(42), n_boot=1000)
    r2 = S.bootstrap_ci(x, "median", rng=np.random.default_rng(42), n_boot=1000)
    assert r1 == r2
    ref = scipy.stats.bootstrap((x,), np.median, n_resamples=1000, method="percentile",
                                rng=np.random.default_rng(42))
    assert (r1.low, r1.high) == pytest.approx(tuple(ref.confidence_interval))
    r3 = S.bootstrap_ci(x, "iqm", rng=np.random.default_rng(42), method="BCa", n_boot=1000)
    assert r3.estimate == pytest.approx(scipy.stats.trim_mean(x, 0.25))


def test_bootstrap_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="allowed: median, iqm"):
        S.bootstrap_ci([1.0, 2.0], "mean", rng=rng)
    with pytest.raises(ValueError, match="empty"):
        S.bootstrap_ci([], rng=rng)
    with pytest.raises(ValueError, match="no finite"):
        S.bootstrap_ci([np.nan], rng=rng)
    with pytest.raises(ValueError, match="Generator"):
        S.bootstrap_ci([1.0, 2.0], rng=0)


def test_mse_summary_order_independent():
    df = _grid()
    a = S.mse_summary(df, ["activation", "optimizer"], seed=3, n_boot=200)
    b = S.mse_summary(df.iloc[::-1], ["activation", "optimizer"], seed=3, n_boot=200)
    pd.testing.assert_frame_equal(a, b)
    relu_sgd = a[(a.activation == "relu") & (a.optimizer == "sgd")].iloc[0]
    assert relu_sgd["median"] == pytest.approx(np.log10(0.5))
    only_one = S.mse_summary(df[df.activation == "relu"], ["activation", "optimizer"], seed=3, n_boot=200)
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
    r = S.dead_init_association(_dead_df(dead, fail, frac))
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


def test_dead_init_association_zero_cell_haldane():
    dead = [1, 1, 1, 0, 0, 0, 0]
    fail = [1, 1, 1, 1, 0, 0, 0]  # every dead run fails: a zero cell
    r = S.dead_init_association(_dead_df(dead, fail))
    assert r.haldane
    assert r.odds_ratio == pytest.approx((3.5 * 3.5) / (0.5 * 1.5))
    assert np.isnan(r.auroc_dead_frac)  # no dead_frac_init column
    r = S.dead_init_association(_dead_df([0, 0], [1, 0]))
    assert r.n_dead == 0 and np.isnan(r.p_fail_dead) and np.isnan(r.odds_ratio)
    t = S.dead_init_table(_dead_df(dead, fail), by="activation")
    assert t.loc[0, "odds_ratio"] == pytest.approx((3.5 * 3.5) / (0.5 * 1.5))
    assert {"p_fail_dead_low", "p_fail_dead_high", "odds_ratio_low", "odds_ratio_high"} <= set(t.columns)
