"""How a run dies: when the output unit (and each hidden layer) goes dead, which update did it,
and whether it comes back.

A unit is *dead* when its pre-activation is <= 0 on all six training inputs; its *margin*
is its largest pre-activation over them (dead iff margin <= 0). A layer is dead when all
its units are. Training is replayed through the NumPy reference engine with an observer
that, after every layer's update of every sample step, recomputes the margins. Since
every engine gives the same bits, the replay is the very run the dataset holds (tested
against the numba engine), seen at the resolution of single updates:

* the first death of the output unit: epoch, sample step, and which layer's update took
  its margin from > 0 to <= 0 (the backward pass updates the output layer first, then the
  layers below), with the margin just before and just after that update; death at init
  counts as epoch 0;
* the first revival after it (the posted program's bias decay ``b -= lr * b`` can lift a
  dead unit's margin back above zero), and which layer's update did that;
* the first epoch at which each hidden layer is dead; the final state; the number of
  deaths.

Replaying costs L extra six-input forward passes per sample step (about 3x the training
time in the reference engine), so it runs on chosen cells (:data:`CELLS`), not the grid.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from relustudy.runs.cards import write_card
from relustudy.runs import sharded
from relustudy.core.config import Cell
from relustudy.core.checks import check_seeds
from relustudy.core.engines import reference
from relustudy.core.inits import Params, init_params, perturb_init
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.schema import cell_id
from relustudy.core.train import _activations, forward_all
from relustudy.runs.provenance import provenance
from relustudy.runs.lock import folder_lock
from relustudy.runs.paths import DATA_DIR
from relustudy.stats.proportions import proportion_ci

NEVER = -1  # epoch/step/layer code of an event that did not happen
AT_INIT = 0  # epoch (and killer layer) of a unit that was dead before training

# The posted cell and the variants whose deaths the report compares (issue 10): name -> Cell.
CELLS: dict[str, Cell] = {
    "as posted": Cell(),
    "corrected update": Cell(update="corrected"),
    "momentum, equal lr": Cell(optimizer="momentum"),
    "momentum, matched step": Cell(optimizer="momentum", lr=0.001),
    "lr 0.1": Cell(lr=0.1),
}


def margins(params: Params, acts, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output unit's margin and which hidden layers are dead, for R networks.

    Parameters
    ----------
    params : per layer (W (n_out, n_in, R), b (n_out, R)).
    acts : one Activation per layer.
    x : (S, 2) inputs.

    Returns
    -------
    (out_margin (R,): max over the S inputs of the output pre-activation,
     layer_dead (L-1, R) bool: every unit of hidden layer k is <= 0 on every input)
    """
    zs = forward_all(params, acts, x)
    out_margin = zs[-1][0].max(axis=0)
    layer_dead = np.array([np.all(z <= 0.0, axis=(0, 1)) for z in zs[:-1]]).reshape(len(zs) - 1, -1)
    return out_margin, layer_dead


@dataclass
class _Watch:
    """The observer's state over R runs: events found so far (every array is (R,) unless noted)."""

    acts: list
    x: np.ndarray
    n_samples: int
    n_layers: int
    margin: np.ndarray  # current output margin
    death_epoch: np.ndarray
    death_step: np.ndarray  # global sample step, (epoch - 1) * S + sample + 1; 0 at init
    killer: np.ndarray  # 1-based layer whose update killed the output; 0 at init
    margin_before: np.ndarray
    margin_after: np.ndarray
    revival_epoch: np.ndarray
    revival_step: np.ndarray
    reviver: np.ndarray
    deaths: np.ndarray
    layer_death_epoch: np.ndarray  # (L-1, R)
    trace_index: np.ndarray  # (T,) runs whose margin after every step is kept
    trace: list  # of (T,) arrays, one per sample step

    @classmethod
    def start(cls, params: Params, acts, x: np.ndarray, trace_index: np.ndarray) -> "_Watch":
        R = params[0][0].shape[-1]
        margin, layer_dead = margins(params, acts, x)
        dead = margin <= 0.0
        never = np.full(R, NEVER, dtype=np.int64)
        at_init = np.where(dead, AT_INIT, NEVER)
        return cls(
            acts=acts, x=x, n_samples=len(x), n_layers=len(params), margin=margin,
            death_epoch=at_init.copy(), death_step=at_init.copy(), killer=at_init.copy(),
            margin_before=np.where(dead, margin, np.nan), margin_after=np.where(dead, margin, np.nan),
            revival_epoch=never.copy(), revival_step=never.copy(), reviver=never.copy(),
            deaths=dead.astype(np.int64),
            layer_death_epoch=np.where(layer_dead, AT_INIT, NEVER).astype(np.int64),
            trace_index=trace_index, trace=[margin[trace_index].copy()],
        )

    def __call__(self, epoch: int, sample: int, layer: int, params: Params) -> None:
        """After layer ``layer``'s update (0-based) at ``sample`` of ``epoch``: record what changed."""
        margin, layer_dead = margins(params, self.acts, self.x)
        step = (epoch - 1) * self.n_samples + sample + 1
        died = (self.margin > 0.0) & (margin <= 0.0)
        first = died & (self.death_epoch == NEVER)
        self.death_epoch[first], self.death_step[first], self.killer[first] = epoch, step, layer + 1
        self.margin_before[first], self.margin_after[first] = self.margin[first], margin[first]
        self.deaths += died
        revived = (self.margin <= 0.0) & (margin > 0.0) & (self.death_epoch != NEVER) & (self.revival_epoch == NEVER)
        self.revival_epoch[revived], self.revival_step[revived], self.reviver[revived] = epoch, step, layer + 1
        newly = layer_dead & (self.layer_death_epoch == NEVER)
        self.layer_death_epoch[newly] = epoch
        self.margin = margin
        if layer == 0:  # the step's last update: keep the traced runs' margin
            self.trace.append(margin[self.trace_index].copy())


