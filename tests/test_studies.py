"""The registry of questions, the Study contract, and verdict rules on both sides of their thresholds."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from relustudy.figures import cells as figures
from relustudy.studies.common import Context, Skip
from relustudy.studies import STUDIES
from relustudy.studies.base import Study, Verdict, render


def test_registry_names_are_unique_anchors():
    names = [s.name for s in STUDIES]
    assert len(names) == len(set(names))
    assert all(isinstance(s, Study) for s in STUDIES)
    with pytest.raises(ValueError, match="allowed: lowercase"):
        Study(name="Bad Name", title="t", select=lambda c: 0, finding=lambda d: d, section=lambda f, v, l: "")


def test_render_computes_the_finding_once_and_saves_figures(tmp_path):
    calls = []

    def finding(data):
        calls.append(data)
        return data * 2

    def figs(f):
        return [figures_facet_example(f)]

    study = Study(name="toy-question", title="A toy", select=lambda ctx: 21, finding=finding,
                  verdict=lambda f: Verdict("big" if f > 40 else "small", f"f = {f}"), figures=figs,
                  section=lambda f, v, links: f"{v.text}\n\n{links['toy.png']}",
                  answer=lambda f, v: f"toy answer {f}")
    ctx = Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path)
    out = render(study, ctx)
    assert out.verdict.key == "big" and out.answer == "toy answer 42"
    assert out.section.startswith('<a id="toy-question"></a>\n\n## A toy\n\nf = 42\n\n![toy](figures/toy.png)')
    assert ctx.finding(study) == 42 and len(calls) == 1  # cached
    assert (tmp_path / "figures" / "toy.png").stat().st_size > 1000

    missing = dataclasses.replace(study, name="missing", select=lambda ctx: (_ for _ in ()).throw(Skip("no data")))
    with pytest.raises(Skip, match="no data"):
        render(missing, ctx)


def figures_facet_example(f):
    from relustudy.studies.base import Figure

    data = pd.DataFrame({"x": [1, 2, 3, 4], "y": [f, 1, 2, 3], "p": ["a", "a", "b", "b"]})
    fig = figures.facet(data, lambda sub, ax: ax.plot(sub["x"], sub["y"]), col="p")
    assert [ax.get_title() for ax in fig.axes] == ["p=a", "p=b"]
    return Figure("toy.png", fig, "toy")


def test_posted_cell_verdict_on_both_sides_of_its_thresholds():
    from types import SimpleNamespace

    from relustudy.studies import posted_cell as pc

    def f(acc):
        dead = SimpleNamespace(accuracy=acc, auroc_dead=0.9, p_fail_dead=0.8, p_fail_alive=0.05)
        return SimpleNamespace(dead=dead)

    assert pc.verdict(f(pc.DECIDES + 0.001)).key == "decides"
    assert pc.verdict(f(pc.DECIDES - 0.001)).key == "partly"
    assert pc.verdict(f(pc.PARTLY - 0.001)).key == "weak"
    assert "right for 90.1% of the seeds" in pc.verdict(f(0.901)).text


# --------------------------------------------------------------------------- verdict rules, both sides


def _ns(**kw):
    from types import SimpleNamespace

    return SimpleNamespace(**kw)


def test_million_verdict_on_both_sides_of_its_gaps():
    from relustudy.studies import million as m

    def f(fd, fa):
        return _ns(posted=pd.Series(dict(fail_dead=fd, fail_alive=fa, dead=0.45)))

    assert m.verdict(f(0.66, 0.66 - m.DECISIVE_GAP - 0.01)).key == "decisive"
    assert m.verdict(f(0.66, 0.66 - m.DECISIVE_GAP + 0.01)).key == "partial"
    assert m.verdict(f(0.30, 0.30 - m.MINOR_GAP + 0.01)).key == "minor"


def test_million_screen_gap_rule_on_both_sides():
    """How much of the screen's gap to the million its born-dead excess explains (EXPLAINED_SHARE)."""
    from relustudy.studies import million as m

    def f(fail_dead):  # screen: 40% fail; population: 37.2% fail, 45% born dead; P(fail | alive) 10%
        return _ns(default=_ns(rate=0.40), posted=pd.Series(dict(rate=0.372, dead=0.45)),
                   reweighted=fail_dead * 0.45 + 0.10 * 0.55)

    # reweighted 0.386 closes 0.014 of the 0.028 gap: exactly half
    assert m.screen_gap_rule(f((0.386 - 0.055) / 0.45 + 1e-6)).key == "sampling"
    assert m.screen_gap_rule(f((0.386 - 0.055) / 0.45 - 1e-6)).key == "explains"
    assert "of the +2.80 percentage points" in m.screen_gap_rule(f(0.7)).text


