"""The optimizer studies (issue 17): verdict rules on both sides of their thresholds, sections
rendered from small tables."""
import numpy as np
import pandas as pd
import pytest

from relustudy.analysis.optimizers import TunedTables
from relustudy.studies import optimizer_tuned as ot


def _finding(diffs, born_share=0.9, p=1e-6, adam=None):
    """A TunedFinding whose sgd -> momentum differences per stratum are ``diffs``."""
    comps, decs = [], []
    strata = [("as_posted", 0.25), ("as_posted", 1.0), ("corrected", 0.25), ("corrected", 1.0)][: len(diffs)]
    pairs = [("momentum", diffs)] + ([("adam", adam)] if adam is not None else [])
    for b, ds in pairs:
        for (u, g), d in zip(strata, ds):
            comps.append(dict(update=u, init_gain=g, a="sgd", b=b, lr_a=0.01, lr_b=0.001, n=1000, rate_a=0.4,
                              rate_b=0.4 + d, diff=d, diff_low=d - 0.02, diff_high=d + 0.02, n10=10, n01=10,
                              p=p, p_holm=p if d else 1.0))
            for comp, share in (("born dead", born_share), ("alive: died in training", 1 - born_share),
                                ("alive: other failure", 0.0)):
                decs.append(dict(update=u, init_gain=g, a="sgd", b=b, component=comp, contrib=d * share,
                                 contrib_low=d * share - 0.01, contrib_high=d * share + 0.01))
    opts = ["sgd", "momentum"] + (["adam"] if adam is not None else [])
    choices = pd.DataFrame([dict(update=u, init_gain=g, optimizer=o, lr=0.01, n_tied=1, tune_rate=0.4, rate=0.4,
                                 ci_low=0.35, ci_high=0.45, edge=False, n_eval=1000) for u, g in strata for o in opts])
    t = TunedTables(choices, pd.DataFrame(comps), pd.DataFrame(decs), pd.DataFrame())
    return ot.TunedFinding("tuning", t, pd.DataFrame(), 2000, (0.001, 0.01))


def test_tuned_verdict_holds_fails_and_conditional():
    assert ot.verdict(_finding([-0.1, -0.05, -0.02, -0.1])).key == "holds"
    assert ot.verdict(_finding([0.1, 0.0, 0.05, 0.0])).key == "fails"
    v = ot.verdict(_finding([-0.1, 0.1, 0.0, 0.0]))
    assert v.key == "conditional" and "fails less under as_posted gain 0.25;" in v.text
    assert "more under as_posted gain 1;" in v.text


def test_a_difference_that_is_not_significant_after_holm_does_not_count():
    assert ot.verdict(_finding([-0.1, -0.1], p=ot.ALPHA)).key == "fails"
    assert ot.verdict(_finding([-0.1, -0.1], p=ot.ALPHA * 0.99)).key == "holds"


@pytest.mark.parametrize("share, mechanism", [(ot.MECHANISM_SHARE, "reviving born-dead"),
                                              (ot.MECHANISM_SHARE - 0.01, "fewer deaths of outputs alive")])
def test_mechanism_named_by_the_born_dead_share(share, mechanism):
    f = _finding([-0.1, 0.0], born_share=share)
    assert ot.born_dead_share(f, "sgd", "momentum") == pytest.approx(share)
    assert mechanism in ot.verdict(f).text


@pytest.mark.parametrize("born_share, words", [(0.9, "otherwise than by deaths"), (0.4, "by killing outputs alive")])
def test_where_momentum_hurts_the_verdict_names_deaths_in_training_by_their_share(born_share, words):
    # the died-in-training share is 1 - born_share: 0.1 (below MECHANISM_SHARE) or 0.6 (above)
    v = ot.verdict(_finding([0.1, 0.0], born_share=born_share))
    assert f"Where it hurts, it hurts mostly {words}" in v.text


def test_adam_joins_the_verdict_when_present():
    v = ot.verdict(_finding([-0.1, 0.0], adam=[-0.2, -0.2]))
    assert "Tuned Adam against tuned SGD: fails less under as_posted gain 0.25, as_posted gain 1" in v.text


def test_section_formats_the_tables(tmp_path):
    f = _finding([-0.1, 0.05])
    text = ot.section(f, ot.verdict(f), {})
    assert "| as_posted | 0.25 | sgd 0.01 → momentum 0.001 |" in text and "-10.0 pp" in text
    assert "the smaller lr" in text


# --------------------------------------------------------------------------- mechanism
from relustudy.studies import optimizer_mechanism as om
from relustudy.studies import optimizer_remedies as orm  # noqa: E402


def _mech(bias_diff, full_diff=0.3, damp_died_low=0.01):
    rev = pd.DataFrame([
        dict(probe=p, init_gain=g, n=500, diff=d, diff_low=d - 0.03, diff_high=d + 0.03, n10=1, n01=0)
        for g in (0.25, 1.0)
        for p, d in (("momentum", full_diff if g == 0.25 else 0.05), ("momentum on biases only", bias_diff),
                     ("momentum on weights only", 0.0))
    ])
    dec = []
    for g in (0.25, 1.0):
        for p in ("momentum", "momentum on biases only", "momentum on weights only", om.INERTIA_PROBE):
            for comp in ("born dead", "alive: died in training", "alive: other failure"):
                low = damp_died_low if (p == om.INERTIA_PROBE and comp == "alive: died in training" and g == 1.0) else -0.01
                dec.append(dict(probe=p, init_gain=g, component=comp, contrib=low + 0.01, contrib_low=low,
                                contrib_high=low + 0.02))
    return om.MechanismFinding(pd.DataFrame(), rev, pd.DataFrame(dec), None, None, 1000)


