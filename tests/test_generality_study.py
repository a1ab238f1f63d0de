"""Issue 27's study: the counts and the Kitagawa split (exact), the Rister-Rubin limits against
Monte Carlo, the four verdict rules on both sides of their thresholds, and the section from the
reduced experiment."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from relustudy.analysis import generality as gen
from relustudy.analysis import theory
from relustudy.studies import generality as G
from relustudy.studies import in_short as ins

# --------------------------------------------------------------------------- the decomposition


@pytest.mark.parametrize("seed", range(5))
def test_kitagawa_parts_add_up_to_the_change(seed):
    rng = np.random.default_rng(seed)
    p1, a1, b1, p2, a2, b2 = rng.uniform(size=6)
    born, train = gen.kitagawa(p1, a1, b1, p2, a2, b2)
    total = (p2 * a2 + (1 - p2) * b2) - (p1 * a1 + (1 - p1) * b1)
    assert born + train == pytest.approx(total, abs=1e-15)
    # Only the born-dead share changes: all of the change is the born-dead part.
    born, train = gen.kitagawa(p1, a1, b1, p2, a1, b1)
    assert train == pytest.approx(0, abs=1e-15) and born == pytest.approx((p2 - p1) * (a1 - b1), abs=1e-15)


def test_paired_split_adds_up_to_the_paired_difference():
    rng = np.random.default_rng(3)
    fa, ba, fb, bb = (rng.uniform(size=500) < q for q in (0.4, 0.3, 0.6, 0.5))
    born, train = gen.paired_split(fa, ba, fb, bb)
    assert born + train == pytest.approx(fb.mean() - fa.mean(), abs=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        gen.paired_split(fa, ba[:-1], fb, bb)


def test_kitagawa_with_an_empty_group_still_adds_up():
    # Cell 1 has no born-dead run (a1 undefined): its weight is 0, so the parts still sum to the change.
    born, train = gen.kitagawa(0.0, np.nan, 0.2, 0.4, 0.9, 0.3)
    assert born + train == pytest.approx((0.4 * 0.9 + 0.6 * 0.3) - 0.2)
    born, train = gen.kitagawa(0.0, np.nan, 0.2, 0.0, np.nan, 0.5)
    assert (born, train) == (0.0, pytest.approx(0.3))


def _runs(task, init, update, fails, born, output="same", activation="relu", batch="1"):
    """A hand-made runs table: one row per run, with the columns cell_counts reads."""
    n = len(fails)
    return pd.DataFrame(dict(
        task=task, init=init, update=update, activation=activation, output=output, batch=batch, seed=np.arange(n),
        outcome=np.where(np.asarray(fails), "dead_output", "solved"), output_dead_init=np.asarray(born),
        output_dead_final=np.asarray(fails), output_dead_points_init=np.where(born, 6, 0),
        output_dead_points_final=np.where(fails, 6, 0), dead_frac_init_l1=0.0, dead_frac_init_l2=0.0))


def test_cell_counts_and_rates_count_each_run_once():
    runs = pd.concat([_runs("posted", "randn", "as_posted", [1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0]),
                      _runs("posted_std", "randn", "as_posted", [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0])])
    c = gen.cell_counts(runs)
    assert len(c) == 2 and (c["n"] == 6).all()
    post = c[c["task"] == "posted"].iloc[0]
    assert (post["failed"], post["born_dead"], post["failed_born_dead"], post["failed_alive"]) == (3, 2, 2, 1)
    assert sum(post[gen.mode_column(m)] for m in gen.FAILURE_MODES) == post["failed"]
    assert post[gen.mode_column("born dead")] == 2 and post[gen.mode_column("output died")] == 1
    r = gen.cell_rates(c).set_index("task")
    assert r.loc["posted", "fail_born"] == 1.0 and r.loc["posted", "fail_alive"] == 0.25
    assert r.loc["posted", "threshold_rel"] == pytest.approx(1e-3 / np.var([0.3, 0.8, 0.6, 1.0, 1.0, 0.7]))
    with pytest.raises(ValueError, match="factor column"):
        gen.cell_counts(runs.drop(columns="batch"))


def test_factor_ranges_need_one_value_of_the_other_factors():
    rates = pd.DataFrame([dict(task=t, init=i, update=u, activation="relu", output="same", batch="1",
                               fail=f) for (t, i, u), f in zip(itertools.product(["a", "b"], ["x", "y"], ["p", "c"]),
                                                                [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])])
    r = gen.factor_ranges(rates)
    assert r["task"] == pytest.approx(0.4) and r["init"] == pytest.approx(0.2) and r["update"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="select the cells first"):
        gen.factor_ranges(pd.concat([rates, rates.assign(batch="full")]))


# --------------------------------------------------------------------------- the limits


def test_death_bounds_formulas():
    lo, hi = theory.death_bounds((4, 4), relu_output=True, zero_bias=False)
    assert hi == pytest.approx(1 - (15 / 16) ** 2 / 2)
    assert lo == pytest.approx(1 - (1 - 2.0 ** -20) * (1 - 2.0 ** -5))
    lo0, _ = theory.death_bounds((4, 4), relu_output=True, zero_bias=True)
    assert lo0 == pytest.approx(1 - (1 - 2.0 ** -16) * (1 - 2.0 ** -4))  # no bias: one fewer coin per unit
    assert theory.death_bounds((1,), relu_output=False, zero_bias=True) == (0.0, 0.5)


@pytest.mark.parametrize("init", ["randn", "he", "torch"])
def test_one_input_point_reaches_the_upper_limit_and_spread_data_stay_between(init):
    zero = theory.init_has_zero_bias(init)
    lo, hi = theory.death_bounds((4, 4), relu_output=True, zero_bias=zero)
    point = theory.p_born_dead_on_task(init, "posted", relu_output=True, rng=np.random.default_rng(1),
                                       n_draws=40_000, x=[[0.3, 0.2]])
    assert point.ci_low <= hi <= point.ci_high
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ring = 100 * np.column_stack([np.cos(angles), np.sin(angles)])  # around the origin, far out
    spread = theory.p_born_dead_on_task(init, "posted", relu_output=True, rng=np.random.default_rng(2),
                                        n_draws=40_000, x=ring)
    assert lo <= spread.ci_high and spread.p < point.p  # more spread, fewer born dead; never below the limit


def test_zero_bias_inits_are_known():
    assert [theory.init_has_zero_bias(i) for i in ("randn", "he", "xavier", "torch", "keras")] == [
        False, True, True, False, True]


# --------------------------------------------------------------------------- the rules, both sides


def _finding(fail_by_task: dict, *, width=0.01, contrast_diff=-0.1, ranges=None, framework_fail=None):
    """A finding whose main cells (every init x update) fail at fail_by_task[task] +- width."""
    rows, contrasts = [], []
    for task, p in fail_by_task.items():
        for init, update in itertools.product(["randn", "he", "xavier", "torch"], ["as_posted", "corrected"]):
            for batch in ("1", "full"):
                q = framework_fail if (framework_fail is not None and init in G.FRAMEWORK_INITS
                                       and update == "corrected") else p
                rows.append(dict(task=task, init=init, update=update, activation="relu", output="same", batch=batch,
                                 n=20_000, fail=q, fail_low=max(q - width, 0), fail_high=min(q + width, 1),
                                 setting=G.SETTINGS[("relu", "same", batch)]))
                if task != "posted":
                    contrasts.append(dict(task=task, init=init, update=update, activation="relu", output="same",
                                          batch=batch, rate_a=fail_by_task.get("posted", 0.4), diff=contrast_diff,
                                          diff_low=contrast_diff - width, diff_high=contrast_diff + width))
    ranges = pd.Series(ranges or {"task": 0.3, "init": 0.1, "update": 0.02})
    return G.GeneralityFinding(pd.DataFrame(rows), pd.DataFrame(contrasts), ranges, pd.DataFrame(), 5000, 0.01)


def test_standardisation_rule_both_sides():
    t = G.LOTTERY_MIN
    assert G.standardisation_rule(_finding({"posted_std": t + 0.02})).key == "survives"
    assert G.standardisation_rule(_finding({"posted_std": t + 0.01})).key == "partly"  # lower bound at the line
    assert G.standardisation_rule(_finding({"posted_std": t - 0.02})).key == "removed"
    assert G.standardisation_rule(_finding({"posted": 0.4})).key == "missing"


def test_data_rule_both_sides():
    t = G.LOTTERY_MIN
    assert G.data_rule(_finding({"posted": 0.4, "grid64": t - 0.02})).key == "removes"
    assert G.data_rule(_finding({"posted": 0.4, "grid64": 0.2}, contrast_diff=-0.2)).key == "reduces"
    v = G.data_rule(_finding({"posted": 0.4, "grid64": 0.5}, contrast_diff=0.1))
    assert v.key == "does not remove" and "randn/as_posted" in v.text
    assert G.data_rule(_finding({"posted": 0.4, "grid64": 0.4}, contrast_diff=-0.005)).key == "does not remove"


def test_defaults_rule_both_sides():
    t = G.LOTTERY_MIN
    assert G.defaults_rule(_finding({"posted": 0.4, "grid64": 0.3}, framework_fail=t - 0.02)).key == "avoid"
    assert G.defaults_rule(_finding({"posted": 0.4, "grid64": 0.3}, framework_fail=t + 0.02)).key == "do not avoid"
    mixed = _finding({"posted": t - 0.02, "grid64": 0.3})
    v = G.defaults_rule(mixed)
    assert v.key == "avoid on some tasks" and "posted (torch, batch 1)" in v.text and "grid64" not in v.text


def test_factor_rule_names_the_largest_and_those_above_matters():
    m = G.MATTERS
    v = G.factor_rule(_finding({"posted": 0.4}, ranges={"task": 0.3, "init": m, "update": m - 1e-9}))
    assert v.key == "task" and "The init also matters" in v.text and "update rule also" not in v.text
    v = G.factor_rule(_finding({"posted": 0.4}, ranges={"task": 0.01, "init": 0.02, "update": 0.3}))
    assert v.key == "update" and "No other factor" in v.text


def test_verdict_joins_the_four_rules():
    v = G.verdict(_finding({"posted": 0.4, "posted_std": 0.5, "grid64": 0.2}, contrast_diff=-0.2))
    assert v.key == "task;survives;reduces;do not avoid"


def test_the_recipe_has_the_generality_rows_and_warns_about_a_setting_that_hurts():
    settings = [r for r in ins.RECIPE if r.kind == "setting"]
    assert {"task", "init", "batch"} <= {k for r in settings for k in r.change}
    from test_in_short import _finding as opening, _row
    f = opening()
    rows = pd.concat([f.rows, pd.DataFrame([_row(settings[0].label, "setting", 0.62)])], ignore_index=True)
    from dataclasses import replace
    v = ins.recipe_rule(replace(f, rows=rows))
    assert f"These fail more often: {settings[0].label} (62%)." in v.text
    rows = pd.concat([f.rows, pd.DataFrame([_row(settings[2].label, "setting", 0.001)])], ignore_index=True)
    assert ins.recipe_rule(replace(f, rows=rows)).text.startswith(f"Use {settings[2].label} (0.1%)")


# --------------------------------------------------------------------------- from the reduced experiment


@pytest.mark.slow  # ~20-40 s: 1,280 runs of 50 epochs in the NumPy engine, then the study
def test_section_renders_from_the_reduced_experiment(tmp_path, monkeypatch):
    from relustudy import load_runs
    from relustudy.runs import catalog
    from relustudy.runs.grid import run_grid

    g = catalog.get("generality", reduced=True, out=tmp_path / "g")
    run_grid(g, jobs=1, progress=False, log=lambda m: None, engine="numpy")
    monkeypatch.setattr(G, "THEORY_DRAWS", 2_000)
    f = G.finding(load_runs(g.out))
    cells = len(f.rates)
    assert cells == g.n_runs // 8 and (f.rates["n"] == 8).all()
    assert len(f.contrasts) == cells - (f.rates["task"] == "posted").sum()
    sums = f.contrasts["born_part"] + f.contrasts["training_part"]
    assert np.allclose(sums, f.contrasts["diff"]) and np.allclose(f.contrasts["diff"],
                                                                  f.contrasts["rate_b"] - f.contrasts["rate_a"])
    assert set(f.theory["task"]) == set(f.rates["task"]) and f.theory["born"].notna().all()
    assert ((f.theory["lower"] <= f.theory["ci_high"]) & (f.theory["ci_low"] <= f.theory["upper"])).all()
    v = G.verdict(f)
    text = G.section(f, v, {"generality.png": "![x](g.png)"})
    assert v.text in text and "xavier (= keras)" in text and "| product64 |" in text
    figs = G.figures_(f)
    assert [x.name for x in figs] == ["generality.png"]
