"""Data cards: a ``README.md`` inside each dataset folder, written from the folder's own files.

A card says what the folder holds (files, rows, every column with its stored type and its
meaning, the values of each factor), the command that regenerates it, and the provenance the
files record in their Parquet metadata (git commit, versions, engine). Everything in a card
is read from the files, nothing is typed in by hand, so a card cannot disagree with its data
and a folder copied alone still explains itself.

The writers (the grid runner and the extra tables: forensics, chaos, init curve, gradient
trace, probes) call :func:`write_card` after writing a folder; ``python scripts/write_cards.py``
rewrites the cards of existing folders without training.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from relustudy.core.config import FACTOR_REGISTRY
from relustudy.runs import catalog
from relustudy.runs import paths  # read at call time (paths.ROOT, paths.DATA_DIR), so tests can patch them
from relustudy.runs.dataset import META_KEY, TMP_PREFIX

CARD_FILE = "README.md"

# What each kind of table is, and the command that makes it when the files record none.
KINDS: dict[str, tuple[str, str | None]] = {
    "runs": ("one row per training run, keyed by (`cell_id`, `seed`)", None),
    "curves": ("learning curves: the epoch error at log-spaced epochs, one row per (`cell_id`, `seed`, "
               "`epoch`); join to the runs on (`cell_id`, `seed`)", None),
    "chaos_counts": ("perturbed inits: one row per (cell, eps) with the flip counts", "python scripts/run_chaos.py"),
    "chaos_flips": ("perturbed inits: one row per flipped (seed, direction, eps)", "python scripts/run_chaos.py"),
    "chaos_response": ("perturbed inits: the continuous response of pairs that did not flip",
                       "python scripts/run_chaos.py"),
    "chaos_base": ("perturbed inits: the outcome of every unperturbed run", "python scripts/run_chaos.py"),
    "forensics": ("how a run dies: one row per replayed run, joinable on (`cell_id`, `seed`)",
                  "python scripts/run_forensics.py"),
    "traces": ("the output unit's margin along training for a few replayed runs per cell",
               "python scripts/run_forensics.py"),
    "init_curve_curve": ("init-only prediction of the outcome: held-out AUROC per training-set size",
                         "python scripts/run_init_curve.py"),
    "init_curve_fit": ("init-only prediction: the saturating fit a - b (n/1000)^-c per cell",
                       "python scripts/run_init_curve.py"),
    "init_curve_scores": ("init-only prediction: the largest model's held-out scores",
                          "python scripts/run_init_curve.py"),
    "optim_probes": ("momentum-rule probes (NumPy reference engine): one row per (probe, gain, seed)",
                     "python -m relustudy.experiments.probes --out data/optim_probes"),
    "q1_gradients": ("per-layer gradients along the Q1 learning curves of the tanh/sigmoid cells",
                     "python scripts/run_gradient_trace.py"),
}

# Tables whose writers keep shards in FOLDER/shards, so a rerun resumes.
SHARDED_KINDS = {"chaos_counts", "chaos_flips", "chaos_response", "chaos_base", "forensics", "traces",
                 "init_curve_curve", "init_curve_fit", "init_curve_scores"}

# The meaning of every column the package writes (factor columns come from config.FACTOR_REGISTRY).
COLUMNS: dict[str, str] = {
    "cell_id": "the cell (every factor but the seed): first 12 hex digits of sha256 of its canonical JSON",
    "seed": "the init seed: every init scheme transforms `np.random.RandomState(seed).randn`'s draws",
    "final_mse": "MSE of the final weights over the six training pairs",
    "last_epoch_error": "the posted program's printed number: the mean error accumulated during the last epoch",
    "pred_test": "prediction at (0.1, 0.5); the truth is 0.6",
    "epochs_to_1e-3": "first epoch (1-based) whose epoch error < 1e-3; null if never",
    "outcome": "solved / dead_output / collapsed / slow / diverged (first match: non-finite; ReLU-family output "
               "inactive on all six inputs; six predictions span < 1e-3; final_mse < 1e-3; the rest)",
    "pred_range": "max - min of the six final training predictions",
    "diverged": "any non-finite weight, error or prediction",
    "dead_frac_init": "fraction of hidden units whose pre-activation is <= 0 on all six inputs, at init",
    "dead_frac_final": "the same at the final weights",
    "output_dead_init": "the output unit's pre-activation is <= 0 on all six inputs, at init",
    "output_dead_final": "the same at the final weights",
    "grad_norm_final": "norm of the full MSE gradient (plain backpropagation) at the final weights; 0: nothing moves",
    "output_margin_init": "the output unit's largest pre-activation over the six inputs at init (<= 0: dead)",
    "output_margin_final": "the same at the final weights",
    "linear_on_data_init": "the net is one affine map on the six inputs at init (piecewise-linear activations only)",
    "linear_on_data_final": "the same at the final weights",
    "output_death_epoch": "first epoch whose end finds the output unit dead; 0 = dead at init; -1 = never",
    "output_state_changes": "alive <-> dead changes of the output unit between consecutive epoch ends, from init",
    "epoch": "the epoch after which the error was recorded (1, 2, 5, 10, ... and the last)",
    "epoch_error": "the epoch error (as `last_epoch_error`) after that epoch",
    # perturbed inits (chaos)
    "cell": "the cell's name in the report",
    "k": "the perturbation direction's index for this seed",
    "eps": "the perturbation's size: the 37 initial parameters move by eps along a unit direction",
    "pairs": "(seed, direction) pairs perturbed",
    "seeds": "distinct seeds among them",
    "perturbations": "directions per seed",
    "flips": "pairs whose solved/failed differs from the unperturbed run",
    "to_fail": "flips from solved to failed",
    "label_changed": "pairs whose outcome label differs",
    "dweights_q10": "10 % quantile of the norm of the change of the final parameters (non-flipped pairs)",
    "dweights_q50": "median of the same", "dweights_q90": "90 % quantile of the same",
    "dmse_rel_q10": "10 % quantile of |change of final MSE| / unperturbed final MSE (pairs whose base solved)",
    "dmse_rel_q50": "median of the same", "dmse_rel_q90": "90 % quantile of the same",
    "base_outcome": "outcome of the unperturbed run",
    "long_outcome": "outcome of the perturbed run retrained for 4x the epochs",
    "long_base_outcome": "outcome of the unperturbed run retrained for 4x the epochs",
    "permanent": "still flipped after the 4x retraining",
    "base_mse": "final MSE of the unperturbed run",
    "dmse": "final MSE of the perturbed run minus the unperturbed one",
    "dweights": "norm of the change of the final parameters",
    # the task factor's per-point record
    "output_dead_points_init": "on how many training inputs the output unit's pre-activation is <= 0 at init",
    "output_dead_points_final": "the same at the final weights (0 < k < the task's size: the output partly dead)",
    "eval_mse": "MSE of the final weights on the task's evaluation points (the posted test point for the posted task)",
    # forensics
    "variant": "the cell's name in the report",
    "output_death_step": "global sample step of the output's death, (epoch - 1) * 6 + sample + 1; 0 at init; -1 never",
    "output_killer_layer": "1-based layer whose update took the output's margin from > 0 to <= 0; 0 at init; -1 never",
    "output_margin_before": "the output's margin just before that update (NaN if never dead)",
    "output_margin_after": "the output's margin just after that update (NaN if never dead)",
    "output_deaths": "times the output went from alive to dead (dead at init counts 1)",
    "output_revival_epoch": "first epoch a dead output's margin came back above 0; -1 never",
    "output_revival_step": "the same as a global sample step; -1 never",
    "output_reviver_layer": "the layer whose update revived it; -1 never",
    "output_dead_end": "the output is dead after the last update",
    "step": "global sample step (0 = init)",
    "output_margin": "the output unit's largest pre-activation over the six inputs at that step",
    # init-only prediction (init curve)
    "predictor": "what predicts failure from the init: a fitted model or a single init feature",
    "n_train": "training seeds of the fit (0: no fit)",
    "rep": "draw of the training seeds",
    "auroc": "AUROC on the held-out seeds",
    "low": "lower end of its DeLong 95 % CI", "high": "upper end of its DeLong 95 % CI",
    "n_iter": "boosting iterations", "hit_cap": "stopped at the iteration cap, not by early stopping",
    "seconds": "fit time, one thread",
    "n_test": "held-out seeds", "n_test_failed": "held-out seeds that failed",
    "minus_margin": "AUROC minus the output margin's (paired)",
    "minus_margin_low": "lower end of its 95 % CI", "minus_margin_high": "upper end of its 95 % CI",
    "sizes": "training-set sizes fitted", "n_max": "the largest size", "auroc_max": "mean AUROC at the largest size",
    "a": "the fit's ceiling", "b": "the fit's scale", "c": "the fit's exponent",
    "a_low": "lower end of the ceiling's bootstrap CI", "a_high": "upper end of the ceiling's bootstrap CI",
    "c_low": "lower end of the exponent's bootstrap CI", "c_high": "upper end of the exponent's bootstrap CI",
    "n_boot": "bootstrap refits", "score": "the model's P(fail) for the seed", "failed": "the run is not solved",
    # probes, gradients
    "probe": "the momentum-rule variant",
    "grad_layer1": "norm of the MSE gradient of layer 1's weights and biases together",
    "grad_layer2": "the same for layer 2", "grad_output": "the same for the output layer",
    "output_derivative": "mean over the six inputs of the output activation's |f'(z)|",
    "residual_rms": "RMS of the residuals over the six pairs",
    # stored results
    "depth": "hidden layers", "width": "units per hidden layer", "n_draws": "Monte Carlo draws",
    "p": "estimated probability", "ci_low": "lower end of its 95 % CI", "ci_high": "upper end of its 95 % CI",
    "p_layer_dead": "probability that a whole hidden layer is dead", "n_seeds": "seeds", "n_dead": "seeds dead",
    "rate": "measured rate", "p_theory": "probability computed from the init distribution",
    "p_theory_low": "lower end of its CI", "p_theory_high": "upper end of its CI",
    "p_first_layer_unit": "probability that one first-layer unit is dead", "pvalue": "p-value", "se": "standard error",
}
# Factor columns whose CLI help (config.FACTOR_REGISTRY) speaks of the flag, not of the column;
# a factor not listed here is described by its help text.
FACTOR_MEANINGS = {
    "activation": "activation of the hidden layers",
    "output": "activation of the output unit (same: the hidden one)",
    "init": "init scheme (randn: N(0, 1) weights and biases, as posted)",
    "update": "update rule: as_posted keeps the posted code's two quirks, corrected is plain backpropagation",
    "optimizer": "sgd, momentum 0.9 or adam (torch defaults) on the update rule's step",
    "lr": "learning rate",
    "epochs": "epochs trained",
    "hidden": "hidden widths joined by '-'",
    "init_gain": "multiplier of the init's weights and biases (1.0: the scheme as defined)",
    "order_seed": "seed of the shuffled order (0 with fixed order)",
    "dtype": "arithmetic of training; every result column is float64 either way",
}
# Columns numbered per layer.
PATTERNS = (
    (re.compile(r"dead_frac_(init|final)_l(\d+)$"), "fraction of hidden layer {2}'s units dead ({1}); NaN beyond the net's depth"),
    (re.compile(r"layer(\d+)_death_epoch$"), "first epoch at which hidden layer {1} was dead; 0 at init; -1 never"),
)


def column_meaning(name: str) -> str | None:
    """What column ``name`` holds, or None for a column this module does not know."""

    if name in FACTOR_REGISTRY:
        f = FACTOR_REGISTRY[name]
        return f"factor: {FACTOR_MEANINGS.get(name) or f.help or name}; the posted program: {f.table_default()}"
    if name in COLUMNS:
        return COLUMNS[name]
    for pattern, text in PATTERNS:
        if m := pattern.match(name):
            return text.format(m.group(0), *m.groups())
    return None


@dataclass(frozen=True)
class TableFile:
    """One of our Parquet files: its name, our metadata, its row count and its (name, type) columns."""

    name: str
    info: dict
    rows: int
    size: int  # bytes
    columns: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> str:
        return str(self.info.get("kind", "?"))

    @property
    def provenance(self) -> dict:
        return self.info.get("provenance") or {}


def read_folder(folder: str | Path) -> list[TableFile]:
    """Our Parquet files directly in ``folder`` (not shards), by name; foreign files are left out."""
    out = []
    for path in sorted(Path(folder).glob("*.parquet")):
        try:
            meta = pq.read_metadata(path)
        except Exception:  # an unreadable file is no part of the card; the loaders report it
            continue
        kv = meta.schema.to_arrow_schema().metadata or {}
        if META_KEY not in kv:
            continue
        schema = meta.schema.to_arrow_schema()
        cols = tuple((f.name, _type(f.type)) for f in schema)
        out.append(TableFile(path.name, json.loads(kv[META_KEY]), meta.num_rows, path.stat().st_size, cols))
    return out


def _type(t) -> str:
    """An Arrow type as a short name: categories for dictionaries, the rest as Arrow spells it."""
    s = str(t)
    return "category" if s.startswith("dictionary<") else {"large_string": "string", "double": "float64",
                                                             "float": "float32"}.get(s, s)


def card_text(folder: str | Path) -> str:
    """The card of ``folder`` as markdown; ValueError if it holds none of our files."""
    folder = Path(folder)
    files = read_folder(folder)
    if not files:
        raise ValueError(f"{folder} holds no relustudy Parquet file; allowed: a dataset folder, e.g. data/default")
    lines = [f"# Data card: `{folder.name}`", "", *_about(folder, files), ""]
    lines += _files_section(files) + _factors_section(folder, files) + _conventions(files)
    for f in files:
        lines += _columns_section(f)
    lines += _provenance_section(folder, files)
    return "\n".join(lines).rstrip() + "\n"


def write_card(folder: str | Path) -> bool:
    """Write ``folder/README.md`` from the folder's files; False if it already says exactly that."""
    folder = Path(folder)
    text = card_text(folder)
    path = folder / CARD_FILE
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = folder / f"{TMP_PREFIX}{CARD_FILE}"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def _about(folder: Path, files: list[TableFile]) -> list[str]:
    """What the folder is: the experiment's description, or what its tables are."""
    cmd = _recorded_command(files) or ""
    m = re.search(r"--experiment[ =](\S+)", cmd)
    name = m.group(1) if m else None
    if name in catalog.names():
        what = f"The named experiment `{name}`: {catalog.get_experiment(name).description}."
    elif {f.kind for f in files} <= {"runs", "curves"} and _grid_flags(cmd) == []:
        what = "The default study grid: the posted network under every combination of the default factor values."
    elif {f.kind for f in files} <= {"runs", "curves"}:
        what = "A grid of training runs made by `scripts/run_grid.py` (its factors are below)."
    else:
        kinds = dict.fromkeys(f.kind for f in files)  # in file order, once each
        what = "Tables of the study beyond the grid of runs: " + "; ".join(
            KINDS.get(k, (f"`{k}`", None))[0] for k in kinds) + "."
    lines = [what, "", "The study asks why a from-scratch 2-4-4-1 network sometimes never learns y = x1 + x2 from "
             "six pairs; the question and the study are described in the relustudy repository's "
             "`docs/question.md` and `README.md`."]
    regen = _regenerate_command(folder, files)
    if regen:
        kinds = {f.kind for f in files}
        note = (" (rerunning resumes from the finished shards; on the same code it reproduces the data bit for "
                "bit and leaves the files untouched)" if kinds <= {"runs", "curves"} else
                " (rerunning resumes from the finished shards)" if kinds & SHARDED_KINDS else "")
        lines += ["", f"Regenerate from the repository's root{note}:", "", "```bash", regen, "```"]
    return lines


