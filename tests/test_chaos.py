"""Perturbation experiment: per-pair directions, eps = 0 is the run itself, tables by hand, rates, exponent, verdict."""
import numpy as np
import pandas as pd
import pytest

from engine_checks import same_bits
from relustudy import Cell, train
from relustudy.experiments.chaos import DIRECTION_KEY, cell_of, directions, main, perturbed_init, run_chaos
from relustudy.core.inits import flatten_runs
from relustudy.experiments.chaos_tables import EPS_SMALL, FRACTAL, NON_VANISHING, SMOOTH, FlipExponent, chaos_verdict, flip_exponent, small_eps_flips, flip_rates, load_chaos
from relustudy.core.inits import init_params


def test_each_pair_has_its_own_reproducible_unit_direction():
    u = directions([3, 3, 4], [0, 1, 0], 37)
    assert u.shape == (37, 3) and np.allclose((u * u).sum(axis=0), 1.0)
    assert not np.allclose(u[:, 0], u[:, 1]) and not np.allclose(u[:, 0], u[:, 2])
    # the frozen definition: the legacy stream seeded by the array (DIRECTION_KEY, seed, k), normalised
    v = np.random.RandomState([DIRECTION_KEY, 4, 0]).randn(37)
    norm2 = 0.0
    for x in v:
        norm2 += x * x
    assert same_bits(u[:, 2], v / np.sqrt(norm2))
    assert same_bits(directions([4], 0, 37)[:, 0], u[:, 2])  # a pair's direction does not depend on its batch
    with pytest.raises(ValueError, match="invalid perturbation index"):
        directions([1], -1, 37)


def test_perturbation_moves_each_run_by_eps_along_its_own_direction():
    cell = Cell()
    seeds, ks = np.array([0, 0, 1, 2]), np.array([0, 1, 0, 0])
    base = flatten_runs(init_params("randn", seeds, cell.layer_sizes))
    moved = flatten_runs(perturbed_init(cell, seeds, ks, 1e-3))
    np.testing.assert_allclose((moved - base) / 1e-3, directions(seeds, ks, 37), rtol=1e-9, atol=1e-9)
    assert same_bits(flatten_runs(perturbed_init(cell, seeds, ks, 0.0)), base)
    with pytest.raises(ValueError, match="invalid eps"):
        perturbed_init(cell, seeds, ks, -1e-3)
    with pytest.raises(ValueError, match="unknown cell 'x'; allowed: posted"):
        cell_of("x")


