"""Shared by the engine tests (and run as a script under the CUDA simulator): bitwise comparison."""
from __future__ import annotations

import itertools
import os
import sys

import numpy as np

from relustudy import Cell, train_group
from relustudy.core.config import ACTIVATIONS, OUTPUTS, UPDATES

# The original optimizers; Adam and the other new factors are compared in test_new_factor_engines.py.
OPTIMIZERS = ("sgd", "momentum")

COMPARED = ("final_mse", "last_epoch_error", "pred_test", "epochs_to_1e-3", "outcome", "output_dead_final",
            "dead_frac_final")


def same_bits(a, b) -> bool:
    """Equal bit for bit (float NaNs count as equal whatever their payload; -0.0 != 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    return bool(np.all((a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))))


def differences(ra, rb) -> list[str]:
    """What differs between two TrainResult lists: empty when they agree bit for bit."""
    bad = []
    for x, y in zip(ra, rb, strict=True):
        name = x.cell.to_json()
        for k in COMPARED:
            if not same_bits(x.metrics[k], y.metrics[k]):
                bad.append(f"{name}: {k}")
        if not same_bits(x.curve, y.curve):
            bad.append(f"{name}: curve")
        for layer, ((wa, ba), (wb, bb)) in enumerate(zip(x.params, y.params)):
            if not (same_bits(wa, wb) and same_bits(ba, bb)):
                bad.append(f"{name}: final weights of layer {layer + 1}")
    return bad


def compare_engines(engine_a: str, engine_b: str, *, seeds, epochs: int, hidden=(4, 4), activations=ACTIVATIONS,
                    outputs=OUTPUTS, updates=UPDATES, optimizers=OPTIMIZERS) -> tuple[int, list[str]]:
    """Train every combination with both engines, two cells per batch (different init and lr).

    Returns (number of batches compared, differences).
    """
    n, bad = 0, []
    for act, out, upd, opt in itertools.product(activations, outputs, updates, optimizers):
        cells = [Cell(activation=act, output=out, update=upd, optimizer=opt, init=i, lr=lr, epochs=epochs, hidden=hidden)
                 for i, lr in (("randn", 0.1), ("he", 0.03))]
        bad += differences(train_group(cells, seeds, engine=engine_a), train_group(cells, seeds, engine=engine_b))
        n += 1
    return n, bad


def one_core_for_the_simulator() -> None:
    """Pin this process to one core when it runs numba-cuda's simulator.

    The simulator runs each CUDA thread of a block as a Python thread, and those threads pass
    the GIL back and forth. On an idle 2-core machine the handoffs between cores made
    ``new_factor_checks.py tasks`` take 190-255 s. Pinned to one core it took 8 s. On a machine
    whose other core was busy it took 16 s unpinned, which is why CI had not shown this."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


if __name__ == "__main__":  # the CUDA simulator check: NUMBA_ENABLE_CUDASIM=1 python tests/engine_checks.py
    import warnings

    one_core_for_the_simulator()

    # The simulator's threads compute on NumPy scalars outside any errstate: inf/NaN warn.
    warnings.simplefilter("ignore", RuntimeWarning)
    n1, bad1 = compare_engines("numpy", "cuda", seeds=range(3), epochs=4, hidden=(3, 2), outputs=("same",))
    n2, bad2 = compare_engines("numpy", "cuda", seeds=range(2), epochs=3, hidden=(2,), activations=("relu", "tanh"),
                               outputs=("identity",), optimizers=("momentum",))
    bad = bad1 + bad2
    print(f"checked {n1 + n2} batches numpy vs cuda (simulator); {len(bad)} differences")
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)
