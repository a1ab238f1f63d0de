"""The command line of ``scripts/run_grid.py``: flags and a TOML file -> a Grid -> run_grid.

Bad input never reaches the output folder: everything is parsed and validated (and the
scheduler contacted) first, and any error is one line on stderr with exit code 2, as is
an output folder that another run is using (``relustudy.runs.lock``) or that cannot be written.
Ctrl-C and SIGTERM stop the workers and print one line (the finished shards kept, how to
resume); the exit code is 130 for Ctrl-C and 143 for SIGTERM (``relustudy.runs.interrupt``).

``--experiment NAME`` runs a named experiment (``relustudy.runs.catalog``) instead of a
grid built from factor flags; ``--experiment all`` runs every one, each into its own folder.
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import warnings
from pathlib import Path
from typing import Sequence

from relustudy.runs import catalog
from relustudy.core.engines import ENGINES, resolve_engine
from relustudy.core.config import FACTOR_REGISTRY
from relustudy.core.checks import MAX_ORDER_SEED, check_choice, hidden_str
from relustudy.runs.backends import BACKENDS, SchedulerError, check_run_options
from relustudy.runs.spec import COLUMN_SETS, DEFAULT_BLOCK, Grid
from relustudy.runs.grid import run_grid
from relustudy.runs.interrupt import exit_code, handle_signals
from relustudy.runs.lock import FolderLocked, FolderUnwritable
from relustudy.runs.paths import DATA_DIR, DEFAULT_GRID_DIR, SHARDS_SUBDIR

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

PROG = "run_grid.py"
QUICK_DIR = DATA_DIR / "quick"  # --quick's default output; never data/default
# --quick: 2 x 2 x 2 x 2 cells x 50 seeds at 2000 epochs, ~15 s on 2 cores.
QUICK = {
    "seeds": "0:50",
    "activations": "relu,tanh",
    "outputs": "same,identity",
    "inits": "randn,he",
    "updates": "as_posted,corrected",
    "optimizers": "sgd",
    "lrs": "0.01",
    "epochs": "2000",
}
# One flag per factor of the registry (config.FACTOR_REGISTRY), named after its Grid field.
GRID_KEYS = ("seeds", *(f.grid_field for f in FACTOR_REGISTRY.values()), "block")
RUN_KEYS = ("jobs", "backend", "scheduler", "out", "quick", "progress", "experiment", "engine", "columns", "track_output")
BOOL_KEYS = ("quick", "progress", "track_output")
ALL = "all"  # --experiment all: every registered experiment, each into its own folder


class UsageError(Exception):
    """Bad command-line or config input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The flags; every default is None so explicit flags can override a --config file."""
    p = _Parser(
        prog=PROG,
        description=(
            "Train the study grid (the question: docs/question.md) and write its dataset: DIR/runs.parquet and "
            "DIR/curves.parquet (shards in DIR/shards/). Rerunning resumes: finished shards are reused, and "
            "a rerun that reproduces DIR's dataset bit for bit leaves its files untouched. One run per DIR at a "
            "time: a second exits with code 2, naming the first (a killed run's DIR/.lock is taken over). "
            "With no flags: seeds 0:1000 x 4 activations x 2 outputs x 3 inits x 2 updates x "
            "2 optimizers x 3 lrs, 5000 epochs, hidden 4-4 (288 cells, 288,000 runs) into data/default. "
            "Named experiments beyond it: --list-experiments, --experiment NAME."
        ),
        epilog="Lists are comma-separated. Examples: run_grid.py --seeds 0:100 --activations relu,tanh --out data/mine; "
        "run_grid.py --experiment all (every named experiment into data/NAME)",
        argument_default=argparse.SUPPRESS,
    )
    add = p.add_argument
    add("--seeds", metavar="A:B", help="seed range, A included, B excluded (default 0:1000)")
    defaults = Grid()
    for f in FACTOR_REGISTRY.values():
        key = f.grid_field
        allowed = f"; allowed: {','.join(f.levels)}" if f.levels else ""
        shown = ",".join(hidden_str(v) if key == "hidden" else str(v) for v in getattr(defaults, key))
        add(f"--{key.replace('_', '-')}", dest=key, metavar="A:B|LIST" if key == "order_seeds" else "LIST",
            help=f"{f.help}{allowed} (default {shown})")
    add("--track-output", dest="track_output", action="store_true", help="also record when the output unit dies: "
        "output_death_epoch and output_state_changes, from its pre-activation on the six inputs at each epoch's end")
    add("--columns", choices=COLUMN_SETS, help="what the dataset keeps: full (every column and the curves; the "
        "default for factor grids) or compact (factors, outcome, dead-unit columns, final_mse in float32, no curves; "
        "the million experiment's default). With --experiment, --columns full regenerates the full table")
    add("--block", metavar="N", help=f"seeds per shard (default {DEFAULT_BLOCK}); does not change the data")
    add("--jobs", metavar="N", help="parallel workers (default: all cores; dask: all workers)")
    add("--engine", metavar="NAME", help=f"training engine; allowed: {','.join(ENGINES)}. numba: the fused CPU kernel "
        "(default; numpy with a notice if numba is missing); numpy: the readable reference; cuda: one NVIDIA GPU "
        "(pip install -e '.[gpu]'; give it big tasks, e.g. --block 100000). All give the same bits")
    add("--backend", choices=BACKENDS, help="loky: local processes (default); dask: a dask.distributed cluster")
    add("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://HOST:8786 (with --backend dask)")
    add("--out", metavar="DIR", help="output folder (default data/default, which only the default grid may "
        "use implicitly; with --quick data/quick; with --experiment NAME data/NAME; with --experiment all "
        "the parent of one folder per experiment)")
    add("--config", metavar="FILE.toml", help="read these settings from a TOML file, keys named like the flags "
        "(seeds, activations, ..., jobs, backend, scheduler, out, quick, experiment); values as strings or lists; "
        "flags override the file")
    add("--quick", action="store_true", help="a reduced grid that runs in well under a minute: " + _quick_text()
        + "; with --experiment, the experiment's reduced (CI) version, into data/quick/NAME")
    add("--experiment", metavar="NAME", help="run a named experiment instead of a factor grid, into data/NAME "
        "(or --out DIR); 'all' runs every one in turn, each into data/NAME (or DIR/NAME with --out DIR). "
        "Factor flags (--seeds ... --hidden, --block) are refused with it: an experiment fixes its grid. "
        f"Known: {', '.join(catalog.names())} (see --list-experiments)")
    add("--list-experiments", action="store_true", help="list the named experiments, one line each, and exit")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def list_experiments() -> str:
    """One line per experiment: name, run count, description."""
    width = max(len(n) for n in catalog.names())
    return "\n".join(
        f"{e.name:<{width}}  {e.description}" for e in catalog.EXPERIMENTS.values()
    )


def _quick_text() -> str:
    return " ".join(f"--{k} {v}" for k, v in QUICK.items())


def read_config(path: str) -> dict:
    """The keys of a TOML config file, values as strings like the flags take."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"cannot read config file {path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"invalid TOML in config file {path}: {e}")
    unknown = sorted(set(raw) - set(GRID_KEYS) - set(RUN_KEYS))
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(unknown)} in {path}; allowed: {', '.join(GRID_KEYS + RUN_KEYS)}")
    out = {}
    for key, value in raw.items():
        if key in BOOL_KEYS:
            if not isinstance(value, bool):
                raise UsageError(f"invalid {key} {value!r} in {path}; allowed: true or false")
            out[key] = value
        elif key == "seeds" and isinstance(value, list):
            out[key] = ":".join(str(v) for v in value)
        elif isinstance(value, list):
            out[key] = ",".join(str(v) for v in value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[key] = str(value)
        else:
            raise UsageError(f"invalid {key} {value!r} in {path}; allowed: a string, number or list")
    return out


def _split(text: str, name: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(not s for s in items):
        raise UsageError(f"invalid --{name} {text!r}; allowed: comma-separated values with none empty")
    return items


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"invalid {name} {text!r}; allowed: an integer") from None


def _float(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"invalid {name} {text!r}; allowed: a finite number > 0") from None


def _seeds(text: str) -> tuple[int, int]:
    parts = str(text).split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UsageError(f"invalid --seeds {text!r}; allowed: A:B with integers 0 <= A < B <= 2**32")
    return int(parts[0]), int(parts[1])


def _order_seeds(text: str) -> tuple[int, ...]:
    """``A:B`` (order seeds A..B-1) or a comma-separated list of integers."""
    text = str(text)
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or not (
            0 <= int(parts[0]) < int(parts[1]) <= MAX_ORDER_SEED
        ):
            raise UsageError(f"invalid --order-seeds {text!r}; allowed: A:B with integers 0 <= A < B <= 2**32, "
                             "or a list of integers")
        return tuple(range(int(parts[0]), int(parts[1])))
    return tuple(_int(v, "order_seed") for v in _split(text, "order-seeds"))  # Grid checks the range


# How a factor's flag text becomes its values (strings for the rest: the Grid checks them).
_PARSE = {"epochs": _int, "init_gain": _float}


def make_grid(opts: dict) -> Grid:
    """A Grid from flag-style string options; ValueError/UsageError if any is bad.

    ``--order-seeds`` without ``--data-orders`` implies ``--data-orders shuffled``.
    """
    kw = {}
    for f in FACTOR_REGISTRY.values():
        key = f.grid_field
        if key not in opts:
            continue
        if key == "order_seeds":
            kw[key] = _order_seeds(opts[key])
            if "data_orders" not in opts:
                kw["data_orders"] = ("shuffled",)
        elif f.name in _PARSE:
            kw[key] = tuple(_PARSE[f.name](v, f.name) for v in _split(opts[key], key.replace("_", "-")))
        else:
            kw[key] = tuple(_split(opts[key], key.replace("_", "-")))
    if "track_output" in opts:
        kw["track_output"] = bool(opts["track_output"])
    if "seeds" in opts:
        kw["seeds"] = _seeds(opts["seeds"])
    if "block" in opts:
        kw["block"] = _int(opts["block"], "block")
    if "out" in opts:
        kw["out"] = Path(opts["out"])
    return Grid(**kw)


def experiment_grids(name: str, *, reduced: bool = False, out: str | None = None) -> list[Grid]:
    """The grids ``--experiment name`` runs: one, or for ``all`` every experiment's.

    ``out`` is the folder of a single experiment, and the parent folder with ``all``.
    """
    check_choice("experiment", name, [*catalog.names(), ALL])
    if name != ALL:
        return [catalog.get(name, reduced=reduced, out=out)]
    return [
        catalog.get(n, reduced=reduced, out=None if out is None else Path(out) / n) for n in catalog.names()
    ]


def resolve(argv: Sequence[str] | None) -> tuple[Grid, dict]:
    """Parse flags (and --config), apply --quick; return the grid and the run options.

    For ``--experiment all``, which makes several grids, use :func:`resolve_grids`.
    """
    grids, run = resolve_grids(argv)
    if len(grids) != 1:
        raise UsageError(f"--experiment {ALL} makes {len(grids)} grids; resolve_grids returns them all")
    return grids[0], run


def resolve_grids(argv: Sequence[str] | None) -> tuple[list[Grid], dict]:
    """Parse flags (and --config), apply --quick or --experiment; return the grids and run options."""
    args = vars(build_parser().parse_args(argv))
    args.pop("list_experiments", None)
    opts = read_config(args.pop("config")) if "config" in args else {}
    opts.update(args)  # explicit flags override the file
    quick = opts.pop("quick", False)
    if "experiment" in opts:
        fixed = [k for k in GRID_KEYS if k in opts]
        if fixed:
            raise UsageError(
                f"--experiment {opts['experiment']} fixes its grid; drop {', '.join('--' + k for k in fixed)} "
                "(allowed with it: --out, --quick, --columns, --track-output, --jobs, --engine, --backend, --scheduler, "
                "--no-progress)"
            )
        grids = experiment_grids(opts["experiment"], reduced=quick, out=opts.get("out"))
    else:
        if quick:
            opts = {**QUICK, **opts}  # defaults < --quick < config file < flags
            opts.setdefault("out", str(QUICK_DIR))
        grids = [make_grid(opts)]
        if "out" not in opts and grids[0] != Grid():
            # The default folder holds the shipped default-grid dataset; never overwrite it with another grid.
            raise UsageError(f"this grid differs from the default study grid; pass --out DIR (not {DEFAULT_GRID_DIR})")
    if "columns" in opts:
        grids = [dataclasses.replace(g, columns=opts["columns"]) for g in grids]
    if opts.get("track_output") and "experiment" in opts:
        grids = [dataclasses.replace(g, track_output=True) for g in grids]
    run = {
        "jobs": _int(opts["jobs"], "jobs") if "jobs" in opts else None,
        "backend": opts.get("backend", "loky"),
        "scheduler": opts.get("scheduler"),
        "progress": opts.get("progress", True),
        "engine": resolve_engine(opts.get("engine")),  # unknown or unavailable: one line, exit 2
    }
    check_run_options(**run)
    return grids, run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid; return the exit code (2 for bad input, with one line on stderr)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if vars(build_parser().parse_args(argv)).get("list_experiments"):
            print(list_experiments())
            return 0
        grids, run = resolve_grids(argv)
    except (UsageError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "scripts/run_grid.py", *argv])
    handle_signals()  # SIGTERM unwinds like Ctrl-C: the workers end with this process
    # joblib's note when it cancels the workers' tasks on an interrupt: the one line below says it
    warnings.filterwarnings("ignore", message=r"\d+ tasks which were still being processed", category=UserWarning)
    grid = grids[0]
    try:
        for grid in grids:
            if len(grids) > 1:
                print(f"experiment {grid.out.name}: {grid.n_runs} runs -> {grid.out}", file=sys.stderr)
            run_grid(grid, command=command, **run)
    except (SchedulerError, FolderLocked, FolderUnwritable) as e:  # before the folder's shards or dataset are touched
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a shard folder we may not write, a full disk: finished shards are kept
        if e.filename is None:
            raise
        print(f"{PROG}: error: cannot write {e.filename}: {e.strerror}; {kept(grid)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (interrupt.Terminated)
        print(f"{PROG}: interrupted: {kept(grid)}; rerun the same command to resume", file=sys.stderr)
        return exit_code(e)
    return 0


def kept(grid: Grid) -> str:
    """What a stopped run leaves: ``"62 of 96 shards of data/x kept"`` (finished shards on disk)."""
    shards = grid.shards()
    done = sum((grid.out / SHARDS_SUBDIR / s.name).exists() for s in shards)
    return f"{done} of {len(shards)} shards of {grid.out} kept"