def test_mechanism_verdict_bias_rule_both_sides_of_the_share():
    assert om.verdict(_mech(bias_diff=om.BIAS_SHARE * 0.3)).key.startswith("bias decay+")
    assert om.verdict(_mech(bias_diff=om.BIAS_SHARE * 0.3 - 0.01)).key.startswith("not bias decay+")
    assert om.verdict(_mech(bias_diff=0.02)).key.startswith("not bias decay+")  # CI reaches below 0


def test_mechanism_verdict_inertia_rule_both_sides():
    assert om.verdict(_mech(0.3, damp_died_low=0.001)).key.endswith("+inertia")
    assert om.verdict(_mech(0.3, damp_died_low=-0.001)).key.endswith("+not inertia")
    assert "At init gain 0.25" in om.verdict(_mech(0.3)).text  # the gain where momentum revives most


# --------------------------------------------------------------------------- remedies
def _remedies(posted_diff, p=1e-4):
    rows_b, rows_v = [], []
    for rem in ("relu, same, randn", "relu, identity, he"):
        for s in orm.SETTINGS:
            d = posted_diff if (rem == "relu, same, randn" and s == "sgd 0.01") else -0.1
            for comp in ("born dead", "alive: died in training", "alive: other failure"):
                rows_b.append(dict(label=f"{rem}|{s}", remedy=rem, setting=s, component=comp, contrib=d / 3,
                                   contrib_low=d / 3 - 0.01, contrib_high=d / 3 + 0.01, diff=d, diff_low=d - 0.02,
                                   diff_high=d + 0.02, rate_a=0.5, rate_b=0.5 + d, p=p, p_holm=p if d else 1.0))
            if s != "sgd 0.01":
                for upd in ("as_posted", "corrected"):
                    for comp in ("born dead", "alive: died in training", "alive: other failure"):
                        rows_v.append(dict(label=f"{rem}|{upd}|{s}", remedy=rem, update=upd, setting=s, component=comp,
                                           contrib=0.0, contrib_low=-0.01, contrib_high=0.01, diff=0.05,
                                           diff_low=0.03, diff_high=0.07, rate_a=0.5, rate_b=0.55, p=p, p_holm=p))
    return orm.RemediesFinding(pd.DataFrame(), pd.DataFrame(rows_v), pd.DataFrame(rows_b), 3000)


def test_remedies_verdict_bias_rule_helps_hurts_or_not():
    assert orm.verdict(_remedies(-0.2)).key == "bias rule helps"
    assert orm.verdict(_remedies(0.2)).key == "bias rule hurts"
    assert orm.verdict(_remedies(0.0)).key == "no difference"
    assert orm.verdict(_remedies(-0.2, p=orm.ALPHA)).key == "no difference"  # not significant after Holm
    v = orm.verdict(_remedies(-0.2))
    assert "adam 0.001 against SGD 0.01 — as_posted: better in 0, worse in 2 of 2 remedies" in v.text


def test_mechanism_section_renders_from_a_small_probe_run():
    from relustudy import Cell
    from relustudy.experiments.probes import PROBES, run_probes

    probes = run_probes((0, 24), cell=Cell(epochs=30), log=lambda m: None)
    f = om.finding((probes, None))
    assert set(f.rates["probe"]) == set(PROBES) and len(f.rates) == 2 * len(PROBES)
    # momentum on the biases only moves the biases as full momentum does: the same revivals
    rv = f.revival.set_index(["probe", "init_gain"])
    for g in (0.25, 1.0):
        assert rv.loc[("momentum on biases only", g), "n10"] == rv.loc[("momentum", g), "n10"]
    v = om.verdict(f)
    text = om.section(f, v, {})
    assert v.text in text and "| 0.25 | momentum on weights only |" in text
    assert f.deaths is None and "Forensics replay" not in text


@pytest.mark.slow  # ~15-40 s: 384 runs in the numpy engine, then 120 paired decompositions
def test_remedies_section_renders_from_the_reduced_experiment(tmp_path):
    from relustudy import load_runs
    from relustudy.runs import catalog as experiments
    from relustudy.runs.grid import run_grid

    g = experiments.get("remedies_optim", reduced=True, out=tmp_path / "r")
    run_grid(g, jobs=1, progress=False, log=lambda m: None, engine="numpy")
    f = orm.finding(load_runs(g.out))
    n_rem = 3  # the reduced version: relu, same x randn/he/xavier
    assert set(f.rates["setting"]) == set(orm.SETTINGS) and len(f.rates) == n_rem * 2 * len(orm.SETTINGS)
    assert f.bias_rule["label"].nunique() == n_rem * len(orm.SETTINGS)  # every remedy x setting: corrected vs posted
    assert f.vs_sgd["label"].nunique() == n_rem * 2 * (len(orm.SETTINGS) - 1)
    sums = f.bias_rule.groupby("label")["contrib"].sum()
    assert np.allclose(sums, f.bias_rule.drop_duplicates("label").set_index("label")["diff"].reindex(sums.index))
    v = orm.verdict(f)
    text = orm.section(f, v, {})
    assert text.index("| relu, same, randn |") < text.index("| relu, same, he |")  # no remedy first
    assert v.text in text
