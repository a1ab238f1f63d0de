"""End-to-end grid throughput against the training core alone, in one run.

    python benchmarks/bench_grid.py [--seeds 0:1000] [--epochs 1000] [--jobs 2] [--repeat 2]

"core" trains the same tasks (init-grouped train_group calls) and discards the results;
"grid" is ``run_grid`` into an empty folder: planning, scheduling, shard writes,
consolidation and provenance included. Overhead = 1 - grid runs/s / core runs/s, measured
with one process and with ``--jobs`` processes (core then runs through joblib/loky too).
Each figure is the best of ``--repeat`` alternating measurements, to damp the noise of a
shared machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import joblib

from relustudy.runs.spec import Grid
from relustudy.runs.grid import plan_tasks, run_grid, run_task


def bench_grid(seeds: tuple[int, int], epochs: int) -> Grid:
    """8 structures x 3 inits: 8 tasks of 3 x (seeds) runs, like the default grid's tasks.

    Eight tasks rather than four so that two workers are not at the mercy of which two
    tasks happen to pair up (their speeds differ by activation).
    """
    return Grid(
        seeds=seeds,
        activations=("relu", "leaky_relu", "tanh", "sigmoid"),
        outputs=("same", "identity"),
        updates=("as_posted",),
        optimizers=("sgd",),
        lrs=(0.01,),
        epochs=(epochs,),
        out=".",
    )


def time_core(grid: Grid, jobs: int) -> float:
    """Seconds to train every task of the grid with the core alone (no I/O)."""
    tasks = plan_tasks(grid.shards())
    t0 = time.perf_counter()
    if jobs == 1:
        for t in tasks:
            run_task(t)
    else:
        list(joblib.Parallel(n_jobs=jobs, backend="loky")(joblib.delayed(run_task)(t) for t in tasks))
    return time.perf_counter() - t0


def time_grid(grid: Grid, jobs: int) -> float:
    """Seconds for run_grid from scratch (a fresh output folder)."""
    with tempfile.TemporaryDirectory() as d:
        g = dataclasses.replace(grid, out=d)
        t0 = time.perf_counter()
        run_grid(g, jobs=jobs, progress=False, log=lambda m: None)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0:1000")
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    grid = bench_grid(tuple(int(s) for s in a.seeds.split(":")), a.epochs)
    n = grid.n_runs
    # Warm up the loky pool and imports so neither side pays for them.
    time_core(bench_grid((0, 8), 10), a.jobs)
    print(f"grid: {n} runs ({len(plan_tasks(grid.shards()))} tasks of {n // len(plan_tasks(grid.shards()))} runs), "
          f"{a.epochs} epochs, hidden 4-4")
    print(f"{'processes':>9} {'core runs/s':>12} {'grid runs/s':>12} {'overhead':>9}")
    for jobs in sorted({1, a.jobs}):
        core = grid_t = float("inf")
        for _ in range(a.repeat):
            core = min(core, time_core(grid, jobs))
            grid_t = min(grid_t, time_grid(grid, jobs))
        print(f"{jobs:>9} {n / core:>12.0f} {n / grid_t:>12.0f} {1 - core / grid_t:>9.1%}")
    print(f"(core runs/s at {a.epochs} epochs; at 5000 epochs divide by ~{5000 / a.epochs:g} "
          "and the fixed per-shard overhead shrinks by the same factor)")


if __name__ == "__main__":
    main()
