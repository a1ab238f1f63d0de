"""One definition per word of the study: each term is one function of the runs table, and
:data:`GLOSSARY` states them for the report.

Every function takes a runs DataFrame (R rows) and returns an (R,) bool array, except
:func:`hazard` and :func:`rate`, which return a rate that names its denominator.

* *dead* is for ReLU units (output exactly 0 on all six inputs: every gradient through it
  is 0); a leaky-ReLU unit with pre-activation <= 0 on all six inputs is *inactive* (slope
  0.01: it still passes a gradient), never called dead (:func:`state_word`).
* *born dead* is a property of the init (the output unit or a whole hidden layer dead on all
  six inputs at init), not an outcome; *failed and born dead* is both.
* output death *ever* (at the end of some epoch, init included), *at the end* (the final
  weights) and *permanent* (ever dead and never alive again) differ when the posted bias
  decay revives a dead output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.core import activations
from relustudy.core.problem import get_task
from relustudy.stats import proportions as stats

# Hidden activations whose units can be dead (inactive): the activation registry's relu_family.
RELU_FAMILY = activations.RELU_FAMILY


def labels(s: pd.Series) -> np.ndarray:
    """(R,) object array of a column's values as str; fast for categoricals (one str per category)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = np.append(np.asarray(s.cat.categories.astype(str), dtype=object), "nan")  # code -1 -> "nan"
        return cats[s.cat.codes.to_numpy()]
    return np.asarray(s.astype(str), dtype=object)

__all__ = [
    "GLOSSARY", "Rate", "born_dead", "failed", "failed_and_born_dead", "hazard", "hidden_layer_dead",
    "label_changes", "output_born_dead", "output_dead_at_end", "output_partly_dead", "output_dead_permanent", "output_death_ever",
    "output_died_in_training", "rate", "relu_family", "solved", "state_word",
]


