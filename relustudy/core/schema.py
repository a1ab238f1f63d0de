"""The public schema of the dataset of runs (data/README.md). Never rename these.

runs table: one row per run, keyed by (cell_id, seed).
curves table: one row per (cell_id, seed, epoch), joinable on (cell_id, seed).
"""
from __future__ import annotations

import hashlib

from relustudy.core.config import FACTOR_REGISTRY, Cell

# Factor columns, read from the factor registry (config.FACTOR_REGISTRY); the categorical ones
# are stored as pandas/Arrow categoricals. FACTOR_COLUMNS are the columns every runs table has;
# OPTIONAL_FACTOR_COLUMNS follow them (tables made before a factor existed get its default).
FACTOR_COLUMNS = ("seed", *(f.column for f in FACTOR_REGISTRY.values() if not f.optional))
OPTIONAL_FACTOR_COLUMNS = tuple(f.column for f in FACTOR_REGISTRY.values() if f.optional)
CATEGORICAL_COLUMNS = (*(f.column for f in FACTOR_REGISTRY.values() if f.column_dtype == "category"), "outcome")

# Result columns every runs table has (per-layer dead fractions are extra columns
# `dead_frac_init_l{k}` / `dead_frac_final_l{k}`, k = 1..number of hidden layers).
RESULT_COLUMNS = (
    "final_mse",  # MSE of the final weights over the six training pairs
    "last_epoch_error",  # the posted program's number: mean error over the last epoch
    "pred_test",  # prediction at (0.1, 0.5); the truth is 0.6
    "epochs_to_1e-3",  # first epoch (1-based) whose epoch error < 1e-3; null if never
    "outcome",  # solved / dead_output / collapsed / slow / diverged (outcomes.py)
    "pred_range",  # max - min of the final predictions on the six training inputs
    "diverged",  # any non-finite weight, error or prediction
    "dead_frac_init",  # fraction of hidden units with pre-activation <= 0 on all six inputs
    "dead_frac_final",
    "output_dead_init",  # output pre-activation <= 0 on all six inputs
    "output_dead_final",
)
# Diagnostics of the init and final weights (relustudy/core/diagnostics.py), recorded by every
# engine. Datasets made before they existed lack them: loading does not require them.
# On how many training inputs the output's pre-activation is <= 0 (int32; the task's S = dead on
# all, 0 < k < S = partly dead), and the MSE over the task's evaluation points. Tables made before
# the task factor lack them; loading does not require them.
POINT_COLUMNS = ("output_dead_points_init", "output_dead_points_final", "eval_mse")
DIAGNOSTIC_COLUMNS = (
    "grad_norm_final",  # norm of the full (corrected-rule) MSE gradient at the final weights
    "output_margin_init",  # the output unit's largest pre-activation over the six inputs
    "output_margin_final",
    "linear_on_data_init",  # one activation pattern on all six inputs: the net is affine there
    "linear_on_data_final",
    *POINT_COLUMNS,
)
# When a grid asks for them (Grid.track_output), the output unit's death timing, recorded by
# every engine at each epoch's end (issue 16.3); datasets without them lack the columns.
TRACK_OUTPUT_COLUMNS = (
    "output_death_epoch",  # int32: first epoch whose end finds the output dead; 0 dead at init; -1 never
    "output_state_changes",  # int32: alive <-> dead changes between consecutive epoch ends, from init
)
KEY_COLUMNS = ("cell_id", "seed")
RUN_COLUMNS = ("cell_id",) + FACTOR_COLUMNS + RESULT_COLUMNS
CURVE_COLUMNS = ("cell_id", "seed", "epoch", "epoch_error")


def cell_id(cell: Cell) -> str:
    """Short stable name of a cell: the first 12 hex digits of sha256(canonical JSON)."""
    return hashlib.sha256(cell.to_json().encode()).hexdigest()[:12]
