"""Throughput of the training engines, as ratios measured in one run.

    python benchmarks/bench_engines.py [--runs 4096] [--epochs 1000] [--posted-seeds 2] [--cuda] [--probe PATH]

Prints, in 5000-epoch-equivalent runs per second (CPU time for the one-thread rows, so a
busy machine shifts the numbers less; wall time for threads and the GPU; every numba
measurement repeats its call for at least MIN_SECONDS):

1. the posted cell (2-4-4-1 ReLU, float64) on the posted program's loop, the NumPy
   reference, numba on 1 thread and on all threads (and CUDA with --cuda), with ratios;
   numba against a kernel hand-specialised to that cell (``--probe PATH``, when given),
   alternated three times, medians;
2. tanh and sigmoid cells against the ReLU cell (numba, 1 thread; target >= 0.5), alternated
   three times, medians (as every ratio below: the machine's load drifts between measurements);
3. per parameter update, a 10-layer width-2 net and width-32 nets against the 4-4 net
   (numba, 1 thread; target for 32-32 >= 0.6);
4. per-call overhead: a shard of 1,000 runs against the rate at --runs;
5. numba's compile time in a fresh process with an empty cache, and the load time with it;
6. issue 27, per sample step (runs/s x samples per epoch; numba, 1 thread, medians of 3
   alternations): a 64-pair task against the 6-pair posted cell (target >= 0.8), and the full
   batch against per-sample SGD on both (target >= 1). ``--tasks-only``: the probe ratio and this.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from posted_program import posted_program  # noqa: E402
from relustudy.core.config import Cell  # noqa: E402
from relustudy.core.train import train  # noqa: E402

FULL_EPOCHS = 5000


MIN_SECONDS = 1.0  # each timed measurement repeats its training call at least this long


def rate(cell: Cell, runs: int, engine: str, *, cpu: bool = True, min_seconds: float = MIN_SECONDS) -> float:
    """5000-epoch-equivalent runs/s of ``train(cell, range(runs), engine=engine)``, the call repeated
    until ``min_seconds`` have passed: a measurement of a few milliseconds is mostly the clock's
    granularity and the machine's load (the 4-4 net's per-update rate once took 6 ms)."""
    clock = time.process_time if cpu else time.perf_counter
    train(dataclasses.replace(cell, epochs=1), [0], engine=engine)  # compile (or load) its kernel untimed
    done, t0 = 0, clock()
    while True:
        train(cell, range(runs), engine=engine)
        done += runs
        if clock() - t0 >= min_seconds:
            return done / ((clock() - t0) * FULL_EPOCHS / cell.epochs)


def alternated(cells: dict, runs: dict | int, rounds: int = 3) -> dict:
    """Median runs/s of each cell over ``rounds`` alternations (numba, 1 thread, CPU time):
    a ratio between cells measured minutes apart on this shared machine drifts with its load,
    one measured in alternation does not (as for the probe)."""
    import numpy as np

    from relustudy.core.engines.numba_cpu import threads

    n = runs if isinstance(runs, dict) else dict.fromkeys(cells, runs)
    got = {name: [] for name in cells}
    with threads(1):
        for _ in range(rounds):
            for name, cell in cells.items():
                got[name].append(rate(cell, n[name], "numba"))
    return {name: float(np.median(v)) for name, v in got.items()}


def param_updates(cell: Cell) -> int:
    """Weights and biases per network: each is updated once per sample step."""
    s = cell.layer_sizes
    return sum(n_out * (n_in + 1) for n_in, n_out in zip(s[:-1], s[1:]))


def probe_ratio(path: Path, runs: int, epochs: int) -> tuple[float, float]:
    """(numba runs/s, probe runs/s), medians of three alternations on one thread, CPU time."""
    import numpy as np

    from relustudy.core.engines.numba_cpu import threads

    src = path.read_text().replace("\nmain()", "\n")
    probe = {"__name__": "probe"}
    argv, sys.argv = sys.argv, [sys.argv[0]]
    exec(compile(src, str(path), "exec"), probe)
    sys.argv = argv
    import numba

    numba.set_num_threads(1)
    probe["run_all"](probe["pack"](np.arange(64)), 0.01, 3, probe["X"], probe["Y"], np.empty(64))
    eng, prb = [], []
    for _ in range(3):
        with threads(1):
            eng.append(rate(Cell(epochs=epochs), runs, "numba"))
        packed, err = probe["pack"](np.arange(runs)), np.empty(runs)
        t0 = time.process_time()
        probe["run_all"](packed, 0.01, epochs, probe["X"], probe["Y"], err)
        prb.append(runs / ((time.process_time() - t0) * FULL_EPOCHS / epochs))
    return float(np.median(eng)), float(np.median(prb))


def task_batch_rates(runs: int, epochs: int) -> dict:
    """Issue 27's ratios, per sample step (runs/s x the task's samples per epoch), numba on 1 thread,
    medians of 3 alternations: {name: (sample steps/s, ratio, target)}."""
    # the same epochs for every cell: a call's fixed part (init, the NumPy evaluation, which grows
    # with S as training does) is then the same share of every cell's time (at 6/64 of the epochs
    # the 64-pair cells measured 0.62x, mostly that evaluation)
    grid_epochs = epochs
    cells = {"posted": Cell(epochs=epochs), "posted full": Cell(epochs=epochs, batch="full"),
             "grid64": Cell(epochs=grid_epochs, task="grid64"),
             "grid64 full": Cell(epochs=grid_epochs, task="grid64", batch="full"),
             "grid64_std": Cell(epochs=grid_epochs, task="grid64_std")}
    got = alternated(cells, runs)
    steps = {name: got[name] * cells[name].n_samples * FULL_EPOCHS for name in cells}  # got: 5000-epoch runs/s
    return {
        "grid64 vs posted": (steps["grid64"], steps["grid64"] / steps["posted"], 0.8),
        "grid64_std vs posted": (steps["grid64_std"], steps["grid64_std"] / steps["posted"], 0.8),
        "posted full vs per-sample": (steps["posted full"], steps["posted full"] / steps["posted"], 1.0),
        "grid64 full vs per-sample": (steps["grid64 full"], steps["grid64 full"] / steps["grid64"], 1.0),
    }


def print_task_batch(runs: int, epochs: int) -> None:
    print("per sample step (numba, 1 thread, medians of 3 alternations; runs/s x samples per epoch):")
    for name, (v, ratio, target) in task_batch_rates(runs, epochs).items():
        print(f"  {name:26s}: {v / 1e6:7.2f} M sample steps/s = {ratio:.2f}x (target >= {target})")


def compile_seconds() -> tuple[float, float]:
    """(first call with an empty numba cache, first call in a new process with the cache filled)."""
    code = "import time; t=time.perf_counter(); from relustudy import Cell, train; train(Cell(epochs=1), [0]); print(time.perf_counter()-t)"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold, warm = (float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                           check=True).stdout) for _ in range(2))
    return cold, warm


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=4096, help="networks trained at once (default 4096)")
    p.add_argument("--epochs", type=int, default=1000, help="epochs timed; rates scale to 5000 (default 1000)")
    p.add_argument("--posted-seeds", type=int, default=2, help="seeds run through the posted loop (default 2)")
    p.add_argument("--cuda", action="store_true", help="also time the CUDA engine (needs a GPU)")
    p.add_argument("--probe", type=Path, default=None,
                   help="a kernel hand-specialised to the posted cell to compare with (a file defining pack, run_all, X, Y; "
                        "default: none, not measured)")
    p.add_argument("--tasks-only", action="store_true", help="only the probe ratio and the task/batch ratios (6.)")
    args = p.parse_args(argv)
    if args.tasks_only:
        if args.probe is not None and args.probe.exists():
            eng, prb = probe_ratio(args.probe, args.runs, args.epochs)
            print(f"posted cell: numba vs {args.probe.name} (1 thread, medians of 3): {eng:.0f} vs {prb:.0f} runs/s = "
                  f"{eng / prb:.2f}x")
        print_task_batch(args.runs, args.epochs)
        return
    from relustudy.core.engines.cores import usable_cores
    from relustudy.core.engines.numba_cpu import threads

    posted = Cell(epochs=args.epochs)
    train(Cell(epochs=1), [0], engine="numba")  # load (or compile) the kernel before timing
    t0 = time.process_time()
    for seed in range(args.posted_seeds):
        posted_program(seed, "relu", epochs=args.epochs)
    loop = args.posted_seeds / ((time.process_time() - t0) * FULL_EPOCHS / args.epochs)
    ref = rate(posted, min(args.runs, 2048), "numpy", min_seconds=0.0)  # one call: several seconds
    n_threads = usable_cores()
    with threads(1):
        one = rate(posted, args.runs, "numba")
    many = rate(posted, args.runs, "numba", cpu=False)
    print(f"posted cell (2-4-4-1 relu, float64), 5000-epoch-equivalent runs/s, --runs {args.runs}:")
    print(f"  posted program loop   : {loop:10.2f}")
    print(f"  numpy reference       : {ref:10.1f}   {ref / loop:8.0f}x the loop")
    print(f"  numba, 1 thread       : {one:10.1f}   {one / loop:8.0f}x the loop   {one / ref:5.1f}x numpy")
    print(f"  numba, {n_threads} threads      : {many:10.1f}   {many / loop:8.0f}x the loop   {many / ref:5.1f}x numpy")
    if args.cuda:
        train(Cell(epochs=1), [0], engine="cuda")
        gpu = rate(posted, max(args.runs, 1 << 20), "cuda", cpu=False)
        print(f"  cuda, {max(args.runs, 1 << 20)} runs : {gpu:10.1f}   {gpu / one:8.0f}x numba 1 thread")

    if args.probe is not None and args.probe.exists():
        eng, prb = probe_ratio(args.probe, args.runs, args.epochs)
        print(f"  numba vs {args.probe.name} (1 thread, medians of 3): {eng:.0f} vs {prb:.0f} runs/s = {eng / prb:.2f}x")
    else:
        print("  (no --probe file: numba vs a specialised kernel not measured)")
    smooth = alternated({a: Cell(epochs=args.epochs, activation=a) for a in ("relu", "tanh", "sigmoid")}, args.runs)
    print("tanh and sigmoid vs relu (numba, 1 thread, posted cell otherwise, medians of 3 alternations): "
          + ", ".join(f"{a} {smooth[a]:.0f} runs/s = {smooth[a] / smooth['relu']:.2f}x" for a in ("tanh", "sigmoid")))

    base = Cell(epochs=max(args.epochs // 10, 10))
    nets = {name: Cell(epochs=base.epochs, hidden=hidden, output="identity", update="corrected")
            for name, hidden in (("4-4", (4, 4)), ("2 x 10 layers", (2,) * 10), ("32", (32,)), ("32-32", (32, 32)))}
    per_update = {name: r * param_updates(nets[name]) for name, r in alternated(nets, 1024).items()}
    print("per parameter update (numba, 1 thread, medians of 3 alternations), relative to 4-4:")
    for name, v in per_update.items():
        print(f"  {name:14s}: {v / per_update['4-4']:5.2f}")
    sizes = alternated({"big": posted, "shard": posted}, {"big": args.runs, "shard": 1000})
    big, shard = sizes["big"], sizes["shard"]
    print(f"shard of 1000 runs vs {args.runs} (medians of 3 alternations): {shard:.1f} vs {big:.1f} runs/s ({100 * (1 - shard / big):+.1f}% lost)")
    print_task_batch(args.runs, args.epochs)
    cold, warm = compile_seconds()
    print(f"numba: first call {cold:.1f} s with an empty cache (compile), {warm:.1f} s with it filled (load)")


if __name__ == "__main__":
    main()
