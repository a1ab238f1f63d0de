"""What a grid is: every combination of factor levels for a range of seeds, written to one
folder (:class:`Grid`), or several grids run as one (:class:`GridUnion`); validated on
construction. The runner that trains and writes them is :mod:`relustudy.runs.grid`; the named
experiments are :mod:`relustudy.runs.catalog`'s.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path


from relustudy.core.schema import cell_id
from relustudy.core.config import FACTOR_REGISTRY, Cell
from relustudy.core.checks import check_choice, hidden_str
from relustudy.runs.backends import BACKENDS, SchedulerError, check_run_options, connect  # noqa: F401  (re-exported)
from relustudy.runs.paths import DEFAULT_GRID_DIR

COLUMN_SETS = ("full", "compact")  # Grid.columns: what the consolidated dataset keeps
DEFAULT_BLOCK = 1000  # seeds per shard: 3 inits x 1000 = 3000 runs per task, ~10-15 s
MAX_SEED = 2**32


def _levels(name: str, values, check) -> tuple:
    """Validate a factor's value list: non-empty, each valid, no duplicates."""
    values = tuple(check(v) for v in values)
    if not values:
        raise ValueError(f"empty {name} list; allowed: one or more values")
    dupes = sorted({str(v) for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"duplicate {name} value(s) {', '.join(dupes)}; allowed: each value once")
    return values


@dataclass(frozen=True)
class Grid:
    """A grid of runs: every combination of the factor values, for seeds ``start..stop-1``.

    The defaults are the default study grid (288 cells x 1000 seeds; README.md, data/default/README.md).
    """

    seeds: tuple[int, int] = (0, 1000)  # [start, stop): seeds start .. stop-1
    activations: tuple[str, ...] = ("relu", "leaky_relu", "tanh", "sigmoid")
    outputs: tuple[str, ...] = ("same", "identity")
    inits: tuple[str, ...] = ("randn", "he", "xavier")
    updates: tuple[str, ...] = ("as_posted", "corrected")
    optimizers: tuple[str, ...] = ("sgd", "momentum")
    lrs: tuple[float, ...] = (0.01, 0.1, 0.001)  # 0.001: momentum's step matched to sgd at 0.01
    epochs: tuple[int, ...] = (5000,)
    hidden: tuple[tuple[int, ...], ...] = ((4, 4),)
    init_gains: tuple[float, ...] = (1.0,)  # multipliers of every init (Cell.init_gain); 1.0 = as defined
    data_orders: tuple[str, ...] = ("fixed",)  # "shuffled": a fresh permutation of the six pairs every epoch
    # Crossed with the seeds: every shuffled cell once per order seed (a fixed-order cell has none: order_seed 0).
    order_seeds: tuple[int, ...] = (0,)
    dtypes: tuple[str, ...] = ("float64",)  # arithmetic of training
    init_perturbs: tuple[str, ...] = ("none",)  # "one_ulp": each seed's init moved by one ulp in one parameter
    tasks: tuple[str, ...] = ("posted",)  # training sets (problem.TASKS); posted: the six pairs as posted
    batches: tuple = (1,)  # samples per update (ints >= 1 or "full"); 1: the posted per-sample SGD
    # "full": every column and the curves; "compact": the runs table's COMPACT_COLUMNS only,
    # float32 where that keeps the information, no curves (for million-run grids).
    columns: str = "full"
    # Record the output unit's death timing at each epoch's end (schema.TRACK_OUTPUT_COLUMNS); a run
    # option, not a factor: the runs are the same, the table has two more columns.
    track_output: bool = False
    out: Path = field(default=DEFAULT_GRID_DIR, compare=False)  # dataset folder; shards in out/shards
    block: int = field(default=DEFAULT_BLOCK, compare=False)  # seeds per shard; does not change the data

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        for factor in FACTOR_REGISTRY.values():
            put(factor.grid_field, _levels(factor.name, getattr(self, factor.grid_field), factor.check))
        if self.data_orders == ("fixed",) and self.order_seeds != (0,):
            raise ValueError(f"order seeds {', '.join(map(str, self.order_seeds))} with data order fixed only; "
                             "allowed: order seeds with data order shuffled (--data-orders shuffled)")
        check_choice("columns", self.columns, COLUMN_SETS)
        if not isinstance(self.track_output, bool):
            raise ValueError(f"invalid track_output {self.track_output!r}; allowed: True or False")
        start, stop = check_seed_range(self.seeds)
        put("seeds", (start, stop))
        if isinstance(self.block, bool) or not isinstance(self.block, int) or self.block < 1:
            raise ValueError(f"invalid block {self.block!r}; allowed: an integer >= 1 (seeds per shard)")
        put("out", Path(self.out))

    @property
    def n_runs(self) -> int:
        return len(self.cells()) * (self.seeds[1] - self.seeds[0])

    def cells(self) -> list[Cell]:
        """The grid's cells in canonical order (the factor registry's order, last factor fastest).

        Order seeds cross the shuffled cells only: a fixed-order cell appears once, with order_seed 0.
        """
        names = list(FACTOR_REGISTRY)
        cells = []
        for values in itertools.product(*(getattr(self, f.grid_field) for f in FACTOR_REGISTRY.values())):
            kw = dict(zip(names, values))
            if kw["data_order"] == "fixed":
                if kw["order_seed"] != self.order_seeds[0]:
                    continue
                kw["order_seed"] = 0
            cells.append(Cell(**kw))
        return cells

    def blocks(self) -> list[tuple[int, int]]:
        """Seed blocks [start, stop), cut at multiples of ``block`` so other grids can reuse them."""
        start, stop = self.seeds
        edges = [start, *range((start // self.block + 1) * self.block, stop, self.block), stop]
        return list(zip(edges[:-1], edges[1:]))

    def shards(self) -> list["Shard"]:
        """Every shard, cell-major (canonical order of the dataset)."""
        return [Shard(c, a, b, self.track_output) for c in self.cells() for a, b in self.blocks()]

    def to_config(self) -> dict:
        """Plain-type dict of the grid (the keys of ``--config`` files), for provenance.

        The optional factors' levels (``init_gains``, ``data_orders``, ...), ``columns`` and
        ``track_output`` appear only when not at their default, so the config of a grid that does
        not use them is what it was before they existed.
        """
        config = {"seeds": f"{self.seeds[0]}:{self.seeds[1]}"}
        for factor in FACTOR_REGISTRY.values():
            levels = getattr(self, factor.grid_field)
            if not factor.optional or levels != (factor.default,):
                config[factor.grid_field] = [hidden_str(v) for v in levels] if factor.name == "hidden" else list(levels)
        config["block"] = self.block
        if self.columns != "full":
            config["columns"] = self.columns
        if self.track_output:
            config["track_output"] = True
        return config

    def command(self) -> str:
        """A command line that reproduces this grid's dataset."""
        c = self.to_config()
        parts = ["python scripts/run_grid.py", f"--seeds {c['seeds']}"]
        for factor in FACTOR_REGISTRY.values():
            key = factor.grid_field
            if key == "order_seeds" and key in c and c[key] == list(range(c[key][0], c[key][-1] + 1)):
                parts.append(f"--order-seeds {c[key][0]}:{c[key][-1] + 1}")
            elif key in c:
                parts.append(f"--{key.replace('_', '-')} {','.join(str(v) for v in c[key])}")
        if "columns" in c:
            parts.append(f"--columns {c['columns']}")
        if self.track_output:
            parts.append("--track-output")
        return " ".join(parts + [f"--out {self.out}"])


@dataclass(frozen=True)
class GridUnion:
    """Several grids written as one dataset, e.g. a cell at a million seeds beside two at fewer.

    Has what :func:`run_grid` uses of a :class:`Grid` (cells, shards, n_runs, out, columns,
    to_config, command). The parts must not share a cell: a run is in the dataset once.
    """

    parts: tuple[Grid, ...]
    out: Path = field(default=DEFAULT_GRID_DIR, compare=False)
    columns: str = "full"
    name: str = ""  # the experiment's name, for command()
    track_output: bool = False  # True (here or in any part): every part tracks the output (Grid.track_output)

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("empty GridUnion; allowed: one or more Grids")
        if self.track_output or any(p.track_output for p in self.parts):
            object.__setattr__(self, "track_output", True)
            object.__setattr__(self, "parts", tuple(dataclasses.replace(p, track_output=True) for p in self.parts))
        cells = [c for p in self.parts for c in p.cells()]
        if len(set(cells)) != len(cells):
            raise ValueError("the grids of a GridUnion share a cell; allowed: grids with disjoint cells")
        check_choice("columns", self.columns, COLUMN_SETS)
        object.__setattr__(self, "out", Path(self.out))

    @property
    def n_runs(self) -> int:
        return sum(p.n_runs for p in self.parts)

    def cells(self) -> list[Cell]:
        return [c for p in self.parts for c in p.cells()]

    def shards(self) -> list["Shard"]:
        return [s for p in self.parts for s in p.shards()]

    def to_config(self) -> dict:
        config = {"parts": [p.to_config() for p in self.parts]}
        if self.columns != "full":
            config["columns"] = self.columns
        if self.track_output:
            config["track_output"] = True
        return config

    def command(self) -> str:
        return f"python scripts/run_grid.py --experiment {self.name} --out {self.out}"


def check_seed_range(seeds) -> tuple[int, int]:
    """Validate a seed range (start, stop) with 0 <= start < stop <= 2**32."""
    try:
        start, stop = (int(s) for s in seeds)
    except (TypeError, ValueError):
        raise ValueError(f"invalid seed range {seeds!r}; allowed: A:B with integers 0 <= A < B <= 2**32") from None
    if not 0 <= start < stop <= MAX_SEED:
        raise ValueError(f"invalid seed range {start}:{stop}; allowed: A:B with integers 0 <= A < B <= 2**32")
    return start, stop


@dataclass(frozen=True)
class Shard:
    """One cell's runs for seeds ``start..stop-1``: the unit of writing and resuming."""

    cell: Cell
    start: int
    stop: int
    track_output: bool = False  # its file also holds the death-timing columns (named apart: _t)

    @property
    def name(self) -> str:
        track = "_t" if self.track_output else ""
        return f"{cell_id(self.cell)}_s{self.start:06d}-{self.stop:06d}{track}.parquet"

    @property
    def n(self) -> int:
        return self.stop - self.start
