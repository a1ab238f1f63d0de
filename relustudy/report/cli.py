"""`python scripts/make_report.py`: the report from the dataset, with one-line errors."""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from relustudy.runs import paths
from relustudy.studies import common
from relustudy.report import document
from relustudy.runs import stored
from relustudy.runs.content import content_hash, frame_digest
from relustudy.runs.dataset import load_curves, load_runs, read_info
from relustudy.experiments.chaos_tables import CHAOS_FILE, load_chaos
from relustudy.experiments.chaos_tables import TABLES as CHAOS_TABLES
from relustudy.experiments.init_curve import load_init_curve
from relustudy.experiments.forensics import FORENSICS_FILE, TRACES_FILE, load_forensics
from relustudy.experiments.gradient_trace import GRADIENTS_FILE
from relustudy.experiments.gradient_trace import load as load_gradients
from relustudy.experiments.probes import PROBES_FILE, load_probes
from relustudy.runs.paths import CURVES_FILE, DEFAULT_GRID_DIR, REPORTS_DIR, RUNS_FILE
from relustudy.core.engines.cores import usable_cores


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make_report.py",
        description="Write REPORT.md and its figures from a relustudy dataset "
        "(default: the shipped data/default). Every number is computed from the data.",
    )
    p.add_argument("--data", default=str(DEFAULT_GRID_DIR), metavar="DIR",
                   help=f"dataset folder holding {RUNS_FILE} and {CURVES_FILE} (default data/default)")
    p.add_argument("--out", default=str(REPORTS_DIR), metavar="DIR",
                   help="report folder: DIR/REPORT.md and DIR/figures/ (default reports/)")
    p.add_argument("--store", action="store_true",
                   help="write the expensive results the report computes (the init theory's Monte Carlo, the "
                        "init classifiers' cross-validation, the basins bootstrap) to data/stored/, so later "
                        "reports only read them")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes rendering the sections (default: every usable core; 1: in this process)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1; got {args.jobs}")

    jobs = usable_cores() if args.jobs is None else args.jobs
    start, cpu = time.perf_counter(), time.process_time()
    data, out = Path(args.data), Path(args.out)
    if paths.CHECKOUT is None and data == paths.DEFAULT_GRID_DIR and not data.exists():  # a non-editable install
        print(f"make_report.py: error: no dataset at {data} (relustudy is installed without its repository's "
              "data/; run from a checkout's root or pass --data DIR)", file=sys.stderr)
        return 2
    try:
        runs = load_runs(data)
        folder = data if data.is_dir() else data.parent
        # No curves table is no error: the sections that need curves are listed as skipped.
        curves = load_curves(folder) if (folder / CURVES_FILE).exists() else None
        if runs.empty:
            raise ValueError(f"the runs table in {data} is empty; run `python scripts/run_grid.py` first")
        info = read_info(data / RUNS_FILE if data.is_dir() else data)
    except (FileNotFoundError, ValueError) as e:
        print(f"make_report.py: error: {e}", file=sys.stderr)
        return 2
    files = [data / RUNS_FILE, data / CURVES_FILE] if data.is_dir() else [data]
    experiments = {}
    root = folder.parent  # the experiments' folders sit beside the default grid's
    # The study's layout: the grid in a folder named like data/default, its experiments beside it.
    # Any other folder is a dataset of one's own: the report describes it alone, under its name.
    own = None if folder.resolve().name == DEFAULT_GRID_DIR.name else folder.resolve().name
    # A file that is there but unreadable stops the report (one line, exit 2): a section
    # silently dropped would pass for a report of the whole study.
    unreadable = "make_report.py: error: {}; the report is not written ({})"
    for name in common.EXPERIMENTS if own is None else ():
        exp_dir = root / name
        if not (exp_dir / RUNS_FILE).exists():
            continue  # the report lists the experiment's section as skipped
        try:
            experiments[name] = (load_runs(exp_dir), load_curves(exp_dir) if (exp_dir / CURVES_FILE).exists() else None)
        except ValueError as e:
            print(unreadable.format(e, f"remake it with `python scripts/run_grid.py --experiment {name}`, which keeps "
                                       "an unreadable file aside in rejected/"), file=sys.stderr)
            return 2
        files += [exp_dir / RUNS_FILE, exp_dir / CURVES_FILE]
    extras = {}
    # Tables that are not runs tables: (folder, files, loader); absent ones leave their section skipped.
    for name, names, loader in (("forensics", (FORENSICS_FILE, TRACES_FILE), load_forensics),
                                ("chaos", (CHAOS_FILE, *[f"{t}.parquet" for t in CHAOS_TABLES if f"{t}.parquet" != CHAOS_FILE]),
                                 load_chaos),
                                ("init_curve", ("curve.parquet", "fit.parquet", "scores.parquet"), load_init_curve),
                                ("q1_gradients", (GRADIENTS_FILE,), load_gradients),
                                ("optim_probes", (PROBES_FILE,), load_probes)) if own is None else ():
        folder_x = root / name
        if not (folder_x / names[0]).exists():
            continue
        try:
            extras[name] = loader(folder_x)
        except (OSError, ValueError) as e:
            print(unreadable.format(_one_line(e, folder_x), "repair or remake the file"), file=sys.stderr)
            return 2
        files += [folder_x / n for n in names]
    # Identify the data by content, not file bytes: a rerun that reproduces the data reproduces the report.
    # The runs and curves tables are hashed as loaded (content_hash would read them again:
    # the same loader, so the same digest; ~1.5 s of the report's start).
    loaded = {data / RUNS_FILE if data.is_dir() else data: runs, folder / CURVES_FILE: curves,
              **{root / name / f: t for name, pair in experiments.items() for f, t in zip((RUNS_FILE, CURVES_FILE), pair)}}
    info = {**info, "hashes": {f.relative_to(root).as_posix(): frame_digest(loaded[f]) if loaded.get(f) is not None
                               else content_hash(f) for f in files if f.exists()}}
    # The report's folders must be writable before the work (the figures are written by forked workers).
    for folder_w, hint in ((out, "pass --out DIR"), (out / "figures", "pass --out DIR"),
                           *([(root / "stored", "drop --store")] if args.store else [])):
        problem = _unwritable(folder_w)
        if problem:
            print(f"make_report.py: error: cannot write {folder_w}: {problem}; allowed: a folder you can write "
                  f"({hint})", file=sys.stderr)
            return 2
    # pandas deep-copies a frame's attrs (here the provenance) into every frame derived from
    # it: ~3.7 s of the report's CPU; the report takes the provenance from `info` instead.
    for df in (runs, curves, *(t for pair in experiments.values() for t in pair)):
        if df is not None:
            df.attrs = {}
    # The loaded tables live until the report is written: freeze them out of the collector's
    # scans. statsmodels' Holm calls gc.collect() on every call, which rescanned every object
    # of the loaded data each time (2 s of the report's CPU over ~20 calls).
    gc.freeze()
    ctx = common.Context(timings={"load data": time.perf_counter() - start}, runs=runs, curves=curves, figures_dir=out / "figures", report_dir=out, info=info,
                         experiments=experiments, extras=extras, dataset=own)
    with stored.configure(root / "stored", write=args.store):  # beside the data it was computed from
        text = document.build(ctx, jobs=jobs)
        missing = stored.computed()
        # stored findings for data or code that is gone (every finding was just read or written)
        pruned = stored.prune("finding_") if args.store else []
    out.mkdir(parents=True, exist_ok=True)
    target = out / "REPORT.md"
    tmp = target.with_name(".tmp-REPORT.md")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    print(f"wrote {target} and {len(ctx.figure_files)} figures in {out / 'figures'}")
    children = os.times()  # the forked section workers' CPU time, once they have been waited for
    print_timings(ctx.timings, time.perf_counter() - start,
                  time.process_time() - cpu + children.children_user + children.children_system)
    if missing:
        verb = "stored" if args.store else "computed (not stored; `make_report.py --store` stores them)"
        print(f"{len(missing)} expensive results {verb}: {', '.join(missing)}")
    if pruned:
        print(f"removed {len(pruned)} stale stored files: {', '.join(p.name for p in pruned)}")
    return 0


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (created if missing), or None if they can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return e.strerror or str(e)
    if not os.access(folder, os.W_OK | os.X_OK):
        return "Permission denied"
    return None


def _one_line(error: Exception, folder: Path) -> str:
    """An exception's message on one line, naming ``folder`` if it does not."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if str(folder) in text else f"{folder}: {text}"


def print_timings(timings: dict, total: float, cpu: float, top: int = 12) -> None:
    """Where the report's time went: the slowest steps (wall seconds), to stdout, never into the report."""
    print(f"time: {total:.1f} s wall, {cpu:.1f} s CPU in all; slowest steps (wall):")
    for what, sec in sorted(timings.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {sec:6.1f} s  {what}")
