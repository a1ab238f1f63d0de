"""Dead units at init from the init distribution alone, against exact cases and seeded draws."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relustudy.analysis import theory as T
from relustudy.core.activations import get_activation
from relustudy.core.inits import draw_normals, init_params, transform
from relustudy.core.problem import X_TRAIN
from relustudy.core.train import dead_units, forward_all

N_SEEDS = 20_000


def _within(p_hat, n, p, extra_var=0.0, z=4.5):
    """|p_hat - p| within z standard errors of a binomial mean (plus MC variance of p)."""
    se = np.sqrt(p * (1 - p) / n + extra_var)
    return abs(p_hat - p) < z * se


@pytest.fixture(scope="module")
def seeded_dead():
    """Dead-unit masks of the study's own seeded inits (2-4-4-1, ReLU), per scheme."""
    out = {}
    relu = get_activation("relu")
    normals = draw_normals(range(N_SEEDS), (2, 4, 4, 1))  # one set of draws, three transforms
    for init in ("randn", "he", "xavier"):
        zs = forward_all(transform(init, normals), [relu] * 3, X_TRAIN)
        out[init] = dead_units(zs)
    return out


def test_first_layer_exact_he_by_hand():
    # inputs span the angles atan(3/5) .. atan(7/3); isotropic w is dead on a half-circle
    # minus that span
    span = np.arctan(7 / 3) - np.arctan(3 / 5)
    assert T.p_first_layer_unit_dead("he") == pytest.approx((np.pi - span) / (2 * np.pi))
    # one input: half the directions are dead, for every scheme
    for init in ("he", "xavier", "randn"):
        assert T.p_first_layer_unit_dead(init, np.array([[0.3, 0.4]])) == pytest.approx(0.5)


def test_first_layer_exact_xavier_by_hand():
    # inputs on the diagonal only: the dead wedge is the half-plane w1 + w2 <= 0: 1/2;
    # inputs along the axes (1,0) and (0,1): dead iff w1 <= 0 and w2 <= 0: 1/4
    assert T.p_first_layer_unit_dead("xavier", np.array([[0.2, 0.2], [0.5, 0.5]])) == pytest.approx(0.5)
    axes = np.array([[1.0, 1e-12], [1e-12, 1.0]])
    assert T.p_first_layer_unit_dead("xavier", axes) == pytest.approx(0.25, abs=1e-9)
    assert T.p_first_layer_unit_dead("he", axes) == pytest.approx(0.25, abs=1e-9)


@pytest.mark.parametrize("init", ["randn", "he", "xavier"])
def test_first_layer_exact_matches_seeded_draws(init, seeded_dead):
    d1 = seeded_dead[init][0]  # (4, R): units are independent, so 4R Bernoulli draws
    assert _within(d1.mean(), d1.size, T.p_first_layer_unit_dead(init))


@pytest.mark.parametrize("init", ["randn", "he", "xavier"])
def test_output_dead_mc_matches_seeded_draws(init, seeded_dead):
    n = 200_000
    r = T.p_output_dead_at_init(init, rng=np.random.default_rng(7), n_draws=n)
    measured = seeded_dead[init][-1][0]
    p = r.p
    assert _within(measured.mean(), measured.size, p, extra_var=p * (1 - p) / n)
    assert r.ci_low < r.p < r.ci_high and r.k == round(r.p * n)


@pytest.mark.parametrize("init", ["randn", "he", "xavier"])
def test_output_dead_conditional_matches_seeded_draws_and_the_simulation(init, seeded_dead):
    n = 100_000
    c = T.p_output_dead_conditional(init, (4, 4), rng=np.random.default_rng(11), n_draws=n)
    measured = seeded_dead[init][-1][0]
    assert _within(measured.mean(), measured.size, c.p, extra_var=c.se**2)
    mc = T.p_output_dead_at_init(init, rng=np.random.default_rng(12), n_draws=n)
    assert abs(mc.p - c.p) < 4.5 * np.hypot(c.se, np.sqrt(mc.p * (1 - mc.p) / n))
    # Rao-Blackwellised: the conditional estimate varies less than counting dead draws
    assert c.se < np.sqrt(c.p * (1 - c.p) / n)
    assert c.ci_low < c.p < c.ci_high