def test_local_minimum_verdict_on_both_sides():
    from relustudy.studies import local_minimum as lm

    def f(n_edge, solved):
        esc = pd.DataFrame(dict(update=["corrected"], family=["equal lr"], lr_momentum=[0.01], n=[100], solved=[solved]))
        return _ns(n_dead=1000, n_edge=n_edge, edge_inits=pd.Series({"he": n_edge}), escape=esc)

    assert lm.verdict(f(int(1000 * lm.EDGE_SHARE) + 1, 0.0)).key == "qualified"
    assert lm.verdict(f(int(1000 * lm.EDGE_SHARE) - 1, 0.0)).key == "minimum"
    assert lm.verdict(f(0, lm.ESCAPE + 0.01)).key == "minimum+escape"
    assert "does not leave it" in lm.verdict(f(0, lm.ESCAPE - 0.01)).text


def test_quirks_verdict_on_both_sides():
    from relustudy.studies import quirks as q

    def f(born):
        mc = _ns(n01=233, n10=28, rate_a=0.384, rate_b=0.589, diff=0.205, diff_low=0.17, diff_high=0.23, pvalue=1e-9,
                 n=500_000)
        return _ns(mc=mc, broken_born_dead=born, rescued_born_dead=0, sample="`million` (as posted)")

    need = int(np.ceil(q.REVIVAL_SHARE * 205))
    assert q.verdict(f(need)).key == "revival" and "205 extra failures" in q.verdict(f(need)).text
    assert q.verdict(f(need - 1)).key == "other"
    assert "n = 500,000 paired seeds from `million` (as posted)" in q.verdict(f(need)).text


def test_how_runs_die_verdict_on_both_sides():
    from relustudy.stats import intervals
    from relustudy.analysis import vocabulary as vocab
    from relustudy.experiments.forensics import EARLY_EPOCHS, LATE_EPOCHS
    from relustudy.studies import how_runs_die as hd

    def f(epochs):
        m = intervals.median_ci(np.asarray(epochs, float))
        h = vocab.Rate(len(epochs), 500, len(epochs) / 500, 0, 1, "outputs alive at init")
        return _ns(median={hd.POSTED: m}, hazard={hd.POSTED: h}, scale=None)

    assert hd.verdict(f([1] * 30)).key == "early"
    v = hd.verdict(f([2] * 16 + [EARLY_EPOCHS + 50] * 14))
    assert v.key == "borderline" and "reads as deaths within" in v.text
    # A CI that only touches the threshold (median 10 against EARLY_EPOCHS 10) is borderline too.
    assert hd.verdict(f([EARLY_EPOCHS] * 30)).key == "borderline"
    assert hd.verdict(f([EARLY_EPOCHS - 1] * 30)).key == "early"
    assert hd.verdict(f([LATE_EPOCHS] * 30)).key == "borderline"
    assert hd.verdict(f([LATE_EPOCHS + 5] * 30)).key == "late"
    assert hd.verdict(f([50] * 30)).key == "spread"
    assert hd.verdict(f([])).key == "none"
    # With data/million's engine timing, the rule reads it instead of the replay's 1,000 seeds.
    big = intervals.median_ci(np.asarray([3] * 900 + [20] * 100, float))
    both = _ns(**{**vars(f([LATE_EPOCHS + 5] * 30)), "scale": (vocab.Rate(1000, 20_000, 0.05, 0.04, 0.06, "outputs alive at init"), big)})
    v = hd.verdict(both)
    assert v.key == "early" and "1,000 of the 20,000 outputs alive at init" in v.text and "data/million" in v.text


