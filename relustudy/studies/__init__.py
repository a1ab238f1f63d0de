"""The questions of the study, one module each, in report order (:data:`STUDIES`).

A new question is one module defining ``STUDY = Study(...)`` (see :mod:`.base` for the
contract) and one line in :data:`STUDIES`.
"""
from __future__ import annotations

from relustudy.studies import basins
from relustudy.studies import born_dead
from relustudy.studies import cells
from relustudy.studies import failure_rates
from relustudy.studies import final_mse
from relustudy.studies import generality
from relustudy.studies import how_runs_die
from relustudy.studies import in_short
from relustudy.studies import init_predictability
from relustudy.studies import inits
from relustudy.studies import local_minimum
from relustudy.studies import million
from relustudy.studies import momentum
from relustudy.studies import optimizer_mechanism
from relustudy.studies import optimizer_remedies
from relustudy.studies import optimizer_tuned
from relustudy.studies import phase
from relustudy.studies import posted_cell
from relustudy.studies import q1
from relustudy.studies import q1_long
from relustudy.studies import quirks
from relustudy.studies import randomness
from relustudy.studies import remedies
from relustudy.studies import depth_width
from relustudy.studies import relu_speed
from relustudy.studies import seed_lottery
from relustudy.studies import the_data
from relustudy.studies import theory
from relustudy.studies import thresholds
from relustudy.studies import vanishing
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict, render

STUDIES: list[Study] = [
    in_short.STUDY,  # the opening (report.document.OPENING): the answer in one screen
    the_data.STUDY,
    million.STUDY,
    posted_cell.STUDY,
    theory.STUDY,
    relu_speed.STUDY,
    local_minimum.STUDY,
    momentum.STUDY,
    optimizer_tuned.STUDY,
    optimizer_mechanism.STUDY,
    q1.STUDY,
    vanishing.STUDY,
    quirks.STUDY,
    inits.STUDY,
    final_mse.STUDY,
    failure_rates.STUDY,
    cells.STUDY,
    seed_lottery.STUDY,
    how_runs_die.STUDY,
    basins.STUDY,
    randomness.STUDY,
    init_predictability.STUDY,
    thresholds.STUDY,
    q1_long.STUDY,
    born_dead.STUDY,
    remedies.STUDY,
    optimizer_remedies.STUDY,
    phase.STUDY,
    depth_width.STUDY,
    generality.STUDY,
]

__all__ = ["STUDIES", "Context", "Figure", "Skip", "Study", "Verdict", "render"]
