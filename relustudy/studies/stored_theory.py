"""The init-time theory's Monte Carlo results the studies use, through :mod:`relustudy.runs.stored`:
computed once by ``make_report.py --store`` into ``data/stored/``, read afterwards. Each
wrapper takes the arguments that determine its result (seeds included), keys them with the
source the computation reaches (:func:`relustudy.runs.stored.source_key`), and returns what
the :mod:`relustudy.analysis.theory` function returns."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from relustudy.runs import stored
from relustudy.analysis import theory


def _frame_of(result) -> pd.DataFrame:
    d = dict(vars(result))
    d["hidden"] = "-".join(map(str, d["hidden"]))
    return pd.DataFrame([d])


def _result_of(cls, df: pd.DataFrame):
    d = df.iloc[0].to_dict()
    d["hidden"] = tuple(int(x) for x in str(d["hidden"]).split("-"))
    return cls(**{k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()})


def p_output_dead_at_init(init: str, *, seed, n_draws: int, hidden: str = "4-4") -> theory.MonteCarloResult:
    """``theory.p_output_dead_at_init(init, hidden=hidden, rng=default_rng(seed), n_draws=n_draws)``, stored."""
    key = dict(init=init, hidden=hidden, seed=seed, n_draws=int(n_draws),
               code=stored.source_key(theory.p_output_dead_at_init))
    df = stored.frame("p_output_dead_at_init", key, lambda: _frame_of(theory.p_output_dead_at_init(
        init, hidden=hidden, rng=np.random.default_rng(seed), n_draws=n_draws)))
    return _result_of(theory.MonteCarloResult, df)


def p_output_dead_conditional(init: str, *, seed, n_draws: int, hidden: str = "4-4") -> theory.ConditionalResult:
    """``theory.p_output_dead_conditional(init, hidden, rng=default_rng(seed), n_draws=n_draws)``, stored."""
    key = dict(init=init, hidden=hidden, seed=seed, n_draws=int(n_draws),
               code=stored.source_key(theory.p_output_dead_conditional))
    df = stored.frame("p_output_dead_conditional", key, lambda: _frame_of(theory.p_output_dead_conditional(
        init, hidden, rng=np.random.default_rng(seed), n_draws=n_draws)))
    return _result_of(theory.ConditionalResult, df)


def born_dead_table(inits: Sequence[str], archs: Sequence[str], activation: str, *, seed: int,
                    n_draws: int) -> pd.DataFrame:
    """``theory.born_dead_table(...)``, stored (each row has its own generator: the key is the arguments)."""
    key = dict(inits=list(inits), archs=list(archs), activation=activation, seed=int(seed), n_draws=int(n_draws),
               code=stored.source_key(theory.born_dead_table))
    return stored.frame("born_dead_table", key, lambda: theory.born_dead_table(
        list(inits), list(archs), activation, seed=seed, n_draws=n_draws))


def output_dead_vs_theory(runs: pd.DataFrame, *, seed, n_draws: int) -> pd.DataFrame:
    """``theory.output_dead_vs_theory(runs, rng=default_rng(seed), n_draws=n_draws)``, stored; keyed by
    the measured counts per (init, activation, hidden) it compares with (one seed counted once)."""
    t = runs[["seed", "init", "activation", "hidden", "output_dead_init"]].astype(
        {"init": str, "activation": str, "hidden": str}).drop_duplicates(["init", "activation", "hidden", "seed"])
    counts = t.groupby(["init", "activation", "hidden"], sort=True)["output_dead_init"].agg(["sum", "size"])
    key = dict(counts=[[*k, int(r["sum"]), int(r["size"])] for k, r in counts.iterrows()], seed=seed,
               n_draws=int(n_draws), code=stored.source_key(theory.output_dead_vs_theory))
    return stored.frame("output_dead_vs_theory", key, lambda: theory.output_dead_vs_theory(
        runs, rng=np.random.default_rng(seed), n_draws=n_draws))


def born_dead_by_task(inits: Sequence[str], tasks: Sequence[str], *, seed: int, n_draws: int) -> pd.DataFrame:
    """``theory.born_dead_by_task(...)``, stored (each row has its own generator: the key is the arguments)."""
    key = dict(inits=list(inits), tasks=list(tasks), seed=int(seed), n_draws=int(n_draws),
               code=stored.source_key(theory.born_dead_by_task))
    return stored.frame("born_dead_by_task", key, lambda: theory.born_dead_by_task(
        list(inits), list(tasks), seed=seed, n_draws=n_draws))
