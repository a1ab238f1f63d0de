"""Statistics on tiny inputs worked out by hand, and cross-checks against scipy/statsmodels."""
from __future__ import annotations

from math import comb

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from relustudy.stats import proportions as S
from relustudy.stats import paired_tests
from relustudy.stats import inputs
from relustudy.stats import unpaired_tests
from relustudy.stats import intervals


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


# --------------------------------------------------------------------------- McNemar
def test_mcnemar_by_hand():
    a = [1, 1, 1, 1, 0, 0, 1]
    b = [0, 0, 0, 1, 1, 0, 1]
    r = paired_tests.mcnemar_exact(a, b)
    assert (r.n, r.n11, r.n10, r.n01, r.n00) == (7, 2, 3, 1, 1)
    # two-sided binomial on 4 discordant pairs: 2 * P(X <= 1) = 2 * (1 + 4) / 16
    assert r.pvalue == pytest.approx(0.625)
    assert r.pvalue == pytest.approx(scipy.stats.binomtest(1, 4).pvalue)
    assert r.statistic == 1 and r.odds_ratio == pytest.approx(1 / 3)
    assert (r.rate_a, r.rate_b) == pytest.approx((5 / 7, 3 / 7))
    assert paired_tests.mcnemar_exact([1, 0], [1, 0]).pvalue == 1.0  # no discordant pairs
    assert r.diff == pytest.approx((1 - 3) / 7)


def test_paired_rate_diff_ci_agresti_min_by_hand():
    # n10 = 30, n01 = 10, n = 200: add 1/2 to every cell, n* = 202
    lo, hi = paired_tests.paired_rate_diff_ci(30, 10, 200)
    d = (10 - 30) / 202
    se = np.sqrt(((10.5 + 30.5) / 202 - d * d) / 202)
    assert (lo, hi) == pytest.approx((d - 1.959963984540054 * se, d + 1.959963984540054 * se))
    assert lo < (10 - 30) / 200 < hi < 0
    # coverage of the true paired difference over simulated tables is near 95%
    rng = np.random.default_rng(3)
    p = np.array([0.5, 0.2, 0.1, 0.2])  # n11, n10, n01, n00
    true = p[2] - p[1]
    hits = []
    for _ in range(2000):
        n11, n10, n01, n00 = rng.multinomial(150, p)
        lo, hi = paired_tests.paired_rate_diff_ci(n10, n01, 150)
        hits.append(lo <= true <= hi)
    assert 0.93 < np.mean(hits) < 0.97
    assert paired_tests.paired_rate_diff_ci(0, 100, 100)[1] == 1.0  # clipped
    with pytest.raises(ValueError, match="invalid counts"):
        paired_tests.paired_rate_diff_ci(60, 50, 100)


def test_mcnemar_bad_input():
    with pytest.raises(ValueError, match="same length"):
        paired_tests.mcnemar_exact([1, 0], [1])
    with pytest.raises(ValueError, match="empty"):
        paired_tests.mcnemar_exact([], [])
    with pytest.raises(ValueError, match="boolean"):
        paired_tests.mcnemar_exact([2, 0], [1, 0])


# --------------------------------------------------------------------------- Wilcoxon
def test_wilcoxon_by_hand():
    # differences in decades: -1, -2, -3 (all negative): exact p = 2 / 2**3
    r = paired_tests.wilcoxon_log_mse([1e-1, 1e-2, 1e-3], [1e-2, 1e-4, 1e-6])
    assert (r.statistic, r.pvalue, r.n, r.n_used, r.median_diff) == (0.0, 0.25, 3, 3, -2.0)
    assert (r.n_lower, r.n_higher, r.n_zero) == (3, 0, 0)


