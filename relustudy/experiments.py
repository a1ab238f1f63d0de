"""Named experiments beyond the default grid (issue 5), each a :class:`~relustudy.grid.Grid`.

An experiment is a fixed grid with a name, a one-line description and a reduced variant
that CI runs (a few seeds, a few epochs). It goes through the same runner as the default
grid -- same shards, resume and bitwise determinism -- and writes its dataset to
``data/<name>/`` (``paths.experiment_dir``), loadable with ``relustudy.load_runs``:

* ``q1_long`` -- Q1 at its own scale: tanh and sigmoid at lr 0.1 for 100,000 epochs;
* ``born_dead`` -- deep, narrow ReLU nets, width x depth, born dead at init or not
  (cf. Lu, Shin, Su, Karniadakis 2019);
* ``remedies`` -- the as-posted ReLU cell next to every remedy the posted answer and the
  study suggest (momentum, leaky ReLU, an identity output, He/Xavier init) and their
  combinations, all paired by seed, so each remedy's rescues of the failing seeds count.

Examples
--------
>>> from relustudy import experiments
>>> experiments.names()
['q1_long', 'born_dead', 'remedies']
>>> experiments.get("q1_long").n_runs
1600
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import check_choice
from .grid import Grid
from .paths import experiment_dir

# Born-dead architectures: every width repeated `depth` times, e.g. (8,) * 10.
BORN_DEAD_WIDTHS = (2, 3, 4, 5, 8)
BORN_DEAD_DEPTHS = (1, 2, 3, 5, 8, 10)
# Budget choice: born dead is decided at init, and 2000 epochs tell solved from collapsed
# (a net with a dead layer never recovers under the corrected update); 5000 would cost
# ~2.5x the ~2.5 min this experiment takes on 2 cores.
BORN_DEAD_EPOCHS = 2000


REDUCED_DIR = experiment_dir("quick")  # default parent of reduced runs (gitignored, like --quick's)


def _architectures(widths, depths) -> tuple[tuple[int, ...], ...]:
    return tuple((w,) * d for w in widths for d in depths)


@dataclass(frozen=True)
class Experiment:
    """A named grid: the full version shipped in data/<name>/ and a reduced one for CI."""

    name: str  # folder name under data/ and the --experiment value
    description: str  # one line, shown by --list-experiments
    full: Grid  # the shipped grid (its ``out`` is data/<name>)
    reduced: Grid  # same factors, few seeds/epochs/architectures: seconds, for tests and CI

    def grid(self, *, reduced: bool = False, out: str | Path | None = None) -> Grid:
        """The full grid writing to ``out`` (default data/<name>), or the reduced one (default
        data/quick/<name>, gitignored, so a CI-sized run never replaces the shipped data)."""
        g = self.reduced if reduced else self.full
        if out is None:
            out = REDUCED_DIR / self.name if reduced else experiment_dir(self.name)
        return dataclasses.replace(g, out=Path(out))


def _experiment(name: str, description: str, full: dict, reduced: dict, block: int) -> Experiment:
    full_grid = Grid(**full, block=block, out=experiment_dir(name))
    reduced_grid = dataclasses.replace(full_grid, **reduced, out=REDUCED_DIR / name)
    return Experiment(name, description, full_grid, reduced_grid)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _experiment(
            "q1_long",
            "Q1 at its own scale: tanh, sigmoid at lr 0.1 for 100,000 epochs, outputs same/identity, "
            "as_posted/corrected, learning curves (8 cells x 200 seeds)",
            dict(seeds=(0, 200), activations=("tanh", "sigmoid"), outputs=("same", "identity"), inits=("randn",),
                 updates=("as_posted", "corrected"), optimizers=("sgd",), lrs=(0.1,), epochs=(100_000,),
                 hidden=((4, 4),)),
            dict(seeds=(0, 8), epochs=(500,)),
            block=200,  # 8 cells of one task each: R = 200 runs per train_group call
        ),
        _experiment(
            "born_dead",
            f"born dead: ReLU nets of width {{2,3,4,5,8}} x depth {{1,2,3,5,8,10}}, randn/he init, corrected, "
            f"outputs same/identity, {BORN_DEAD_EPOCHS} epochs (120 cells x 500 seeds)",
            dict(seeds=(0, 500), activations=("relu",), outputs=("same", "identity"), inits=("randn", "he"),
                 updates=("corrected",), optimizers=("sgd",), lrs=(0.01,), epochs=(BORN_DEAD_EPOCHS,),
                 hidden=_architectures(BORN_DEAD_WIDTHS, BORN_DEAD_DEPTHS)),
            dict(seeds=(0, 16), epochs=(100,), hidden=_architectures((2, 8), (1, 10))),
            block=500,  # the two inits share a task: R = 1000
        ),
        _experiment(
            "remedies",
            "remedies on the failing seeds: as-posted ReLU vs momentum, leaky ReLU, identity output, "
            "he/xavier init and their combinations, paired by seed (24 cells x 3000 seeds)",
            dict(seeds=(0, 3000), activations=("relu", "leaky_relu"), outputs=("same", "identity"),
                 inits=("randn", "he", "xavier"), updates=("as_posted",), optimizers=("sgd", "momentum"),
                 lrs=(0.01,), epochs=(5000,), hidden=((4, 4),)),
            dict(seeds=(0, 10), epochs=(200,)),
            block=1000,  # the three inits share a task: R = 3000; blocks align with data/default's
        ),
    )
}


def names() -> list[str]:
    """The registered experiment names, in registry order."""
    return list(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The registered :class:`Experiment` called ``name``; ValueError listing the known ones."""
    return EXPERIMENTS[check_choice("experiment", name, names())]


def get(name: str, *, reduced: bool = False, out: str | Path | None = None) -> Grid:
    """The grid of experiment ``name`` (reduced: the CI version), writing to ``out``.

    The default ``out`` is data/<name> for the full grid, data/quick/<name> for the reduced.

    Raises ValueError (one line, listing the known names) for an unknown name.

    >>> get("born_dead").out.name, len(get("born_dead").hidden)
    ('born_dead', 30)
    """
    return get_experiment(name).grid(reduced=reduced, out=out)


def born_dead_at_init(runs: pd.DataFrame) -> pd.Series:
    """Per run: the network output is constant on the six inputs at init ("born dead").

    For ReLU hidden layers this holds (almost surely) iff some hidden layer has every unit
    dead on all six inputs (``dead_frac_init_l{k} == 1``) -- all above it computes from
    constants -- or, with a ReLU-family output (``output == "same"``), the output unit
    itself is dead (``output_dead_init``). False for other activations (a "dead" leaky
    ReLU or ELU unit still varies with its input). Matches ``theory.p_born_dead`` for the identity
    output; for ``same`` it also counts a dead output unit.

    Parameters
    ----------
    runs : a runs table (``load_runs``) with the per-layer ``dead_frac_init_l{k}`` columns.

    Returns
    -------
    bool Series aligned with ``runs``.
    """
    layer_cols = [c for c in runs.columns if c.startswith("dead_frac_init_l")]
    layer_dead = np.zeros(len(runs), dtype=bool)
    for c in layer_cols:
        layer_dead |= (runs[c] == 1.0).to_numpy()  # NaN (no such layer) compares False
    relu = (runs["activation"].astype(str) == "relu").to_numpy()  # a dead leaky/elu unit still varies
    same = (runs["output"].astype(str) == "same").to_numpy()
    out_dead = same & runs["output_dead_init"].to_numpy(dtype=bool)
    return pd.Series(relu & (layer_dead | out_dead), index=runs.index, name="born_dead")
