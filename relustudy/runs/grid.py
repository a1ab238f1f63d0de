"""The grid of runs: its spec, its shards, and the resumable runner that trains them.

A :class:`Grid` is the cross product of factor values times a seed range. Its work is
cut into *shards* (one cell x one block of seeds, blocks aligned to multiples of
``block`` so grids that overlap share shards). Shards that share everything but ``init``
are trained in one ``train_group`` call (a *task*), because the core is several times
faster per run at a large batch. Each finished shard is written atomically; a rerun
validates and reuses what is on disk and trains only the rest, so resuming is rerunning.
The runs do not depend on how they were batched, so neither does the dataset.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from relustudy.core.activations import ACTIVATIONS
from relustudy.core.config import Cell
from relustudy.core.optimizers import OPTIMIZERS
from relustudy.runs.backends import check_run_options, connect
from relustudy.runs.dataset import REJECTED_SUBDIR, ShardError, assemble, read_shard, remove_stale_tmp, shard_table, write_atomic
from relustudy.runs.content import compare_dataset, update_dataset
from relustudy.runs.progress import CostBar, NoBar
from relustudy.runs.interrupt import critical
from relustudy.runs.lock import FolderUnwritable, folder_lock, unwritable
from relustudy.runs.provenance import provenance
from relustudy.runs.paths import SHARDS_SUBDIR
from relustudy.core.engines import check_engine_supports, resolve_engine, single_threaded
from relustudy.core.engines.cores import usable_cores
from relustudy.runs.paths import CURVES_FILE, RUNS_FILE
from relustudy.core.train import train_group
from relustudy.runs.spec import Grid, Shard



@dataclass(frozen=True)
class Task:
    """Shards trained in one ``train_group`` call: same structure, lr and seed block."""

    shards: tuple[Shard, ...]

    @property
    def n(self) -> int:
        return sum(s.n for s in self.shards)


def plan_tasks(shards: Sequence[Shard]) -> list[Task]:
    """Group shards that can share a batch (differ only in init, init gain or order seed), keeping their order."""
    groups: dict[tuple, list[Shard]] = {}
    for s in shards:
        groups.setdefault((s.cell.structure, s.cell.lr, s.start, s.stop, s.track_output), []).append(s)
    return [Task(tuple(g)) for g in groups.values()]


LAYER_COST = 6  # per-layer overhead of the core, in units of one parameter's work (fit at R=1000)
# The extra work of an activation's evaluation and of an optimizer's state update are their
# registry entries' ``cost`` (activations.ACTIVATIONS, optimizers.OPTIMIZERS).


def task_cost(task: Task) -> float:
    """Relative time a task takes: runs x epochs x (parameters + per-layer overhead + activations).

    Orders the work (costliest first, so the expensive cells do not form the tail) and
    drives the progress bar's rate; it never changes the data.
    """
    cell = task.shards[0].cell
    sizes = cell.layer_sizes
    params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    out_act = cell.activation if cell.output == "same" else cell.output
    acts = ACTIVATIONS[cell.activation].cost * sum(sizes[1:-1]) + ACTIVATIONS[out_act].cost
    per_sample = params * (1.0 + OPTIMIZERS[cell.optimizer].cost) + LAYER_COST * (len(sizes) - 1) + acts
    return task.n * cell.epochs * per_sample


POSTED_COST = task_cost(Task((Shard(Cell(), 0, 1),)))  # one posted-cell run: the unit of the progress bar's ETA


def run_task(task: Task, engine: str | None = None) -> list[tuple[dict, np.ndarray, np.ndarray]]:
    """Train a task's runs (in a worker); per shard (metrics, curve epochs (P,), curve (P, n)).

    Only arrays travel back, so the worker needs no access to the output folder. The
    engine runs single-threaded: the grid parallelises over worker processes instead.
    """
    first = task.shards[0]
    with single_threaded(engine):
        results = train_group([s.cell for s in task.shards], range(first.start, first.stop), engine=engine,
                              track_output=first.track_output)
    return [(r.metrics, r.curve_epochs, r.curve) for r in results]


@dataclass
class GridOutput:
    """What :func:`run_grid` did and where the dataset is."""

    runs_path: Path
    curves_path: Path
    n_runs: int  # runs in the dataset
    n_trained: int  # runs trained by this call
    n_reused: int  # runs read from finished shards
    rejected: list[str]  # shard files found bad, moved to shards/rejected/
    seconds: float
    written: bool = True  # False when the folder already held exactly this dataset (files left untouched)


def run_grid(
    grid: Grid,
    *,
    jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
    engine: str | None = None,
) -> GridOutput:
    """Train every missing shard of ``grid`` and write its consolidated dataset.

    Parameters
    ----------
    grid : the grid; its dataset goes to ``grid.out`` (shards in ``grid.out/shards``).
    jobs : parallel workers (loky default: the usable cores; dask default: all workers).
    backend : "loky" (local processes) or "dask" (an existing dask.distributed cluster).
    scheduler : the dask scheduler address, e.g. "tcp://10.0.0.1:8786" (dask only).
    progress : show a tqdm bar of the runs done, with an ETA from the cost model (:func:`task_cost`).
    log : where messages go (default: stderr).
    command : the command line, recorded in the provenance.
    engine : training engine, "numba" (default when installed), "numpy" or "cuda"; recorded
        in the provenance. Every engine gives the same bits, so shards trained by one are
        reused by another.

    Everything is validated (and the scheduler contacted) before the output folder is
    touched. Raises ValueError for bad arguments, ConnectionError for an unreachable
    scheduler, :class:`~relustudy.runs.lock.FolderLocked` if another run is using ``grid.out``
    (one run per folder, held from the scan to the write),
    :class:`~relustudy.runs.lock.FolderUnwritable` if ``grid.out`` cannot be created, or is read-only
    and this run would have to write there. If the folder already holds exactly this dataset,
    its files are left untouched (``GridOutput.written`` False); in a read-only folder that
    takes every shard of the grid on disk (a shipped dataset without its shards cannot be
    checked without training: FolderUnwritable).
    """
    t0 = time.perf_counter()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    check_run_options(jobs, backend, scheduler)
    engine = resolve_engine(engine)  # EngineUnavailable (a ValueError) before anything is written
    for cell in grid.cells():  # an engine that lacks a new factor: one line, before anything is written
        check_engine_supports(engine, cell, grid.track_output)
    client = connect(scheduler) if backend == "dask" else None
    try:
        try:
            grid.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise unwritable(grid.out, e) from None
        if not writable(grid.out):  # read-only: only a rerun that writes nothing can succeed
            return _rerun_read_only(grid, t0, log)
        # One run per folder, from scanning the shards to writing the dataset (FolderLocked otherwise).
        with folder_lock(grid.out, log, command):
            shard_dir = grid.out / SHARDS_SUBDIR
            shard_dir.mkdir(exist_ok=True)
            remove_stale_tmp(shard_dir)
            remove_stale_tmp(grid.out)
            tables, rejected = _scan(grid, shard_dir, log)
            todo = [s for s in grid.shards() if s not in tables]
            n_reused = grid.n_runs - sum(s.n for s in todo)
            with _progress(grid.shards(), todo, progress) as bar:
                for shard, table in _train(plan_tasks(todo), jobs, backend, engine):
                    with critical():  # a shard trained is a shard kept
                        write_atomic(table, shard_dir / shard.name)
                    tables[shard] = table
                    bar.update(shard)
            runs, curves = _assemble(grid, tables)
            prov = provenance(grid.to_config(), command or grid.command(), engine=engine)
            with critical():  # Ctrl-C or SIGTERM waits until both files are written: they never disagree
                runs_path, curves_path, written = update_dataset(grid.out, runs, curves, prov, log)
    finally:
        if client is not None:
            client.close()
    out = GridOutput(runs_path, curves_path, len(runs), grid.n_runs - n_reused, n_reused, rejected,
                     time.perf_counter() - t0, written)
    log(f"{out.n_runs} runs ({out.n_trained} trained, {out.n_reused} reused) in {out.seconds:.1f} s -> {runs_path}")
    return out


def writable(folder: Path) -> bool:
    """Whether files can be made in ``folder`` (False on a read-only mount even for root)."""
    return os.access(folder, os.W_OK | os.X_OK)


def _assemble(grid: Grid, tables: dict) -> tuple:
    """The runs and curves tables from every shard's table (``tables``: shard -> table)."""
    per_cell: dict[Cell, list] = {c: [] for c in grid.cells()}
    for shard in grid.shards():  # each cell's shards in ascending seed order
        per_cell[shard.cell].append(tables[shard])
    return assemble(list(per_cell), list(per_cell.values()), grid.columns, grid.track_output)


