"""Learning curve of init-only prediction: plan, tables on a known answer, resume, consistency check, mistakes."""
import numpy as np
import pandas as pd
import pytest

from relustudy.experiments import init_curve as ic
from relustudy.core.config import Cell
from relustudy.experiments.init_predict import cell_init_features


def _runs(n=2000, corrupt=0):
    """A posted-cell runs table whose failures are a known function of the init: output dead or W1[0,0] > 0.5."""
    f = cell_init_features(Cell(), range(n))
    dead = f.values[:, f.names.index("output_dead")].astype(bool)
    failed = dead | (f.values[:, f.names.index("W1[0,0]")] > 0.5)
    dead_rec = dead.copy()
    dead_rec[:corrupt] = ~dead_rec[:corrupt]
    return pd.DataFrame({
        "seed": np.arange(n, dtype=np.uint32), "activation": "relu", "output": "same", "init": "randn",
        "update": "as_posted", "optimizer": "sgd", "lr": 0.01, "epochs": 5000, "hidden": "4-4", "init_gain": 1.0,
        "outcome": np.where(failed, np.where(dead, "dead_output", "collapsed"), "solved"),
        "output_dead_init": dead_rec, "output_dead_final": dead})


def test_plan_repeats_small_sizes_and_ends_with_the_pool():
    assert ic.plan(900_000) == [(n, r) for n in (1000, 3000, 10_000, 30_000) for r in range(3)] + \
        [(100_000, 0), (300_000, 0), (900_000, 0)]
    assert ic.plan(100_000)[-1] == (100_000, 0) and all(n <= 100_000 for n, _ in ic.plan(100_000))
    assert ic.plan(50, (100, 1000)) == [(50, 0)]  # every size above the pool: the pool once
    with pytest.raises(ValueError, match="no training size fits a pool of 1"):
        ic.plan(1, (100,))


def test_run_init_curve_learns_a_known_function_and_resumes(tmp_path):
    runs = _runs()
    cells = ic.CELLS[:1]
    logged = []
    ic.run_init_curve(runs, tmp_path, cells=cells, held_out=600, sizes=(300, 1400), max_iter=30, n_boot=10,
                      log=logged.append)
    t = ic.load_init_curve(tmp_path)
    curve = t["curve"]
    model = curve[curve["predictor"] == ic.MODEL]
    assert sorted(zip(model["n_train"], model["rep"])) == [(300, 0), (300, 1), (300, 2), (1400, 0)]
    assert (curve["n_test"] == 600).all()
    dead = curve[curve["predictor"] == ic.DEAD].iloc[0]
    best = model[model["n_train"] == 1400].iloc[0]
    assert best["auroc"] > 0.95 and best["auroc"] > dead["high"]  # the boundary W1[0,0] = 0.5 is learnable
    assert (model["hit_cap"] == (model["n_iter"] >= 30)).all()
    scores = t["scores"]
    assert scores["seed"].tolist() == list(range(600)) and scores["score"].dtype == np.float32
    assert t["fit"].iloc[0]["n_max"] == 1400 and t["fit"].iloc[0]["sizes"] == 2  # < 3 sizes: no curve fitted
    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()}
    logged.clear()
    ic.run_init_curve(runs, tmp_path, cells=cells, held_out=600, sizes=(300, 1400), max_iter=30, n_boot=10,
                      log=logged.append)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "shards").iterdir()} == stamp
    assert not any("iterations" in m for m in logged)  # nothing refitted
    assert ic.load_init_curve(tmp_path)["curve"].equals(curve)


def test_recomputed_init_must_match_the_table(tmp_path):
    with pytest.raises(ValueError, match="disagrees with the table on 3 seeds"):
        ic.run_init_curve(_runs(800, corrupt=3), tmp_path, cells=ic.CELLS[:1], held_out=300, sizes=(200,), max_iter=5,
                          log=lambda m: None)


def test_mistake_table_by_hand():
    scores = pd.DataFrame({
        "cell": "c", "seed": np.arange(6),
        "score": [0.95, 0.05, 0.95, 0.5, 0.02, 0.99],
        "failed": [False, True, True, True, True, False],
        "output_dead_init": [True, False, True, False, False, False],
        "output_dead_final": [False, True, True, False, False, False]})
    t = ic.mistake_table(scores, near_flip={"c": {0, 4}}).set_index("kind")
    k = ic.MISTAKE_KINDS
    # seed 0: revived, scored fail -> mistake; 1: died in training, scored solve -> mistake; 2: dead, right;
    # 3: alive-alive failure, unsure -> not confident; 4: alive-alive failure scored solve -> mistake; 5: solved scored fail
    assert t.loc[k[3], ["held_out", "mistakes", "mistakes_near_flip"]].tolist() == [1, 1, 1]
    assert t.loc[k[0], ["held_out", "mistakes"]].tolist() == [1, 1]
    assert t.loc[k[1], ["held_out", "mistakes", "mistakes_near_flip", "near_flip"]].tolist() == [2, 1, 1, 1]
    assert t.loc[k[2], "mistakes"] == 0 and t.loc[k[4], "mistakes"] == 1


