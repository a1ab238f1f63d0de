"""The questions of the study, one module each, in report order (:data:`STUDIES`).

A new question is one module defining ``STUDY = Study(...)`` (see :mod:`.base` for the
contract) and one line in :data:`STUDIES`.
"""
from __future__ import annotations

from . import (basins, born_dead, failure_rates, final_mse, how_runs_die, init_predictability, inits, local_minimum,
               million, momentum, optimizer_mechanism, optimizer_remedies, optimizer_tuned, phase, posted_cell, q1, q1_long, quirks, randomness, remedies, depth_width, relu_speed, seed_lottery, the_data, theory,
               thresholds, vanishing)
from .base import Context, Figure, Skip, Study, Verdict, render

STUDIES: list[Study] = [
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
]

__all__ = ["STUDIES", "Context", "Figure", "Skip", "Study", "Verdict", "render"]
