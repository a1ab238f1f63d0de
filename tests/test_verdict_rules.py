"""The verdict rules of the studies converted from fixed text (issue 25.3): each on both sides of
each threshold, and its borderline branch, on tiny synthetic findings."""
from types import SimpleNamespace

import numpy as np
import pandas as pd

from relustudy.stats import intervals
from relustudy.studies.common import side, versus


def _ns(**kw):
    return SimpleNamespace(**kw)


def test_side_and_versus():
    assert side(0.31, 0.4, 0.3) == "above" and side(0.1, 0.29, 0.3) == "below"
    assert side(0.29, 0.31, 0.3) == side(0.3, 0.4, 0.3) == "borderline"
    assert versus(0.25, 0.2) == "25.0% (threshold 20.0%, 5.0 pp above it)"
    assert versus(0.2, 0.2).endswith("exactly at it)")


def test_final_mse_verdict_on_both_sides():
    from relustudy.studies import final_mse as fm

    def f(relu_mid, smooth_mid, n=1000):
        def row(mid):
            k = int(round(mid * n))
            from relustudy.stats.proportions import proportion_ci
            p = proportion_ci(k, n)
            return dict(n=n, low=0.5, zero=0.5 - mid, middle=p.rate, middle_low=p.ci_low, middle_high=p.ci_high)
        shares = pd.DataFrame({"relu": row(relu_mid), "tanh": row(smooth_mid), "sigmoid": row(smooth_mid)}).T
        return fm.FinalMseFinding(pd.DataFrame(), shares)

    assert fm.verdict(f(0.003, 0.9)).key == "all-or-nothing+between"
    assert fm.verdict(f(0.2, 0.1)).key == "spread+not between"
    v = fm.verdict(f(fm.ALL_OR_NOTHING, fm.IN_BETWEEN))
    assert v.key == "borderline+borderline" and "both readings" in v.text
    assert "of 1,000" in fm.verdict(f(0.003, 0.9)).text


def _mc(diff, lo, hi, p=1e-6):
    return _ns(diff=diff, diff_low=lo, diff_high=hi, rate_a=0.4, rate_b=0.4 + diff, pvalue=p)


def test_thresholds_verdict_judges_conclusions_not_the_rate():
    from relustudy.stats.proportions import proportion_ci
    from relustudy.studies import thresholds as th

    posted = {t: proportion_ci(400 + 28 * (i == 0), 1000) for i, t in enumerate(th.THRESHOLDS)}

    def f(conclusions):
        rows = [dict(threshold=t, change=c, mc=mc, p_holm=p) for c, per in conclusions.items()
                for t, (mc, p) in zip(th.THRESHOLDS, per)]
        return th.ThresholdFinding(posted, pd.DataFrame(rows), {}, 0.99)

    more, less, none = (_mc(0.1, 0.07, 0.13), 1e-9), (_mc(-0.1, -0.13, -0.07), 1e-9), (_mc(0.01, -0.02, 0.04), 0.4)
    v = th.verdict(f({"momentum": [more] * 3, "identity output": [less] * 3}))
    # The rate moves by 2.8 pp (above ROBUST) and yet the conclusions hold: "stable".
    assert v.key == "stable" and "2.8 percentage points" in v.text and "momentum: fails more" in v.text
    assert th.verdict(f({"momentum": [more, more, none]})).key == "borderline"
    assert "reads either as a change or as none" in th.verdict(f({"momentum": [more, none, none]})).text
    assert th.verdict(f({"momentum": [more, less, more]})).key == "moves"
    assert th.conclusion(_mc(0.1, 0.07, 0.13), th.ALPHA - 1e-9) == "fails more"
    assert th.conclusion(_mc(0.1, 0.07, 0.13), th.ALPHA) == "no significant change"