def test_relu_speed_verdict_on_both_sides():
    from relustudy.studies import relu_speed as rs

    def f(relu_rate, tanh_rate=0.03):
        rows = [dict(activation="relu", lr=0.01, a=20, b=50, n=600, median=2.0, low=1.9, high=2.1, error_b=0.02),
                dict(activation="relu", lr=0.01, a=50, b=100, n=600, median=relu_rate, low=relu_rate * 0.9,
                     high=relu_rate * 1.1, error_b=0.004),
                dict(activation="tanh", lr=0.1, a=200, b=500, n=600, median=tanh_rate, low=tanh_rate * 0.9,
                     high=tanh_rate * 1.1, error_b=0.005)]
        return _ns(descent=pd.DataFrame(rows))

    # per unit of lr (relu's 0.01 vs tanh's 0.1), the ratio is relu_rate / (tanh_rate / 10)
    v = rs.verdict(f(rs.STEEPER * 0.003 * 1.25))  # lower bound 1.25 * 0.9 / 1.1 > 1: above
    assert v.key == "steeper" and "epochs 50–100" in v.text and "epochs 200–500" in v.text  # the last-decade windows
    assert rs.verdict(f(rs.STEEPER * 0.003 * 0.8)).key == "comparable"  # upper bound 0.8 * 1.1 / 0.9 < 1
    assert rs.verdict(f(rs.STEEPER * 0.003)).key == "borderline"
    assert rs.verdict(_ns(descent=None)).key == "untested"
    assert rs.verdict(_ns(descent=f(1.0).descent.query("activation == 'relu'"))).key == "untested"


def test_inits_and_momentum_verdicts_follow_significance():
    from relustudy.studies import inits
    from relustudy.studies import momentum

    def mc(diff):
        return _ns(diff=diff, diff_low=diff - 0.01, diff_high=diff + 0.01, rate_a=0.4, rate_b=0.4 + diff, n=100_000)

    rows = pd.DataFrame(dict(update=["as_posted"] * 2 + ["corrected"] * 2, init=["he", "xavier"] * 2,
                             mc=[mc(0.1), mc(0.1), mc(-0.1), mc(0.01)], p_fail_holm=[1e-5, 1e-5, 1e-5, 0.5],
                             sample_b=["confirm"] * 4))
    v = inits.verdict(_ns(rows=rows))
    assert v.key == "as_posted:worse,corrected:mixed" and "n = 100,000 from `confirm`" in v.text
    post = pd.DataFrame(dict(family=["equal lr", "matched step"], lr=[0.01, 0.01], lr_momentum=[0.01, 0.001],
                             rate_a=[0.38, 0.38], rate_b=[0.5, 0.3], rate_diff=[0.12, -0.08], diff_low=[0.1, -0.1],
                             diff_high=[0.14, -0.06], p_fail_holm=[1e-6, 1e-3], n_pairs=[1000, 1000]))
    v = momentum.verdict(_ns(posted=post, largest=None))
    assert v.key == "equal lr:hurts,matched step:helps" and v.text.startswith("Momentum helps the posted cell only")
    assert "n = 1,000 paired seeds (the screen)" in v.text
    post["p_fail_holm"] = [0.2, 0.3]
    assert momentum.verdict(_ns(posted=post, largest=None)).key == "equal lr:no change,matched step:no change"
    # The largest samples, when there, decide (issue 25.2): here they reverse the screen's matched step.
    big = post.assign(rate_b=[0.47, 0.43], rate_diff=[0.10, 0.06], diff_low=[0.09, 0.05], diff_high=[0.11, 0.07],
                      p_fail_holm=[1e-50, 1e-40], n_pairs=[100_000, 500_000], sample_a="million",
                      sample_b=["confirm", "million"])
    v = momentum.verdict(_ns(posted=post, largest=big))
    assert v.key == "equal lr:hurts,matched step:hurts" and "n = 100,000 paired seeds (`million` and `confirm`)" in v.text