def test_output_dead_conditional_single_unit_exact():
    # One hidden unit, he (biases 0): a dead unit (probability q) leaves z = 0, which counts as dead;
    # a live one has h >= 0, not all 0, so z_s = w3 h_s <= 0 everywhere iff w3 <= 0: P = q + (1 - q) / 2.
    q = T.p_first_layer_unit_dead("he")
    c = T.p_output_dead_conditional("he", (1,), rng=np.random.default_rng(3), n_draws=50_000)
    assert abs(c.p - (0.5 + 0.5 * q)) < 4.5 * c.se + 1e-12


@pytest.mark.parametrize("init", ["he", "xavier"])
def test_output_dead_single_hidden_unit_exact(init):
    # 2-1-1, b = 0: if the hidden unit is dead the output pre-activation is exactly 0 (dead);
    # otherwise h >= 0 is not all 0 and the output is dead iff its weight v <= 0 (prob 1/2).
    ph = T.p_first_layer_unit_dead(init)
    exact = ph + (1 - ph) / 2
    n = 400_000
    r = T.p_output_dead_at_init(init, hidden=(1,), rng=np.random.default_rng(1), n_draws=n)
    assert _within(r.p, n, exact)


def test_output_dead_deterministic_and_bad_input():
    a = T.p_output_dead_at_init("randn", rng=np.random.default_rng(3), n_draws=5_000, chunk=1_000)
    b = T.p_output_dead_at_init("randn", rng=np.random.default_rng(3), n_draws=5_000, chunk=1_000)
    assert a == b
    with pytest.raises(ValueError, match="allowed: randn, he, xavier"):
        T.p_output_dead_at_init("lecun", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        T.p_output_dead_at_init("he", rng=0)
    with pytest.raises(ValueError, match="n_draws"):
        T.p_output_dead_at_init("he", rng=np.random.default_rng(0), n_draws=0)


def test_born_dead_width_one_by_hand():
    # 2-1-1 (he): the output is constant iff the hidden unit is dead
    n = 200_000
    ph = T.p_first_layer_unit_dead("he")
    r = T.p_born_dead("he", (1,), rng=np.random.default_rng(2), n_draws=n)
    assert _within(r.p, n, ph) and r.p == r.p_layer_dead
    # 2-1-1-1 (he): layer 1 dead, or alive with layer-2 weight <= 0 (then z2 <= 0, dead)
    r = T.p_born_dead("he", "1-1", rng=np.random.default_rng(2), n_draws=n)
    assert _within(r.p, n, ph + (1 - ph) / 2) and r.p == r.p_layer_dead


def test_born_dead_grows_with_depth_and_never_for_leaky():
    rng = np.random.default_rng(0)
    shallow = T.p_born_dead("he", (2,) * 2, rng=rng, n_draws=20_000)
    deep = T.p_born_dead("he", (2,) * 10, rng=rng, n_draws=20_000)
    assert deep.p > shallow.p + 0.2
    leaky = T.p_born_dead("he", (2,) * 10, "leaky_relu", rng=rng, n_draws=5_000)
    assert leaky.p == 0.0


def test_born_dead_table_rows_independent():
    full = T.born_dead_table(["he", "randn"], ["2-2", (3, 3, 3)], seed=0, n_draws=2_000)
    one = T.born_dead_table(["randn"], [(3, 3, 3)], seed=0, n_draws=2_000)
    assert len(full) == 4 and full["depth"].tolist() == [2, 3, 2, 3]
    pd.testing.assert_frame_equal(full.iloc[[3]].reset_index(drop=True), one)


def test_output_dead_vs_theory_counts_each_seed_once():
    seeds = np.arange(3_000)
    relu = get_activation("relu")
    dead = dead_units(forward_all(init_params("he", seeds, (2, 4, 4, 1)), [relu] * 3, X_TRAIN))[-1][0]
    runs = pd.DataFrame(
        dict(seed=np.tile(seeds, 2), init="he", activation="relu", hidden="4-4",
             optimizer=np.repeat(["sgd", "momentum"], len(seeds)), output_dead_init=np.tile(dead, 2))
    )
    out = T.output_dead_vs_theory(runs, rng=np.random.default_rng(0), n_draws=100_000)
    row = out.iloc[0]
    assert (row.n_seeds, row.n_dead) == (3_000, int(dead.sum()))
    assert row.p_first_layer_unit == pytest.approx(T.p_first_layer_unit_dead("he"))
    assert row.pvalue > 1e-4
    with pytest.raises(ValueError, match="lacks column"):
        T.output_dead_vs_theory(runs.drop(columns="init"), rng=np.random.default_rng(0))