def test_run_chaos_tables_by_hand_and_resume(tmp_path):
    kw = dict(cells=("lr 0.1",), perturbations=2, epsilons=(1e-10, 1e-1), epochs=150, block=15, response_seeds=10,
              jobs=1)
    run_chaos(tmp_path, (0, 30), log=lambda m: None, **kw)
    t = load_chaos(tmp_path)
    cell = cell_of("lr 0.1", 150)
    plain = train(cell, range(30), engine="numpy")  # the base runs are the runs themselves, on any engine
    assert t["base"]["outcome"].astype(str).tolist() == plain.metrics["outcome"].astype(str).tolist()
    # the eps = 0.1 pairs, retrained here with the reference engine: flips by hand
    seeds, ks = np.repeat(np.arange(30), 2), np.tile([0, 1], 30)
    pert = train(cell, seeds, init=perturbed_init(cell, seeds, ks, 0.1), engine="numpy").metrics["outcome"].astype(str)
    base = plain.metrics["outcome"].astype(str)[seeds]
    flipped = (pert == "solved") != (base == "solved")
    f = t["flips"][t["flips"]["eps"] == 0.1]
    assert sorted(zip(f["seed"].tolist(), f["k"].tolist())) == sorted(zip(seeds[flipped].tolist(), ks[flipped].tolist()))
    c = t["counts"].set_index("eps")
    assert c.loc[0.1, "pairs"] == 60 and c.loc[0.1, "seeds"] == 30 and c.loc[0.1, "flips"] == flipped.sum()
    assert c.loc[0.1, "label_changed"] == (pert != base).sum()
    # response: non-flipped pairs of the first 10 seeds; |Δ final weights| ~ eps at a tiny eps
    r = t["response"]
    assert set(r["seed"]) <= set(range(10)) and len(r[r["eps"] == 0.1]) == 20 - flipped[:20].sum()
    small = r[r["eps"] == 1e-10]["dweights"]
    assert r["dweights"].dtype == np.float32 and (small > 1e-12).all() and (small < 1e-6).all()
    if len(t["flips"]):
        assert t["flips"]["permanent"].notna().all()
    # the relative MSE response, by hand from the eps = 1e-10 shards: runs that solve and keep their outcome
    sh = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "shards").glob("pert_*eps1e-10.parquet"))])
    solved = sh[~sh["flipped"] & (sh["outcome"] == "solved") & (sh["base_mse"] > 0)]
    assert len(solved) > 5
    assert c.loc[1e-10, "dmse_rel_q50"] == pytest.approx((solved["dmse"] / solved["base_mse"]).median(), rel=1e-12)
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()}
    logged = []
    run_chaos(tmp_path, (0, 30), log=logged.append, **kw)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()} == stamp
    assert logged[0].startswith("chaos: lr 0.1: trained 0 shards")
    # Base outcomes reused from a runs table of the same cell (seeds beyond the response seeds): same flips
    from relustudy.core.schema import cell_id

    table = pd.DataFrame({"cell_id": cell_id(cell), "seed": np.arange(30), "outcome": plain.metrics["outcome"]})
    reused = tmp_path / "reused"
    run_chaos(reused, (0, 30), log=lambda m: None, reuse=table, **kw)
    t2 = load_chaos(reused)
    assert sorted(p.name for p in (reused / "shards").iterdir() if p.name.startswith("base")) == \
        [f"base_lr_0.1_e150_{a}-{a + 15}.parquet" for a in (0, 15)]
    assert "p0" not in pd.read_parquet(reused / "shards" / "base_lr_0.1_e150_15-30.parquet").columns  # not trained
    assert t2["counts"][["eps", "pairs", "flips", "label_changed"]].equals(t["counts"][["eps", "pairs", "flips", "label_changed"]])
    assert t2["flips"][["seed", "k", "eps", "permanent"]].equals(t["flips"][["seed", "k", "eps", "permanent"]])


def _tables(G, K, flips_by_eps, eps):
    """Hand-made tables: flips_by_eps[e] = list of (seed, k) flipped at eps[e]; every pair's base is solved."""
    counts = pd.DataFrame({"cell": "c", "eps": eps, "pairs": G * K, "seeds": G, "perturbations": K,
                           "flips": [len(v) for v in flips_by_eps], "to_fail": [len(v) for v in flips_by_eps],
                           "label_changed": [len(v) for v in flips_by_eps]})
    rows = [(s, k, e, True) for e, v in zip(eps, flips_by_eps) for s, k in v]
    flips = pd.DataFrame(rows, columns=["seed", "k", "eps", "permanent"]).assign(cell="c")
    return {"counts": counts, "flips": flips}


def test_flip_rates_cluster_by_seed():
    eps = [1e-3]
    spread = _tables(1000, 4, [[(s, 0) for s in range(12)]], eps)  # 12 flips in 12 seeds
    together = _tables(1000, 4, [[(s, k) for s in range(3) for k in range(4)]], eps)  # 12 flips in 3 seeds
    a, b = flip_rates(spread, "c").iloc[0], flip_rates(together, "c").iloc[0]
    assert a["rate"] == b["rate"] == 12 / 4000 and a["flips"] == 12
    assert b["deff"] > 3 * a["deff"] and b["ci_high"] > a["ci_high"]
    with pytest.raises(ValueError, match="cell 'x' is not in the perturbation tables"):
        flip_rates(spread, "x")


def test_flip_exponent_recovers_a_known_slope():
    rng = np.random.default_rng(5)
    eps = np.logspace(-9, -4, 6)
    G = 100_000
    flips = []
    for e in eps:  # P(flip) = 30 * eps: exponent 1
        n = rng.binomial(G, 30 * e)
        flips.append([(int(s), 0) for s in rng.choice(G, n, replace=False)])
    fit = flip_exponent(_tables(G, 1, flips, list(eps)), "c", n_boot=300, rng=rng)
    first_seen = min(e for e, v in zip(eps, flips) if v)
    assert fit.low < 1.0 < fit.high and 0.8 < fit.alpha < 1.2
    assert fit.eps_low == first_seen and fit.eps_high == eps[-1] and fit.flips == sum(map(len, flips))
    none = flip_exponent(_tables(G, 1, [[] for _ in eps], list(eps)), "c", rng=rng)
    assert np.isnan(none.alpha)


