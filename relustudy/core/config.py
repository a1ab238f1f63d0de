"""Factors of the study and the frozen config that names one cell of the grid.

A *cell* is one combination of factor values (everything but the seed); a *run* is a
cell plus a seed. ``Cell`` validates itself on construction, so nothing is ever trained
with a half-valid config, and serialises to canonical JSON that travels with its results.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from relustudy.core import activations, inits, optimizers
from relustudy.core.checks import (FULL_BATCH, check_batch, check_choice, check_epochs, check_init_gain, check_lr,
                                   check_order_seed, hidden_str, parse_hidden)
from relustudy.core.problem import TASKS, get_task

# Allowed values of each categorical factor; the first is the posted program's choice.
# Activations and inits are declared once, in their registries; the factor levels follow them.
ACTIVATIONS = tuple(activations.ACTIVATIONS)
OUTPUTS = ("same", "identity")
INITS = tuple(inits.INITS)
UPDATES = ("as_posted", "corrected")
OPTIMIZERS = tuple(optimizers.OPTIMIZERS)
DATA_ORDERS = ("fixed", "shuffled")  # fixed: the six pairs in the posted order every epoch
DTYPES = ("float64", "float32")  # the arithmetic of training (evaluation is always float64)
INIT_PERTURBS = tuple(inits.PERTURBS)
TASK_NAMES = tuple(TASKS)  # the training sets (problem.TASKS); "posted": the six pairs as posted



def batch_str(batch: int | str) -> str:
    """The runs table's form of a batch size: "1", "2", ..., "full"."""
    return str(batch)


def _choice(name: str, allowed: Sequence[str]) -> Callable[[str], str]:
    return lambda value: check_choice(name, value, allowed)


@dataclass(frozen=True)
class Factor:
    """One factor of the study, declared once: the grid, the CLI, the schema, the dataset reader
    and the analyses read it from :data:`FACTOR_REGISTRY`."""

    name: str  # the Cell field and the dataset column
    default: object  # the posted program's value, Cell's default
    check: Callable[[object], object]  # validates one value, returns its canonical form (one-line ValueError)
    levels: tuple | None  # the allowed values of a categorical factor; None for a numeric one
    grid_field: str  # the Grid field holding its levels; the CLI flag is --grid-field with '-' for '_'
    column_dtype: object  # the runs table's dtype: "category", np.float64 or np.int64
    optional: bool = False  # added later: left out of the cell's JSON at its default, so ids predate it
    batched: bool = True  # cells differing in it may train in one batch (False: part of Cell.structure)
    help: str = ""  # the CLI's help text (allowed values are added for categorical factors)

    @property
    def column(self) -> str:
        """The dataset column (every factor is stored under its own name)."""
        return self.name

    def table_default(self):
        """The default as the runs table stores it (hidden and batch as their canonical strings)."""
        return self.table_value(self.default)

    def table_value(self, value):
        """A value as the runs table stores it: hidden and batch (categories without fixed levels)
        as their strings, every other factor as itself."""
        return hidden_str(value) if self.name == "hidden" else batch_str(value) if self.name == "batch" else value


