"""Smooth basins or chaos? Flip probability against the size of a perturbation of the init (issue 16, part 2).

A perturbation is a pair ``(seed, k)``: the seed's initial parameters theta (all 37 numbers
of a 2-4-4-1 net, in the posted order W1, b1, W2, b2, W3, b3) move to ``theta + eps * u``,
where ``u`` is the pair's own unit direction, drawn from the legacy
``np.random.RandomState([DIRECTION_KEY, seed, k]).randn`` (a frozen stream seeded by the pair:
the same bits on every machine and NumPy version, and shared by every cell, so cells are
compared on the same perturbations). The same direction is used at every eps, so each pair
traces one ray out of its init. Each perturbed net is trained like any run (any engine,
same bits), and its outcome is compared with the unperturbed run's: a *flip* is solved <->
not solved. P(flip) against eps on log-log axes tells smooth basins (P ~ eps: a smooth
boundary crossed with probability proportional to the distance) from chaos (P not
vanishing as eps -> 0, or a small exponent). Flipped pairs are retrained for
``LONG_FACTOR`` times the epochs (with their unperturbed run) to tell transient flips from
permanent ones. Non-flipped pairs report the continuous response |Δ final MSE| and
|Δ final weights| (Euclidean norm over the 37 parameters) on a subsample.

Shards are (cell, seed block, eps) and hold every pair; the consolidated tables under
``out/`` are compact: counts per (cell, eps), the flips, the response subsample, the base
outcomes. Rerunning resumes. Tables, rates and fits: :mod:`relustudy.experiments.chaos_tables`.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from relustudy.runs import sharded
from relustudy.core.config import Cell
from relustudy.core.checks import check_seeds
from relustudy.core.inits import Params, flatten_runs, init_params, unflatten_runs  # noqa: F401 (flatten_runs: public here too)
from relustudy.core.train import train
from relustudy.experiments.chaos_tables import CHAOS_FILE, flip_rates, load_chaos  # noqa: F401  (the report's entry points)
from relustudy.core.engines import single_threaded
from relustudy.core.schema import cell_id
from relustudy.experiments.chaos_tables import consolidate
from relustudy.runs.provenance import provenance
from relustudy.core.engines import resolve_engine
from relustudy.runs.lock import folder_lock
from relustudy.runs.paths import DATA_DIR
from relustudy.core.engines.cores import usable_cores

DIRECTION_KEY = 7_000_000  # first word of every direction's RandomState seed array, apart from any run seed
EPSILONS = tuple(float(f"{e:.0e}") for e in np.logspace(-12, -1, 12))  # 1e-12, 1e-11, ..., 1e-1
SEEDS = (0, 200_000)  # one perturbation per seed: 200,000 pairs per eps (issue 16)
PERTURBATIONS = 1  # directions per seed (pairs = seeds x PERTURBATIONS)
BLOCK = 10_000  # seeds per shard
LONG_FACTOR = 4  # flipped pairs are retrained for LONG_FACTOR x epochs (transient or permanent?)
RESPONSE_SEEDS = 5_000  # the first seeds of the range, whose non-flipped pairs keep |Δ final MSE|, |Δ final weights|
MAKE = "python scripts/run_chaos.py"

# The cells of issue 16: label -> factor changes from the posted cell (relu, same, randn, as_posted, sgd, 0.01).
CELLS: dict[str, dict] = {
    "posted": {},
    "momentum, equal lr 0.01": dict(optimizer="momentum"),
    "lr 0.1": dict(lr=0.1),
}


def cell_of(label: str, epochs: int | None = None) -> Cell:
    """The Cell of one of :data:`CELLS` (optionally with other epochs)."""
    if label not in CELLS:
        raise ValueError(f"unknown cell {label!r}; allowed: {', '.join(CELLS)}")
    return Cell(**CELLS[label], **({} if epochs is None else {"epochs": epochs}))


def directions(seeds, k: Sequence[int] | int, n_params: int) -> np.ndarray:
    """(n_params, R) unit vectors, one per pair (seeds[r], k[r]), from the pair's frozen legacy stream.

    Direction r is ``v / sqrt(v[0]^2 + v[1]^2 + ...)`` (summed in that order) with
    ``v = RandomState([DIRECTION_KEY, seeds[r], k[r]]).randn(n_params)``.

    Examples
    --------
    >>> u = directions([5, 5], [0, 1], 37)
    >>> np.allclose((u * u).sum(axis=0), 1.0), bool(np.allclose(u[:, 0], u[:, 1]))
    (True, False)
    """
    seeds = np.asarray(check_seeds(np.atleast_1d(seeds)), dtype=np.int64)
    ks = np.broadcast_to(np.asarray(k, dtype=np.int64), seeds.shape)
    if (ks < 0).any() or (ks >= 2**32).any():
        raise ValueError("invalid perturbation index; allowed: integers in [0, 2**32)")
    out = np.empty((n_params, seeds.size))
    rs = np.random.RandomState(0)
    for r, (s, kk) in enumerate(zip(seeds.tolist(), ks.tolist())):
        rs.seed([DIRECTION_KEY, s, kk])  # init_by_array: every (seed, k) its own stream
        out[:, r] = rs.randn(n_params)
    norm2 = np.zeros(seeds.size)
    for i in range(n_params):  # sequential sum: the same bits whatever the batch (np.sum's order is not fixed)
        norm2 += out[i] * out[i]
    return out / np.sqrt(norm2)


def perturbed_init(cell: Cell, seeds, k, eps: float, u: np.ndarray | None = None) -> Params:
    """Initial parameters of the pairs (seeds[r], k[r]) moved by ``eps`` along their directions.

    ``u`` : optional (P, R) precomputed :func:`directions` of the same pairs. eps = 0 gives the
    seeds' own initial parameters bit for bit.
    """
    eps = float(eps)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"invalid eps {eps!r}; allowed: a finite number >= 0")
    params = init_params(cell.init, seeds, cell.layer_sizes, cell.init_gain)
    if eps == 0:
        return params
    theta = flatten_runs(params)
    u = directions(seeds, k, theta.shape[0]) if u is None else u
    return unflatten_runs(theta + eps * u, params)


# --------------------------------------------------------------------------- shards


def _pairs(start: int, stop: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """(R,) seeds and (R,) k of a block's pairs, seed-major."""
    return np.repeat(np.arange(start, stop), K), np.tile(np.arange(K), stop - start)


