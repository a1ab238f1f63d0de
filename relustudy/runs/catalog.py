"""Named experiments beyond the default grid (issue 5), each a :class:`~relustudy.runs.spec.Grid`.

An experiment is a fixed grid with a name, a one-line description and a reduced variant
that CI runs (a few seeds, a few epochs). It goes through the same runner as the default
grid -- same shards, resume and bitwise determinism -- and writes its dataset to
``data/<name>/`` (``paths.experiment_dir``), loadable with ``relustudy.load_runs``:

* ``q1_long`` -- Q1 at its own scale: tanh and sigmoid at lr 0.1 for 100,000 epochs;
* ``born_dead`` -- deep, narrow ReLU nets, width x depth, born dead at init or not
  (cf. Lu, Shin, Su, Karniadakis 2019);
* ``remedies`` -- the as-posted ReLU cell next to every remedy the posted answer and the
  study suggest (momentum, leaky ReLU, an identity output, He/Xavier init) and their
  combinations, all paired by seed, so each remedy's rescues of the failing seeds count;
* ``million`` -- the posted cell at a million seeds, with the corrected update and momentum
  at the matched step beside it (compact columns, no curves);
* ``phase`` -- the phase diagram: failure over learning rate x init gain, both updates,
  SGD and momentum;
* ``depth_width`` -- born dead and died in training over depth x width with both updates at
  5000 epochs, with the published remedies RAI and small positive biases as inits;
* ``noise`` -- which randomness makes runs inconsistent (issue 19.2): the posted cell, the
  corrected update and lr 0.1 in a crossed design (init seeds x order seeds, shuffled), in
  float32 and from a one-ulp perturbed init, each paired by seed with the float64 runs;
* ``tuning`` -- each optimizer (SGD, momentum, Adam) over a log lr grid, per update and init
  gain, on enough seeds to tune lr on the even ones and evaluate on the odd ones (compact);
* ``remedies_optim`` -- the remedies under both updates, with momentum at the matched step and
  Adam beside SGD and momentum at equal lr (compact);
* ``generality`` -- is the lottery the toy's? Every task x the inits randn, he, xavier (= keras),
  torch x both updates x (relu, same), (relu, identity), (leaky_relu, identity), per-sample
  SGD, and the full batch beside it for (relu, same) (issue 27; compact).

* ``confirm``, ``confirm_q1`` -- the confirmation samples (issue 25): the cells a verdict of
  the report's opening or of the screen's sections compares with the posted cell (ReLU;
  Q1's tanh/sigmoid), at 100,000 seeds paired with ``million``'s seeds 0..99,999 (compact).

Examples
--------
>>> from relustudy.runs import catalog
>>> catalog.names()
['q1_long', 'born_dead', 'remedies', 'million', 'phase', 'depth_width', 'noise', 'tuning', 'remedies_optim', 'generality', 'confirm', 'confirm_q1']
>>> catalog.get("q1_long").n_runs
1600
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relustudy.core.checks import check_choice
from relustudy.runs.spec import Grid, GridUnion
from relustudy.runs.paths import experiment_dir

# Born-dead architectures: every width repeated `depth` times, e.g. (8,) * 10.
BORN_DEAD_WIDTHS = (2, 3, 4, 5, 8)
BORN_DEAD_DEPTHS = (1, 2, 3, 5, 8, 10)
# Budget choice: born dead is decided at init, and 2000 epochs tell solved from collapsed
# (a net with a dead layer never recovers under the corrected update); 5000 would cost
# ~2.5x the ~2.5 min this experiment takes on 2 cores.
BORN_DEAD_EPOCHS = 2000


# million: the posted cell at 10**6 seeds; the two contrasts at fewer, to fit ~10 min on 2 cores
# (1.4 M runs at ~2,500 runs/s); the contrasts' failure rates are still known to ~ +-0.2 %.
MILLION_SEEDS = 1_000_000
MILLION_CONTRAST_SEEDS = 500_000  # 400,000 training seeds beside the 100,000 held out (issue 16)
MILLION_BLOCK = 10_000  # R = 10,000 runs per task (~4-8 s): few, big shards

# phase: lr on a quarter-decade grid 1e-3 .. 1 (13 values; 0.01 and 0.1 lie on it, and a factor
# of 10 is 4 steps, so momentum's matched step lr (1 - 0.9) is a diagonal shift of 4 columns);
# init gain on a half-octave grid 1/4 .. 4 (9 values, 1 on it). Four significant digits keep the
# values clean decimals (0.01 exactly, so the posted cell is the default grid's cell).
PHASE_LRS = tuple(float(f"{10 ** (k / 4 - 3):.4g}") for k in range(13))
PHASE_GAINS = tuple(float(f"{2 ** (k / 2 - 2):.4g}") for k in range(9))
PHASE_SEEDS = 1000  # 468 cells x 1000 = 468,000 runs, ~3-4 min on 2 cores

# depth_width: widths 2..32 x depths 1..10, cut where a run costs too much. A run's time grows
# faster than its parameter count (runs/s at 5000 epochs on one core with the CPU shared:
# 4-4 ~510 (~1,270 alone), 4^10 68, 16-16 44, 8^10 8.9, 32-32 6.5, 16^5 4.2, 32^3 3.2, 16^10 2.5),
# so width 16 stops at depth 3 and width 32 at depth 2.
DEPTH_WIDTH_ARCHS = (
    tuple((w,) * d for w in (2, 4, 8) for d in (1, 2, 3, 5, 10))
    + tuple((16,) * d for d in (1, 2, 3))
    + tuple((32,) * d for d in (1, 2))
)
DEPTH_WIDTH_INITS = ("randn", "he", "rai", "he_b0.01", "he_b0.1")
DEPTH_WIDTH_SEEDS = 300  # 20 archs x 5 inits x 2 updates x 300 = 60,000 runs, ~10 min on 2 cores


# tuning (issue 17.2): lr on a half-decade grid 1e-4 .. 0.3162 (8 values, PHASE_LRS' values where
# they overlap; the matched step lr (1 - 0.9) is two columns left, and 1e-4 is there because
# momentum's best lr at gain >= 1 sits on phase's lower edge, 1e-3); the four gains the issue
# names; 2000 seeds: even ones tune, odd ones evaluate (1000 each, a rate to +-3 pp).
# 2 updates x 4 gains x 3 optimizers x 8 lrs x 2000 = 384,000 runs (compact, ~3 MB).
TUNING_LRS = tuple(float(f"{10 ** (k / 2 - 4):.4g}") for k in range(8))
TUNING_GAINS = (0.25, 0.5, 1.0, 2.0)
TUNING_SEEDS = 2000
OPTIM_OPTIMIZERS = ("sgd", "momentum", "adam")
# remedies_optim (issue 17.4): the remedies grid of `remedies` under both updates, with
# momentum at the matched step (lr 0.001 = 0.01 (1 - 0.9)) and Adam at torch's default lr 0.001
# (what a practitioner reaches for) beside SGD and momentum at the posted lr 0.01.
REMEDY_SEEDS = 3000  # the remedies table's seeds: its cells reproduce `remedies` run for run
ADAM_LR = 0.001

REDUCED_DIR = experiment_dir("quick")  # default parent of reduced runs (gitignored, like --quick's)


def _architectures(widths, depths) -> tuple[tuple[int, ...], ...]:
    return tuple((w,) * d for w in widths for d in depths)


@dataclass(frozen=True)
class Experiment:
    """A named grid: the full version shipped in data/<name>/ and a reduced one for CI."""

    name: str  # folder name under data/ and the --experiment value
    description: str  # one line, shown by --list-experiments
    full: Grid | GridUnion  # the shipped grid (its ``out`` is data/<name>)
    reduced: Grid | GridUnion  # same factors, few seeds/epochs/architectures: seconds, for tests and CI

    def grid(self, *, reduced: bool = False, out: str | Path | None = None) -> Grid | GridUnion:
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


def _million() -> Experiment:
    """The posted cell at a million seeds, plus the corrected update and momentum at the matched
    step (lr 0.001) at fewer; compact columns (no curves) so the shipped table stays small, with
    the output's death timing recorded by the engine at every epoch's end (track_output)."""
    posted = Grid(seeds=(0, MILLION_SEEDS), activations=("relu",), outputs=("same",), inits=("randn",),
                  updates=("as_posted",), optimizers=("sgd",), lrs=(0.01,), block=MILLION_BLOCK)
    contrasts = (
        dataclasses.replace(posted, seeds=(0, MILLION_CONTRAST_SEEDS), updates=("corrected",)),
        dataclasses.replace(posted, seeds=(0, MILLION_CONTRAST_SEEDS), optimizers=("momentum",), lrs=(0.001,)),
    )
    parts = (posted, *contrasts)
    full = GridUnion(parts, out=experiment_dir("million"), columns="compact", name="million", track_output=True)
    small = tuple(dataclasses.replace(p, seeds=(0, 40), epochs=(200,), block=20) for p in parts)
    reduced = GridUnion(small, out=REDUCED_DIR / "million", columns="compact", name="million", track_output=True)
    return Experiment(
        "million",
        f"a million seeds of the posted cell, plus corrected and momentum at lr 0.001 "
        f"({MILLION_CONTRAST_SEEDS:,} seeds each); compact columns, no curves ({full.n_runs:,} runs)",
        full,
        reduced,
    )


# noise: which randomness makes runs inconsistent (issue 19.2). Three cells -- posted, corrected,
# lr 0.1 -- in three designs: the crossed design (init seeds x order seeds, shuffled, float64),
# fixed order in float32, fixed order from a one-ulp perturbed init; plus lr 0.1's fixed-order
# float64 runs (posted's and corrected's are million's: the same runs bit for bit, not retrained).
NOISE_CROSSED_SEEDS = 4000
NOISE_ORDER_SEEDS = 16
NOISE_SEEDS = 100_000  # float32 and one-ulp runs per cell


def _noise() -> Experiment:
    """The designs of issue 19.2 on three cells; compact columns."""
    posted = Grid(seeds=(0, NOISE_SEEDS), activations=("relu",), outputs=("same",), inits=("randn",),
                  updates=("as_posted",), optimizers=("sgd",), lrs=(0.01,), block=MILLION_BLOCK)
    cells = (posted, dataclasses.replace(posted, updates=("corrected",)), dataclasses.replace(posted, lrs=(0.1,)))
    crossed = tuple(dataclasses.replace(c, seeds=(0, NOISE_CROSSED_SEEDS), data_orders=("shuffled",),
                                        order_seeds=tuple(range(NOISE_ORDER_SEEDS)), block=NOISE_CROSSED_SEEDS)
                    for c in cells)
    f32 = tuple(dataclasses.replace(c, dtypes=("float32",)) for c in cells)
    ulp = tuple(dataclasses.replace(c, init_perturbs=("one_ulp",)) for c in cells)
    parts = (*crossed, *f32, *ulp, cells[2])
    full = GridUnion(parts, out=experiment_dir("noise"), columns="compact", name="noise")
    small = tuple(dataclasses.replace(p, seeds=(0, 40), epochs=(200,), block=20,
                                      order_seeds=p.order_seeds[:4]) for p in parts)
    reduced = GridUnion(small, out=REDUCED_DIR / "noise", columns="compact", name="noise")
    return Experiment("noise", f"which randomness makes runs inconsistent: posted, corrected, lr 0.1 x crossed "
                      f"init ({NOISE_CROSSED_SEEDS:,}) x order seeds ({NOISE_ORDER_SEEDS}, shuffled), float32 and one "
                      f"ulp ({NOISE_SEEDS:,} seeds each); compact columns ({full.n_runs:,} runs)", full, reduced)


def _remedies_optim() -> Experiment:
    """Remedies x {as_posted, corrected} x {sgd 0.01, momentum 0.01, momentum 0.001, adam 0.001}."""
    base = Grid(seeds=(0, REMEDY_SEEDS), activations=("relu", "leaky_relu"), outputs=("same", "identity"),
                inits=("randn", "he", "xavier"), updates=("as_posted", "corrected"), optimizers=("sgd", "momentum"),
                lrs=(0.01,), epochs=(5000,), hidden=((4, 4),), block=1000)
    parts = [base, dataclasses.replace(base, optimizers=("momentum",), lrs=(0.001,)),
             dataclasses.replace(base, optimizers=("adam",), lrs=(ADAM_LR,))]
    full = GridUnion(tuple(parts), out=experiment_dir("remedies_optim"), columns="compact", name="remedies_optim")
    # CI version: the ReLU/same remedies only (6 kernel structures instead of 24: a numba kernel
    # compiles in ~7-30 s, which dominates a reduced run); the other remedies are the same code.
    small = tuple(dataclasses.replace(p, seeds=(0, 4), epochs=(200,), block=4, activations=("relu",),
                                      outputs=("same",)) for p in parts)
    reduced = GridUnion(small, out=REDUCED_DIR / "remedies_optim", columns="compact", name="remedies_optim")
    return Experiment(
        "remedies_optim",
        f"remedies under both updates: sgd and momentum at lr 0.01, momentum at the matched step 0.001"
        f", adam at {ADAM_LR:g} ({len(full.cells())} cells x {REMEDY_SEEDS} seeds); compact",
        full,
        reduced,
    )


# generality (issue 27): the posted lr and epochs on every task. An epoch of a 64-pair task is
# 64 per-sample updates against 6 (10.7x the posted run's updates at 5000 epochs); a full batch
# is one update per epoch. Seeds: the (relu, same) cells of the 6-pair tasks at 10**5 (the recipe's
# rows need 10**5), every other cell at 2 * 10**4. A 64-pair run costs ~11 posted runs, so those
# cells are cut in blocks of 5,000 seeds: an interrupted run keeps more of its work, and the blocks
# spread over the workers more evenly.
# keras is the xavier transform (inits.py): its runs equal xavier's bit for bit (a test says so),
# so the experiment trains xavier once and the study reports it under both names.
GENERALITY_TASKS_6 = ("posted", "posted_std")
GENERALITY_TASKS_64 = ("grid64", "grid64_std", "product64")
GENERALITY_INITS = ("randn", "he", "xavier", "torch")
GENERALITY_ALIASES = {"keras": "xavier"}  # init -> the init whose runs it equals bit for bit
GENERALITY_SEEDS_MAIN = 100_000
GENERALITY_SEEDS = 20_000
GENERALITY_SEEDS_64 = 20_000
GENERALITY_BLOCK_64 = 5_000


def _generality() -> Experiment:
    """tasks x inits x updates x (activation, output), batch 1, and batch full for (relu, same)."""
    base = Grid(seeds=(0, GENERALITY_SEEDS_MAIN), activations=("relu",), outputs=("same",), inits=GENERALITY_INITS,
                updates=("as_posted", "corrected"), optimizers=("sgd",), lrs=(0.01,), epochs=(5000,),
                hidden=((4, 4),), tasks=GENERALITY_TASKS_6, batches=(1, "full"), block=GENERALITY_SEEDS)
    identity = dataclasses.replace(base, seeds=(0, GENERALITY_SEEDS), activations=("relu", "leaky_relu"),
                                   outputs=("identity",), batches=(1,))
    big = dict(seeds=(0, GENERALITY_SEEDS_64), block=GENERALITY_BLOCK_64, tasks=GENERALITY_TASKS_64)
    parts = (base, identity, dataclasses.replace(base, **big), dataclasses.replace(identity, **big))
    full = GridUnion(parts, out=experiment_dir("generality"), columns="compact", name="generality")
    small = tuple(dataclasses.replace(p, seeds=(0, 8), epochs=(50,), block=8) for p in parts)
    reduced = GridUnion(small, out=REDUCED_DIR / "generality", columns="compact", name="generality")
    return Experiment("generality", f"is the lottery the toy's: 5 tasks x inits {'/'.join(GENERALITY_INITS)} x "
                      f"as_posted/corrected x (relu, same/identity), (leaky_relu, identity), batch 1 and full for "
                      f"(relu, same); {GENERALITY_SEEDS_MAIN:,} seeds for the 6-pair (relu, same) cells, "
                      f"{GENERALITY_SEEDS:,} for the other 6-pair cells, {GENERALITY_SEEDS_64:,} for the 64-pair "
                      f"ones; compact ({full.n_runs:,} runs)", full, reduced)
# confirm (issue 25.2): the screen (data/default, 1,000 seeds per cell) finds; these confirm. Seeds
# 0..99,999 are million's first 100,000, so every cell here is paired by seed with million's posted
# cell, corrected update and momentum at the matched step (those are million's runs, not retrained).
# Two experiments, because Q1's tanh/sigmoid cells cost 2x a ReLU cell: `confirm` (11 ReLU cells,
# 1.1 M runs, ~50 min on the shared 2-core machine at ~380 runs/s) and `confirm_q1` (8 cells, 0.8 M
# runs, ~70 min there); a study reads each one when it is present and the screen otherwise.
CONFIRM_SEEDS = 100_000
CONFIRM_BLOCK = 10_000  # R = 10,000-30,000 runs per task, like million's


def _confirm_posted() -> Grid:
    return Grid(seeds=(0, CONFIRM_SEEDS), activations=("relu",), outputs=("same",), inits=("randn",),
                updates=("as_posted",), optimizers=("sgd",), lrs=(0.01,), block=CONFIRM_BLOCK)


def _confirmation(name: str, description: str, parts: tuple[Grid, ...]) -> Experiment:
    full = GridUnion(parts, out=experiment_dir(name), columns="compact", name=name, track_output=True)
    small = tuple(dataclasses.replace(p, seeds=(0, 8), epochs=(100,), block=8) for p in parts)
    reduced = GridUnion(small, out=REDUCED_DIR / name, columns="compact", name=name, track_output=True)
    return Experiment(name, f"{description}, {CONFIRM_SEEDS:,} seeds each paired with million's; compact columns "
                            f"({full.n_runs:,} runs)", full, reduced)


def _confirm() -> Experiment:
    """The ReLU cells the recipe table and the screen's ReLU verdicts compare with the posted cell."""
    posted, r = _confirm_posted(), dataclasses.replace
    return _confirmation("confirm", "confirmation sample: the recipe's remedies, claim 3 at equal lr, He/Xavier/RAI "
                         "under both updates", (
        r(posted, outputs=("identity",), inits=("randn", "he")),  # an identity output (with randn and He)
        r(posted, activations=("leaky_relu",), outputs=("same", "identity")),  # leaky ReLU, either output
        r(posted, optimizers=("adam",), lrs=(ADAM_LR,)),  # Adam at torch's default lr
        r(posted, updates=("corrected",), inits=("he", "xavier", "rai")),  # He/Xavier/RAI with the fix
        r(posted, optimizers=("momentum",)),  # claim 3 at equal lr (the matched step is million's)
        r(posted, inits=("he", "xavier")),  # He/Xavier under the posted update
    ))


