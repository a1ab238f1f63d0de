"""The questions of the study, one module each, in report order (:data:`STUDIES`).

A new question is one module defining ``STUDY = Study(...)`` (see :mod:`.base` for the
contract) and one line in :data:`STUDIES`.
"""
from __future__ import annotations

from ..report import experiments as _ex
from ..report import scale as _sc
from ..report import study as _st
from . import basins, how_runs_die, init_predictability, inits, local_minimum, million, posted_cell, quirks, relu_speed, vanishing
from . import optimizer_mechanism, optimizer_remedies, optimizer_tuned
from .base import Context, Figure, Skip, Study, Verdict, render
from .legacy import legacy

STUDIES: list[Study] = [
    legacy("the-data", "The dataset", _st.section_dataset),
    million.STUDY,
    posted_cell.STUDY,
    legacy("theory", "Theory check: how often is the output unit dead at init?", _st.section_theory),
    relu_speed.STUDY,
    local_minimum.STUDY,
    legacy("momentum", "Claim 3 of the posted answer: momentum", _st.section_momentum),
    optimizer_tuned.STUDY,
    optimizer_mechanism.STUDY,
    legacy("q1", "Q1. Why are tanh and sigmoid so slow?", _st.section_q1),
    vanishing.STUDY,
    quirks.STUDY,
    inits.STUDY,
    legacy("final-mse", "Final MSE per activation", _st.section_ecdf),
    legacy("failure-rates", "Failure rate in every cell", _st.section_failure_rates),
    legacy("seed-lottery", "The seed lottery", _st.section_lottery),
    how_runs_die.STUDY,
    basins.STUDY,
    init_predictability.STUDY,
    legacy("thresholds", "How the conclusions move with the solved threshold", _st.section_thresholds),
    legacy("q1-long", "Q1 at the asker's scale", _ex.section_q1_long),
    legacy("born-dead", "Born dead: depth and width", _ex.section_born_dead),
    legacy("remedies", "Remedies on the failing seeds", _ex.section_remedies),
    optimizer_remedies.STUDY,
    legacy("phase", "The phase map: learning rate x init gain", _sc.section_phase),
    legacy("depth-width", "Depth x width", _sc.section_depth_width),
]

__all__ = ["STUDIES", "Context", "Figure", "Skip", "Study", "Verdict", "render"]
