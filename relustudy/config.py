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
from typing import Iterable, Sequence

# Allowed values of each categorical factor; the first is the posted program's choice.
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "elu", "identity")
OUTPUTS = ("same", "identity")
INITS = ("randn", "he", "xavier", "rai", "he_b0.01", "he_b0.1")
UPDATES = ("as_posted", "corrected")
OPTIMIZERS = ("sgd", "momentum")

MOMENTUM = 0.9  # heavy-ball coefficient applied to the step the update rule produces

FACTORS = ("activation", "output", "init", "update", "optimizer", "lr", "epochs", "hidden")
# Factors added later, with a default that is left out of a cell's JSON (so the cell ids and
# the data of cells made before them do not change); not in FACTORS, which defines cells
# in the analyses of tables that may predate them.
OPTIONAL_FACTORS = {"init_gain": 1.0}
CATEGORICAL_LEVELS = {
    "activation": ACTIVATIONS,
    "output": OUTPUTS,
    "init": INITS,
    "update": UPDATES,
    "optimizer": OPTIMIZERS,
}

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
    """Validate a seed list: non-empty, integers in [0, 2**32)."""
    out = [int(s) for s in seeds]
    if not out:
        raise ValueError("empty seed list; allowed: one or more integers in [0, 2**32)")
    bad = [s for s in out if not 0 <= s < 2**32]
    if bad:
        raise ValueError(f"invalid seed {bad[0]}; allowed: integers in [0, 2**32)")
    return out


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: every factor but the seed.

    The defaults are the posted program (randn init, buggy update, ReLU everywhere).
    """

    activation: str = "relu"  # hidden-layer nonlinearity (a key of activations.ACTIVATIONS)
    output: str = "same"  # "same": output unit uses `activation` (as posted); "identity": linear
    init: str = "randn"  # weight/bias scheme, a transform of the same N(0,1) draws per seed
    update: str = "as_posted"  # "as_posted": b -= lr*b and W updated before backprop; "corrected"
    optimizer: str = "sgd"  # "sgd" or "momentum" (0.9 on the step the update rule produces)
    lr: float = 0.01  # learning rate; > 0
    epochs: int = 5000  # passes over the six pairs, per-sample updates in fixed order
    hidden: tuple[int, ...] = (4, 4)  # hidden widths; the net is 2-h1-...-hk-1
    # Multiplies the init scheme's weights and biases (randn: W, b ~ N(0, gain^2)); 1.0 = the
    # scheme as defined, and then left out of to_dict/to_json so older cell ids stay valid.
    init_gain: float = 1.0

    def __post_init__(self) -> None:
        for name, allowed in CATEGORICAL_LEVELS.items():
            check_choice(name, getattr(self, name), allowed)
        object.__setattr__(self, "lr", check_lr(self.lr))
        object.__setattr__(self, "epochs", check_epochs(self.epochs))
        object.__setattr__(self, "hidden", parse_hidden(self.hidden))
        object.__setattr__(self, "init_gain", check_init_gain(self.init_gain))

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of every layer, input and output included: (2, *hidden, 1)."""
        return (2, *self.hidden, 1)

    @property
    def structure(self) -> tuple:
        """What must be shared by cells trained in one batch (all but init, init_gain and lr)."""
        return (self.activation, self.output, self.update, self.optimizer, self.epochs, self.hidden)

    def to_dict(self) -> dict:
        """Plain-type dict with ``hidden`` as its canonical string; optional factors at their
        default (``init_gain`` 1.0) are left out, so a cell's name predates them."""
        d = dataclasses.asdict(self)
        d["hidden"] = hidden_str(self.hidden)
        for name, default in OPTIONAL_FACTORS.items():
            if d[name] == default:
                del d[name]
        return d

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the cell's name."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "Cell":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        allowed = (*FACTORS, *OPTIONAL_FACTORS)
        unknown = set(d) - set(allowed)
        if unknown:
            raise ValueError(f"unknown factor(s) {sorted(unknown)}; allowed: {', '.join(allowed)}")
        return cls(**d)