def test_failure_rates_screen_rule_on_both_sides():
    from relustudy.studies import failure_rates as fr

    def f(hw):
        return fr.FailureRatesFinding(pd.DataFrame(), [], None, 1000, hw)

    v = fr.verdict(f(fr.SCREEN_HALF_WIDTH - 0.001))
    assert v.key == "screen" and "±3.4 percentage points (threshold ±3.5)" in v.text
    assert fr.verdict(f(fr.SCREEN_HALF_WIDTH + 0.001)).key == "coarse"


def test_seed_lottery_verdict_on_both_sides_and_borderline():
    from relustudy.studies import seed_lottery as sl

    def f(k, lo, hi):
        a = pd.DataFrame(dict(label=["x", "y"], n=[1000, 1000], kappa=[k, 0.05], kappa_low=[lo, 0.0],
                              kappa_high=[hi, 0.1]))
        return sl.LotteryFinding(pd.DataFrame(), a)

    c = sl.CARRIES
    assert sl.verdict(f(c + 0.1, c + 0.05, c + 0.15)).key == "carries"
    assert sl.verdict(f(c, c - 0.05, c + 0.05)).key == "borderline"
    assert sl.verdict(f(c - 0.2, c - 0.25, c - 0.15)).key == "partly"
    u = sl.UNRELATED
    assert sl.verdict(f(u, u - 0.03, u + 0.03)).key == "borderline"
    v = sl.verdict(f(u - 0.1, u - 0.15, u - 0.05))
    assert v.key == "unrelated" and "1,000 seeds" in v.text


def test_q1_long_verdict_on_both_sides():
    from relustudy.studies import q1_long as ql

    def f(same, ident):
        rows = [dict(activation=a, update="as_posted", output=o, slope=s)
                for o, ss in (("same", same), ("identity", ident)) for a, s in zip(("tanh", "sigmoid"), ss)]
        return ql.Q1LongFinding(pd.DataFrame(rows), pd.DataFrame(), 100_000, (100, 100_000), 10_000, 200)

    p = ql.PLATEAU_SLOPE
    assert ql.verdict(f([p - 0.01, -0.8], [p + 0.01, 0.0])).key == "same:falling,identity:plateau"
    assert ql.verdict(f([p - 0.01, p + 0.01], [np.nan, np.nan])).key == "same:mixed,identity:floor"
    assert "10,000→100,000" in ql.verdict(f([-0.5, -0.5], [-0.5, -0.5])).text


def test_q1_verdict_on_both_sides():
    from relustudy.studies import q1

    def f(out_t, out_s, upd_t, upd_s, p=1e-6):
        rows = [dict(activation=a, lever=lev, mc=None, wx=_ns(median_diff=d, n=1000), p_fail_holm=p, p_mse_holm=p)
                for lev, ds in (("identity output", (out_t, out_s)), ("corrected update", (upd_t, upd_s)))
                for a, d in zip(("tanh", "sigmoid"), ds)]
        return q1.Q1Finding(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(rows), None, intervals.median_ci([]))

    bar = q1.LEVER_DECADES
    assert q1.verdict(f(-bar - 0.1, -bar - 0.1, -0.1, -0.2)).key == "identity output"
    assert q1.verdict(f(-bar - 0.1, -bar - 0.1, -bar, -bar)).key == "identity output+corrected update"
    assert q1.verdict(f(-bar + 0.1, -bar + 0.1, 0.0, 0.0)).key == "neither"
    assert q1.verdict(f(-bar - 0.1, -bar + 0.1, 0.0, 0.0)).key == "borderline"
    assert q1.verdict(f(-bar - 0.1, -bar - 0.1, 0.0, 0.0, p=0.2)).key == "neither"  # not significant