def _recorded_command(files: list[TableFile]) -> str | None:
    return next((f.provenance.get("command") for f in files if f.provenance.get("command")), None)


def _grid_flags(cmd: str) -> list[str]:
    """The flags of a run_grid command that change its grid (not how it runs)."""
    run_only = {"--jobs", "--engine", "--backend", "--scheduler", "--out", "--no-progress", "--block"}
    return [t.split("=")[0] for t in shlex.split(cmd)[2:] if t.startswith("--") and t.split("=")[0] not in run_only]


def _regenerate_command(folder: Path, files: list[TableFile]) -> str | None:
    """The recorded command, run from the checkout's root, writing to this folder's place."""
    cmd = _recorded_command(files)
    if cmd is None:
        return next((KINDS[f.kind][1] for f in files if f.kind in KINDS and KINDS[f.kind][1]), None)
    tokens = [t for t in shlex.split(cmd) if t != "--no-progress"]
    if "--out" in tokens:  # the writer's machine's path: name this folder instead
        i = tokens.index("--out")
        tokens[i + 1] = _display(folder)
    elif not re.search(r"--experiment", cmd) and _display(folder) != "data/default":
        tokens += ["--out", _display(folder)]
    return shlex.join(tokens)


def _display(folder: Path) -> str:
    """``folder`` relative to the checkout (data/NAME) when it lies inside it, else as given."""

    try:
        return folder.resolve().relative_to(Path(paths.ROOT).resolve()).as_posix()
    except ValueError:
        return str(folder)