def test_wilcoxon_floor_ties_and_diverged_ranked_worst():
    # pair 0: both below the precision floor -> tie; pair 1: a diverged, b finite -> b lower;
    # pair 2: b 1 decade higher; pair 3: both diverged -> tie; pair 4: b diverged -> b higher.
    r = paired_tests.wilcoxon_log_mse([0.0, np.nan, 1.0, np.inf, 1e-3], [1e-20, 1.0, 10.0, np.nan, np.inf])
    assert (r.n, r.n_zero, r.n_used, r.n_lower, r.n_higher) == (5, 2, 3, 1, 2)
    assert (r.n_diverged_a, r.n_diverged_b) == (2, 2)
    # the diverged differences rank above the finite one (|d| = 1): ranks 2.5, 1, 2.5
    ref = scipy.stats.wilcoxon([-1e9, 1.0, 1e9], zero_method="wilcox")
    assert (r.statistic, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    r = paired_tests.wilcoxon_log_mse([1.0, 2.0], [1.0, 2.0])
    assert (r.statistic, r.pvalue, r.median_diff, r.n_used) == (0.0, 1.0, 0.0, 0)
    r = paired_tests.wilcoxon_log_mse([1e-13, 1e-30], [1e-25, 0.0])  # all at the floor: no difference left
    assert (r.pvalue, r.n_zero) == (1.0, 2)


def test_log10_mse_floor_is_the_one_constant():
    assert inputs.MSE_FLOOR == 1e-12
    assert inputs.log10_mse([inputs.MSE_FLOOR / 10, 1.0, -np.inf, np.nan]).tolist() == [-12.0, 0.0, np.inf, np.inf]


def test_wilcoxon_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(size=30), rng.lognormal(size=30) * 3
    r = paired_tests.wilcoxon_log_mse(a, b)
    ref = scipy.stats.wilcoxon(np.log10(b) - np.log10(a))
    assert (r.statistic, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))


# --------------------------------------------------------------------------- Fisher, MWU, A
def test_fisher_by_hand_and_scipy():
    r = unpaired_tests.fisher_exact([1, 1, 1], [0, 0, 0])
    assert r.pvalue == pytest.approx(2 * comb(3, 3) * comb(3, 0) / comb(6, 3))
    assert r.odds_ratio == 0.0 and (r.rate_a, r.rate_b) == (1.0, 0.0)
    a, b = [1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]
    r = unpaired_tests.fisher_exact(a, b)
    ref = scipy.stats.fisher_exact([[4, 2], [2, 3]])
    assert (r.odds_ratio, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    assert r.odds_ratio == pytest.approx((4 / 2) / (2 / 3))


def test_vargha_delaney_by_hand():
    # pairs (x, y): (1,1)=.5 (1,2)=0 (2,1)=1 (2,2)=.5 (3,1)=1 (3,2)=1 -> 4/6
    assert unpaired_tests.vargha_delaney_a([1, 2, 3], [1, 2]) == pytest.approx(2 / 3)
    assert unpaired_tests.vargha_delaney_a([1, 2], [1, 2, 3]) == pytest.approx(1 / 3)
    assert unpaired_tests.vargha_delaney_a([5], [5]) == 0.5
    assert unpaired_tests.vargha_delaney_a([np.inf], [1e300]) == 1.0


def test_vargha_delaney_is_u_over_nm_and_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 13).astype(float), rng.integers(0, 5, 9).astype(float)
    brute = np.mean((x[:, None] > y[None]) + 0.5 * (x[:, None] == y[None]))
    assert unpaired_tests.vargha_delaney_a(x, y) == pytest.approx(brute)
    u = scipy.stats.mannwhitneyu(x, y).statistic
    assert unpaired_tests.vargha_delaney_a(x, y) == pytest.approx(u / (x.size * y.size))


def test_mann_whitney_by_hand_and_scipy():
    r = unpaired_tests.mann_whitney([3, 4, 5], [0, 1, 2])
    assert (r.statistic, r.a) == (9.0, 1.0)
    assert r.pvalue == pytest.approx(2 / comb(6, 3))
    x, y = [1.0, 2.0, 2.0, 7.0, np.nan], [0.5, 2.0, 3.0]
    r = unpaired_tests.mann_whitney(x, y)
    ref = scipy.stats.mannwhitneyu(x[:4], y, alternative="two-sided")
    assert (r.statistic, r.pvalue, r.n_dropped) == pytest.approx((ref.statistic, ref.pvalue, 1))
    r = unpaired_tests.mann_whitney([1, 1], [1, 1, 1])  # all tied: no RuntimeWarning, p = 1
    assert (r.pvalue, r.a) == (1.0, 0.5)
    with pytest.raises(ValueError):
        unpaired_tests.mann_whitney([np.nan], [1.0])


