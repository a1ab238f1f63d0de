"""The learning curve of init-only prediction (issue 16, part 1).

Training is deterministic, so a run's outcome *is* a function of its initial weights; the
question is how simple that function is. For each cell of ``data/million`` the initial
weights are recomputed from the seeds and described by :func:`relustudy.experiments.init_predict.init_features`
(the 37 raw weights and biases, the output's pre-activation on each input, the per-unit
margins, dead units, initial MSE). Gradient boosting (scikit-learn's
HistGradientBoostingClassifier, early stopping on a validation split of the training seeds,
iterations capped at :data:`MAX_ITER`) learns failure from 1,000, 3,000, ... training seeds
and is scored on one fixed held-out set: the seeds ``0 .. HELD_OUT-1`` (also the seeds of the
perturbation experiment, so the classifier's mistakes can be set beside the flip boundary).
The curve AUROC(n) is fitted with ``a - b n^-c`` and its ceiling ``a`` bootstrapped.

Each fit is one shard (its held-out scores) under ``out/shards``; rerunning resumes. The
consolidated tables (``curve.parquet``, ``fit.parquet``, ``scores.parquet``) are small.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from relustudy.runs.cards import write_card
from relustudy.stats import curves as curve_stats
from relustudy.runs import sharded
from relustudy.experiments import init_predict as ip
from relustudy.core.config import Cell
from relustudy.core.schema import cell_id
from relustudy.runs.dataset import read_info
from relustudy.runs.provenance import provenance
from relustudy.runs.lock import folder_lock
from relustudy.runs.paths import DATA_DIR

HELD_OUT = 100_000  # seeds 0..HELD_OUT-1 of every cell: the fixed held-out set
SIZES = (1000, 3000, 10_000, 30_000, 100_000, 300_000, 900_000)  # training seeds; capped by the pool
REPEATS_SMALL = 3  # training draws per size up to REPEAT_LIMIT (their spread is the training-sample noise)
REPEAT_LIMIT = 30_000
MAX_ITER = 2000  # boosting iterations cap (early stopping normally ends sooner; the table says when it bound)
LEARNING_RATE = 0.1
MAX_LEAF_NODES = 31
VALIDATION_FRACTION = 0.1  # of the training seeds, for early stopping
N_ITER_NO_CHANGE = 20
CURVE_SEED = 20261129  # training-subset draws, boosting's split, the bootstrap
N_BOOT = 200  # bootstrap replicates (held-out seeds and training draws) of the fitted ceiling
CONFIDENT = 0.9  # a confident mistake: P(fail) >= CONFIDENT for a solved seed, <= 1 - CONFIDENT for a failed one
DEAD = ip.DEAD
MARGIN = ip.MARGIN
MODEL = "gradient boosting"
MAKE = "python scripts/run_init_curve.py"

# Cells of data/million: label, factor values (relu, output same, randn, 4-4, 5000 epochs in all).
CELLS: tuple[tuple[str, dict], ...] = (
    ("posted", dict(update="as_posted", optimizer="sgd", lr=0.01)),
    ("corrected update", dict(update="corrected", optimizer="sgd", lr=0.01)),
    ("momentum, matched step lr 0.001", dict(update="as_posted", optimizer="momentum", lr=0.001)),
)


@dataclass
class CellData:
    """One cell's seeds and outcomes, sorted by seed: all arrays (n,)."""

    label: str
    cell: Cell
    seeds: np.ndarray
    failed: np.ndarray
    dead_init: np.ndarray
    dead_final: np.ndarray
    outcome: np.ndarray


def cell_data(runs: pd.DataFrame, label: str, where: dict) -> CellData:
    """The runs of one cell of ``runs`` (one row per seed), as arrays sorted by seed."""
    base = dict(activation="relu", output="same", init="randn", hidden="4-4")
    mask = np.ones(len(runs), dtype=bool)
    for k, v in {**base, **where}.items():
        col = runs[k]
        mask &= (col.astype(str) == v).to_numpy() if isinstance(v, str) else np.isclose(col.to_numpy(float), v)
    if "init_gain" in runs.columns:
        mask &= np.isclose(runs["init_gain"].to_numpy(float), 1.0)
    sub = runs[mask].sort_values("seed", kind="stable")
    if sub.empty:
        raise ValueError(f"cell {label!r} ({where}) is not in the runs table")
    if sub["seed"].duplicated().any() or sub["epochs"].nunique() != 1:
        raise ValueError(f"cell {label!r}: several runs per seed (several epochs or cells?)")
    cell = Cell(**{**base, **where}, epochs=int(sub["epochs"].iloc[0]))
    return CellData(label, cell, sub["seed"].to_numpy(np.int64), (sub["outcome"].astype(str) != "solved").to_numpy(),
                    sub["output_dead_init"].to_numpy(bool), sub["output_dead_final"].to_numpy(bool),
                    sub["outcome"].astype(str).to_numpy())


