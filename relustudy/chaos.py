"""Smooth basins or chaos? Outcome flips under tiny perturbations of the initial weights (issue 10, part 3).

A perturbation is ``(seed, direction, eps)``: the seed's initial parameters theta (all
37 numbers of a 2-4-4-1 net, in the posted order W1, b1, W2, b2, W3, b3) move to
``theta + eps * u``, where ``u`` is a unit vector drawn from the legacy
``np.random.RandomState(DIRECTION_SEED_BASE + direction).randn`` (a frozen stream, so the
direction is the same bits on every machine and NumPy version). Each perturbed net is
trained like any run (any engine, same bits), and its outcome is compared with the
unperturbed run's: the share of seeds whose outcome *flips* (solved <-> not solved), against
eps, tells smooth basins (flips only at large eps) from chaos (flips at eps ~ 1e-12).

Shards are one (direction, eps) pair over the seed range; rerunning resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import sharded
from .config import Cell, check_seeds
from .inits import Params, init_params
from .train import train

DIRECTION_SEED_BASE = 7_000_000  # directions' RandomState seeds, far from any run seed
EPSILONS = tuple(float(e) for e in np.logspace(-12, -1, 12))  # 1e-12, 1e-11, ..., 1e-1
DIRECTIONS = 4
CHAOS_FILE = "chaos.parquet"
MAKE = "python scripts/run_chaos.py"


def direction(k: int, n_params: int) -> np.ndarray:
    """Unit vector number ``k`` in parameter space, (n_params,), from a frozen legacy stream."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"invalid direction {k!r}; allowed: an integer >= 0")
    u = np.random.RandomState(DIRECTION_SEED_BASE + int(k)).randn(n_params)
    return u / np.sqrt(np.sum(u * u))


def flatten_runs(params: Params) -> np.ndarray:
    """(P, R) matrix of every parameter per run, in the posted order W1, b1, W2, b2, ..."""
    parts = []
    for w, b in params:
        parts += [w.reshape(-1, w.shape[-1]), b]
    return np.concatenate(parts, axis=0)


def perturbed_init(cell: Cell, seeds: Sequence[int], k: int, eps: float) -> Params:
    """The seeds' initial parameters moved by ``eps`` along direction ``k`` (same shapes as init_params)."""
    eps = float(eps)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"invalid eps {eps!r}; allowed: a finite number >= 0")
    params = init_params(cell.init, seeds, cell.layer_sizes, cell.init_gain)
    u = direction(k, flatten_runs(params).shape[0])
    out, i = [], 0
    for w, b in params:
        nw, nb = w.shape[0] * w.shape[1], b.shape[0]
        out.append((w + eps * u[i : i + nw].reshape(w.shape[0], w.shape[1], 1), b + eps * u[i + nw : i + nw + nb, None]))
        i += nw + nb
    return out


def _train_shard(cell: Cell, start: int, stop: int, k: int, eps: float, path: Path, engine: str | None) -> None:
    """Train one (direction, eps) shard and write its outcome table (a worker's job)."""
    from .engines import single_threaded

    seeds = range(start, stop)
    with single_threaded(engine):
        init = None if eps == 0 else perturbed_init(cell, seeds, k, eps)
        res = train(cell, seeds, init=init, engine=engine)
    m = res.metrics
    sharded.write_frame(pd.DataFrame({
        "seed": np.arange(start, stop), "direction": k, "eps": eps, "outcome": m["outcome"],
        "final_mse": m["final_mse"], "output_dead_final": m["output_dead_final"]}), path)


