"""P(two runs disagree) per source: hand-checked counts, brute-force pairs, ANOVA by hand, coverage."""
import itertools

import numpy as np
import pytest

from relustudy.analysis.disagreement import cluster_bootstrap, crossed_decomposition, distinct_seeds_disagreement, paired_disagreement, two_p_one_minus_p


def _pairs_disagree(y, same_row: bool, same_col: bool) -> float:
    """Share of disagreeing pairs among pairs of distinct runs with the given sameness (brute force)."""
    S, K = y.shape
    runs = [(i, j) for i in range(S) for j in range(K)]
    hits = [y[a] != y[b] for a, b in itertools.combinations(runs, 2)
            if (a[0] == b[0]) == same_row and (a[1] == b[1]) == same_col]
    return float(np.mean(hits))


def test_paired_disagreement_counts_and_exact_ci():
    r = paired_disagreement([1, 0, 0, 1, 1], [1, 1, 0, 0, 1])
    assert (r.rate, r.n_pairs, r.n_seeds) == (0.4, 5, 5)
    assert 0 < r.ci_low < 0.4 < r.ci_high < 1
    zero = paired_disagreement([True] * 50, [True] * 50)
    assert zero.rate == 0 and zero.ci_low == 0 and zero.ci_high == pytest.approx(1 - 0.025 ** (1 / 50))
    with pytest.raises(ValueError, match="same length"):
        paired_disagreement([True], [True, False])


def test_distinct_seeds_is_the_pair_count_and_its_ci_maps_p():
    fail = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    r = distinct_seeds_disagreement(fail)
    assert r.rate == pytest.approx(_pairs_disagree(fail[:, None], False, True))  # 16 of 45 pairs
    assert r.rate == pytest.approx(16 / 45) and r.n_pairs == 45
    # p's exact CI [0.025, 0.556] holds 1/2: the upper end is 2 p (1 - p)'s maximum, 1/2
    assert r.ci_high == 0.5 and r.ci_low == pytest.approx(two_p_one_minus_p(0.0252107263268334))
    low = distinct_seeds_disagreement(np.arange(1000) < 100)  # p = 0.1: CI below 1/2, f increasing
    assert low.ci_low < two_p_one_minus_p(0.1) < low.ci_high < 0.5
    with pytest.raises(ValueError, match="two or more"):
        distinct_seeds_disagreement([True])