@dataclass
class Forensics:
    """What :func:`replay` found. ``runs``: one row per run; ``traces``: long-form margins."""

    runs: pd.DataFrame  # keyed by (cell_id, seed); columns in the module docstring
    traces: pd.DataFrame  # cell_id, seed, step (0 = init), output_margin
    final_params: Params  # per layer (W (n_out, n_in, R), b (n_out, R)) after training


def replay(cell: Cell, seeds: Sequence[int], *, trace_seeds: Sequence[int] = (), init: Params | None = None,
           data: tuple | None = None) -> Forensics:
    """Train ``cell`` on ``seeds`` in the reference engine, watching every update.

    Parameters
    ----------
    cell, seeds : the runs (R = len(seeds)).
    trace_seeds : seeds (among ``seeds``) whose output margin after every sample step is kept.
    init : optional initial parameters instead of the seeded draws (per layer W (n_out, n_in, R),
        b (n_out, R)), e.g. a net built to die at a known step.
    data : optional (X (S, 2), Y (S,)) instead of the six training pairs.
    """
    seeds = np.asarray(check_seeds(seeds), dtype=np.int64)
    x, y = (X_TRAIN, Y_TRAIN) if data is None else (np.asarray(data[0], float), np.asarray(data[1], float))
    params = init_params(cell.init, seeds, cell.layer_sizes, cell.init_gain) if init is None else init
    dtype = np.dtype(cell.dtype)  # a float32 cell's init is rounded once, as train() does
    params = [(w.astype(dtype), b.astype(dtype)) for w, b in params]  # copies: the caller's init stays
    params = perturb_init(cell.init_perturb, params, seeds)  # as train() does, in the run's dtype
    acts = _activations(cell)
    missing = sorted(set(trace_seeds) - set(seeds.tolist()))
    if missing:
        raise ValueError(f"trace seed(s) {missing} not among the replayed seeds; allowed: a subset of seeds")
    trace_index = np.array([int(np.flatnonzero(seeds == s)[0]) for s in trace_seeds], dtype=np.int64)
    watch = _Watch.start(params, acts, x, trace_index)
    lr = np.full(len(seeds), cell.lr).astype(dtype)
    order_seed = np.full(len(seeds), cell.order_seed, dtype=np.uint64)
    reference.sgd(params, acts, lr, cell, x.astype(dtype), y.astype(dtype), order_seed=order_seed, observer=watch)
    cid = cell_id(cell)
    runs = pd.DataFrame({
        "cell_id": cid,
        "seed": seeds,
        "output_death_epoch": watch.death_epoch,
        "output_death_step": watch.death_step,
        "output_killer_layer": watch.killer,
        "output_margin_before": watch.margin_before,
        "output_margin_after": watch.margin_after,
        "output_deaths": watch.deaths,
        "output_revival_epoch": watch.revival_epoch,
        "output_revival_step": watch.revival_step,
        "output_reviver_layer": watch.reviver,
        "output_dead_end": watch.margin <= 0.0,
        **{f"layer{k + 1}_death_epoch": watch.layer_death_epoch[k] for k in range(watch.layer_death_epoch.shape[0])},
    })
    steps = np.arange(len(watch.trace))
    traces = pd.DataFrame({
        "cell_id": cid,
        "seed": np.repeat(seeds[trace_index], len(steps)),
        "step": np.tile(steps, len(trace_index)),
        "output_margin": np.array(watch.trace).T.reshape(-1) if len(trace_index) else np.empty(0),
    })
    return Forensics(runs=runs, traces=traces, final_params=params)


