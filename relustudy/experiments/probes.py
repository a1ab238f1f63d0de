"""Mechanism probes of momentum: variants of the momentum rule, NumPy engine only.

Two questions about *why* momentum changes the posted program's failure rate:

* **The bias decay.** Under the posted update the biases decay as ``b -= lr b``; momentum
  accelerates that decay too, and a decaying bias can revive a born-dead output unit. The
  2 x 2 probe applies momentum to the weights, to the biases, to both or to neither
  (:data:`BIAS_PROBES`), at the same lr: what momentum on the biases alone does is the
  bias-decay mechanism.
* **Overshoot vs step size.** At the matched step lr (1 - beta) momentum still kills more
  outputs alive at init than SGD. Dampened momentum ``v = beta v + (1 - beta) step`` has the
  step's size at any beta, so sweeping beta at one effective step varies only the inertia
  (:data:`INERTIA_PROBES`, beta 0 = SGD, beta 0.9 = momentum at the matched step up to rounding):
  deaths that rise with beta are deaths by inertia (the velocity carries a unit past zero after
  its gradient has stopped), not by step size.

The variants are :class:`relustudy.core.engines.reference.MomentumRule` run options of the NumPy
reference engine, not values of the ``optimizer`` factor: the grid, the fused engines and the
datasets never see them, and :func:`train_probe` refuses any other engine with a one-line
error. The probe table has the runs table's columns (those the report's vocabulary reads) plus
``probe``; it is paired by seed with itself and with any dataset of the same cells.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from relustudy.runs.cards import write_card
from relustudy.runs import sharded
from relustudy.core.config import Cell
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.checks import check_seeds
from relustudy.runs.provenance import provenance
from relustudy.core.engines.reference import MomentumRule, sgd
from relustudy.core.inits import init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.schema import cell_id
from relustudy.core.train import _activations, _state_metrics, evaluate


def bias_decay_oscillates(lr: float, beta: float, *, dampened: bool = False) -> bool:
    """Whether heavy-ball momentum on the posted bias decay ``b -= lr b`` overshoots zero.

    With v = beta v + c lr b, b -= v (c = 1, or 1 - beta dampened) the bias follows
    b_{t+1} = (1 + beta - c lr) b_t - beta b_{t-1}, whose characteristic roots are complex
    (b oscillates about 0 and changes sign) iff c lr > (1 - sqrt(beta))^2. Plain SGD (beta 0)
    decays monotonically for lr < 1. A sign change of the output bias can lift a born-dead
    output unit back into the active region.

    >>> bias_decay_oscillates(0.01, 0.9), bias_decay_oscillates(0.001, 0.9)   # (1 - sqrt 0.9)^2 = 0.00263
    (True, False)
    """
    c = (1 - beta) if dampened else 1.0
    return bool(beta > 0 and c * lr > (1 - np.sqrt(beta)) ** 2)


@dataclass(frozen=True)
class Probe:
    """One variant: the optimizer factor it starts from, its rule (None: the factor's own rule)
    and the lr as a multiple of the probe's base lr."""

    optimizer: str  # "sgd" or "momentum"
    rule: MomentumRule | None
    lr_scale: float  # lr = base lr x lr_scale
    note: str  # one line for the report


_B = MOMENTUM
# At one lr: momentum on neither / weights / biases / both parameter kinds.
BIAS_PROBES: dict[str, Probe] = {
    "sgd": Probe("sgd", None, 1.0, "plain SGD"),
    "momentum on weights only": Probe("momentum", MomentumRule(_B, 0.0), 1.0, "biases take the plain step"),
    "momentum on biases only": Probe("momentum", MomentumRule(0.0, _B), 1.0, "the posted bias decay accelerated, weights plain"),
    "momentum": Probe("momentum", None, 1.0, "the momentum factor (both kinds)"),
}
INERTIA_BETAS = (0.5, 0.9, 0.99)
# At one effective step: dampened momentum, beta 0 (= SGD) .. 0.99; velocity time constant 1/(1 - beta).
INERTIA_PROBES: dict[str, Probe] = {
    f"dampened beta {b:g}": Probe("momentum", MomentumRule(b, b, dampened=True), 1.0, f"inertia ~{1 / (1 - b):.0f} steps")
    for b in INERTIA_BETAS
}
PROBES: dict[str, Probe] = {**BIAS_PROBES, **INERTIA_PROBES}

# The probe design: the posted cell at the posted lr, at init gain 1 (the posted program) and
# 0.25 (where momentum helps most in the phase map); 1000 seeds each (7 probes x 2 gains x 1000 =
# 14,000 runs; measured 3.9 min on 2 cores shared by ~6 helpers, 8-31 s per 1000 runs).
PROBE_CELL = Cell()  # relu, same, randn, as_posted, lr 0.01, 5000 epochs
PROBE_GAINS = (1.0, 0.25)
PROBE_SEEDS = 1000
PROBE_COLUMNS = (
    "probe", "cell_id", "seed", "activation", "output", "init", "update", "optimizer", "lr", "epochs", "hidden",
    "init_gain", "final_mse", "outcome", "output_dead_init", "output_dead_final", "output_margin_init",
    "output_margin_final", "output_death_epoch", "output_state_changes", "dead_frac_init", "dead_frac_final",
)


def train_probe(cell: Cell, seeds: Sequence[int], probe: str, *, engine: str = "numpy") -> pd.DataFrame:
    """Train ``cell`` under probe ``probe`` (a key of :data:`PROBES`) for ``seeds``.

    ``cell.optimizer`` and ``cell.lr`` are replaced by the probe's (lr = cell.lr x lr_scale);
    everything else (update, init gain, epochs, ...) is the cell's. Returns one row per seed
    with :data:`PROBE_COLUMNS` and the per-layer dead fractions.

    Raises ValueError (one line) for an unknown probe or an engine other than "numpy".
    """
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; allowed: {', '.join(PROBES)}")
    if engine != "numpy":
        raise ValueError(f"probe {probe!r} runs on the numpy reference engine only; got engine {engine!r}")
    p = PROBES[probe]
    c = dataclasses.replace(cell, optimizer=p.optimizer, lr=cell.lr * p.lr_scale)
    s = np.asarray(check_seeds(seeds), dtype=np.int64)
    params = init_params(c.init, s, c.layer_sizes, c.init_gain)
    acts = _activations(c)
    init_m, _ = _state_metrics("init", params, acts, X_TRAIN)
    track = (np.empty(s.size, np.int32), np.empty(s.size, np.int32))  # the engine's death timing (SPEC 16.3)
    _, _, _, last = sgd(params, acts, np.full(s.size, c.lr), c, X_TRAIN, Y_TRAIN, track=track, rule=p.rule)
    final_m = evaluate(c, params, last_epoch_error=last)
    row = {"probe": probe, "cell_id": cell_id(c), "seed": s, **c.to_dict(), "init_gain": c.init_gain,
           "output_death_epoch": track[0], "output_state_changes": track[1]}
    df = pd.DataFrame({**row, **init_m, **final_m})
    df["outcome"] = df["outcome"].astype(str)
    keep = [k for k in PROBE_COLUMNS if k in df] + sorted(k for k in df if k.startswith("dead_frac_") and k not in PROBE_COLUMNS)
    return df[keep]


def run_probes(seeds: tuple[int, int] = (0, PROBE_SEEDS), gains: Sequence[float] = PROBE_GAINS,
               probes: Sequence[str] = tuple(PROBES), cell: Cell = PROBE_CELL, log=print) -> pd.DataFrame:
    """Every probe x gain on seeds [start, stop); one table (the probes' own dataset)."""
    parts = []
    for g in gains:
        for name in probes:
            t = time.time()
            parts.append(train_probe(dataclasses.replace(cell, init_gain=g), range(*seeds), name))
            log(f"probe {name!r} gain {g:g}: {seeds[1] - seeds[0]} runs in {time.time() - t:.1f} s")
    return pd.concat(parts, ignore_index=True)


PROBES_FILE = "probes.parquet"
KIND = "optim_probes"  # the table's kind in our Parquet metadata
MAKE = "python -m relustudy.experiments.probes --out data/optim_probes"


def load_probes(folder) -> pd.DataFrame:
    """The probes table written by :func:`main` (``folder/probes.parquet``); one-line errors for
    a missing or foreign file, or one that lacks the columns the analyses read."""
    df = sharded.read_frame(Path(folder) / PROBES_FILE, KIND, MAKE)
    missing = [c for c in ("probe", "seed", "init_gain", "outcome", "output_dead_init", "output_state_changes")
               if c not in df]
    if missing:
        raise ValueError(f"{Path(folder) / PROBES_FILE} lacks column(s) {missing}; rerun `{MAKE}`")
    return df


def main(argv=None) -> int:
    """``python -m relustudy.experiments.probes --out data/optim_probes [--seeds 0:1000] [--epochs N]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for probes.parquet")
    ap.add_argument("--seeds", default=f"0:{PROBE_SEEDS}", help="start:stop (default %(default)s)")
    ap.add_argument("--epochs", type=int, default=PROBE_CELL.epochs)
    a = ap.parse_args(argv)
    try:
        start, stop = (int(v) for v in a.seeds.split(":"))
        cell = Cell(epochs=a.epochs)
        if not 0 <= start < stop:
            raise ValueError
    except ValueError as e:
        print(f"error: bad --seeds/--epochs ({e or a.seeds}); allowed: --seeds start:stop with 0 <= start < stop, --epochs >= 1", file=sys.stderr)
        return 2
    out = Path(a.out)
    df = run_probes((start, stop), cell=cell, log=lambda m: print(m, file=sys.stderr))
    out.mkdir(parents=True, exist_ok=True)
    config = {"seeds": f"{start}:{stop}", "cell": cell.to_dict(), "gains": list(PROBE_GAINS), "probes": list(PROBES)}
    command = f"python -m relustudy.experiments.probes --out {out} --seeds {start}:{stop}" + (
        f" --epochs {a.epochs}" if a.epochs != PROBE_CELL.epochs else "")
    sharded.write_frame(df, out / PROBES_FILE, {"kind": KIND, "provenance": provenance(config, command, engine="numpy")})
    write_card(out)
    print(f"wrote {out / PROBES_FILE}: {len(df):,} runs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
