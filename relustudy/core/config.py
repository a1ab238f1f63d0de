"""Factors of the study and the frozen config that names one cell of the grid.

A *cell* is one combination of factor values (everything but the seed); a *run* is a
cell plus a seed. ``Cell`` validates itself on construction, so nothing is ever trained
with a half-valid config, and serialises to canonical JSON that travels with its results.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

# Allowed values of each categorical factor; the first is the posted program's choice.
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "elu", "identity")
OUTPUTS = ("same", "identity")
INITS = ("randn", "he", "xavier", "rai", "he_b0.01", "he_b0.1")
UPDATES = ("as_posted", "corrected")
OPTIMIZERS = ("sgd", "momentum", "adam")
DATA_ORDERS = ("fixed", "shuffled")  # fixed: the six pairs in the posted order every epoch
DTYPES = ("float64", "float32")  # the arithmetic of training (evaluation is always float64)
# one_ulp: one initial parameter per run, chosen by a stream of the seed, moved to the next float
# up or down in the run's dtype (inits.one_ulp): Summers & Dinneen's single-bit change (issue 19.2)
INIT_PERTURBS = ("none", "one_ulp")

MOMENTUM = 0.9  # heavy-ball coefficient applied to the step the update rule produces
# Adam (torch.optim.Adam's defaults), applied to the direction the update rule produces.
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
MAX_ORDER_SEED = 2**32

MAX_HIDDEN_LAYERS = 64
MAX_WIDTH = 1024


def check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise a one-line ValueError."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value


def parse_hidden(spec: str | Sequence[int]) -> tuple[int, ...]:
    """Parse a hidden-layer spec such as ``"4-4"`` or ``(4, 4)`` into a tuple of widths.

    >>> parse_hidden("2-2-2")
    (2, 2, 2)
    """
    if isinstance(spec, str):
        parts = spec.strip().split("-")
        if not spec.strip() or not all(p.isdigit() for p in parts):
            raise ValueError(
                f"malformed hidden spec {spec!r}; allowed: positive widths joined by '-', e.g. '4-4'"
            )
        widths = tuple(int(p) for p in parts)
    else:
        widths = tuple(spec)
        if not all(isinstance(w, int) and not isinstance(w, bool) for w in widths):
            raise ValueError(f"malformed hidden spec {spec!r}; allowed: a sequence of positive ints")
    if not widths or any(w < 1 or w > MAX_WIDTH for w in widths) or len(widths) > MAX_HIDDEN_LAYERS:
        raise ValueError(
            f"malformed hidden spec {spec!r}; allowed: 1 to {MAX_HIDDEN_LAYERS} widths, "
            f"each 1..{MAX_WIDTH}, e.g. '4-4'"
        )
    return widths


def hidden_str(widths: Sequence[int]) -> str:
    """Canonical string form of a hidden spec: ``(4, 4) -> "4-4"``."""
    return "-".join(str(w) for w in widths)


def check_lr(lr: float) -> float:
    """Validate a learning rate: finite and > 0."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"invalid lr {lr!r}; allowed: a finite number > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"invalid lr {lr!r}; allowed: a finite number > 0")
    return value


def check_init_gain(gain: float) -> float:
    """Validate an init gain: a finite real number > 0 (not a bool or a string).

    >>> check_init_gain(2)
    2.0
    """
    number = isinstance(gain, numbers.Real) and not isinstance(gain, bool)  # numpy scalars too
    value = float(gain) if number else math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"invalid init_gain {gain!r}; allowed: a finite number > 0 (1.0 = the scheme as defined)")
    return value


def check_epochs(epochs: int) -> int:
    """Validate an epoch count: an integer >= 1."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int,)) and not (
        isinstance(epochs, float) and epochs.is_integer()
    ):
        raise ValueError(f"invalid epochs {epochs!r}; allowed: an integer >= 1")
    if int(epochs) < 1:
        raise ValueError(f"invalid epochs {epochs!r}; allowed: an integer >= 1")
    return int(epochs)


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """Validate a seed list: non-empty, integers in [0, 2**32).

    A bare integer is refused (ValueError), not guessed: ``5`` could mean seed 5 or seeds
    0..4, two different sets of runs. Pass ``range(5)`` or ``[5]``.
    """
    try:
        if isinstance(seeds, (str, bytes)):
            raise TypeError
        out = [int(s) for s in seeds]  # a 0-d array passes isinstance(Iterable) and fails here
    except TypeError:
        raise ValueError(f"invalid seeds {seeds!r}: not a list; allowed: a sequence of integers in [0, 2**32), "
                         "e.g. range(5) for seeds 0..4 or [5] for seed 5") from None
    if not out:
        raise ValueError("empty seed list; allowed: one or more integers in [0, 2**32)")
    bad = [s for s in out if not 0 <= s < 2**32]
    if bad:
        raise ValueError(f"invalid seed {bad[0]}; allowed: integers in [0, 2**32)")
    return out


def check_order_seed(seed: int) -> int:
    """Validate an order seed: an integer in [0, 2**32) (not a bool, not a float).

    >>> check_order_seed(15)
    15
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < MAX_ORDER_SEED:
        raise ValueError(f"invalid order_seed {seed!r}; allowed: an integer in [0, 2**32)")
    return int(seed)


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
        """The default as the runs table stores it (hidden as its canonical string)."""
        return hidden_str(self.default) if self.name == "hidden" else self.default


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

    def __post_init__(self) -> None:
        for name, factor in FACTOR_REGISTRY.items():
            object.__setattr__(self, name, factor.check(getattr(self, name)))
        if self.data_order == "fixed" and self.order_seed != 0:
            # It would be a second name for the fixed-order cell.
            raise ValueError(f"order_seed {self.order_seed} with data_order 'fixed'; allowed: order_seed 0 "
                             "with fixed, any order_seed with shuffled")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of every layer, input and output included: (2, *hidden, 1)."""
        return (2, *self.hidden, 1)

    @property
    def structure(self) -> tuple:
        """What cells trained in one batch share: every factor but init, init_gain, lr and order_seed
        (:data:`STRUCTURE`: activation, output, update, optimizer, epochs, hidden, data_order, dtype)."""
        return tuple(getattr(self, name) for name in STRUCTURE)

    def to_dict(self) -> dict:
        """Plain-type dict with ``hidden`` as its canonical string; optional factors at their
        default (``init_gain`` 1.0, ``data_order`` fixed, ``order_seed`` 0, ``dtype`` float64)
        are left out, so a cell's name predates them."""
        d = dataclasses.asdict(self)
        d["hidden"] = hidden_str(self.hidden)
        for name, default in OPTIONAL_FACTORS.items():
            if d[name] == default:
                del d[name]
        return d

    def factor_values(self) -> dict:
        """Every factor's value as a runs table stores it (optional ones included, ``hidden`` as
        its string), keyed by column, in the table's order."""
        return {f.column: hidden_str(self.hidden) if name == "hidden" else getattr(self, name)
                for name, f in FACTOR_REGISTRY.items()}

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