def test_vanishing_verdict_on_all_three_sides():
    from relustudy.studies import vanishing as va

    def f(deriv, layer1):
        rows = [dict(activation=a, output=o, epoch=5000, grad_layer1=layer1, grad_layer2=0.01, grad_output=0.01,
                     output_derivative=deriv if o == "same" else 1.0, residual_rms=0.02, n=200)
                for a in ("tanh", "sigmoid") for o in ("same", "identity")]
        return va.VanishingFinding(pd.DataFrame(rows), pd.DataFrame())

    assert va.verdict(f(va.VANISHED - 0.01, 0.01)).key == "output"
    assert va.verdict(f(va.VANISHED + 0.01, 0.01 * va.DEPTH_VANISHING / 2)).key == "depth"
    assert va.verdict(f(va.VANISHED + 0.01, 0.01)).key == "error"
    with pytest.raises(Skip, match="run_gradient_trace"):
        va.verdict(va.VanishingFinding(None, pd.DataFrame()))


def test_vanishing_reads_every_recorded_epoch():
    from relustudy.studies import vanishing as va

    def f(early_layer1, per_error_same):
        # Two epochs; the output-layer gradient / residual is per_error_same[k] with the saturating output, 1 with identity.
        rows = [dict(activation="sigmoid", output=o, epoch=e, grad_layer1=(early_layer1 if e == 1 else 0.01),
                     grad_layer2=0.01, grad_output=0.01 * (p if o == "same" else 1.0), output_derivative=0.2,
                     residual_rms=0.01, n=200)
                for e, p in zip((1, 5000), per_error_same) for o in ("same", "identity")]
        return va.VanishingFinding(pd.DataFrame(rows), pd.DataFrame())

    v = va.verdict(f(0.01, (0.5, 0.5)))
    assert v.key == "error" and "a roughly constant factor" in v.text
    v = va.verdict(f(0.01, (0.5, 0.5 / (va.CONSTANT_FACTOR + 0.1))))
    assert v.key == "error" and "not a constant factor" in v.text and "(epoch 1)" in v.text
    assert "a roughly constant factor" in va.verdict(f(0.01, (0.5, 0.5 / (va.CONSTANT_FACTOR - 0.1)))).text
    v = va.verdict(f(0.01 * 0.5 * va.DEPTH_VANISHING, (0.5, 0.5)))
    assert v.key == "error+early depth" and "sigmoid/identity at epoch 1 (" in v.text


def test_remedies_verdict_on_both_sides():
    from relustudy.studies import remedies as rm

    def f(rate):
        t = pd.DataFrame(dict(label=["momentum", "leaky_relu"], rate=[rate, 0.8], ci_low=[rate - 0.02, 0.78],
                              ci_high=[rate + 0.02, 0.82], of=[1000, 1000], b_rate=[0.1, 0.01], of_solved=[2000, 2000]))
        return rm.RemediesFinding(pd.DataFrame(), t)

    assert rm.verdict(f(rm.GOOD_RESCUE + 0.01)).key == "fix"
    v = rm.verdict(f(rm.GOOD_RESCUE - 0.01))
    assert v.key == "weak" and "leaky_relu rescues 80.0%" in v.text


def test_theory_and_threshold_sentences_follow_their_rules():
    from relustudy.studies import theory

    assert "agree with the computation" in theory.agreement(theory.AGREE_P + 0.01, 1.0)
    assert "differ from the computation" in theory.agreement(theory.AGREE_P - 0.01, 1.0)
    assert "differ by 3.5 standard errors" in theory.agreement(0.5, theory.AGREE_SE + 0.5)
    assert "(threshold 0.05, 0.45 above it)" in theory.agreement(0.5, theory.AGREE_SE + 0.5)
