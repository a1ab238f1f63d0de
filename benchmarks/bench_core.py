"""Throughput of the batched core against the posted program's loop, in one process.

    python benchmarks/bench_core.py [--runs 4096] [--epochs 5000] [--posted-seeds 3]

Both are timed on the same work per run (2-4-4-1 ReLU, float64, the posted cell) and
reported as 5000-epoch-equivalent runs per second, so the ratio is batched / posted
loop. The batched time includes drawing the seeded inits and the final records.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from posted_program import posted_program  # noqa: E402
from relustudy.core.config import Cell  # noqa: E402
from relustudy.core.train import train  # noqa: E402

FULL_EPOCHS = 5000


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=4096, help="networks trained at once (default 4096)")
    p.add_argument("--epochs", type=int, default=5000, help="epochs timed; rates scale to 5000 (default 5000)")
    p.add_argument("--posted-seeds", type=int, default=3, help="seeds run through the posted loop (default 3)")
    p.add_argument("--activation", default="relu")
    p.add_argument("--engine", default="numpy", help="engine of the batched core (default numpy, the reference)")
    args = p.parse_args(argv)

    scale = FULL_EPOCHS / args.epochs
    t0 = time.perf_counter()
    train(Cell(activation=args.activation, epochs=args.epochs), range(args.runs), engine=args.engine)
    batched = args.runs / ((time.perf_counter() - t0) * scale)

    t0 = time.perf_counter()
    for seed in range(args.posted_seeds):
        posted_program(seed, args.activation, epochs=args.epochs)
    loop = args.posted_seeds / ((time.perf_counter() - t0) * scale)

    print(f"batched core : {batched:9.1f} runs/s  (R={args.runs}, {args.activation}, engine {args.engine}, 5000-epoch equivalent)")
    print(f"posted loop  : {loop:9.2f} runs/s  ({args.posted_seeds} seeds)")
    print(f"ratio        : {batched / loop:9.1f}x")


if __name__ == "__main__":
    main()