FACTOR_REGISTRY: dict[str, Factor] = {f.name: f for f in (
    Factor("activation", "relu", _choice("activation", ACTIVATIONS), ACTIVATIONS, "activations", "category",
           batched=False, help="hidden activations"),
    Factor("output", "same", _choice("output", OUTPUTS), OUTPUTS, "outputs", "category", batched=False,
           help="output-unit activation (same: the hidden one)"),
    Factor("init", "randn", _choice("init", INITS), INITS, "inits", "category", help="init schemes"),
    Factor("update", "as_posted", _choice("update", UPDATES), UPDATES, "updates", "category", batched=False,
           help="update rules"),
    Factor("optimizer", "sgd", _choice("optimizer", OPTIMIZERS), OPTIMIZERS, "optimizers", "category",
           batched=False, help="optimizers"),
    Factor("lr", 0.01, check_lr, None, "lrs", np.float64, help="learning rates > 0"),
    Factor("epochs", 5000, check_epochs, None, "epochs", np.int64, batched=False, help="epoch counts >= 1"),
    Factor("hidden", (4, 4), parse_hidden, None, "hidden", "category", batched=False,
           help="hidden widths joined by '-', e.g. 4-4,2-2-2"),
    Factor("init_gain", 1.0, check_init_gain, None, "init_gains", np.float64, optional=True,
           help="multipliers of the init's weights and biases, finite numbers > 0 (1.0 = the scheme as defined)"),
    Factor("data_order", "fixed", _choice("data_order", DATA_ORDERS), DATA_ORDERS, "data_orders", "category",
           optional=True, batched=False, help="order of the six pairs in an epoch (shuffled: a fresh permutation "
           "every epoch from the run's order seed)"),
    Factor("order_seed", 0, check_order_seed, None, "order_seeds", np.int64, optional=True,
           help="seeds of the shuffled order, A:B (a range) or a list of integers in [0, 2**32); crossed with "
           "the init seeds; implies --data-orders shuffled"),
    Factor("dtype", "float64", _choice("dtype", DTYPES), DTYPES, "dtypes", "category", optional=True,
           batched=False, help="arithmetic of training"),
    Factor("init_perturb", "none", _choice("init_perturb", INIT_PERTURBS), INIT_PERTURBS, "init_perturbs", "category",
           optional=True, help="change of the seeded init (one_ulp: one parameter, chosen by a stream of the seed, "
           "moved to the next float up or down)"),
    # issue 27: the training set and the samples per update (after every earlier factor, so older
    # tables keep their column order and older cells their names)
    Factor("task", "posted", _choice("task", TASK_NAMES), TASK_NAMES, "tasks", "category", optional=True,
           batched=False, help="training sets (problem.TASKS; posted: the six pairs as posted)"),
    Factor("batch", 1, check_batch, None, "batches", "category", optional=True, batched=False,
           help="samples per update, integers >= 1 or full (the mean of the batch's gradients; 1 = the posted "
           "per-sample SGD; a batch equal to the task's sample count is named full)"),
)}
FACTOR_NAMES = tuple(FACTOR_REGISTRY)  # every factor column, in the runs table's order
# The original factors (always in a cell's JSON); the optional ones with their defaults.
FACTORS = tuple(n for n, f in FACTOR_REGISTRY.items() if not f.optional)
OPTIONAL_FACTORS = {n: f.default for n, f in FACTOR_REGISTRY.items() if f.optional}
CATEGORICAL_LEVELS = {n: f.levels for n, f in FACTOR_REGISTRY.items() if f.levels is not None}
STRUCTURE = tuple(n for n, f in FACTOR_REGISTRY.items() if not f.batched)  # shared by a batch


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: every factor but the seed.

    The defaults are the posted program (randn init, buggy update, ReLU everywhere).
    """

    activation: str = "relu"  # hidden-layer nonlinearity (a key of activations.ACTIVATIONS)
    output: str = "same"  # "same": output unit uses `activation` (as posted); "identity": linear
    init: str = "randn"  # weight/bias scheme, a transform of the same N(0,1) draws per seed
    update: str = "as_posted"  # "as_posted": b -= lr*b and W updated before backprop; "corrected"
    optimizer: str = "sgd"  # "sgd", "momentum" (0.9 on the update rule's step) or "adam" (on its direction)
    lr: float = 0.01  # learning rate; > 0
    epochs: int = 5000  # passes over the six pairs, one update per sample
    hidden: tuple[int, ...] = (4, 4)  # hidden widths; the net is 2-h1-...-hk-1
    # Multiplies the init scheme's weights and biases (randn: W, b ~ N(0, gain^2)); 1.0 = the
    # scheme as defined, and then left out of to_dict/to_json so older cell ids stay valid.
    init_gain: float = 1.0
    # The optional factors below are also left out of the JSON at their defaults (issue 19).
    data_order: str = "fixed"  # "fixed": the posted order every epoch; "shuffled": a permutation per epoch
    order_seed: int = 0  # seeds the shuffled order's stream (engines.reference.order_perms); 0 when fixed
    dtype: str = "float64"  # arithmetic of training; float32: init rounded once, every operation in float32
    init_perturb: str = "none"  # "one_ulp": one initial parameter moved by one ulp (inits.perturb_init)
    task: str = "posted"  # the training set, a key of problem.TASKS; "posted": the six pairs as posted
    # Samples per update: 1 (the posted per-sample SGD), up to the task's sample count, or "full";
    # consecutive in the epoch's order, the last batch of an epoch smaller when they do not divide.
    batch: int | str = 1

    def __post_init__(self) -> None:
        for name, factor in FACTOR_REGISTRY.items():
            object.__setattr__(self, name, factor.check(getattr(self, name)))
        if self.data_order == "fixed" and self.order_seed != 0:
            # It would be a second name for the fixed-order cell.
            raise ValueError(f"order_seed {self.order_seed} with data_order 'fixed'; allowed: order_seed 0 "
                             "with fixed, any order_seed with shuffled")
        n = get_task(self.task).n_samples
        if self.batch != FULL_BATCH and self.batch >= n:
            if self.batch > n:
                raise ValueError(f"batch {self.batch} is larger than the {n} samples of task {self.task!r}; allowed: "
                                 f"1 to {n} or 'full'")
            object.__setattr__(self, "batch", FULL_BATCH)  # one name per cell: a batch of every sample is "full"

    @property
    def n_samples(self) -> int:
        """S, the training pairs of the cell's task."""
        return get_task(self.task).n_samples

    @property
    def batch_size(self) -> int:
        """Samples per update as an integer (``"full"``: the task's sample count)."""
        return self.n_samples if self.batch == FULL_BATCH else self.batch

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of every layer, input and output included: (2, *hidden, 1)."""
        return (2, *self.hidden, 1)

    @property
    def structure(self) -> tuple:
        """What cells trained in one batch share: every factor but init, init_gain, lr and order_seed
        (:data:`STRUCTURE`: activation, output, update, optimizer, epochs, hidden, data_order, dtype, task,
        batch)."""
        return tuple(getattr(self, name) for name in STRUCTURE)

    def to_dict(self) -> dict:
        """Plain-type dict with ``hidden`` as its canonical string; optional factors at their
        default (``init_gain`` 1.0, ``data_order`` fixed, ``order_seed`` 0, ``dtype`` float64,
        ``init_perturb`` none, ``task`` posted, ``batch`` 1) are left out, so a cell's name predates them."""
        d = dataclasses.asdict(self)
        d["hidden"] = hidden_str(self.hidden)
        for name, default in OPTIONAL_FACTORS.items():
            if d[name] == default:
                del d[name]
        return d

    def factor_values(self) -> dict:
        """Every factor's value as a runs table stores it (optional ones included, ``hidden`` as
        its string), keyed by column, in the table's order."""
        return {f.column: f.table_value(getattr(self, name)) for name, f in FACTOR_REGISTRY.items()}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the cell's name."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "Cell":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        allowed = FACTOR_NAMES
        unknown = set(d) - set(allowed)
        if unknown:
            raise ValueError(f"unknown factor(s) {sorted(unknown)}; allowed: {', '.join(allowed)}")
        return cls(**d)