def _rerun_read_only(grid: Grid, t0: float, log) -> GridOutput:
    """A rerun over a folder we may not write: succeeds, writing nothing, when every shard is
    there and the dataset they make is the one on disk; FolderUnwritable saying why otherwise."""
    shard_dir = grid.out / SHARDS_SUBDIR
    tables = {}
    for shard in grid.shards():
        try:
            tables[shard] = read_shard(shard_dir / shard.name, shard.cell, shard.start, shard.stop, shard.track_output)
        except ShardError:
            pass
    fix = f"allowed: make {grid.out} writable, or pass --out DIR to write the dataset elsewhere"
    n_shards = len(grid.shards())
    if len(tables) < n_shards:
        raise FolderUnwritable(f"{grid.out} is read-only and holds {len(tables)} of this grid's {n_shards} finished "
                               f"shards, so this run would have to train and write; {fix}")
    runs, curves = _assemble(grid, tables)
    change = compare_dataset(grid.out, runs, curves)
    if not change.same or (curves is None and (grid.out / CURVES_FILE).exists()):
        what = change.describe() if change.existing else "it holds no readable dataset"
        raise FolderUnwritable(f"{grid.out} is read-only and its dataset is not this grid's ({what}); {fix}")
    log(f"reproduced the existing dataset in {grid.out} bit for bit (read-only folder); files left untouched")
    out = GridOutput(grid.out / RUNS_FILE, grid.out / CURVES_FILE, len(runs), 0, grid.n_runs, [],
                     time.perf_counter() - t0, written=False)
    log(f"{out.n_runs} runs (0 trained, {out.n_reused} reused) in {out.seconds:.1f} s -> {out.runs_path}")
    return out