def _base_shard(cell: Cell, start: int, stop: int, path: Path, engine: str | None) -> None:
    """Unperturbed runs of a block: outcome, final MSE and final parameters (for |Δ weights|)."""

    with single_threaded(engine):
        res = train(cell, range(start, stop), engine=engine)
    theta = flatten_runs(res.params)
    df = pd.DataFrame({"seed": np.arange(start, stop), "outcome": res.metrics["outcome"],
                       "final_mse": res.metrics["final_mse"]})
    df = pd.concat([df, pd.DataFrame(theta.T, columns=[f"p{i}" for i in range(theta.shape[0])])], axis=1)
    sharded.write_frame(df, path)


def _base_from_table(start: int, stop: int, outcome: np.ndarray, path: Path) -> None:
    """Unperturbed outcomes of a block taken from a runs table of the same cell (no final weights)."""
    sharded.write_frame(pd.DataFrame({"seed": np.arange(start, stop), "outcome": outcome,
                                      "final_mse": np.full(stop - start, np.nan)}), path)


def _pert_shard(cell: Cell, start: int, stop: int, K: int, eps: float, base_path: Path, path: Path,
                engine: str | None) -> None:
    """Perturbed runs of a block at one eps: outcome, flipped, |Δ final MSE|, |Δ final weights|."""

    seeds, ks = _pairs(start, stop, K)
    base = pd.read_parquet(base_path)
    t = time.perf_counter()
    with single_threaded(engine):
        res = train(cell, seeds, init=perturbed_init(cell, seeds, ks, eps), engine=engine)
    row = seeds - start
    pcols = [c for c in base.columns if c.startswith("p") and c[1:].isdigit()]
    if pcols:
        dtheta = flatten_runs(res.params) - base[pcols].to_numpy().T[:, row]
        dweights = np.sqrt(np.sum(dtheta * dtheta, axis=0))
    else:  # base outcomes reused from a runs table: no final weights to compare with
        dweights = np.full(seeds.size, np.nan)
    b_out = base["outcome"].to_numpy().astype(str)[row]
    out = res.metrics["outcome"].astype(str)
    sharded.write_frame(pd.DataFrame({
        "seed": seeds, "k": ks, "outcome": out, "flipped": (out == "solved") != (b_out == "solved"),
        "dmse": np.abs(res.metrics["final_mse"] - base["final_mse"].to_numpy()[row]),
        "base_mse": base["final_mse"].to_numpy()[row],
        "dweights": dweights}), path, {"seconds": time.perf_counter() - t})