def features(cell: Cell, seeds) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, F) float32 init features of ``cell`` for ``seeds`` (float32 halves the memory of 10^6 rows;
    boosting bins every feature into <= 255 bins anyway), and the feature names."""
    out, names = [], ()
    for i in range(0, len(seeds), 100_000):
        f = ip.cell_init_features(cell, seeds[i : i + 100_000])
        out.append(f.values.astype(np.float32))
        names = f.names
    return np.concatenate(out), names


def make_model(random_state: int, max_iter: int = MAX_ITER):
    """The boosting classifier of the curve (unfitted)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=LEARNING_RATE, max_leaf_nodes=MAX_LEAF_NODES, early_stopping=True,
        validation_fraction=VALIDATION_FRACTION, n_iter_no_change=N_ITER_NO_CHANGE, random_state=random_state)


def plan(n_pool: int, sizes: Sequence[int] = SIZES) -> list[tuple[int, int]]:
    """(training size, repeat) pairs for a pool of ``n_pool`` training seeds, smallest first.

    Sizes above the pool are dropped; the pool itself is added as the last size when it lies
    between the listed sizes (every seed then trains once).

    Examples
    --------
    >>> plan(100_000, (1000, 30_000, 300_000))
    [(1000, 0), (1000, 1), (1000, 2), (30000, 0), (30000, 1), (30000, 2), (100000, 0)]
    """
    if n_pool < 2:
        raise ValueError(f"no training size fits a pool of {n_pool} seeds; need >= 2")
    ns = sorted({int(n) for n in sizes if n <= n_pool})
    if any(n > n_pool for n in sizes) and (not ns or ns[-1] < n_pool):
        ns.append(int(n_pool))
    return [(n, r) for n in ns for r in range(REPEATS_SMALL if n <= REPEAT_LIMIT and n < n_pool else 1)]


def _shard(path: Path, X, y, train_idx, X_test, seed_key, max_iter: int) -> None:
    """Fit one model on rows ``train_idx`` and write its held-out P(fail) (a shard)."""
    t = time.perf_counter()
    with threadpool_limits(1):  # deterministic, and polite on a shared machine
        m = make_model(seed_key, max_iter).fit(X[train_idx], y[train_idx])
        score = m.predict_proba(X_test)[:, 1].astype(np.float32)
    info = {"kind": "init_curve_shard", "n_iter": int(m.n_iter_), "seconds": time.perf_counter() - t}
    sharded.write_frame(pd.DataFrame({"score": score}), path, info)