# --------------------------------------------------------------------------- the experiment

TRACE_CANDIDATES = 64  # seeds traced per cell; the figure keeps a few that died in training
TRACE_KEEP = 6  # traced runs kept per cell: deaths in training first, then survivors
TRACE_FINE_STEPS = 1200  # every sample step is kept up to here (200 epochs), then every 30th
TRACE_STRIDE = 30
FORENSICS_FILE, TRACES_FILE = "forensics.parquet", "traces.parquet"


def _thin_traces(f: Forensics, keep: int = TRACE_KEEP) -> pd.DataFrame:
    """The traced runs worth drawing: up to ``keep``, deaths during training first, steps thinned."""
    runs = f.runs.set_index("seed")
    traced = f.traces["seed"].unique()
    died = [s for s in traced if runs.loc[s, "output_death_epoch"] > AT_INIT]
    lived = [s for s in traced if runs.loc[s, "output_death_epoch"] == NEVER]
    chosen = (died + lived)[:keep]
    t = f.traces[f.traces["seed"].isin(chosen)]
    t = t[(t["step"] <= TRACE_FINE_STEPS) | (t["step"] % TRACE_STRIDE == 0)]
    return t.astype({"output_margin": np.float32}).reset_index(drop=True)


def _replay_cell(cell: Cell, start: int, stop: int, rpath: Path, tpath: Path) -> None:
    """Replay one cell and write its two shard files (a worker's job)."""
    f = replay(cell, range(start, stop), trace_seeds=range(start, min(stop, start + TRACE_CANDIDATES)))
    sharded.write_frame(_thin_traces(f), tpath)
    sharded.write_frame(f.runs, rpath)


def run_forensics(out, seeds: tuple[int, int] = (0, 1000), cells: dict[str, Cell] | None = None, *,
                  jobs: int | None = None, log=print) -> tuple[Path, Path]:
    """Replay every cell of ``cells`` (default :data:`CELLS`) on seeds ``start..stop-1`` into ``out``.

    Writes ``out/forensics.parquet`` (one row per run, with the cell's factors and a
    ``variant`` name) and ``out/traces.parquet``; each cell is a shard under
    ``out/shards/`` written atomically, so an interrupted run resumes where it stopped.
    Cells are replayed in parallel on ``jobs`` processes (default: every usable core).
    """

    cells = CELLS if cells is None else cells
    start, stop = seeds
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, log):
        shards = sharded.prepare(out)
        paths = {name: (shards / f"{cell_id(c)}_s{start:07d}-{stop:07d}.runs.parquet",
                        shards / f"{cell_id(c)}_s{start:07d}-{stop:07d}.traces.parquet") for name, c in cells.items()}
        items = [(paths[n], _replay_cell, (c, start, stop, *paths[n])) for n, c in cells.items()]
        for _, _, (c, *_) in sharded.missing(items):
            log(f"forensics: replaying {c.to_json()}, seeds {start}:{stop}")
        sharded.run_missing(items, jobs=jobs)
        runs, traces = [], []
        for name, cell in cells.items():
            rpath, tpath = paths[name]
            r = pd.read_parquet(rpath)
            if len(r) != stop - start:
                raise ValueError(f"{rpath} holds {len(r)} runs, not {stop - start}; delete it to redo the cell")
            for factor, value in cell.to_dict().items():
                r[factor] = value
            r.insert(0, "variant", name)
            runs.append(r)
            traces.append(pd.read_parquet(tpath).assign(variant=name))
        prov = provenance({"seeds": f"{start}:{stop}", "cells": {n: c.to_dict() for n, c in cells.items()}},
                          f"python scripts/run_forensics.py --seeds {start}:{stop} --out {out}", engine="numpy")
        written = []
        for kind, frames, file in (("forensics", runs, FORENSICS_FILE), ("traces", traces, TRACES_FILE)):
            df = pd.concat(frames, ignore_index=True)
            df["variant"] = pd.Categorical(df["variant"], categories=list(cells))
            written.append(sharded.write_frame(df, out / file, {"kind": kind, "provenance": prov}))
        write_card(out)
    return written[0], written[1]


