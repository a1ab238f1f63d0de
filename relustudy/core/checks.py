"""Validators of factor values: each returns the canonical value or raises a one-line
ValueError that says what was wrong and what is allowed."""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

MAX_ORDER_SEED = 2**32
FULL_BATCH = "full"  # batch = every sample of the task: full-batch gradient descent
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


def check_batch(batch: int | str) -> int | str:
    """Validate a batch size: an integer >= 1 (digits in a string too, as the CLI gives them) or "full".

    >>> check_batch("2"), check_batch("full")
    (2, 'full')
    """
    if batch == FULL_BATCH:
        return FULL_BATCH
    value = batch
    if isinstance(batch, str) and batch.strip().isdigit():
        value = int(batch)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValueError(f"invalid batch {batch!r}; allowed: an integer >= 1 (samples per update) or 'full'")
    return int(value)
