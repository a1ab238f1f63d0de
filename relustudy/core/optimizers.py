"""Optimizer registry: what the grid, the CLI and the cost model need of each optimizer, declared once.

The step arithmetic itself is written in the reference (:mod:`relustudy.core.engines.reference`)
and, per lane, in :mod:`relustudy.core.engines.formulas`; ``tests/test_registries.py`` checks
that every entry here has both and runs bit for bit in every engine.
"""
from __future__ import annotations

from dataclasses import dataclass

MOMENTUM = 0.9  # heavy-ball coefficient applied to the step the update rule produces
# Adam (torch.optim.Adam's defaults), applied to the direction the update rule produces.
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8


@dataclass(frozen=True)
class Optimizer:
    """One optimizer of the ``optimizer`` factor."""

    name: str
    state: int  # state arrays per parameter (momentum's velocity; Adam's two moments)
    # The grid's cost model (runs.grid.task_cost): extra work per parameter and sample-step
    # for the state update, in units of one parameter's SGD work (ordering and ETA only).
    cost: float
    doc: str  # one line for --help and the docs


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("sgd", 0, 0.0, "plain SGD on the step the update rule produces (the posted program)"),
    Optimizer("momentum", 1, 0.5, f"heavy-ball momentum {MOMENTUM} on the update rule's step (the posted answer's remedy)"),
    Optimizer("adam", 2, 3.0, "Adam with torch.optim.Adam's defaults on the update rule's direction"),
)}
