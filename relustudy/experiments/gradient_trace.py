"""Gradient magnitudes along the learning curves of the asker's tanh/sigmoid setting (Q1).

Does the gradient vanish, and where? For each cell and seed, the weights after e epochs are
those of the same run stopped at e (training is deterministic and nothing depends on the
total epoch count), so the run is retrained to each curve epoch e and, at those weights,
the full loss gradient is taken layer by layer (``diagnostics.loss_gradient``) together with
the output unit's derivative f'(z) and the residual. Stored in ``data/q1_gradients/``
(``python scripts/run_gradient_trace.py``, about a minute); the report reads the table.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from relustudy.runs.cards import write_card
from relustudy.core import diagnostics
from relustudy.runs import sharded
from relustudy.core.activations import get_activation
from relustudy.core.config import Cell
from relustudy.core.engines.layout import curve_epochs
from relustudy.runs.paths import DATA_DIR
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import forward_all, train

GRADIENTS_FILE = "gradients.parquet"
MAKE = "python scripts/run_gradient_trace.py"
SEEDS = (0, 200)
CELLS = tuple(Cell(activation=a, output=o, init="randn", update="as_posted", optimizer="sgd", lr=0.1, hidden="4-4")
              for a in ("tanh", "sigmoid") for o in ("same", "identity"))


def _acts(cell: Cell):
    hidden = get_activation(cell.activation)
    return [hidden] * len(cell.hidden) + [hidden if cell.output == "same" else get_activation("identity")]


def gradient_magnitudes(cell: Cell, params) -> dict:
    """Per run (R,): the loss gradient's norm per layer (W and b together), the mean |f'(z)|
    of the output unit over the six inputs, and the root-mean-square residual.

    params : per layer (W: (n_out, n_in, R), b: (n_out, R)).
    """
    acts = _acts(cell)
    zs = forward_all(params, acts, X_TRAIN)
    grads = diagnostics.loss_gradient(params, acts, X_TRAIN, Y_TRAIN)
    out = {}
    for k, (dw, db) in enumerate(grads, start=1):
        name = "output" if k == len(grads) else f"layer{k}"
        R = dw.shape[-1]
        out[f"grad_{name}"] = np.sqrt((dw.reshape(-1, R) ** 2).sum(0) + (db.reshape(-1, R) ** 2).sum(0))
    z = zs[-1]  # (1, S, R)
    a = np.empty_like(z)
    acts[-1].forward(z, a)
    d = np.ones_like(z)
    acts[-1].backward(d, z, a, np.empty_like(z))  # d = f'(z) of the output unit
    out["output_derivative"] = np.abs(d[0]).mean(axis=0)
    out["residual_rms"] = np.sqrt(((a[0] - Y_TRAIN[:, None]) ** 2).mean(axis=0))
    return out


def trace(cell: Cell, seeds, epochs=None, engine: str | None = None) -> pd.DataFrame:
    """Long table: activation, output, seed, epoch and the :func:`gradient_magnitudes` columns,
    one row per (seed, curve epoch of ``cell``)."""
    seeds = np.asarray(list(seeds))
    frames = []
    for e in (curve_epochs(cell.epochs) if epochs is None else epochs):
        res = train(dataclasses.replace(cell, epochs=int(e)), seeds, engine=engine)
        m = gradient_magnitudes(cell, res.params)
        frames.append(pd.DataFrame({"activation": cell.activation, "output": cell.output, "seed": seeds,
                                    "epoch": int(e), **m}))
    return pd.concat(frames, ignore_index=True)


def run(out: Path, seeds=SEEDS, cells=CELLS, engine: str | None = None) -> Path:
    df = pd.concat([trace(c, range(*seeds), engine=engine) for c in cells], ignore_index=True)
    Path(out).mkdir(parents=True, exist_ok=True)
    path = sharded.write_frame(df, Path(out) / GRADIENTS_FILE,
                               {"kind": "q1_gradients", "seeds": list(seeds), "cells": [c.to_dict() for c in cells]})
    write_card(out)
    return path


def load(path) -> pd.DataFrame:
    return sharded.read_frame(Path(path) / GRADIENTS_FILE, "q1_gradients", MAKE)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="run_gradient_trace.py", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(DATA_DIR / "q1_gradients"), metavar="DIR")
    p.add_argument("--seeds", default=f"{SEEDS[0]}:{SEEDS[1]}", metavar="A:B")
    p.add_argument("--engine", default=None)
    args = p.parse_args(argv)
    try:
        a, b = (int(x) for x in args.seeds.split(":"))
        if not 0 <= a < b:
            raise ValueError
    except ValueError:
        print(f"run_gradient_trace.py: error: invalid --seeds {args.seeds!r}; allowed: A:B with 0 <= A < B",
              file=sys.stderr)
        return 2
    path = run(Path(args.out), (a, b), engine=args.engine)
    print(f"wrote {path}")
    return 0