def _curve(simple, top, cap=False):
    """Curve rows: the two baselines (simple = (auroc, low, high) of the better one) and one model at 900,000."""
    a, lo, hi = simple
    return pd.DataFrame([
        dict(predictor=ic.DEAD, n_train=0, rep=0, auroc=a - 0.1, low=lo - 0.1, high=hi - 0.1),
        dict(predictor=ic.MARGIN, n_train=0, rep=0, auroc=a, low=lo, high=hi),
        dict(predictor=ic.MODEL, n_train=1000, rep=0, auroc=top - 0.05, low=top - 0.06, high=top - 0.04,
             n_iter=10, hit_cap=False, minus_margin=0.0, minus_margin_low=0.0, minus_margin_high=0.0),
        dict(predictor=ic.MODEL, n_train=900_000, rep=0, auroc=top, low=top - 0.002, high=top + 0.002,
             n_iter=2000 if cap else 500, hit_cap=cap, minus_margin=top - a, minus_margin_low=top - a - 0.01,
             minus_margin_high=top - a + 0.01)])


@pytest.mark.parametrize("simple, key", [
    ((0.93, ic.SIMPLE_MOST + 0.001, 0.95), "most"), ((0.92, ic.SIMPLE_MOST - 0.001, 0.95), "part"),
    ((0.72, 0.70, ic.SIMPLE_LITTLE - 0.001), "little"), ((0.73, 0.70, ic.SIMPLE_LITTLE + 0.001), "part")])
def test_init_verdict_simple_property_rules(simple, key):
    v = ic.init_verdict(_curve(simple, 0.97), pd.Series({"a": np.nan}))
    assert v.simple == key and v.curve == "no fit" and "output margin alone reaches AUROC" in v.sentence


@pytest.mark.parametrize("a_low, a_high, key", [
    (0.97 + ic.GAP + 0.001, 0.999, "rising"), (0.97 + ic.GAP - 0.001, 0.999, "uncertain"),
    (0.965, 0.97 + ic.GAP - 0.001, "saturated"), (0.965, 0.97 + ic.GAP + 0.001, "uncertain"),
    (ic.NEAR_EXACT + 0.001, 1.0, "rising to near-exact"), (ic.NEAR_EXACT - 0.001, 1.0, "rising")])
def test_init_verdict_curve_rules(a_low, a_high, key):
    fit = pd.Series({"a": (a_low + a_high) / 2, "a_low": a_low, "a_high": a_high, "b": 0.1, "c": 0.2})
    v = ic.init_verdict(_curve((0.85, 0.84, 0.86), 0.97, cap=True), fit)
    assert v.curve == key and "2000-iteration cap" in v.sentence
    # The largest model hit its iteration cap: the seeds to AUROC 0.99 are never extrapolated.
    assert "would take about" not in v.sentence
    assert ("not extrapolated" in v.sentence) == (fit["a"] > ic.NEAR_EXACT and key.startswith("rising"))
    assert ("at the bound 1" in v.sentence) == (a_high == 1.0 and key != "saturated")


def test_init_verdict_extrapolates_only_near_the_measured_sizes():
    curve = _curve((0.85, 0.84, 0.86), 0.97, cap=False)
    largest = int(curve["n_train"].max())
    near = pd.Series({"a": 0.9995, "a_low": 0.999, "a_high": 1.0, "b": 0.01, "c": 0.5})  # 0.99 at ~1,100 seeds
    far = pd.Series({"a": 0.9995, "a_low": 0.999, "a_high": 1.0, "b": 0.1366, "c": 0.1976})  # at ~7e8 seeds
    assert ic.seeds_to_reach(ic.NEAR_EXACT, *near[["a", "b", "c"]]) <= ic.EXTRAPOLATE_MAX * largest
    assert ic.seeds_to_reach(ic.NEAR_EXACT, *far[["a", "b", "c"]]) > ic.EXTRAPOLATE_MAX * largest
    assert "would take about" in ic.init_verdict(curve, near).sentence
    v = ic.init_verdict(curve, far)
    assert "would take about" not in v.sentence and f"beyond {ic.EXTRAPOLATE_MAX:g}× the largest training set" in v.sentence
    assert "ranks a failing seed above a solved one 85% of the time" in v.sentence


def test_seeds_to_reach_inverts_the_curve():
    from relustudy.stats.curves import saturating

    n = ic.seeds_to_reach(0.99, 0.9995, 0.1366, 0.1976)
    assert saturating(n, 0.9995, 0.1366, 0.1976) == pytest.approx(0.99)
    assert ic.seeds_to_reach(0.99, 0.98, 0.1, 0.5) == float("inf")


def test_main_rejects_bad_values(capsys, tmp_path):
    assert ic.main(["--sizes", "5", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == \
        "run_init_curve.py: error: invalid --sizes '5'; allowed: comma-separated integers >= 10"
    assert ic.main(["--runs", str(tmp_path / "none.parquet"), "--out", str(tmp_path)]) == 2
    assert "no runs table at" in capsys.readouterr().err