def _files_section(files: list[TableFile]) -> list[str]:
    rows = [f"| `{f.name}` | `{f.kind}` | {f.rows:,} | {f.size / 1e6:.2f} MB | {KINDS.get(f.kind, ('', None))[0]} |"
            for f in files]
    return ["## Files", "", "| file | kind | rows | size | content |", "|---|---|---|---|---|", *rows, "",
            "Parquet files; each one's key-value metadata holds JSON under the key `relustudy`: its `kind`, "
            "and where recorded its `provenance` (below).", ""]


def _factors_section(folder: Path, files: list[TableFile]) -> list[str]:
    """The values each factor takes in the runs table, read from the data."""

    runs = next((f for f in files if f.kind == "runs"), None)
    if runs is None:
        return []
    names = [c for c, _ in runs.columns if c in FACTOR_REGISTRY or c in ("seed", "cell_id")]
    table = pq.read_table(folder / runs.name, columns=names)
    seeds = table.column("seed").to_numpy()
    n_cells = len(table.column("cell_id").unique())
    lines = ["## Design", "",
             f"{runs.rows:,} runs: {n_cells:,} cells (combinations of the factors below), seeds "
             f"{seeds.min():,} ... {seeds.max():,} ({len(set(seeds.tolist())):,} distinct). Runs that share a seed "
             "start from the same underlying normal draws, so cells are paired by seed.", "",
             "| factor | values in this folder |", "|---|---|"]
    for name in names:
        if name in ("seed", "cell_id"):
            continue
        values = table.column(name).unique().to_pylist()
        levels = FACTOR_REGISTRY[name].levels
        if levels is not None:
            values.sort(key=lambda v: list(levels).index(v) if v in levels else len(levels))
        elif all(isinstance(v, (int, float)) for v in values):
            values.sort()
        lines.append(f"| `{name}` | {', '.join(map(str, values))} |")
    return lines + [""]