@pytest.mark.parametrize("low, high, key", [
    (-0.05, NON_VANISHING - 0.01, "not vanishing"), (0.02, NON_VANISHING + 0.01, "rough"),
    (0.2, FRACTAL - 0.01, "rough"), (0.3, FRACTAL + 0.01, "undetermined"),
    (SMOOTH + 0.01, 1.2, "smooth"), (SMOOTH - 0.01, 1.2, "undetermined")])
def test_chaos_verdict_thresholds_on_both_sides(low, high, key):
    rates = pd.DataFrame({"eps": [1e-6, 1e-3], "pairs": [1000, 1000], "flips": [2, 40]})
    fit = FlipExponent(1.0, (low + high) / 2, low, high, 1e-6, 1e-3, 2, 42)
    assert chaos_verdict(rates, fit)[0] == key


def test_chaos_verdict_names_both_readings_when_alpha_straddles_a_bound():
    rates = pd.DataFrame({"eps": [1e-6, 1e-3], "pairs": [1000, 1000], "flips": [2, 40]})
    text = chaos_verdict(rates, FlipExponent(1.0, 0.82, 0.78, 0.87, 1e-6, 1e-3, 2, 42))[1]
    assert f"straddles the bound {SMOOTH} (alpha 0.82 is 0.02 above it)" in text and "smooth boundary or" in text
    text = chaos_verdict(rates, FlipExponent(1.0, 0.6, 0.55, 0.7, 1e-6, 1e-3, 2, 42))[1]
    assert "between the bounds" in text


def test_chaos_verdict_without_flips_or_fit():
    rates = pd.DataFrame({"eps": [1e-6, 1e-3], "pairs": [1000, 1000], "flips": [0, 0]})
    nan = FlipExponent(*[np.nan] * 6, 0, 0)
    assert chaos_verdict(rates, nan) == ("no flips", "no outcome flips in 2,000 perturbed runs up to eps = 1e-03: "
                                                     "smooth at this resolution")
    assert chaos_verdict(rates.assign(flips=[0, 2]), nan)[0] == "undetermined"


def test_main_rejects_bad_values(capsys):
    assert main(["--eps", "1e-3,-1", "--out", "unused"]) == 2
    assert capsys.readouterr().err.strip() == "run_chaos.py: error: invalid --eps '1e-3,-1'; allowed: comma-separated numbers > 0"
    assert main(["--cells", "posted;nope"]) == 2
    assert "unknown cell 'nope'" in capsys.readouterr().err


def test_a_knife_edge_seed_makes_a_floor_below_eps_small_and_the_exponent_is_the_rise_above():
    # P(flip) = 30 eps above, and seed 7 flips at every eps <= EPS_SMALL: a floor the rise cannot predict.
    rng = np.random.default_rng(11)
    eps = [float(e) for e in np.logspace(-12, -3, 10)]
    G = 100_000
    rise = [[(int(s), 0) for s in rng.choice(np.arange(10, G), rng.binomial(G, 30 * e), replace=False)] for e in eps]
    knife = [v + [(7, 0)] if e <= EPS_SMALL else v for e, v in zip(eps, rise)]
    tables = _tables(G, 1, knife, eps)
    fit = flip_exponent(tables, "c", n_boot=200, rng=rng, above=EPS_SMALL)
    assert fit.eps_low > EPS_SMALL and 0.7 < fit.alpha < 1.3
    small = small_eps_flips(tables, "c", fit)
    n_small = sum(e <= EPS_SMALL for e in eps)
    assert (small.pairs, small.seeds, small.multi_eps_seeds) == (G * n_small, 1 + len({s for e, v in zip(eps, rise) if e <= EPS_SMALL for s, _ in v}), 1)
    assert small.floor and small.low > small.predicted
    key, text = chaos_verdict(flip_rates(tables, "c"), fit, small)
    assert key.startswith("floor, ") and text.startswith("a floor of about ") and "between eps 1e-12 and 1e-08" in text
    # Without the knife-edge seed the few flips at small eps (if any) are what the rise predicts: no floor.
    plain = _tables(G, 1, rise, eps)
    small = small_eps_flips(plain, "c", flip_exponent(plain, "c", n_boot=200, rng=rng, above=EPS_SMALL))
    assert not small.floor
    assert chaos_verdict(flip_rates(plain, "c"), fit, small) == chaos_verdict(flip_rates(plain, "c"), fit)
