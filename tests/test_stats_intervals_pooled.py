"""Rubin's rules for estimates over repeated random draws (stats.intervals.pooled_ci)."""
import numpy as np
import pytest
import scipy.stats

from relustudy.stats.intervals import pooled_ci


def test_one_draw_is_its_own_normal_interval():
    r = pooled_ci([0.9], [0.01])
    z = scipy.stats.norm.ppf(0.975)
    assert (r.estimate, r.m, r.between) == (0.9, 1, 0.0)
    assert r.ci_low == pytest.approx(0.9 - z * 0.01) and r.ci_high == pytest.approx(0.9 + z * 0.01)


def test_spread_between_draws_widens_the_interval_by_rubins_rules():
    same = pooled_ci([0.85, 0.85, 0.85], [0.01] * 3)
    spread = pooled_ci([0.83, 0.85, 0.87], [0.01] * 3)
    assert spread.ci_high - spread.ci_low > same.ci_high - same.ci_low
    w, b, m = 1e-4, np.var([0.83, 0.85, 0.87], ddof=1), 3
    df = (m - 1) * (1 + w / ((1 + 1 / m) * b)) ** 2
    half = scipy.stats.t.ppf(0.975, df) * np.sqrt(w + (1 + 1 / m) * b)
    assert spread.ci_high == pytest.approx(0.85 + half) and spread.within == pytest.approx(w)


@pytest.mark.parametrize("est,se", [([], []), ([0.5, 0.6], [0.1]), ([0.5], [-0.1]), ([np.nan], [0.1])])
def test_bad_input_is_one_line_error(est, se):
    with pytest.raises(ValueError):
        pooled_ci(est, se)