def _conventions(files: list[TableFile]) -> list[str]:
    kinds = {f.kind for f in files}
    if "runs" not in kinds:
        return []
    compact = any(f.info.get("columns") == "compact" for f in files)
    out = ["## Conventions", "",
           "- `epochs_to_1e-3` is null (a missing value) for a run whose epoch error never fell below 1e-3; "
           "pandas reads it as the nullable `Int64` (`Int32` in a compact table).",
           "- Categorical columns (the factors, `outcome`, `cell_id`) are stored as Arrow dictionaries "
           "(pandas `category`).",
           "- `relustudy.load_runs(FOLDER)` checks the schema, gives a table made before an optional factor "
           "existed that factor's column at its default, and puts the provenance in `df.attrs[\"relustudy\"]`; "
           "`pandas.read_parquet` reads the files without the package.",
           "- Select columns with brackets (`runs[\"update\"]`): `runs.update` is the method `DataFrame.update`."]
    if compact:
        out.append("- **Compact columns** (`--columns compact`): only the factors, the outcome and the dead-unit "
                   "columns, in small types: `seed` uint32, `final_mse` and the dead fractions float32 (a fraction "
                   "k/width is exact), `epochs_to_1e-3` Int32; no curves. `--columns full` regenerates every column "
                   "in float64 and the curves.")
    return out + [""]