def test_auroc_by_hand():
    assert unpaired_tests.auroc([1, 1, 0, 0], [True, False, False, False]) == pytest.approx(2.5 / 3)
    assert unpaired_tests.auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert unpaired_tests.auroc([0.1, 0.8, 0.9], [True, False, False]) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        unpaired_tests.auroc([1, 2], [True, True])


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


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_estimates_by_hand():
    x = np.arange(1.0, 9.0)  # IQM drops 1,2 and 7,8: mean(3,4,5,6) = 4.5
    r = intervals.bootstrap_ci(x, "iqm", rng=np.random.default_rng(0), n_boot=500)
    assert r.estimate == 4.5 and r.low <= 4.5 <= r.high and 1 <= r.low and r.high <= 8
    r = intervals.bootstrap_ci([3.0, 1.0, 2.0, np.inf, np.nan], "median", rng=np.random.default_rng(0))
    assert (r.estimate, r.n, r.n_dropped) == (2.0, 3, 2)
    r = intervals.bootstrap_ci([7.0, 7.0, 7.0], rng=np.random.default_rng(0))
    assert (r.estimate, r.low, r.high) == (7.0, 7.0, 7.0)


def test_bootstrap_deterministic_and_matches_scipy():
    x = np.random.default_rng(5).lognormal(size=40)
    r1 = intervals.bootstrap_ci(x, "median", rng=np.random.default_rng(42), n_boot=1000)
    r2 = intervals.bootstrap_ci(x, "median", rng=np.random.default_rng(42), n_boot=1000)
    assert r1 == r2
    ref = scipy.stats.bootstrap((x,), np.median, n_resamples=1000, method="percentile",
                                rng=np.random.default_rng(42))
    assert (r1.low, r1.high) == pytest.approx(tuple(ref.confidence_interval))
    r3 = intervals.bootstrap_ci(x, "iqm", rng=np.random.default_rng(42), method="BCa", n_boot=1000)
    assert r3.estimate == pytest.approx(scipy.stats.trim_mean(x, 0.25))


def test_bootstrap_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="allowed: median, iqm"):
        intervals.bootstrap_ci([1.0, 2.0], "mean", rng=rng)
    with pytest.raises(ValueError, match="empty"):
        intervals.bootstrap_ci([], rng=rng)
    with pytest.raises(ValueError, match="no finite"):
        intervals.bootstrap_ci([np.nan], rng=rng)
    with pytest.raises(ValueError, match="Generator"):
        intervals.bootstrap_ci([1.0, 2.0], rng=0)


def test_cohen_kappa_by_hand_and_degenerate():
    # table [[20, 5], [10, 15]]: p_o = 0.7, p_e = (25*30 + 25*20) / 2500 = 0.5 -> kappa 0.4
    a = ["x"] * 25 + ["y"] * 25
    b = ["x"] * 20 + ["y"] * 5 + ["x"] * 10 + ["y"] * 15
    r = paired_tests.cohen_kappa(a, b)
    assert (r.kappa, r.agreement, r.n) == (pytest.approx(0.4), 0.7, 50)
    assert r.ci_low < 0.4 < r.ci_high
    assert np.isnan(paired_tests.cohen_kappa(["x", "x"], ["x", "x"]).kappa)  # one label only: chance agreement 1
    with pytest.raises(ValueError, match="equal length"):
        paired_tests.cohen_kappa(["x"], ["x", "y"])


def test_wilcoxon_paired_matches_scipy_and_rejects_nonfinite():
    rng = np.random.default_rng(5)
    a, b = rng.integers(10, 500, 40).astype(float), rng.integers(10, 500, 40).astype(float)
    r = paired_tests.wilcoxon_paired(a, b)
    ref = scipy.stats.wilcoxon(b - a, zero_method="wilcox")
    assert (r.statistic, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    assert r.n_lower == int((b < a).sum()) and r.n_higher == int((b > a).sum())
    with pytest.raises(ValueError, match="finite"):
        paired_tests.wilcoxon_paired([1.0, np.nan], [1.0, 2.0])


def test_binomial_pvalue_by_hand():
    assert unpaired_tests.binomial_pvalue(0, 3, 0.5) == pytest.approx(2 * 0.125)
    with pytest.raises(ValueError):
        unpaired_tests.binomial_pvalue(4, 3, 0.5)