def _long_shard(cell: Cell, pairs: pd.DataFrame, path: Path, engine: str | None) -> None:
    """Flipped pairs (seed, k, eps) and their unperturbed runs retrained for LONG_FACTOR x epochs."""

    long = dataclasses.replace(cell, epochs=cell.epochs * LONG_FACTOR)
    rows = []
    with single_threaded(engine):
        seeds = np.unique(pairs["seed"].to_numpy())
        base = dict(zip(seeds.tolist(), train(long, seeds, engine=engine).metrics["outcome"].astype(str)))
        for eps, g in pairs.groupby("eps", sort=True):
            s, k = g["seed"].to_numpy(), g["k"].to_numpy()
            o = train(long, s, init=perturbed_init(long, s, k, eps), engine=engine).metrics["outcome"].astype(str)
            rows.append(pd.DataFrame({"seed": s, "k": k, "eps": eps, "long_outcome": o,
                                      "long_base_outcome": [base[v] for v in s.tolist()]}))
    sharded.write_frame(pd.concat(rows, ignore_index=True), path)


def run_chaos(out, seeds: tuple[int, int] = SEEDS, *, cells: Sequence[str] = tuple(CELLS),
              perturbations: int = PERTURBATIONS,
              epsilons: Sequence[float] = EPSILONS, epochs: int | None = None, block: int = BLOCK,
              response_seeds: int = RESPONSE_SEEDS, reuse: pd.DataFrame | None = None, jobs: int | None = None,
              engine: str | None = None, log=print) -> Path:
    """Train every missing shard (base runs, perturbations, long reruns of flips) and write the tables.

    Parameters
    ----------
    out : folder for shards/ and counts.parquet, flips.parquet, response.parquet, base.parquet.
    seeds : [start, stop) seed range; perturbations : pairs per seed (k = 0..perturbations-1).
    epochs : None for each cell's 5000, or fewer (tests, --quick).
    reuse : optional runs table (columns cell_id, seed, outcome; e.g. data/million): a seed block
        beyond the response seeds takes its unperturbed outcomes from the rows of the same cell id
        (the same run, bit for bit, on any engine) instead of retraining them.
    """


    engine = resolve_engine(engine)
    start, stop = seeds
    check_seeds([start, stop - 1])
    if perturbations < 1 or block < 1 or not epsilons or min(epsilons) <= 0:
        raise ValueError("need perturbations >= 1, block >= 1 and epsilons > 0")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blocks = [(a, min(a + block, stop)) for a in range(start, stop, block)]
    with folder_lock(out, log):
        shards = sharded.prepare(out)
        t0 = time.perf_counter()
        names = {}
        for label in cells:
            cell = cell_of(label, epochs)
            tag = f"{label.replace(' ', '_').replace(',', '')}_e{cell.epochs}"
            known = {}
            if reuse is not None:
                r = reuse[reuse["cell_id"].astype(str) == cell_id(cell)]
                known = dict(zip(r["seed"].to_numpy(np.int64).tolist(), r["outcome"].astype(str).tolist()))
            base_items = []
            for a, b in blocks:
                path = shards / f"base_{tag}_{a}-{b}.parquet"
                if a >= start + response_seeds and all(s in known for s in range(a, b)):
                    outc = np.array([known[s] for s in range(a, b)])
                    base_items.append(((path,), _base_from_table, (a, b, outc, path)))
                else:
                    base_items.append(((path,), _base_shard, (cell, a, b, path, engine)))
            ran = sharded.run_missing(base_items, jobs=jobs)
            pert_items = []
            for e in epsilons:
                for (a, b), bi in zip(blocks, base_items):
                    p = shards / f"pert_{tag}_{a}-{b}_K{perturbations}_eps{e:.0e}.parquet"
                    pert_items.append(((p,), _pert_shard, (cell, a, b, perturbations, float(e), bi[0][0], p, engine)))
            ran += sharded.run_missing(pert_items, jobs=jobs)
            flips = pd.concat([pd.read_parquet(it[0][0]).assign(eps=it[2][4]) for it in pert_items], ignore_index=True)
            flips = flips[flips["flipped"]]
            long_path = shards / f"long_{tag}_{start}-{stop}_K{perturbations}_{len(flips)}flips_{_digest(flips)}.parquet"
            if len(flips):
                job = (cell, flips[["seed", "k", "eps"]], long_path, engine)
                ran += sharded.run_missing([((long_path,), _long_shard, job)], jobs=1)
            names[label] = dict(cell=cell, tag=tag, base=[it[0][0] for it in base_items],
                                pert=[(it[2][4], it[0][0]) for it in pert_items], long=long_path if len(flips) else None)
            log(f"chaos: {label}: trained {len(ran)} shards ({time.perf_counter() - t0:.0f} s so far)")
        prov = provenance({"seeds": f"{start}:{stop}", "perturbations": perturbations, "epsilons": list(epsilons),
                           "cells": {k: names[k]["cell"].to_dict() for k in names}, "direction_key": DIRECTION_KEY,
                           "long_factor": LONG_FACTOR, "response_seeds": response_seeds},
                          f"{MAKE} --seeds {start}:{stop} --perturbations {perturbations} --out {out}", engine=engine)
        consolidate(out, names, perturbations, response_seeds, prov)
    return out