def run_chaos(out, seeds: tuple[int, int] = (0, 1000), *, cell: Cell | None = None, directions: int = DIRECTIONS,
              epsilons: Sequence[float] = EPSILONS, jobs: int | None = None, engine: str | None = None,
              log=print) -> Path:
    """Train the unperturbed runs and every (direction, eps) perturbation into ``out/chaos.parquet``.

    The table has one row per (direction, eps, seed), eps = 0 being the unperturbed run
    (direction -1), with the outcome, final MSE and whether it ``flipped`` (solved or not,
    against the unperturbed run of the same seed).
    """
    from .dataset import provenance
    from .engines import resolve_engine
    from .lock import folder_lock

    cell = Cell() if cell is None else cell
    engine = resolve_engine(engine)
    start, stop = seeds
    check_seeds([start, stop - 1])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = [(-1, 0.0)] + [(k, float(e)) for k in range(directions) for e in epsilons]
    with folder_lock(out, log):
        shards = sharded.prepare(out)
        items = []
        for k, e in pairs:
            path = shards / f"chaos_{start}-{stop}_d{k}_e{e:.0e}.parquet"
            items.append(((path,), _train_shard, (cell, start, stop, k, e, path, engine)))
        ran = sharded.run_missing(items, jobs=jobs)
        log(f"chaos: trained {len(ran)} of {len(items)} shards x {stop - start} seeds")
        df = pd.concat([pd.read_parquet(it[0][0]) for it in items], ignore_index=True)
        base = df[df["direction"] == -1].set_index("seed")["outcome"]
        df["flipped"] = (df["outcome"] == "solved") != (df["seed"].map(base) == "solved")
        prov = provenance({"seeds": f"{start}:{stop}", "cell": cell.to_dict(), "directions": directions,
                           "epsilons": list(epsilons), "direction_seed_base": DIRECTION_SEED_BASE},
                          f"{MAKE} --seeds {start}:{stop} --out {out}", engine=engine)
        return sharded.write_frame(df, out / CHAOS_FILE, {"kind": "chaos", "provenance": prov})


def load_chaos(path) -> pd.DataFrame:
    """The table written by :func:`run_chaos` into folder ``path``."""
    return sharded.read_frame(Path(path) / CHAOS_FILE, "chaos", MAKE)


def flip_rates(df: pd.DataFrame) -> pd.DataFrame:
    """P(outcome flips) per eps, pooled over directions, with Clopper-Pearson 95 % CIs.

    Parameters
    ----------
    df : the chaos table (one row per direction, eps, seed).

    Returns
    -------
    One row per eps > 0: n (seed x direction pairs), flips, rate, ci_low, ci_high, and the
    share of pairs whose exact outcome label changed.
    """
    from .stats import proportion_ci

    base = df[df["direction"] == -1].set_index("seed")["outcome"]
    rows = []
    for eps, g in df[df["eps"] > 0].groupby("eps", sort=True):
        r = proportion_ci(int(g["flipped"].sum()), len(g))
        label = (g["outcome"].astype(str).to_numpy() != g["seed"].map(base).astype(str).to_numpy()).mean()
        rows.append({"eps": eps, "n": len(g), "flips": r.k, "rate": r.rate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "label_changed": float(label)})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    """``scripts/run_chaos.py``."""
    import argparse
    import sys

    from .paths import DATA_DIR

    p = argparse.ArgumentParser(prog="run_chaos.py", description=(
        "Perturb the posted cell's initial weights by eps along random unit directions and retrain: does the "
        "outcome flip? Writes DIR/chaos.parquet; rerunning resumes (one shard per direction and eps)."))
    p.add_argument("--seeds", default="0:1000", metavar="A:B", help="seed range (default 0:1000)")
    p.add_argument("--directions", type=int, default=DIRECTIONS, help=f"random directions (default {DIRECTIONS})")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default data/chaos; --quick: data/quick/chaos)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--engine", default=None, metavar="NAME", help="numba (default), numpy or cuda; same bits")
    p.add_argument("--quick", action="store_true", help="seeds 0:40, 2 directions, 300 epochs, 4 eps values (seconds)")
    args = p.parse_args(argv)
    try:
        start, stop = (int(v) for v in ("0:40" if args.quick else args.seeds).split(":"))
        if not 0 <= start < stop <= 2**32:
            raise ValueError(f"invalid --seeds {args.seeds!r}; allowed: A:B with integers 0 <= A < B <= 2**32")
        if args.directions < 1:
            raise ValueError(f"invalid --directions {args.directions}; allowed: an integer >= 1")
        kw = dict(cell=Cell(epochs=300), directions=2, epsilons=(1e-12, 1e-8, 1e-4, 1e-1)) if args.quick else \
            dict(directions=args.directions)
        out = args.out or (DATA_DIR / "quick" / "chaos" if args.quick else DATA_DIR / "chaos")
        path = run_chaos(out, (start, stop), jobs=args.jobs, engine=args.engine,
                         log=lambda m: print(m, file=sys.stderr), **kw)
    except Exception as e:  # bad values, unavailable engine, a locked folder: one line, nothing half-written
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "invalid literal" in msg:
            msg = f"invalid --seeds {args.seeds!r}; allowed: A:B with integers 0 <= A < B <= 2**32"
        print(f"run_chaos.py: error: {msg}", file=sys.stderr)
        return 2
    print(f"wrote {path}", file=sys.stderr)
    return 0