def _columns_section(f: TableFile) -> list[str]:
    rows = [f"| `{name}` | {typ} | {(column_meaning(name) or '').replace('|', chr(92) + '|')} |"
            for name, typ in f.columns]
    return [f"## Columns of `{f.name}`", "", "| column | type | meaning |", "|---|---|---|", *rows, ""]


PROVENANCE_FIELDS = (  # (key in the provenance, label), in card order
    ("git_commit", "git commit"), ("git_dirty", "uncommitted changes in tracked files"),
    ("relustudy", "relustudy version"), ("engine", "training engine"), ("python", "Python"),
    ("numpy", "NumPy"), ("pandas", "pandas"), ("pyarrow", "pyarrow"), ("numba", "numba"),
    ("created", "created (UTC)"), ("command", "command as recorded"),
)


def _provenance_section(folder: Path, files: list[TableFile]) -> list[str]:
    """The provenance each file records; files that agree share one table."""
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(json.dumps(f.provenance, sort_keys=True), []).append(f.name)
    lines = ["## Provenance", "", "Read from the files' metadata."]
    for key, names in groups.items():
        prov = json.loads(key)
        lines += ["", f"{', '.join(f'`{n}`' for n in names)}:", ""]
        if not prov:
            lines.append("no provenance recorded.")
            continue
        lines += ["| | |", "|---|---|"]
        lines += [f"| {label} | `{prov[k]}` |" for k, label in PROVENANCE_FIELDS if prov.get(k) is not None]
    return lines