def load_forensics(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, traces) written by :func:`run_forensics` into folder ``path``; one-line errors otherwise."""
    make = "python scripts/run_forensics.py"
    return (sharded.read_frame(Path(path) / FORENSICS_FILE, "forensics", make),
            sharded.read_frame(Path(path) / TRACES_FILE, "traces", make))


QUICK_EPOCHS = 200  # --quick: every cell at 200 epochs, 50 seeds (CI-sized)


def main(argv=None) -> int:
    """``scripts/run_forensics.py``: replay the :data:`CELLS` and write the forensics tables."""
    import argparse
    import dataclasses
    import sys


    p = argparse.ArgumentParser(prog="run_forensics.py", description=(
        "Replay the posted ReLU cell and its main variants (" + "; ".join(CELLS) + ") update by update and "
        "record how the output unit dies: when, by which layer's update, whether it revives. Writes "
        "DIR/forensics.parquet and DIR/traces.parquet; rerunning resumes (one shard per cell)."))
    p.add_argument("--seeds", default="0:1000", metavar="A:B",
                   help="seed range, A included, B excluded (default 0:1000, the default grid's seeds)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="processes, one cell each (default: all cores)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default data/forensics; --quick: data/quick/forensics)")
    p.add_argument("--quick", action="store_true", help=f"seeds 0:50 at {QUICK_EPOCHS} epochs, for a check in seconds")
    args = p.parse_args(argv)
    try:
        start, stop = (int(v) for v in ("0:50" if args.quick else args.seeds).split(":"))
        if not 0 <= start < stop <= 2**32:
            raise ValueError
    except ValueError:
        print(f"run_forensics.py: error: invalid --seeds {args.seeds!r}; allowed: A:B with integers 0 <= A < B <= 2**32",
              file=sys.stderr)
        return 2
    cells = {n: dataclasses.replace(c, epochs=QUICK_EPOCHS) for n, c in CELLS.items()} if args.quick else CELLS
    out = args.out or (DATA_DIR / "quick" / "forensics" if args.quick else DATA_DIR / "forensics")
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        paths = run_forensics(out, (start, stop), cells, jobs=args.jobs, log=log)
    except Exception as e:  # FolderLocked and friends: one line, nothing half-written
        print(f"run_forensics.py: error: {e}", file=sys.stderr)
        return 2
    log(f"wrote {paths[0]} and {paths[1]}")
    return 0


# --------------------------------------------------------------------------- analysis

EARLY_EPOCHS, LATE_EPOCHS = 10, 1000  # a death "early" (<= 10 epochs) or "late" (> 1000)


def layer_name(k: int, n_layers: int) -> str:
    """'output layer' for the top dense layer, else 'layer k' (1-based); 'init' for 0."""
    if k == AT_INIT:
        return "init"
    return "output layer" if k == n_layers else f"layer {k}"


def death_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: how many outputs die, when, by whose update, and how many come back.

    Parameters
    ----------
    runs : the forensics table (:func:`load_forensics`), one row per run, with ``variant``.

    Returns
    -------
    One row per variant: n, born dead (k, rate), died in training (k, rate, 95% CI),
    quantiles of the death epoch among deaths in training, the shares of them in the first
    EARLY_EPOCHS and after LATE_EPOCHS epochs, the share killed by each layer's update (with
    Clopper-Pearson CIs), revived (k among all deaths), revived by which layer, dead at the end.
    """

    rows = []
    n_layers = len([c for c in runs.columns if c.startswith("layer") and c.endswith("_death_epoch")]) + 1
    for variant, g in runs.groupby("variant", observed=True, sort=False):
        n = len(g)
        born = int((g["output_death_epoch"] == AT_INIT).sum())
        trained = g[g["output_death_epoch"] > AT_INIT]
        k = len(trained)
        died = proportion_ci(k, n)
        ever = g[g["output_death_epoch"] != NEVER]
        revived = ever[ever["output_revival_epoch"] != NEVER]
        row = {"variant": variant, "n": n, "born_dead": born, "born_dead_rate": born / n,
               "died_in_training": k, "died_rate": died.rate, "died_ci_low": died.ci_low, "died_ci_high": died.ci_high,
               "revived": len(revived), "ever_dead": len(ever), "dead_at_end": int(g["output_dead_end"].sum())}
        ep = trained["output_death_epoch"].to_numpy()
        nan = float("nan")  # no death in training: the columns exist, empty
        row.update(epoch_q25=float(np.quantile(ep, 0.25)) if k else nan, epoch_median=float(np.median(ep)) if k else nan,
                   epoch_q75=float(np.quantile(ep, 0.75)) if k else nan,
                   early=float(np.mean(ep <= EARLY_EPOCHS)) if k else nan, late=float(np.mean(ep > LATE_EPOCHS)) if k else nan)
        for layer in range(1, n_layers + 1):
            name = layer_name(layer, n_layers)
            share = proportion_ci(int((trained["output_killer_layer"] == layer).sum()), k) if k else None
            row[f"killed_by {name}"] = share.rate if share else nan
            row[f"killed_by {name} ci"] = (share.ci_low, share.ci_high) if share else (nan, nan)
        for layer in range(1, n_layers + 1):
            row[f"revived_by {layer_name(layer, n_layers)}"] = int((revived["output_reviver_layer"] == layer).sum())
        rows.append(row)
    return pd.DataFrame(rows)