def run_init_curve(runs: pd.DataFrame, out, *, cells: Sequence[tuple[str, dict]] = CELLS, held_out: int = HELD_OUT,
                   sizes: Sequence[int] = SIZES, max_iter: int = MAX_ITER, n_boot: int = N_BOOT, log=print) -> Path:
    """Fit every (cell, size, repeat) model that has no shard yet, then write the tables.

    Parameters
    ----------
    runs : a runs table holding the ``cells`` (e.g. data/million/runs.parquet).
    out : folder for shards/ and the tables curve.parquet, fit.parquet, scores.parquet.
    held_out : seeds 0..held_out-1 are the test set; the cell's other seeds are the training pool.
    """

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curve_rows, fit_rows, score_frames = [], [], []
    with folder_lock(out, log):
        shards = sharded.prepare(out)
        for ci_, (label, where) in enumerate(cells):
            d = cell_data(runs, label, where)
            test = d.seeds < held_out
            pool = np.flatnonzero(~test)
            if test.sum() < 2 or pool.size < 2:
                raise ValueError(f"cell {label!r}: {test.sum()} held-out and {pool.size} training seeds; need both")
            X, _ = features(d.cell, d.seeds)
            dead_x = X[:, ip.cell_init_features(d.cell, [0]).names.index("output_dead")].astype(bool)
            if (dead_x != d.dead_init).any():  # the recomputed init must be the one that was trained
                raise ValueError(f"cell {label!r}: recomputed output-dead-at-init disagrees with the table on "
                                 f"{int((dead_x != d.dead_init).sum())} seeds (data made with other init code?)")
            X_test, y_test = X[test], d.failed[test]
            margin = -X_test[:, ip.cell_init_features(d.cell, [0]).names.index("max_z3[0]")].astype(float)
            jobs = plan(pool.size, sizes)
            t0 = time.perf_counter()
            for n, r in jobs:  # the pool size is in the name: a draw from another pool is another fit
                path = shards / f"{cell_id(d.cell)}_h{held_out}_p{pool.size}_n{n}_r{r}_i{max_iter}.parquet"
                if not path.exists():
                    rng = np.random.default_rng([CURVE_SEED, n, r])
                    idx = np.sort(rng.choice(pool, size=n, replace=False)) if n < pool.size else pool
                    _shard(path, X, d.failed, idx, X_test, CURVE_SEED + r, max_iter)
                    log(f"init_curve: {label} n={n} rep {r}: {read_info(path)['seconds']:.1f} s, "
                        f"{read_info(path)['n_iter']} iterations")
            log(f"init_curve: {label}: {len(jobs)} fits ready ({time.perf_counter() - t0:.0f} s this call)")
            scores = {DEAD: dead_x[test].astype(float), MARGIN: margin}
            fits = []
            for n, r in jobs:
                path = shards / f"{cell_id(d.cell)}_h{held_out}_p{pool.size}_n{n}_r{r}_i{max_iter}.parquet"
                info = read_info(path)
                fits.append((n, r, pd.read_parquet(path)["score"].to_numpy(float), info))
            curve_rows += _curve_rows(label, scores, fits, y_test, max_iter)
            fit_rows.append(_fit_row(label, fits, y_test, n_boot, np.random.default_rng([CURVE_SEED, ci_])))
            big = max(fits, key=lambda f: (f[0], -f[1]))
            score_frames.append(pd.DataFrame({
                "cell": label, "seed": d.seeds[test].astype(np.uint32), "score": big[2].astype(np.float32),
                "failed": y_test, "output_dead_init": d.dead_init[test], "output_dead_final": d.dead_final[test],
                "outcome": pd.Categorical(d.outcome[test])}))
        prov = provenance({"cells": [dict(label=l, **w) for l, w in cells], "held_out": held_out,
                           "sizes": list(sizes), "max_iter": max_iter, "n_boot": n_boot,
                           "model": dict(learning_rate=LEARNING_RATE, max_leaf_nodes=MAX_LEAF_NODES,
                                         validation_fraction=VALIDATION_FRACTION, n_iter_no_change=N_ITER_NO_CHANGE)},
                          MAKE)
        for name, df in (("curve", pd.DataFrame(curve_rows)), ("fit", pd.DataFrame(fit_rows)),
                         ("scores", pd.concat(score_frames, ignore_index=True))):
            sharded.write_frame(df, out / f"{name}.parquet", {"kind": f"init_curve_{name}", "provenance": prov})
        write_card(out)
    return out


def _curve_rows(label, scores, fits, y_test, max_iter) -> list[dict]:
    """One row per baseline (n_train 0) and per fitted model: AUROC with its DeLong 95 % CI; for a model
    also its paired difference to the output margin (DeLong covariance) with a 95 % CI."""
    rows = []
    for name, s in scores.items():
        a, lo, hi = curve_stats.delong(s, y_test).ci()
        rows.append(dict(cell=label, predictor=name, n_train=0, rep=0, auroc=a, low=lo, high=hi, n_iter=0,
                         hit_cap=False, seconds=0.0))
    z = 1.959963984540054  # two-sided 95 %
    for n, r, s, info in fits:
        d = curve_stats.delong(np.vstack([s, scores[MARGIN]]), y_test)
        a, lo, hi = d.ci()
        diff = float(d.auc[0] - d.auc[1])
        sd = float(np.sqrt(max(d.cov[0, 0] + d.cov[1, 1] - 2 * d.cov[0, 1], 0.0)))
        rows.append(dict(cell=label, predictor=MODEL, n_train=n, rep=r, auroc=a, low=lo, high=hi,
                         n_iter=info["n_iter"], hit_cap=info["n_iter"] >= max_iter, seconds=info["seconds"],
                         minus_margin=diff, minus_margin_low=diff - z * sd, minus_margin_high=diff + z * sd))
    for row in rows:
        row.update(n_test=int(y_test.size), n_test_failed=int(y_test.sum()))
    return rows


