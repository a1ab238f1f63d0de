"""The new factors' engine comparison (and, as a script, the CUDA simulator's run of it).

``NUMBA_ENABLE_CUDASIM=1 python tests/new_factor_checks.py FEATURE`` compares the CUDA kernel
with the NumPy reference under the simulator for one of ``engines.NEW_FEATURES``;
``... new_factor_checks.py tasks`` runs :func:`compare_tasks` (issue 27: every task x batch).
"""
from __future__ import annotations

import itertools
import sys

from engine_checks import differences, one_core_for_the_simulator, same_bits
from relustudy import Cell, train_group
from relustudy.core.config import ACTIVATIONS, OPTIMIZERS, OUTPUTS, TASK_NAMES, UPDATES
from relustudy.core.engines import engine_features
from relustudy.core.schema import TRACK_OUTPUT_COLUMNS

# What a cell of each feature sets (track_output is a run option: any cell).
FEATURE_FACTORS = {"adam": {"optimizer": "adam"}, "shuffled": {"data_order": "shuffled"},
                   "float32": {"dtype": "float32"}, "track_output": {}, "batch": {"batch": 2}}


def _cells(feature: str, act: str, out: str, upd: str, opt: str, epochs: int, hidden) -> list[Cell]:
    """Two cells for one batch: different init, lr and (shuffled) order seed."""
    base = dict(activation=act, output=out, update=upd, optimizer=opt, epochs=epochs, hidden=hidden)
    base.update(FEATURE_FACTORS[feature])
    shuffled = base.get("data_order") == "shuffled"
    return [Cell(**base, init=i, lr=lr, order_seed=s if shuffled else 0) for i, lr, s in (("randn", 0.1, 1), ("he", 0.03, 5))]


def compare_new_factors(engine: str, feature: str, *, seeds, epochs: int, hidden=(4, 4), activations=ACTIVATIONS,
                        outputs=OUTPUTS, updates=UPDATES, optimizers=None) -> tuple[int, list[str]]:
    """Train every activation x output x update x optimizer combination of ``feature`` with the
    reference and with ``engine``; (batches compared, differences). Optimizers (None): sgd and
    momentum, and adam where the engine has it (the adam feature: adam only)."""
    if optimizers is None:
        optimizers = ["adam"] if feature == "adam" else ["sgd", "momentum"] + (["adam"] if "adam" in
                                                                                  engine_features(engine) else [])
    track = feature == "track_output"
    n, bad = 0, []
    for act, out, upd, opt in itertools.product(activations, outputs, updates, optimizers):
        cells = _cells(feature, act, out, upd, opt, epochs, hidden)
        ref = train_group(cells, seeds, engine="numpy", track_output=track)
        got = train_group(cells, seeds, engine=engine, track_output=track)
        bad += differences(ref, got)
        if track:
            bad += [f"{r.cell.to_json()}: {c}" for r, g in zip(ref, got) for c in TRACK_OUTPUT_COLUMNS
                    if not same_bits(r.metrics[c], g.metrics[c])]
        n += 1
    return n, bad


def compare_tasks(engine: str, *, seeds, epochs: int, tasks=TASK_NAMES, batches=(1, 2, "full"),
                  hiddens=((4, 4), (3, 1, 2)), updates=UPDATES, optimizers=OPTIMIZERS, activation="relu",
                  output="same", dtype="float64", shuffled=False, cover=False) -> tuple[int, list[str]]:
    """Issue 27's matrix: every task x batch x update x optimizer x architecture, reference against
    ``engine``, two cells per batch (randn at lr 0.1 and torch at 0.03: the new init's draws too);
    (batches compared, differences). ``cover``: every task x batch once, the updates, optimizers
    and architectures taken in turn so each appears (a kernel is compiled per combination, so the
    whole product costs minutes of compiling)."""
    if cover:
        combos = [(task, batch, hiddens[i % len(hiddens)], updates[i % len(updates)],
                   optimizers[(i // len(updates)) % len(optimizers)])
                  for i, (task, batch) in enumerate(itertools.product(tasks, batches))]
    else:
        combos = list(itertools.product(tasks, batches, hiddens, updates, optimizers))
    n, bad = 0, []
    for task, batch, hidden, upd, opt in combos:
        cells = [Cell(activation=activation, output=output, update=upd, optimizer=opt, epochs=epochs, hidden=hidden,
                      task=task, batch=batch, init=i, lr=lr, dtype=dtype, data_order="shuffled" if shuffled else "fixed",
                      order_seed=s if shuffled else 0) for i, lr, s in (("randn", 0.1, 3), ("torch", 0.03, 4))]
        ref = train_group(cells, seeds, engine="numpy")
        got = train_group(cells, seeds, engine=engine)
        bad += differences(ref, got)
        bad += [f"{r.cell.to_json()}: {c}" for r, g in zip(ref, got) for c in ("output_dead_points_final", "eval_mse")
                if not same_bits(r.metrics[c], g.metrics[c])]
        n += 1
    return n, bad


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # the simulator computes outside any errstate
    one_core_for_the_simulator()
    feature = sys.argv[1]
    if feature == "tasks":  # every task x batch 1/2/full, updates, optimizers and two nets in turn, and shuffled
        n, bad = compare_tasks("cuda", seeds=range(2), epochs=1, hiddens=((3, 2), (2, 1, 2)), cover=True)
        m, bad2 = compare_tasks("cuda", seeds=range(2), epochs=2, tasks=("posted", "grid64_std"), batches=(2, "full"),
                                hiddens=((3, 2),), optimizers=("adam",), shuffled=True, dtype="float32")
        n, bad = n + m, bad + bad2
        print(f"checked {n} batches numpy vs cuda (simulator) for tasks; {len(bad)} differences")
        for line in bad:
            print(line)
        sys.exit(1 if bad else 0)
    n, bad = compare_new_factors("cuda", feature, seeds=range(2), epochs=3, hidden=(3, 2),
                                 activations=("relu", "tanh"), outputs=("same",))
    print(f"checked {n} batches numpy vs cuda (simulator) for {feature}; {len(bad)} differences")
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)
