"""The shape of one question of the study: :class:`Study`, its :class:`Verdict`, and how a
report renders it.

A study is one module under ``relustudy/studies/`` that defines ``STUDY = Study(...)``:

* ``select(ctx) -> data``: the rows (or stored tables) the question needs, from the
  :class:`~relustudy.studies.common.Context`; raises :class:`Skip` with the reason when the
  data are not there. It may read another study's finding with ``ctx.finding(OTHER)``.
* ``finding(data) -> result``: the question's named result, computed once per report (pure:
  no I/O, no plotting). The answers paragraph, the section and other studies format it.
* ``verdict(result) -> Verdict``: the sentence the data support, chosen by a rule over the
  result with thresholds named as module constants (tested on both sides); ``None`` for a
  descriptive section that claims nothing.
* ``figures(result) -> [Figure]``: matplotlib figures with a file name and alt text; the
  report saves them and hands their markdown links to ``section``.
* ``section(result, verdict, links) -> str``: the section's markdown body (no heading).
* ``answer(result, verdict) -> str``: one short paragraph for the report's opening
  ("Findings, section by section"); ``None`` keeps the study out of it.

Adding a question is one module and one line in :data:`relustudy.studies.STUDIES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from relustudy.studies.common import Context, Skip

__all__ = ["Context", "Figure", "Skip", "Study", "Verdict", "render"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a study's verdict rule.

    ``key`` names the branch the rule took (tests assert on it), ``text`` is the sentence with
    the numbers it rests on.
    """

    key: str
    text: str


@dataclass(frozen=True)
class Figure:
    """A drawn figure (matplotlib Figure, Axes or seaborn grid) to save as ``name`` (a .png)."""

    name: str
    draw: Any
    alt: str


@dataclass(frozen=True)
class Study:
    """One question of the study; see the module docstring for each callable's contract."""

    name: str  # anchor in the report and key of its finding: lowercase words joined by "-"
    title: str  # the section's heading
    select: Callable[[Context], Any]
    finding: Callable[[Any], Any]
    section: Callable[[Any, "Verdict | None", Mapping[str, str]], str]
    verdict: Callable[[Any], Verdict] | None = None
    figures: Callable[[Any], Sequence[Figure]] | None = None
    answer: Callable[[Any, "Verdict | None"], str] | None = None
    notes: Mapping[str, str] = field(default_factory=dict)  # free-form: e.g. where stored data come from
    # The finding is an expensive result over large tables: ``make_report.py --store`` stores it
    # (data/stored), keyed by the content of every data file the report read and the package's
    # source, and reports read it back (Context.finding).
    stored: bool = False

    def __post_init__(self):
        if not self.name or not all(part.isalnum() for part in self.name.split("-")) or self.name != self.name.lower():
            raise ValueError(f"invalid study name {self.name!r}; allowed: lowercase letters/digits joined by '-'")


@dataclass(frozen=True)
class Rendered:
    """A study rendered for the document: its section markdown and its opening paragraph."""

    study: Study
    section: str
    answer: str | None
    verdict: Verdict | None


def verdict_of(study: Study, ctx: Context) -> Verdict | None:
    """The study's verdict on this context's data (Skip if its finding cannot be computed)."""
    result = ctx.finding(study)
    return study.verdict(result) if study.verdict else None


def render(study: Study, ctx: Context) -> Rendered:
    """Compute (once) and format one study; raises :class:`Skip` if its data are missing."""
    result = ctx.finding(study)
    verdict = study.verdict(result) if study.verdict else None
    links = {}
    for fig in study.figures(result) if study.figures else ():
        links[fig.name] = ctx.fig(fig.draw, fig.name, fig.alt)
    body = study.section(result, verdict, links)
    heading = f'<a id="{study.name}"></a>\n\n## {study.title}\n\n'
    answer = study.answer(result, verdict) if study.answer else None
    return Rendered(study, heading + body.strip() + "\n", answer, verdict)