def test_born_dead_verdict_on_both_sides():
    from relustudy.studies import born_dead as bd

    def f(rising, died_share):
        modes = pd.DataFrame([dict(init="randn", output="same", n_fail=100, **{"born dead": 0.0, "died in training":
                                   died_share, "diverged": 1 - died_share, "other failure": 0.0})])
        return bd.BornDeadFinding(pd.DataFrame(dict(depth=[1, 10])), pd.DataFrame(), rising, 10, modes, 5000)

    need = int(np.ceil(bd.RISING_SHARE * 10))
    assert bd.verdict(f(need, 0.9)).key == "rises+died in training"
    assert bd.verdict(f(need - 1, 0.9)).key == "does not rise+died in training"
    assert bd.verdict(f(need, 0.2)).key == "rises+diverged"
    assert bd.verdict(f(need, bd.DOMINANT)).key == "rises+mixed"  # exactly half and half: no mode above DOMINANT
    assert "[Lu2019]" in bd.verdict(f(need, 0.9)).text


def test_phase_verdict_on_both_sides():
    from relustudy.studies import phase as ph

    post = pd.Series(dict(rate=0.4, ci_low=0.37, ci_high=0.43, n=1000, lr=0.01))

    def f(diff, lo, hi, p):
        moves = pd.DataFrame([dict(direction="gain down", lr=0.01, init_gain=0.7, n=1000, rate=0.4 + diff, diff=diff,
                                   low=lo, high=hi, p=p, per_doubling=diff * 2, p_holm=p),
                              dict(direction="lr up", lr=0.0178, init_gain=1.0, n=1000, rate=0.45, diff=0.05,
                                   low=0.03, high=0.07, p=1e-5, per_doubling=0.06, p_holm=1e-5)])
        return ph.PhaseResult(pd.DataFrame(), post, moves, None, pd.DataFrame())

    assert ph.verdict(f(-0.1, -0.13, -0.07, 1e-9)).key == "gain down"
    assert ph.verdict(f(-0.02, -0.05, 0.01, 0.2)).key == "borderline"
    assert ph.verdict(f(-0.02, -0.04, -0.01, ph.ALPHA)).key == "borderline"
    assert ph.verdict(f(0.01, -0.01, 0.03, 0.5)).key == "none"


def test_depth_width_verdict_on_both_sides():
    from relustudy.studies import depth_width as dw

    def f(corrected_less: int, n: int = 4):
        rows = []
        for k in range(n):
            lower = k < corrected_less
            rows += [dict(init="he", hidden=f"2-{k}", update="as_posted", rate=0.5, ci_low=0.45, ci_high=0.55),
                     dict(init="he", hidden=f"2-{k}", update="corrected", rate=0.3 if lower else 0.5,
                          ci_low=0.25 if lower else 0.45, ci_high=0.35 if lower else 0.55)]
        return pd.DataFrame(rows)

    assert dw.verdict(f(3)).key == "corrected"  # 3 of 4 > UPDATE_MAJORITY
    assert dw.verdict(f(2)).key == "mixed"  # 2 of 4 is not more than half
    assert dw.verdict(f(0)).key == "mixed"
    assert dw.verdict(f(3).query("update == 'corrected'")).key == "untested"


def test_theory_verdict_keys():
    from relustudy.studies import theory

    f = theory.TheoryFinding(pd.DataFrame(), {}, {"randn": theory.AGREE_P / 2 + 0.001, "he": 0.5}, theory.AGREE_SE - 0.1)
    assert theory.verdict(f).key == "agree+agree"  # Bonferroni over the 2 inits: 2 * p >= AGREE_P
    f = theory.TheoryFinding(pd.DataFrame(), {}, {"randn": theory.AGREE_P / 2 - 0.001, "he": 0.5}, theory.AGREE_SE + 0.1)
    assert theory.verdict(f).key == "differ+differ"


