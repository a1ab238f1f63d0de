"""The report's opening (issue 25.1) and the largest-sample selection (issue 25.2): the rules of
"In short" on both sides of their thresholds, its length, no typed numbers, the recipe's cells in
the catalog, the figure, and where the opening sits in the document."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace as _ns

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from relustudy.figures.recipe import remedy_rates
from relustudy.runs import catalog
from relustudy.runs.paths import experiment_dir
from relustudy.stats.intervals import median_ci
from relustudy.stats.proportions import proportion_ci
from relustudy.studies import in_short as ins
from relustudy.studies import samples
from relustudy.studies.base import Study
from relustudy.studies.common import ALPHA, Context

ROW_COLUMNS = ["label", "kind", "source", "n", "k", "rate", "ci_low", "ci_high", "n_pairs", "rate_a", "diff",
               "diff_low", "diff_high", "n10", "n01", "p", "p_holm"]


def _row(label, kind, rate, *, width=0.003, posted=0.3718, p=1e-50, n=100_000):
    return dict(label=label, kind=kind, source="confirm", n=n, k=int(rate * n), rate=rate, ci_low=rate - width,
                ci_high=rate + width, n_pairs=n, rate_a=posted, diff=rate - posted, diff_low=rate - posted - width,
                diff_high=rate - posted + width, n10=1000, n01=100, p=p, p_holm=p)


def _finding(rows=None, dead_share=0.82, strata=None) -> ins.InShortFinding:
    labels = {r.kind: r.label for r in ins.RECIPE}
    if rows is None:
        rows = [_row("identity output unit", "remedy", 0.0212), _row("leaky ReLU", "remedy", 0.0673),
                _row(ins.WARNING_LABEL, "warning", 0.5675), _row(ins.MOMENTUM_ROWS["same lr"], "momentum", 0.4741),
                _row(ins.MOMENTUM_ROWS["matched step"], "momentum", 0.4291)]
    if strata is None:
        strata = pd.DataFrame([
            dict(label=ins.MOMENTUM_ROWS["same lr"], stratum="output born dead", n=45_000, rate_a=0.66, rate_b=0.61,
                 diff=-0.05, diff_low=-0.06, diff_high=-0.04, p=1e-20),
            dict(label=ins.MOMENTUM_ROWS["same lr"], stratum="output alive at init", n=55_000, rate_a=0.14,
                 rate_b=0.35, diff=0.21, diff_low=0.2, diff_high=0.22, p=1e-200)])
    assert labels  # the registry has every kind the rules read
    k = int(round(dead_share * 371_787))
    return ins.InShortFinding(
        posted=proportion_ci(371_787, 1_000_000), posted_source="million", born_dead=proportion_ci(452_400, 1_000_000),
        fail_if_born_dead=proportion_ci(297_500, 452_400), dead_of_failed=proportion_ci(k, 371_787),
        at_zero_loss=proportion_ci(303_566, 303_566), zero_loss=0.5966666666666667,
        rows=pd.DataFrame(rows, columns=ROW_COLUMNS), strata=strata, speed=median_ci(np.arange(100.0, 301.0)),
        q1=None)


# --------------------------------------------------------------------------- rules, both sides


def test_mechanism_rule_on_both_sides_of_its_share():
    f = _finding()
    at = replace(f, dead_of_failed=_ns(rate=ins.MECHANISM_SHARE))
    below = replace(f, dead_of_failed=_ns(rate=np.nextafter(ins.MECHANISM_SHARE, 0)))
    assert ins.mechanism_rule(at).key == "dead-output" and "0.597" in ins.mechanism_rule(at).text
    assert ins.mechanism_rule(below).key == "mixed"


def test_momentum_rule_follows_significance_and_strata():
    f = _finding()
    v = ins.momentum_rule(f)
    assert v.key == ("same lr:hurts,matched step:hurts,output born dead:helps,output alive at init:hurts")
    assert v.text.startswith("Momentum, the posted answer's fix, does not help")
    assert "helps seeds whose output starts dead (66% → 61%)" in v.text
    rows = f.rows.copy()
    i = rows.index[rows["label"] == ins.MOMENTUM_ROWS["matched step"]][0]
    rows.loc[i, ["diff", "p_holm"]] = [-0.01, np.nextafter(ALPHA, 0)]
    assert ins.momentum_rule(replace(f, rows=rows)).key.startswith("same lr:hurts,matched step:helps")
    assert ins.momentum_rule(replace(f, rows=rows)).text.startswith("Momentum, the posted answer's fix, helps")
    rows.loc[i, "p_holm"] = ALPHA  # not below ALPHA: no change
    assert ins.momentum_rule(replace(f, rows=rows)).key.startswith("same lr:hurts,matched step:no change")
    strata = f.strata.assign(p=ALPHA)
    assert ins.momentum_rule(replace(f, strata=strata)).key.endswith(
        "output born dead:no change,output alive at init:no change")
    none = replace(f, rows=f.rows[f.rows["kind"] != "momentum"], strata=f.strata.iloc[:0])
    assert ins.momentum_rule(none).key == "same lr:missing,matched step:missing"


def test_recipe_rule_on_both_sides_of_good_rate_and_warns():
    f = _finding()
    v = ins.recipe_rule(f)
    assert v.key == "fix" and v.text.startswith("Use identity output unit (2.1%)")
    assert "Do not fix only the bias bug: that alone raises failures to 57%." in v.text
    rows = f.rows.copy()
    rows.loc[0, "ci_high"] = ins.GOOD_RATE  # at the bound: still recommended outright
    assert ins.recipe_rule(replace(f, rows=rows)).key == "fix"
    rows.loc[0, "ci_high"] = np.nextafter(ins.GOOD_RATE, 1)
    v = ins.recipe_rule(replace(f, rows=rows))
    assert v.key == "best-only" and "the best is identity output unit (2.1%)" in v.text
    rows["p_holm"] = np.where(rows["kind"] == "remedy", ALPHA, rows["p_holm"])  # no remedy significant
    v = ins.recipe_rule(replace(f, rows=rows))
    assert v.key == "none" and "Do not fix only the bias bug" in v.text
    rows["p_holm"] = ALPHA  # nor the warning row: no warning
    assert "bias bug" not in ins.recipe_rule(replace(f, rows=rows)).text


# --------------------------------------------------------------------------- the opening's text

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?%?")


def _allowed_numbers(f: ins.InShortFinding) -> set[str]:
    """Every way the opening formats a number of the finding (or a named constant, or a recipe label)."""
    values, counts = [f.zero_loss, ins.GOOD_RATE, ins.MECHANISM_SHARE], []
    for p in (f.posted, f.born_dead, f.fail_if_born_dead, f.dead_of_failed, f.at_zero_loss):
        values += [p.rate, p.ci_low, p.ci_high]
        counts += [p.k, p.n]
    for table in (f.rows, f.strata):
        for c in table.select_dtypes("number").columns:
            values += list(table[c].astype(float))
    out = {f"{v:,}" for v in counts} | {"0"}  # "≤ 0": the definition of a dead unit
    for v in values:
        out |= {f"{100 * v:.{d}f}%" for d in (0, 1, 2)} | {f"{v:.3f}"}
    out |= {m for r in ins.RECIPE for m in NUMBER.findall(r.label)}
    return out


def test_opening_has_no_typed_numbers_and_fits_one_screen():
    f = _finding()
    text = ins.in_short(f)
    assert len(text.split()) <= 200
    stray = [m for m in NUMBER.findall(text) if m not in _allowed_numbers(f)]
    assert stray == []
    # A number that is not the finding's would be caught: the text follows the finding.
    other = replace(f, posted=proportion_ci(412_345, 1_000_000))
    assert "41.2% of 1,000,000" in ins.in_short(other) and "37.2%" not in ins.in_short(other)


def test_answers_are_at_most_three_sentences_with_a_link():
    q1 = pd.DataFrame([dict(activation=a, output=o, n=1000, median=1e-4, low=9e-5, high=2e-4, source="default")
                       for a in ("tanh", "sigmoid") for o in ("same", "identity")])
    for f in (_finding(), replace(_finding(), q1=q1), replace(_finding(), q1=q1.assign(n=100_000, source="confirm_q1"))):
        for q, anchor, text in ins.answers(f):
            sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\[])", text.strip()) if s]
            assert len(sentences) <= 3, (q, sentences)
            assert re.fullmatch(r"[a-z0-9-]+", anchor)
    from test_generality_study import _finding as generality_finding
    g = generality_finding({"posted": 0.4, "posted_std": 0.5, "grid64": 0.2}, contrast_diff=-0.2)
    answers = {anchor: text for _, anchor, text in ins.answers(replace(_finding(), generality=g))}
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\[])", answers["generality"]) if s]
    assert len(sentences) == 3 and sentences[0].startswith("The lottery survives standardisation")
    assert "generality" not in {anchor for _, anchor, _ in ins.answers(_finding())}  # no data, no answer
    q1_answer = {q: t for q, _, t in ins.answers(replace(_finding(), q1=q1))}
    assert any("n = 1,000 seeds each, from `default`; not yet confirmed on 100,000" in t for t in q1_answer.values())
    q1_answer = {q: t for q, _, t in ins.answers(replace(_finding(), q1=q1.assign(n=100_000, source="confirm_q1")))}
    assert any("n = 100,000 seeds each, from `confirm_q1`)" in t for t in q1_answer.values())


@pytest.mark.skipif(not (experiment_dir("million") / "runs.parquet").exists(), reason="needs data/million")
def test_opening_on_the_shipped_data():
    from relustudy import load_runs

    exps = {n: (load_runs(experiment_dir(n)), None) for n in ("million", "confirm")
            if (experiment_dir(n) / "runs.parquet").exists()}
    ctx = Context(runs=pd.DataFrame(), curves=None, figures_dir=Path("."), report_dir=Path("."), experiments=exps)
    f = ins.STUDY.finding(ins.STUDY.select(ctx))
    text = ins.in_short(f)
    assert len(text.split()) <= 200
    assert [m for m in NUMBER.findall(text) if m not in _allowed_numbers(f)] == []
    assert f.posted.n == 1_000_000 and (f.rows["n"] >= samples.CONFIRMED_SEEDS).all()
    assert f"{f.zero_loss:.3f}" == "0.597"


# --------------------------------------------------------------------------- samples and the catalog


def _runs(change, seeds, cat=True):
    key = samples.cell_key(change)
    ids = pd.Categorical([key] * len(seeds)) if cat else np.array([key] * len(seeds), dtype=object)
    return pd.DataFrame({"cell_id": ids, "seed": np.asarray(seeds, np.uint32)})


def test_largest_picks_the_biggest_sample_of_the_cell():
    he = {"init": "he"}
    ctx = Context(runs=_runs(he, range(3), cat=False), curves=None, figures_dir=Path("."), report_dir=Path("."),
                  experiments={"small": (_runs(he, range(2)), None),
                               "big": (pd.concat([_runs(he, [9, 7, 8]), _runs({}, range(50))]), None),
                               "other": (_runs({}, range(100)), None)})
    s = samples.largest(ctx, he)
    assert s.name == "big" and s.n == 3 and list(s.runs["seed"]) == [7, 8, 9] and not s.confirmed
    assert samples.largest(ctx, {}).name == "other"
    assert samples.largest(ctx, {"init": "xavier"}) is None
    assert samples.largest(ctx, {"no_such_factor": 1}) is None  # a recipe row for a later factor
    table, found = samples.largest_frame(ctx, {"he": he, "posted": {}}, common_seeds=True)
    assert len(table) == 6 and sorted(set(table["seed"])) == [7, 8, 9]
    assert {k: s.name for k, s in found.items()} == {"he": "big", "posted": "other"}


def test_confirm_pairs_with_million_and_holds_every_recipe_cell():
    million, confirm, q1 = (catalog.get(n) for n in ("million", "confirm", "confirm_q1"))
    m_cells, c_cells = set(million.cells()), set(confirm.cells())
    assert not m_cells & c_cells and not set(q1.cells()) & (m_cells | c_cells)  # nothing retrained
    for g in (confirm, q1):
        assert all(p.seeds == (0, catalog.CONFIRM_SEEDS) for p in g.parts)
        assert catalog.CONFIRM_SEEDS >= samples.CONFIRMED_SEEDS
        assert g.columns == "compact" and g.track_output
    assert all(p.seeds[0] == 0 and p.seeds[1] >= catalog.CONFIRM_SEEDS for p in million.parts)  # the same seeds
    from relustudy.core.schema import cell_id

    made = {cell_id(c) for c in m_cells | c_cells}
    # The settings' rows (standardised inputs, the frameworks' inits, the full batch) come from
    # generality's parts at 100,000 seeds, the same seeds 0.. as million's.
    big = [p for p in catalog.get("generality").parts if p.seeds == (0, catalog.GENERALITY_SEEDS_MAIN)]
    assert big and catalog.GENERALITY_SEEDS_MAIN >= samples.CONFIRMED_SEEDS
    made |= {cell_id(c) for p in big for c in p.cells()}
    for r in ins.RECIPE:
        assert samples.cell_key(r.change) in made, r.label
    assert {samples.cell_key(c) for c in ins.Q1_CELLS} <= {cell_id(c) for c in q1.cells()}


# --------------------------------------------------------------------------- figure and document


def test_remedy_rates_draws_one_bar_per_row():
    f = _finding()
    ax = remedy_rates(f.rows, y="label", hue="kind", reference=0.37, reference_label="posted")
    assert isinstance(ax, plt.Axes) and len(ax.patches) == len(f.rows)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(f.rows["label"])
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="no column 'nope'"):
        remedy_rates(f.rows, y="nope")


def test_opening_comes_first(tmp_path):
    from relustudy.report import document

    def toy(name, body):
        return Study(name=name, title=name, select=lambda c: 0, finding=lambda d: d,
                     section=lambda f, v, l: body, answer=lambda f, v: f"answer of {name}")

    ctx = Context(runs=pd.DataFrame({"epochs": [5000]}), curves=None, figures_dir=tmp_path, report_dir=tmp_path)
    text = document.build(ctx, studies=[toy("other", "OTHER BODY"), toy("in-short", "OPENING BODY")])
    assert text.index("OPENING BODY") < text.index("## Findings, section by section") < text.index("## Glossary") \
        < text.index("OTHER BODY")
    assert "answer of other" in text and "answer of in-short" in text
