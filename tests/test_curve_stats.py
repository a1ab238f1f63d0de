"""Statistics of the learning and flip-rate curves on known answers: DeLong, saturating fit, clustered CIs, power law."""
import numpy as np
import pytest

from relustudy.stats.curves import clustered_proportion_ci, delong, fit_power_law, fit_saturating, poisson_bootstrap_rates, saturating
from relustudy.experiments.init_predict import weighted_auroc
from relustudy.stats.proportions import proportion_ci


def test_delong_auc_and_se_against_pairs_and_bootstrap():
    rng = np.random.default_rng(1)
    n = 1500
    y = rng.random(n) < 0.3
    s1 = y * 0.8 + rng.normal(size=n)
    s2 = s1 + rng.normal(scale=0.5, size=n)  # correlated with s1
    r = delong(np.vstack([s1, s2]), y)
    # AUROC = share of (failed, solved) pairs ordered right, ties 1/2
    pos, neg = s1[y], s1[~y]
    by_pairs = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert r.auc[0] == pytest.approx(by_pairs, abs=1e-12)
    w = rng.multinomial(n, np.full(n, 1 / n), size=1500)
    b1, b2 = weighted_auroc(s1, y, w), weighted_auroc(s2, y, w)
    assert r.se[0] == pytest.approx(b1.std(), rel=0.15) and r.se[1] == pytest.approx(b2.std(), rel=0.15)
    assert r.cov[0, 1] == pytest.approx(np.cov(b1, b2)[0, 1], rel=0.3) and r.cov[0, 1] > 0
    a, lo, hi = r.ci(0)
    assert lo < a < hi and hi - lo == pytest.approx(2 * 1.96 * r.se[0], rel=1e-3)
    with pytest.raises(ValueError, match="both classes"):
        delong([0.1, 0.2], [True, True])


def test_delong_ties_count_half():
    r = delong([1.0, 1.0, 0.0, 0.0], [True, False, False, False])  # one tie with a negative, two below
    assert r.auc[0] == pytest.approx((0.5 + 2) / 3)


def test_fit_saturating_recovers_a_known_curve_and_refuses_too_few_points():
    n = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 9e5])
    a, b, c = fit_saturating(n, saturating(n, 0.97, 0.12, 0.4))
    assert (a, b, c) == pytest.approx((0.97, 0.12, 0.4), abs=1e-6)
    a, _, _ = fit_saturating(n, saturating(n, 0.999, 0.2, 0.05))  # slow: still a bounded ceiling
    assert 0 <= a <= 1
    with pytest.raises(ValueError, match=">= 3 points"):
        fit_saturating([1e3, 1e4], [0.8, 0.9])


def test_clustered_ci_equals_clopper_pearson_for_singleton_clusters_and_widens_for_clustered():
    k = np.r_[np.ones(7), np.zeros(993)]
    r = clustered_proportion_ci(k, np.ones(1000))
    cp = proportion_ci(7, 1000)
    assert r.deff == 1.0 and (r.ci_low, r.ci_high) == pytest.approx((cp.ci_low, cp.ci_high), rel=1e-9)
    # the same 8 successes, all in one cluster of 8 vs spread over 8 clusters (clusters of 8 trials)
    together = clustered_proportion_ci(np.r_[8, np.zeros(124)], np.full(125, 8))
    spread = clustered_proportion_ci(np.r_[np.ones(8), np.zeros(117)], np.full(125, 8))
    assert together.rate == spread.rate == 8 / 1000
    assert together.deff > 5 and spread.deff == pytest.approx(1.0, abs=0.1)
    assert together.ci_high > 2 * spread.ci_high
    zero = clustered_proportion_ci(np.zeros(100), np.full(100, 3))
    assert zero.ci_low == 0 and zero.ci_high == pytest.approx(proportion_ci(0, 300).ci_high)
    with pytest.raises(ValueError, match="0 <= k_g <= m_g"):
        clustered_proportion_ci([3, 0], [2, 2])


def test_clustered_ci_covers_a_known_rate_under_strong_clustering():
    """Beta-binomial clusters (intra-cluster correlation 0.2): the CI covers the true rate ~95 % of the time,
    where the naive Clopper-Pearson CI over all trials falls well short."""
    rng = np.random.default_rng(7)
    p, m, G, rho = 0.05, 10, 400, 0.2
    ab = (1 - rho) / rho
    hits = naive = 0
    sims = 300
    for _ in range(sims):
        k = rng.binomial(m, rng.beta(p * ab, (1 - p) * ab, size=G))
        r = clustered_proportion_ci(k, np.full(G, m))
        hits += r.ci_low <= p <= r.ci_high
        c = proportion_ci(int(k.sum()), G * m)
        naive += c.ci_low <= p <= c.ci_high
    assert hits / sims >= 0.91 and naive / sims < 0.8


def test_poisson_bootstrap_spread_matches_the_clustered_standard_error():
    rng = np.random.default_rng(3)
    G, m = 20_000, 2
    k = rng.binomial(m, np.where(rng.random(G) < 0.01, 0.7, 0.0))  # flips cluster in 1 % of seeds
    flip = k > 0
    reps = poisson_bootstrap_rates(np.column_stack([k[flip], k[flip]]), np.full(flip.sum(), m), int((~flip).sum()),
                                   m, n_boot=2000, rng=rng)
    r = clustered_proportion_ci(k, np.full(G, m))
    se = np.sqrt(G / (G - 1) * np.sum((k - r.rate * m) ** 2)) / (G * m)
    assert reps.shape == (2000, 2) and reps[:, 0].mean() == pytest.approx(r.rate, rel=0.02)
    assert reps[:, 0].std() == pytest.approx(se, rel=0.1)


def test_fit_power_law_recovers_exponent_with_zero_counts():
    eps = np.logspace(-10, -4, 7)
    n = np.full(7, 1e9)
    A, alpha = fit_power_law(eps, 3e3 * eps**0.5 * n, n)  # expected counts exactly
    assert (A, alpha) == pytest.approx((3e3, 0.5), rel=1e-6)
    A, alpha = fit_power_law([1e-8, 1e-6, 1e-4], [0, 10, 1000], [1e5] * 3)
    assert alpha == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="at least one success"):
        fit_power_law([1e-8, 1e-6], [0, 0], [10, 10])
