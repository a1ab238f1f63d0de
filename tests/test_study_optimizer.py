"""The optimizer studies (issue 17): verdict rules on both sides of their thresholds, sections
rendered from small tables."""
import numpy as np
import pandas as pd
import pytest

from relustudy.optimizer_analysis import TunedTables
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


def test_adam_joins_the_verdict_when_present():
    v = ot.verdict(_finding([-0.1, 0.0], adam=[-0.2, -0.2]))
    assert "Tuned Adam against tuned SGD: fails less under as_posted gain 0.25, as_posted gain 1" in v.text


def test_section_formats_the_tables(tmp_path):
    f = _finding([-0.1, 0.05])
    text = ot.section(f, ot.verdict(f), {})
    assert "| as_posted | 0.25 | sgd 0.01 → momentum 0.001 |" in text and "-10.0 pp" in text
    assert "the smaller lr" in text