def _fit_row(label, fits, y_test, n_boot, rng) -> dict:
    """The saturating fit through the mean AUROC per size, its ceiling's bootstrap CI.

    Replicates resample the held-out seeds (one multinomial weighting shared by every model,
    so the points keep their correlation) and, at sizes with several training draws, the draws.
    """
    ns = np.array(sorted({f[0] for f in fits}))
    by_n = [[f[2] for f in fits if f[0] == n] for n in ns]
    ones = np.ones((1, y_test.size))
    point = np.array([np.mean([ip.weighted_auroc(s, y_test, ones)[0] for s in g]) for g in by_n])
    row = dict(cell=label, sizes=len(ns), n_max=int(ns[-1]), auroc_max=float(point[-1]))
    if len(ns) < 3:
        return {**row, **dict.fromkeys(["a", "b", "c", "a_low", "a_high", "c_low", "c_high"], np.nan), "n_boot": 0}
    a, b, c = curve_stats.fit_saturating(ns, point)
    reps = np.empty((n_boot, len(ns)))
    chunk = 25
    for i in range(0, n_boot, chunk):
        k = min(chunk, n_boot - i)
        w = rng.multinomial(y_test.size, np.full(y_test.size, 1.0 / y_test.size), size=k)
        for j, g in enumerate(by_n):
            picks = rng.integers(0, len(g), size=(k, len(g)))
            per = np.stack([ip.weighted_auroc(s, y_test, w) for s in g])  # (draws, k)
            reps[i : i + k, j] = np.take_along_axis(per.T, picks, axis=1).mean(axis=1)
    boot = np.array([curve_stats.fit_saturating(ns, p) for p in reps])
    ok = np.isfinite(boot).all(axis=1)
    (alo, ahi), (clo, chi) = np.percentile(boot[ok, 0], [2.5, 97.5]), np.percentile(boot[ok, 2], [2.5, 97.5])
    return {**row, "a": a, "b": b, "c": c, "a_low": alo, "a_high": ahi, "c_low": clo, "c_high": chi,
            "n_boot": int(ok.sum())}


# --------------------------------------------------------------------------- reading and mistakes