def test_quirks_deaths_sentence_on_both_sides():
    from relustudy.studies import quirks as q

    # Shares of seeds: the grid's paired n = 100,000 and the replay's 1,000 seeds are different samples.
    def f(extra_deaths, n01=2330, n10=280, replay=1000):
        mc = _ns(n01=n01, n10=n10, n=100_000)
        return _ns(mc=mc, died_ever={"as posted": 100, "corrected update": 100 + extra_deaths},
                   replay_n={"as posted": replay, "corrected update": replay})

    limit = q.DEATHS_SHARE * (2330 - 280) / 100_000 * 1000  # extra deaths per 1,000 replayed seeds at the threshold
    assert q.deaths_text(f(int(limit) - 1)).startswith("deaths in training do not explain")
    assert q.deaths_text(f(int(limit) + 1)).startswith("deaths in training could explain")
    assert "of the replay's 1,000 seeds" in q.deaths_text(f(3)) and "of the 100,000 paired seeds" in q.deaths_text(f(3))
    assert "no net extra failures" in q.deaths_text(f(0, n01=10, n10=20))
    assert "no seeds of both updates" in q.deaths_text(_ns(mc=_ns(n01=1, n10=0, n=10), died_ever={}, replay_n=None))


def test_momentum_step_split_names_the_larger_part_and_skips_no_change():
    from relustudy.studies import optimizer_mechanism as om

    def rates(sgd, damp, full):
        rows = []
        for probe, (r, lo, hi) in (("sgd", sgd), (om.INERTIA_PROBE, damp), ("momentum", full)):
            rows.append(dict(probe=probe, init_gain=1.0, died_alive=r, died_low=lo, died_high=hi, n_alive=500))
        return pd.DataFrame(rows)

    t = om.step_split(rates((0.08, 0.06, 0.11), (0.22, 0.18, 0.26), (0.42, 0.38, 0.47)))
    assert "inertia adds +14.0 and the larger step +20.0" in t and "the step size accounts for more of the +34.0" in t
    t = om.step_split(rates((0.08, 0.06, 0.11), (0.30, 0.26, 0.34), (0.34, 0.30, 0.38)))
    assert "so inertia accounts for more" in t
    assert "no detectable extra deaths" in om.step_split(rates((0.08, 0.06, 0.11), (0.08, 0.06, 0.11), (0.09, 0.07, 0.12)))


def test_million_verdict_names_the_predictor_and_the_born_dead_share_of_failures():
    from relustudy.studies import million as m

    v = m.verdict(_ns(posted=pd.Series(dict(fail_dead=0.7, fail_alive=0.05, dead=0.5))))
    # failures: 0.35 born dead + 0.025 alive -> 93.3% of the failures are output born dead
    assert v.key == "decisive" and v.text.startswith("Whether the output starts dead is the main predictor")
    assert "93.3% of the failures are output born dead" in v.text


def test_tuned_mechanism_is_said_per_stratum():
    from relustudy.studies import optimizer_tuned as ot

    share = ot.MECHANISM_SHARE
    rows = [("as_posted gain 1", 0.08 * (share + 0.05) / 0.08 * 0.08, 0.08), ("corrected gain 1", 0.01, 0.08)]
    t = ot._mechanism(rows, "deaths in training")
    assert "in 1 of these 2 strata" in t and "corrected gain 1 +1.0 pp of +8.0 pp" in t


def test_local_minimum_is_led_by_the_askers_randn_cell():
    from relustudy.studies import local_minimum as lm

    def f(randn_edge):
        esc = pd.DataFrame(dict(update=["corrected"], family=["equal lr"], lr_momentum=[0.01], n=[100], solved=[0.0]))
        return _ns(n_dead=3000, n_edge=randn_edge + 600, edge_inits=pd.Series({"randn": randn_edge, "he": 600}),
                   dead_inits=pd.Series({"randn": 1000, "he": 2000}), escape=esc)

    need = int(1000 * lm.EDGE_SHARE)
    v = lm.verdict(f(3))
    assert v.key == "minimum" and "997 of its 1,000 dead-output runs (all but 3" in v.text and "he: 600 of 2,000" in v.text
    assert lm.verdict(f(need + 1)).key == "qualified"
    assert lm.verdict(f(need - 1)).key == "minimum"
