"""The registry of questions, the Study contract, and verdict rules on both sides of their thresholds."""
import dataclasses

import pandas as pd
import pytest

from relustudy import figures
from relustudy.report.common import Context, Skip
from relustudy.studies import STUDIES, Study, Verdict, render


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
    from relustudy.studies import Figure

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