def test_crossed_rates_are_brute_force_pair_counts():
    rng = np.random.default_rng(3)
    y = rng.random((7, 5)) < rng.random((7, 1))  # seeds with different failure probabilities
    r = crossed_decomposition(y, rng=np.random.default_rng(0), n_boot=50)
    assert r.order.rate == pytest.approx(_pairs_disagree(y, True, False))
    assert r.init.rate == pytest.approx(_pairs_disagree(y, False, True))
    assert r.everything.rate == pytest.approx(_pairs_disagree(y, False, False))
    assert (r.order.n_pairs, r.init.n_pairs, r.everything.n_pairs) == (7 * 10, 5 * 21, 35 * 24 // 2)
    for d in (r.order, r.init, r.everything):
        assert d.ci_low <= d.rate <= d.ci_high and d.n_seeds == 7


def test_variance_components_are_the_two_way_anova():
    rng = np.random.default_rng(5)
    y = (rng.random((12, 6)) < rng.random((12, 1))).astype(float)
    S, K = y.shape
    g, rm, cm = y.mean(), y.mean(axis=1), y.mean(axis=0)
    ms_a = K * ((rm - g) ** 2).sum() / (S - 1)
    ms_b = S * ((cm - g) ** 2).sum() / (K - 1)
    ms_e = ((y - rm[:, None] - cm[None, :] + g) ** 2).sum() / ((S - 1) * (K - 1))
    comp = np.clip([(ms_a - ms_e) / K, (ms_b - ms_e) / S, ms_e], 0, None)
    r = crossed_decomposition(y.astype(bool), rng=np.random.default_rng(0), n_boot=50)
    assert [r.icc, r.order_share, r.residual_share] == pytest.approx(list(comp / comp.sum()))
    assert r.icc_low <= r.icc <= r.icc_high


def test_extremes_all_between_seeds_or_all_within():
    # every seed's outcome is fixed by its init: order seeds never disagree, icc = 1
    y = np.repeat((np.arange(40) % 3 == 0)[:, None], 8, axis=1)
    r = crossed_decomposition(y, rng=np.random.default_rng(0), n_boot=100)
    assert r.order.rate == 0 and r.order.ci_high == 0 and r.icc == pytest.approx(1.0)
    assert r.consistent.k == 40
    # a checkerboard: each seed fails under half the order seeds, the same half for every seed
    z = np.tile(np.arange(8) % 2 == 0, (40, 1))
    s = crossed_decomposition(z, rng=np.random.default_rng(0), n_boot=100)
    assert s.init.rate == 0 and s.icc == 0 and s.order_share == pytest.approx(1.0) and s.consistent.k == 0


def test_order_disagreement_is_one_minus_icc_of_everything():
    # law of total variance: P(order seeds disagree) ~= (1 - icc) P(everything changes)
    rng = np.random.default_rng(11)
    q = rng.beta(0.5, 1.5, size=3000)
    y = rng.random((3000, 16)) < q[:, None]
    r = crossed_decomposition(y, rng=np.random.default_rng(0), n_boot=100)
    assert r.order.rate == pytest.approx((1 - r.icc) * r.everything.rate, rel=0.02)
    assert r.icc == pytest.approx(1 / (0.5 + 1.5 + 1), abs=0.03)  # Beta(a, b): var(q) / p(1-p) = 1/(a+b+1)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"\(S, K\) with S >= 2"):
        crossed_decomposition(np.ones(5, bool), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="boolean"):
        crossed_decomposition(np.full((3, 3), 2), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        cluster_bootstrap(np.ones((3, 1)), lambda m: m, rng=0)
    with pytest.raises(ValueError, match="n_boot"):
        cluster_bootstrap(np.ones((3, 1)), lambda m: m, rng=np.random.default_rng(0), n_boot=0)


def test_cluster_bootstrap_is_deterministic_given_rng():
    x = np.random.default_rng(0).random((30, 2))
    a = cluster_bootstrap(x, lambda m: m, rng=np.random.default_rng(7), n_boot=300)
    b = cluster_bootstrap(x, lambda m: m, rng=np.random.default_rng(7), n_boot=300)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert np.allclose(a[0], x.mean(axis=0))


def test_crossed_cis_cover_the_truth_on_simulated_designs():
    """Coverage of the cluster bootstrap over 200 simulated crossed designs with known truth.

    q_i ~ Beta(a, b), Y_ij ~ Bernoulli(q_i): P(order) = 2ab/((a+b)(a+b+1)), P(everything) =
    P(init) = 2p(1-p) with p = a/(a+b), icc = 1/(a+b+1). A 95 % CI should cover ~95 % of
    the time; below 88 % (4.5 binomial SDs) fails.
    """
    a, b, S, K, reps = 0.6, 1.4, 150, 8, 200
    p = a / (a + b)
    truth = {"order": 2 * a * b / ((a + b) * (a + b + 1)), "init": 2 * p * (1 - p), "everything": 2 * p * (1 - p)}
    icc = 1 / (a + b + 1)
    rng = np.random.default_rng(2026)
    hits = {k: 0 for k in (*truth, "icc")}
    for _ in range(reps):
        y = rng.random((S, K)) < rng.beta(a, b, size=S)[:, None]
        r = crossed_decomposition(y, rng=rng, n_boot=300)
        for k, t in truth.items():
            d = getattr(r, k)
            hits[k] += d.ci_low <= t <= d.ci_high
        hits["icc"] += r.icc_low <= icc <= r.icc_high
    coverage = {k: v / reps for k, v in hits.items()}
    assert all(0.88 <= c <= 1.0 for c in coverage.values()), coverage


def test_ratios_to_everything():
    # paired: 3 of 10 seeds disagree; a fails on 5 of 10 -> full = 2 * 5 * 5 / 90 = 5/9; ratio = 0.3 / (5/9)
    a = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    b = a.copy()
    b[[0, 5, 6]] ^= True
    r = paired_disagreement(a, b)
    assert r.ratio == pytest.approx(0.3 / (5 / 9)) and r.ratio_low <= r.ratio <= r.ratio_high
    # Bonferroni: the ends of the two exact CIs at 97.5 %
    half, ref = paired_disagreement(a, b, alpha=0.025), distinct_seeds_disagreement(a, alpha=0.025)
    assert (r.ratio_low, r.ratio_high) == pytest.approx((half.ci_low / ref.ci_high, half.ci_high / ref.ci_low))
    assert np.isnan(paired_disagreement(np.zeros(9, bool), b[:9]).ratio)  # a never fails: no reference
    none = paired_disagreement(a.repeat(100), a.repeat(100))  # no pair disagrees: the upper end stays above 0
    assert none.ratio == 0 and none.ratio_low == 0 and 0 < none.ratio_high < 0.1
    rng = np.random.default_rng(1)
    y = rng.random((50, 6)) < rng.random((50, 1))
    c = crossed_decomposition(y, rng=np.random.default_rng(0), n_boot=200)
    assert c.order.ratio == pytest.approx(c.order.rate / c.everything.rate)
    assert c.init.ratio == pytest.approx(c.init.rate / c.everything.rate) and c.everything.ratio == 1.0
    assert c.order.ratio_low <= c.order.ratio <= c.order.ratio_high
    assert distinct_seeds_disagreement(a).ratio == 1.0