def _need(runs: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks column(s) {missing}; has: {', '.join(map(str, runs.columns))}")


def solved(runs: pd.DataFrame) -> np.ndarray:
    """Solved: outcome ``solved`` (final MSE < 1e-3 and not dead, collapsed or diverged)."""
    _need(runs, ["outcome"])
    return labels(runs["outcome"]) == "solved"


def failed(runs: pd.DataFrame) -> np.ndarray:
    """Failed: not solved (dead output, collapsed, still descending or diverged)."""
    return ~solved(runs)


def relu_family(runs: pd.DataFrame) -> np.ndarray:
    """Runs whose hidden activation is ReLU or leaky ReLU (units that can be dead or inactive)."""
    _need(runs, ["activation"])
    return np.isin(labels(runs["activation"]), RELU_FAMILY)


def _relu_output(runs: pd.DataFrame) -> np.ndarray:
    """Runs whose output unit is ReLU-family (``output == "same"`` on a ReLU-family net)."""
    _need(runs, ["output"])
    return relu_family(runs) & (labels(runs["output"]) == "same")


def state_word(activation: str) -> str:
    """The word for a unit below zero on all six inputs: "dead" (ReLU) or "inactive" (leaky ReLU)."""
    if activation == "relu":
        return "dead"
    if activation == "leaky_relu":
        return "inactive"
    raise ValueError(f"no dead/inactive state for activation {activation!r}; allowed: relu, leaky_relu")


def hidden_layer_dead(runs: pd.DataFrame, when: str) -> np.ndarray:
    """A whole hidden layer dead on all six inputs at ``when`` ("init" or "final"), ReLU-family nets.

    Reads the per-layer columns ``dead_frac_<when>_l{k}``; without them ``dead_frac_<when>``
    (every hidden unit dead), a lower bound.
    """
    if when not in ("init", "final"):
        raise ValueError(f"invalid when {when!r}; allowed: init, final")
    cols = sorted(c for c in runs.columns if c.startswith(f"dead_frac_{when}_l")) or [f"dead_frac_{when}"]
    _need(runs, cols)
    whole = np.column_stack([runs[c].to_numpy(float) == 1.0 for c in cols]).any(axis=1)
    return relu_family(runs) & whole


def output_born_dead(runs: pd.DataFrame) -> np.ndarray:
    """The output unit dead at init: ReLU-family output, pre-activation <= 0 on all six inputs."""
    _need(runs, ["output_dead_init"])
    return _relu_output(runs) & runs["output_dead_init"].to_numpy(bool)


def born_dead(runs: pd.DataFrame) -> np.ndarray:
    """Born dead: at init the output unit or a whole hidden layer is dead on all six inputs.

    A property of the init, not an outcome (some born-dead runs end solved under the posted
    bias decay). For leaky ReLU it means born *inactive*.
    """
    return output_born_dead(runs) | hidden_layer_dead(runs, "init")


def failed_and_born_dead(runs: pd.DataFrame) -> np.ndarray:
    """Failed and born dead: both (the failure mode "born dead" of :func:`analysis.failure_mode`)."""
    return failed(runs) & born_dead(runs)


def output_dead_at_end(runs: pd.DataFrame) -> np.ndarray:
    """The output unit dead at the final weights (ReLU-family output)."""
    _need(runs, ["output_dead_final"])
    return _relu_output(runs) & runs["output_dead_final"].to_numpy(bool)


def output_partly_dead(runs: pd.DataFrame, when: str = "final") -> np.ndarray:
    """The output unit dead on some training inputs but not all, at ``when`` ("init" or "final").

    Needs ``output_dead_points_<when>`` and the task's sample count S (the ``task`` column,
    posted when absent): 0 < points < S. Those points give no gradient, and the run's MSE sits on
    a plateau (e.g. 1.0**2/6 for one posted point with target 1.0). A failing run in that state
    at the end is a failure mode of its own (the ``outcome`` column, unchanged so that datasets
    made before the counts keep their labels, files it as ``slow``). ReLU-family output only.
    """
    if when not in ("init", "final"):
        raise ValueError(f"invalid when {when!r}; allowed: init, final")
    col = f"output_dead_points_{when}"
    _need(runs, [col])

    tasks = labels(runs["task"]) if "task" in runs.columns else np.full(len(runs), "posted", dtype=object)
    names, index = np.unique(tasks, return_inverse=True)  # one registry look-up per task, not per run
    n = np.array([get_task(t).n_samples for t in names], dtype=np.int64)[index] if len(runs) else np.zeros(0, int)
    k = runs[col].to_numpy()
    return _relu_output(runs) & (k > 0) & (k < n)


def output_death_ever(runs: pd.DataFrame) -> np.ndarray:
    """The output unit dead at the end of some epoch, init included (``output_death_epoch >= 0``).

    Needs the ``output_death_epoch`` column (recorded with ``track_output``); without it, dead
    at init or at the end, a lower bound, is **not** substituted: a ValueError says so.
    """
    _need(runs, ["output_death_epoch"])
    return _relu_output(runs) & (runs["output_death_epoch"].to_numpy() >= 0)


def output_died_in_training(runs: pd.DataFrame, *, ever: bool = False) -> np.ndarray:
    """Alive at init and dead later: at the end (default) or at the end of any epoch (``ever``)."""
    dead_later = output_death_ever(runs) if ever else output_dead_at_end(runs)
    return dead_later & ~output_born_dead(runs)


def output_dead_permanent(runs: pd.DataFrame) -> np.ndarray:
    """Ever dead and never alive again: dead at the end after at most one alive -> dead change.

    Needs ``output_state_changes`` (0 for born dead and stayed dead, 1 for died once and stayed).
    """
    _need(runs, ["output_state_changes"])
    changes = runs["output_state_changes"].to_numpy()
    allowed = np.where(output_born_dead(runs), 0, 1)
    return output_dead_at_end(runs) & (changes == allowed)


def label_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """How the ``outcome`` label of each seed changes from runs ``a`` to runs ``b`` of one cell (e.g.
    float64 to float32): one row per (from, to) pair that occurs with from != to, with ``n``
    seeds, over the seeds both hold; ``attrs["n_pairs"]`` is that number of common seeds."""
    _need(a, ["seed", "outcome"])
    _need(b, ["seed", "outcome"])
    m = pd.DataFrame({"seed": a["seed"].to_numpy(np.int64), "from": labels(a["outcome"])}).merge(
        pd.DataFrame({"seed": b["seed"].to_numpy(np.int64), "to": labels(b["outcome"])}), on="seed")
    changed = m[m["from"] != m["to"]]
    out = changed.groupby(["from", "to"]).size().rename("n").reset_index()
    out.attrs["n_pairs"] = len(m)
    return out


@dataclass(frozen=True)
class Rate:
    """A rate that names its denominator: k of n ``denominator`` with an exact 95% CI."""

    k: int
    n: int
    rate: float
    ci_low: float
    ci_high: float
    denominator: str  # e.g. "runs alive at init"

    def __str__(self) -> str:
        if self.n == 0:
            return f"n/a (0 {self.denominator})"
        return (f"{100 * self.rate:.1f}% ({self.k:,} of {self.n:,} {self.denominator}; 95% CI "
                f"[{100 * self.ci_low:.1f}%, {100 * self.ci_high:.1f}%])")


def rate(event: np.ndarray, denominator: str, among: np.ndarray | None = None) -> Rate:
    """P(event) over the runs ``among`` (default all), with its exact CI and named denominator.

    event, among : (R,) bool.
    """
    event = np.asarray(event, bool)
    among = np.ones_like(event) if among is None else np.asarray(among, bool)
    if event.shape != among.shape:
        raise ValueError(f"event and among must have one shape; got {event.shape} and {among.shape}")
    k, n = int((event & among).sum()), int(among.sum())
    if n == 0:
        return Rate(0, 0, np.nan, np.nan, np.nan, denominator)
    p = stats.proportion_ci(k, n)
    return Rate(k, n, p.rate, p.ci_low, p.ci_high, denominator)


def hazard(died: np.ndarray, at_risk: np.ndarray, what: str = "runs alive at init") -> Rate:
    """A hazard: deaths among the runs at risk (e.g. deaths in training over the runs alive at
    init, not over all runs). died, at_risk : (R,) bool; a death outside the risk set is an error."""
    died, at_risk = np.asarray(died, bool), np.asarray(at_risk, bool)
    if (died & ~at_risk).any():
        raise ValueError("a run counted as dying was not at risk; a hazard's deaths must be among the runs at risk")
    return rate(died, what, at_risk)


GLOSSARY = (  # (term, definition): the report's glossary, in this order
    ("solved / failed", "a run is *solved* when its outcome is `solved` (final MSE < 1e-3, output not dead, collapsed "
     "or diverged); it *fails* otherwise. A failure rate is over all runs of the cell unless it says otherwise."),
    ("dead / inactive", "a ReLU unit whose pre-activation is ≤ 0 on all six training inputs is *dead*: it outputs 0 "
     "and passes no gradient. A leaky-ReLU unit in that state is *inactive*, never called dead: its slope 0.01 "
     "still passes a gradient."),
    ("born dead", "at init, the output unit or a whole hidden layer is dead on all six inputs: a property of the "
     "init, not an outcome. *Failed and born dead* is both; some born-dead runs end solved (the posted bias decay "
     "can revive them)."),
    ("output vs hidden-layer death", "the *output unit* dead (the network outputs 0 everywhere) or a *whole hidden "
     "layer* dead (the output sees constants and can only fit a constant)."),
    ("output death: ever, at the end, permanent", "*ever*: dead at the end of some epoch, init included; *at the "
     "end*: dead at the final weights; *permanent*: ever dead and never alive again. They differ when a dead output "
     "revives."),
    ("partly dead", "the output unit dead on *some* training inputs but not all (`output_dead_points_final` "
     "between 0 and the task's sample count): those points give no gradient, so the MSE sits on a plateau such as "
     "1.0²/6 ≈ 0.167. A failing run in that state at the end fails by a partly dead output, a failure of its "
     "own (the dataset's `outcome` column files it under `slow`, so that older datasets keep their labels); on "
     "centred or larger training sets it is the common failure."),
    ("died in training", "alive at init, dead later (at the end unless it says *ever*)."),
    ("hazard", "deaths in training divided by the runs *at risk*, those alive at init, not by all runs."),
)