def load_init_curve(path) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`run_init_curve` into folder ``path``: curve, fit, scores."""
    return {k: sharded.read_frame(Path(path) / f"{k}.parquet", f"init_curve_{k}", MAKE) for k in ("curve", "fit", "scores")}


MISTAKE_KINDS = (  # (kind, predicted, condition on the run) in table order
    "failed: output alive at init, dead at the end (died in training)",
    "failed: output alive at init and at the end",
    "failed: output dead at init",
    "solved: output dead at init (revived by the bias decay)",
    "solved: output alive at init",
)


def mistake_kind(failed, dead_init, dead_final) -> np.ndarray:
    """(n,) index into :data:`MISTAKE_KINDS` of each run (a property of the run, not of a prediction)."""
    failed, di, df = (np.asarray(v, dtype=bool) for v in (failed, dead_init, dead_final))
    return np.select([failed & ~di & df, failed & ~di & ~df, failed & di, ~failed & di], [0, 1, 2, 3], default=4)


def mistake_table(scores: pd.DataFrame, near_flip: dict | None = None, *, confident: float = CONFIDENT) -> pd.DataFrame:
    """The largest model's confident mistakes on the held-out seeds, by kind of run.

    Parameters
    ----------
    scores : scores.parquet rows (cell, seed, score, failed, output_dead_init, output_dead_final).
    near_flip : optional cell -> set of seeds whose outcome flips under a perturbation
        (the perturbation experiment); adds how many mistakes of each kind are such seeds.

    Returns
    -------
    One row per (cell, kind) present: held_out (runs of that kind), mistakes (confident
    mistakes among them), rate = mistakes / held_out, and near_flip / flip_seeds_of_kind where given.
    """
    rows = []
    for cell, g in scores.groupby("cell", sort=False, observed=True):
        kind = mistake_kind(g["failed"], g["output_dead_init"], g["output_dead_final"])
        s, f = g["score"].to_numpy(float), g["failed"].to_numpy(bool)
        wrong = np.where(f, s <= 1 - confident, s >= confident)
        flips = None if near_flip is None or cell not in near_flip else np.isin(g["seed"].to_numpy(), list(near_flip[cell]))
        for k, name in enumerate(MISTAKE_KINDS):
            m = kind == k
            if not m.any():
                continue
            row = dict(cell=cell, kind=name, held_out=int(m.sum()), mistakes=int((wrong & m).sum()),
                       rate=float((wrong & m).sum() / m.sum()))
            if flips is not None:
                row.update(mistakes_near_flip=int((wrong & m & flips).sum()), near_flip=int((m & flips).sum()))
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the conclusion's rules

SIMPLE_MOST = 0.90  # a simple init property "explains most" when its AUROC CI lies above this
SIMPLE_LITTLE = 0.75  # ... "explains little" when its CI lies below this
GAP = 0.005  # AUROC: a ceiling this far above the best measured point (CI-wise) means "still rising"
NEAR_EXACT = 0.99  # a ceiling whose CI lies above this: the curve heads to a near-exact map
EXTRAPOLATE_MAX = 10.0  # the fitted curve is read at most this factor beyond the largest training set


@dataclass(frozen=True)
class InitVerdict:
    """The per-cell conclusion: keys chosen by the rules, and the sentence they choose."""

    simple: str  # "most", "part", "little"
    curve: str  # "rising to near-exact", "rising", "saturated", "uncertain", "no fit"
    sentence: str


def _power10(x: float) -> str:
    """7.3e8 -> '7×10^8' (one significant digit: an extrapolation)."""
    if not np.isfinite(x):
        return "infinitely many"
    m, e = f"{x:.0e}".split("e")
    return f"{m}×10^{int(e)}"


def seeds_to_reach(target: float, a: float, b: float, c: float) -> float:
    """Training seeds n at which the fitted curve a - b (n/N0)^-c reaches ``target`` (inf if never: target >= a).

    Examples
    --------
    >>> round(seeds_to_reach(0.9, 1.0, 0.1, 1.0))
    1000
    """
    if target >= a:
        return float("inf")
    return float(curve_stats.N0 * ((a - target) / b) ** (-1.0 / c))


def init_verdict(curve: pd.DataFrame, fit: pd.Series) -> InitVerdict:
    """Rules on one cell's curve rows and fit row (the tables of :func:`run_init_curve`).

    simple: the better of "dead at init" and the output margin, by its CI against SIMPLE_MOST /
    SIMPLE_LITTLE; curve: the fitted ceiling's CI against the best measured AUROC (GAP) and NEAR_EXACT.
    """
    base = curve[curve["n_train"] == 0].set_index("predictor")
    best_simple = base["auroc"].idxmax()
    s = base.loc[best_simple]
    simple = "most" if s["low"] >= SIMPLE_MOST else "little" if s["high"] < SIMPLE_LITTLE else "part"
    m = curve[curve["predictor"] == MODEL]
    top = m[m["n_train"] == m["n_train"].max()].sort_values("rep").iloc[0]
    parts = [f"{best_simple} alone reaches AUROC {s['auroc']:.3f} [{s['low']:.3f}, {s['high']:.3f}] "
             f"(it ranks a failing seed above a solved one {s['auroc']:.0%} of the time: a "
             f"{'strong' if simple == 'most' else 'partial' if simple == 'part' else 'weak'} predictor by the rule, CI "
             f"against {SIMPLE_LITTLE} and {SIMPLE_MOST})",
             f"gradient boosting on the init features reaches {top['auroc']:.3f} [{top['low']:.3f}, {top['high']:.3f}] "
             f"from {int(top['n_train']):,} training seeds ({top['minus_margin']:+.3f} "
             f"[{top['minus_margin_low']:+.3f}, {top['minus_margin_high']:+.3f}] over the margin"
             + (f"; it stopped at the {int(top['n_iter'])}-iteration cap" if top["hit_cap"] else "") + ")"]
    if not np.isfinite(fit.get("a", np.nan)):
        curve_key = "no fit"
        parts.append("too few training sizes to fit the curve")
    else:
        ceil = f"{fit['a']:.3f} [{fit['a_low']:.3f}, {fit['a_high']:.3f}]"
        bound = " (at the bound 1: the measured sizes show no bend towards a lower ceiling)" \
            if fit["a_high"] >= 1 - 1e-9 else ""
        if fit["a_low"] - top["auroc"] > GAP:
            curve_key = "rising to near-exact" if fit["a_low"] >= NEAR_EXACT else "rising"
            text = f"the curve is still rising; its fitted ceiling is {ceil}{bound}"
            if fit["a"] > NEAR_EXACT and top["auroc"] < NEAR_EXACT:
                need = seeds_to_reach(NEAR_EXACT, fit["a"], fit["b"], fit["c"])
                if top["hit_cap"]:
                    text += (f"; how many seeds AUROC {NEAR_EXACT} would take is not extrapolated: the largest model "
                             "stopped at its iteration cap, so the fit's last point understates it")
                elif need > EXTRAPOLATE_MAX * top["n_train"]:
                    text += (f"; AUROC {NEAR_EXACT} lies beyond {EXTRAPOLATE_MAX:g}× the largest training set on the "
                             "fitted curve: not extrapolated that far")
                else:
                    text += (f"; at the fitted rate (exponent {fit['c']:.2f}) AUROC {NEAR_EXACT} would take about "
                             f"{_power10(need)} training seeds")
            parts.append(text)
        elif fit["a_high"] - top["auroc"] < GAP:
            curve_key = "saturated"
            parts.append(f"the curve has flattened (fitted ceiling {ceil}): more seeds would not help this model")
        else:
            curve_key = "uncertain"
            parts.append(f"the curve is bending but not flat: its fitted ceiling {ceil}{bound} lies up to "
                         f"{fit['a_high'] - top['auroc']:.3f} above the best measured AUROC")
    return InitVerdict(simple, curve_key, "; ".join(parts))


def main(argv=None) -> int:
    """``scripts/run_init_curve.py``."""
    import argparse
    import sys


    p = argparse.ArgumentParser(prog="run_init_curve.py", description=(
        "Learning curve of init-only failure prediction on data/million: gradient boosting on the initial weights' "
        "features, trained on growing numbers of seeds, scored on a fixed held-out set. Writes DIR/curve.parquet, "
        "fit.parquet, scores.parquet; rerunning resumes (one shard per fit). Single-threaded."))
    p.add_argument("--runs", default=None, metavar="FILE", help="runs table (default data/million/runs.parquet)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default data/init_curve; "
                   "--quick: data/quick/init_curve)")
    p.add_argument("--sizes", default=None, metavar="N,N,...", help=f"training sizes (default {','.join(map(str, SIZES))})")
    p.add_argument("--held-out", type=int, default=None, metavar="N", help=f"held-out seeds 0..N-1 (default {HELD_OUT})")
    p.add_argument("--max-iter", type=int, default=MAX_ITER, metavar="N", help=f"boosting iteration cap (default {MAX_ITER})")
    p.add_argument("--quick", action="store_true", help="2,000 held-out seeds, sizes 500,1000,2000, cap 50 (seconds)")
    args = p.parse_args(argv)
    try:
        sizes = (500, 1000, 2000) if args.quick and args.sizes is None else \
            tuple(int(v) for v in (args.sizes or ",".join(map(str, SIZES))).split(","))
        if not sizes or min(sizes) < 10:
            raise ValueError(f"invalid --sizes {args.sizes!r}; allowed: comma-separated integers >= 10")
        held = args.held_out if args.held_out is not None else (2000 if args.quick else HELD_OUT)
        max_iter = 50 if args.quick and args.max_iter == MAX_ITER else args.max_iter
        if held < 100 or max_iter < 1:
            raise ValueError(f"invalid --held-out {held} or --max-iter {max_iter}; allowed: >= 100 and >= 1")
        runs_path = Path(args.runs) if args.runs else DATA_DIR / "million" / "runs.parquet"
        if not runs_path.exists():
            raise FileNotFoundError(f"no runs table at {runs_path}; run `python scripts/run_grid.py --experiment million`")
        cols = ["seed", "activation", "output", "init", "update", "optimizer", "lr", "epochs", "hidden", "init_gain",
                "outcome", "output_dead_init", "output_dead_final"]
        import pyarrow.parquet as pq

        have = set(pq.read_schema(runs_path).names)
        runs = pd.read_parquet(runs_path, columns=[c for c in cols if c in have])
        if args.quick:  # the held-out seeds and the next few thousand
            runs = runs[runs["seed"] < held + 2 * max(sizes)]
        out = args.out or (DATA_DIR / "quick" / "init_curve" if args.quick else DATA_DIR / "init_curve")
        path = run_init_curve(runs, out, held_out=held, sizes=sizes, max_iter=max_iter,
                              n_boot=20 if args.quick else N_BOOT, log=lambda m: print(m, file=sys.stderr, flush=True))
    except Exception as e:  # bad values, missing data, a locked folder: one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "invalid literal" in msg:
            msg = f"invalid --sizes {args.sizes!r}; allowed: comma-separated integers >= 10"
        print(f"run_init_curve.py: error: {msg}", file=sys.stderr)
        return 2
    print(f"wrote {path}", file=sys.stderr)
    return 0
