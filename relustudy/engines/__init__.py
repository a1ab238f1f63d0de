"""Training engines: one seam, three translations of the same arithmetic.

Every engine trains a batch of R runs in place and returns the same four arrays, with the
same bits (``tests/test_engines.py``):

* ``numpy`` -- :mod:`.reference`, the readable array loop; the documentation of the
  arithmetic that the others translate;
* ``numba`` -- :mod:`.numba_cpu`, a fused CPU kernel (blocks of runs, run loop innermost
  for SIMD); the default when numba is installed;
* ``cuda`` -- :mod:`.cuda_gpu`, one GPU thread per run (``pip install -e '.[gpu]'``).

``exp``/``expm1``/``tanh`` come from :mod:`.ieee_math` in all three, and sums over the
layer axes run in one fixed order without FMA contraction, so a run's bits depend on its
cell and seed alone.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from typing import Callable, Iterator

ENGINES = ("numba", "numpy", "cuda")  # allowed names; the first is the default
DEFAULT_ENGINE = "numba"
FALLBACK_ENGINE = "numpy"  # used, with a one-line notice, when numba is missing
_notified = False


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class EngineUnavailable(ValueError):
    """A known engine that cannot run here (numba missing, no GPU): a one-line message."""


def _numba_missing() -> str | None:
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed (pip install numba)"
    return None


def _cuda_missing() -> str | None:
    from .cuda_gpu import unavailable_reason  # imports numba.cuda only when asked for

    return unavailable_reason()


_UNAVAILABLE: dict[str, Callable[[], str | None]] = {
    "numba": _numba_missing,
    "numpy": lambda: None,
    "cuda": _cuda_missing,
}


def resolve_engine(name: str | None = None) -> str:
    """The engine to use: ``name`` checked, or the default (numba, else numpy with a notice).

    Raises ValueError for an unknown name and :class:`EngineUnavailable` for a known one
    that cannot run here; both say what is allowed.
    """
    global _notified
    if name is None:
        if _numba_missing() is None:
            return DEFAULT_ENGINE
        if not _notified:
            print(f"relustudy: {_numba_missing()}; training with the {FALLBACK_ENGINE} engine", file=sys.stderr)
            _notified = True
        return FALLBACK_ENGINE
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    reason = _UNAVAILABLE[name]()
    if reason:
        ok = [e for e in ENGINES if e != name and _UNAVAILABLE[e]() is None] if name != "cuda" else ["numba", "numpy"]
        raise EngineUnavailable(f"engine {name!r} cannot run here: {reason}; allowed here: {', '.join(ok)}")
    return name


# What an engine implements beyond the original factors (issues 16, 17, 19). An engine module
# lists the ones it has in its FEATURES (a frozenset of these names); a module without
# FEATURES has none, and is refused a cell that needs one (one line) rather than run it wrongly.
NEW_FEATURES = ("adam", "shuffled", "float32", "track_output")
_MODULES = {"numpy": "reference", "numba": "numba_cpu", "cuda": "cuda_gpu"}


def engine_features(name: str) -> frozenset:
    """The :data:`NEW_FEATURES` engine ``name`` implements (its module's ``FEATURES``)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    module = importlib.import_module(f".{_MODULES[name]}", __package__)
    return frozenset(getattr(module, "FEATURES", ()))


def features_needed(cell, track_output: bool = False) -> frozenset:
    """The :data:`NEW_FEATURES` a cell (and the track_output option) needs."""
    need = {"adam": cell.optimizer == "adam", "shuffled": cell.data_order == "shuffled",
            "float32": cell.dtype == "float32", "track_output": bool(track_output)}
    return frozenset(k for k, v in need.items() if v)


def check_engine_supports(name: str, cell, track_output: bool = False) -> None:
    """One-line :class:`EngineUnavailable` if engine ``name`` lacks something ``cell`` needs."""
    lacking = sorted(features_needed(cell, track_output) - engine_features(name))
    if lacking:
        ok = [e for e in ENGINES if features_needed(cell, track_output) <= engine_features(e)]
        raise EngineUnavailable(f"engine {name!r} does not implement {', '.join(lacking)} yet; "
                                f"allowed for this cell: {', '.join(ok)}")


def engine_for(name: str | None, cell, track_output: bool = False) -> str:
    """:func:`resolve_engine`, then for the default (``name`` None) the NumPy reference, with a
    one-line notice, where the default engine lacks a feature the cell needs; an engine asked
    for by name that lacks one is refused (:func:`check_engine_supports`)."""
    resolved = resolve_engine(name)
    if name is None and features_needed(cell, track_output) - engine_features(resolved):
        lacking = sorted(features_needed(cell, track_output) - engine_features(resolved))
        print(f"relustudy: the {resolved} engine does not implement {', '.join(lacking)} yet; "
              f"training with the {FALLBACK_ENGINE} engine", file=sys.stderr)
        return FALLBACK_ENGINE
    check_engine_supports(resolved, cell, track_output)
    return resolved


def run_engine(name: str | None, params, acts, lr, cell, x_train, y_train, *, order_seed=None, track=None):
    """Train one batch with engine ``name`` (see :func:`resolve_engine`); ``params`` change in place.

    Arguments and returns are those of :func:`relustudy.engines.reference.sgd`, the same
    for every engine: params per layer (W (n_out, n_in, R), b (n_out, R)) in the cell's
    dtype, lr (R,) in the cell's dtype, data (S, 2) and (S,); keyword-only ``order_seed``
    (R,) uint64 (shuffled order) and ``track`` (two (R,) int32 arrays the engine fills with
    the output's death epoch and state changes, or None). Back come the curve's epochs
    (P,), the curve (P, R), the first epoch below the target (R,) and the last epoch
    error (R,), the last two in the cell's dtype.
    """
    name = resolve_engine(name)
    check_engine_supports(name, cell, track is not None)
    if name == "numpy":
        from .reference import sgd
    elif name == "numba":
        from .numba_cpu import sgd
    else:
        from .cuda_gpu import sgd
    kw = {}  # engines without the new features keep their original signature
    if order_seed is not None:
        kw["order_seed"] = order_seed
    if track is not None:
        kw["track"] = track
    return sgd(params, acts, lr, cell, x_train, y_train, **kw)


@contextlib.contextmanager
def single_threaded(name: str | None) -> Iterator[None]:
    """Run the numba engine on one thread inside the block (a grid worker is one process per core)."""
    if resolve_engine(name) != "numba":
        yield
        return
    from .numba_cpu import threads

    with threads(1):
        yield