def dataset_folders(root: str | Path) -> list[Path]:
    """The folders directly under ``root`` that hold our Parquet files, but for the report's cache of
    stored results (``data/stored``: it changes with the code, and ``make_report.py --store`` rewrites it)."""
    return [p for p in sorted(Path(root).iterdir())
            if p.is_dir() and (files := read_folder(p)) and any(f.kind != "stored" for f in files)]


def main(argv: list[str] | None = None) -> int:
    """(Re)write the cards of dataset folders; exit 2 with one line on a bad folder."""

    ap = argparse.ArgumentParser(
        prog="write_cards.py",
        description="Write README.md (the data card) into each dataset folder from the folder's own files: "
                    "what it holds, its columns and types, the command that regenerates it and its provenance. "
                    "Trains nothing.")
    ap.add_argument("folders", nargs="*", metavar="DIR",
                    help=f"dataset folders (default: every folder under {paths.DATA_DIR} holding relustudy tables)")
    args = ap.parse_args(argv)
    try:
        folders = [Path(p) for p in args.folders] or dataset_folders(paths.DATA_DIR)
        for folder in folders:
            changed = write_card(folder)
            print(f"{folder / CARD_FILE}: {'written' if changed else 'up to date'}")
    except (ValueError, OSError) as e:
        print(f"write_cards: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