def _scan(grid: Grid, shard_dir: Path, log) -> tuple[dict, list[str]]:
    """Read and validate the grid's finished shards; move bad ones to shards/rejected/."""
    tables, rejected = {}, []
    for shard in grid.shards():
        path = shard_dir / shard.name
        if not path.exists():
            continue
        try:
            tables[shard] = read_shard(path, shard.cell, shard.start, shard.stop, shard.track_output)
        except ShardError as e:
            dest = _reject(path, shard_dir / REJECTED_SUBDIR)
            rejected.append(shard.name)
            log(f"bad shard {shard.name}: {e}; moved to {dest}, redoing it")
    return tables, rejected


def _reject(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` under a name that does not clobber earlier rejects."""
    folder.mkdir(exist_ok=True)
    k = 0
    while (dest := folder / f"{path.name}.{k}").exists():
        k += 1
    shutil.move(str(path), dest)
    return dest


def schedule(tasks: Sequence[Task], n_jobs: int) -> list[Task]:
    """The order tasks are handed to ``n_jobs`` workers: costliest first, the last ones cut finer.

    Sorting by :func:`task_cost` keeps expensive cells out of the tail; the last
    ``2 * n_jobs`` tasks are then split into one task per shard, so the workers finish
    within a small piece of each other. Batching never changes the data.
    """
    order = sorted(tasks, key=lambda t: -task_cost(t))
    tail = max(0, len(order) - 2 * n_jobs)
    fine = [Task((s,)) for t in order[tail:] for s in t.shards]
    return order[:tail] + sorted(fine, key=lambda t: -task_cost(t))


def _warm_up(tasks: Sequence[Task], engine: str) -> None:
    """Compile the numba kernel of every structure among ``tasks`` in the workers, in parallel
    (one 1-epoch, 1-seed task each), before the timed work: the progress bar's rate then
    measures training, and no two workers compile the same kernel at the same time."""
    if engine != "numba":
        return
    import joblib

    from relustudy.core.engines.numba_cpu import cell_spec

    probes = {}  # one per compiled kernel (cells of several structures share one: numba_cpu.spec_of)
    for t in tasks:
        s = t.shards[0]
        probes.setdefault(cell_spec(s.cell, s.track_output),
                          Task((Shard(dataclasses.replace(s.cell, epochs=1), s.start, s.start + 1, s.track_output),)))
    joblib.Parallel()(joblib.delayed(run_task)(t, engine) for t in probes.values())


def _train(tasks: list[Task], jobs: int | None, backend: str, engine: str) -> Iterator[tuple[Shard, object]]:
    """Run the tasks in parallel; yield (shard, shard table) as tasks finish."""
    if not tasks:
        return
    import joblib

    if engine == "cuda":  # one GPU: its kernel runs each task's runs in parallel already
        n_jobs = 1
        ctx = joblib.parallel_config(backend="loky", n_jobs=1)
    elif backend == "loky":
        n_jobs = min(jobs or usable_cores(), len(tasks))
        ctx = joblib.parallel_config(backend="loky", n_jobs=n_jobs)
    else:
        n_jobs = jobs or -1
        ctx = joblib.parallel_config(backend="dask", n_jobs=n_jobs)
    with ctx:
        _warm_up(tasks, engine)
        # Costliest tasks first, the tail cut finer; results stream back as they finish.
        order = schedule(tasks, max(n_jobs, 1))
        parallel = joblib.Parallel(return_as="generator_unordered", pre_dispatch="all" if backend == "dask" else "2*n_jobs")
        results = parallel(joblib.delayed(_run_tagged)(k, t, engine) for k, t in enumerate(order))
        for k, per_shard in results:
            for shard, (metrics, epochs, curve) in zip(order[k].shards, per_shard):
                yield shard, shard_table(shard.cell, shard.start, shard.stop, metrics, epochs, curve)


def _run_tagged(k: int, task: Task, engine: str):
    """run_task with the task's index, so unordered results can be matched up."""
    return k, run_task(task, engine)


def _progress(shards: Sequence[Shard], todo: Sequence[Shard], enabled: bool):
    """A bar of the grid's runs (finished shards included), or a no-op; ``update(shard)`` per shard.
    Its ETA comes from :func:`task_cost` (in posted-cell runs, :data:`POSTED_COST`), not the run count."""
    if not enabled or not todo:
        return NoBar()
    return CostBar(shards, todo, lambda shard: task_cost(Task((shard,))) / POSTED_COST)