def _digest(df: pd.DataFrame) -> str:
    """A short content hash of the flipped pairs (the long shard is valid only for the same set)."""
    import hashlib

    h = hashlib.sha256(df[["seed", "k", "eps"]].to_numpy(dtype=float).tobytes()).hexdigest()
    return h[:10]


def main(argv=None) -> int:
    """``scripts/run_chaos.py``."""
    import argparse
    import sys


    p = argparse.ArgumentParser(prog="run_chaos.py", description=(
        "Perturb the initial weights of each (seed, k) pair by eps along the pair's own random unit direction and "
        "retrain: does the outcome flip? Writes DIR/counts.parquet, flips.parquet, response.parquet, base.parquet; "
        "rerunning resumes (one shard per cell, seed block and eps)."))
    p.add_argument("--seeds", default=f"{SEEDS[0]}:{SEEDS[1]}", metavar="A:B", help=f"seed range (default {SEEDS[0]}:{SEEDS[1]})")
    p.add_argument("--perturbations", type=int, default=PERTURBATIONS, metavar="K", help=f"pairs per seed (default {PERTURBATIONS})")
    p.add_argument("--eps", default=None, metavar="E,E,...", help="perturbation sizes (default 1e-12,1e-11,...,1e-1)")
    p.add_argument("--cells", default="; ".join(CELLS), metavar="L;L", help=f"cells, ';'-separated (default all: {'; '.join(CELLS)})")
    p.add_argument("--block", type=int, default=BLOCK, metavar="N", help=f"seeds per shard (default {BLOCK})")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default data/chaos; --quick: data/quick/chaos)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--engine", default=None, metavar="NAME", help="numba (default), numpy or cuda; same bits")
    p.add_argument("--reuse", default=None, metavar="FILE", help="runs table whose runs of the same cell give the "
                   "unperturbed outcomes beyond the response seeds (default data/million/runs.parquet when present; "
                   "'none': train them all)")
    p.add_argument("--estimate", action="store_true", help="time one block of each cell at one eps and print the "
                   "projected runtime of the full run; writes nothing")
    p.add_argument("--quick", action="store_true", help="seeds 0:60, 300 epochs, 4 eps values, 2 cells (seconds)")
    args = p.parse_args(argv)
    try:
        spec = "0:60" if args.quick else args.seeds
        try:
            start, stop = (int(v) for v in spec.split(":"))
        except ValueError:
            raise ValueError(f"invalid --seeds {spec!r}; allowed: A:B with integers 0 <= A < B <= 2**32") from None
        if not 0 <= start < stop <= 2**32:
            raise ValueError(f"invalid --seeds {spec!r}; allowed: A:B with integers 0 <= A < B <= 2**32")
        if args.perturbations < 1:
            raise ValueError(f"invalid --perturbations {args.perturbations}; allowed: an integer >= 1")
        try:
            eps = tuple(float(e) for e in args.eps.split(",")) if args.eps else \
                ((1e-12, 1e-8, 1e-4, 1e-1) if args.quick else EPSILONS)
        except ValueError:
            raise ValueError(f"invalid --eps {args.eps!r}; allowed: comma-separated numbers > 0") from None
        if min(eps) <= 0 or not all(np.isfinite(eps)):
            raise ValueError(f"invalid --eps {args.eps!r}; allowed: comma-separated numbers > 0")
        cells = ("posted", "lr 0.1") if args.quick else tuple(c.strip() for c in args.cells.split(";") if c.strip())
        for c in cells:
            cell_of(c)
        epochs = 300 if args.quick else None
        if args.estimate:
            return _estimate(cells, (start, stop), args.perturbations, eps, epochs, args.block, args.engine)
        out = args.out or (DATA_DIR / "quick" / "chaos" if args.quick else DATA_DIR / "chaos")
        reuse_path = DATA_DIR / "million" / "runs.parquet" if args.reuse is None else args.reuse
        reuse = None
        if str(reuse_path) != "none" and Path(reuse_path).exists() and not args.quick:
            reuse = pd.read_parquet(reuse_path, columns=["cell_id", "seed", "outcome"])
        elif args.reuse not in (None, "none"):
            raise FileNotFoundError(f"no runs table at {args.reuse} (--reuse); allowed: a runs.parquet or 'none'")
        path = run_chaos(out, (start, stop), cells=cells, perturbations=args.perturbations, epsilons=eps,
                         epochs=epochs, block=args.block, reuse=reuse, jobs=args.jobs, engine=args.engine,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    except Exception as e:  # bad values, unavailable engine, a locked folder: one line, nothing half-written
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"run_chaos.py: error: {msg}", file=sys.stderr)
        return 2
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _estimate(cells, seeds, K, eps, epochs, block, engine) -> int:
    """Time 2,000 perturbed runs per cell (one process) and project the full run's time."""
    import os


    engine = resolve_engine(engine)
    n = 2000
    train(cell_of(cells[0], epochs), [0], engine=engine)  # compile outside the timing
    total = 0.0
    for label in cells:
        cell = cell_of(label, epochs)
        s, k = _pairs(seeds[0], seeds[0] + n // K, K)
        t = time.perf_counter()
        init = perturbed_init(cell, s, k, eps[-1])
        train(cell, s, init=init, engine=engine)
        rate = len(s) / (time.perf_counter() - t)
        runs = (seeds[1] - seeds[0]) * (K * len(eps) + 1)
        total += runs / rate
        print(f"{label}: {rate:,.0f} runs/s on one process ({engine}); {runs:,} runs", flush=True)
    cores = usable_cores()
    print(f"projected: {total / 3600:.2f} h on one process, ~{total / 3600 / cores:.2f} h on {cores} cores "
          f"(plus the long reruns of flipped pairs; load now {os.getloadavg()[0]:.1f})")
    return 0