def _confirm_q1() -> Experiment:
    """Q1's cells: tanh and sigmoid at the asker's lr 0.1, both outputs, both updates."""
    posted = _confirm_posted()
    return _confirmation("confirm_q1", "confirmation sample of Q1: tanh/sigmoid at lr 0.1, outputs same/identity, "
                         "updates as_posted/corrected", (
        dataclasses.replace(posted, activations=("tanh", "sigmoid"), outputs=("same", "identity"),
                            updates=("as_posted", "corrected"), lrs=(0.1,)),
    ))


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
        _million(),
        _experiment(
            "phase",
            f"phase diagram: ReLU 2-4-4-1, randn, lr {PHASE_LRS[0]:g}..{PHASE_LRS[-1]:g} ({len(PHASE_LRS)}) x init gain "
            f"{PHASE_GAINS[0]:g}..{PHASE_GAINS[-1]:g} ({len(PHASE_GAINS)}), as_posted/corrected, sgd/momentum "
            f"({4 * len(PHASE_LRS) * len(PHASE_GAINS)} cells x {PHASE_SEEDS} seeds); compact columns",
            dict(seeds=(0, PHASE_SEEDS), activations=("relu",), outputs=("same",), inits=("randn",),
                 updates=("as_posted", "corrected"), optimizers=("sgd", "momentum"), lrs=PHASE_LRS,
                 epochs=(5000,), hidden=((4, 4),), init_gains=PHASE_GAINS,
                 columns="compact"),  # full: ~55 MB with curves; compact ~4 MB, and the map needs no curves
            dict(seeds=(0, 8), epochs=(200,), lrs=(0.001, 0.01, 1.0), init_gains=(0.25, 1.0, 4.0)),
            block=1000,  # the 9 gains share a task: R = 9000; seeds 0..999 are the default grid's
        ),
        _experiment(
            "depth_width",
            f"depth x width: ReLU widths 2..32 x depths 1..10 ({len(DEPTH_WIDTH_ARCHS)} nets), inits "
            f"{'/'.join(DEPTH_WIDTH_INITS)}, as_posted/corrected, 5000 epochs "
            f"({len(DEPTH_WIDTH_ARCHS) * len(DEPTH_WIDTH_INITS) * 2} cells x {DEPTH_WIDTH_SEEDS} seeds)",
            dict(seeds=(0, DEPTH_WIDTH_SEEDS), activations=("relu",), outputs=("same",), inits=DEPTH_WIDTH_INITS,
                 updates=("as_posted", "corrected"), optimizers=("sgd",), lrs=(0.01,), epochs=(5000,),
                 hidden=DEPTH_WIDTH_ARCHS),
            dict(seeds=(0, 6), epochs=(100,), hidden=((2,), (2,) * 10, (8, 8))),
            block=DEPTH_WIDTH_SEEDS,  # the five inits share a task: R = 1500
        ),
        _noise(),
        _experiment(
            "tuning",
            f"each optimizer at its best lr: ReLU 2-4-4-1, randn, {'/'.join(OPTIM_OPTIMIZERS)} x lr "
            f"{TUNING_LRS[0]:g}..{TUNING_LRS[-1]:g} ({len(TUNING_LRS)}) x init gain {'/'.join(f'{g:g}' for g in TUNING_GAINS)} "
            f"x as_posted/corrected, {TUNING_SEEDS} seeds (even tune, odd evaluate); compact columns",
            dict(seeds=(0, TUNING_SEEDS), activations=("relu",), outputs=("same",), inits=("randn",),
                 updates=("as_posted", "corrected"), optimizers=OPTIM_OPTIMIZERS, lrs=TUNING_LRS, epochs=(5000,),
                 hidden=((4, 4),), init_gains=TUNING_GAINS, columns="compact"),
            dict(seeds=(0, 8), epochs=(200,), lrs=TUNING_LRS[2:7:2], init_gains=(0.25, 2.0)),
            block=1000,  # the 4 gains share a task: R = 4000
        ),
        _remedies_optim(),
        _generality(),
        _confirm(),
        _confirm_q1(),
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
