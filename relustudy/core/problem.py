"""The asker's task: add two numbers, from six training pairs and one test point."""
import numpy as np

# (6, 2) training inputs and (6,) targets, in the posted (fixed SGD) order.
X_TRAIN = np.array([[0.1, 0.2], [0.5, 0.3], [0.2, 0.4], [0.3, 0.7], [0.5, 0.5], [0.4, 0.3]])
Y_TRAIN = np.array([0.3, 0.8, 0.6, 1.0, 1.0, 0.7])
# The posted test point and its true sum.
X_TEST = np.array([0.1, 0.5])
Y_TEST = 0.6

# Reference losses: a net that outputs 0 everywhere, and one that outputs mean(Y).
MSE_ZERO_OUTPUT = float(np.mean(Y_TRAIN**2))  # 0.59667
MSE_MEAN_OUTPUT = float(np.var(Y_TRAIN))  # 0.05889


# ---- the task factor (issue 27): each training set is one registry entry ----------------------
from dataclasses import dataclass, field  # noqa: E402  (kept below the posted constants they extend)
import math  # noqa: E402


def standardise(x: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Inputs standardised per column as scikit-learn's ``StandardScaler`` does (ddof 0).

    x : (k, 2) points to transform; ref : (S, 2) the set whose statistics are used (default x).
    Returns (k, 2) float64. Defined once, in float64, so every engine gets the same array (a
    float32 cell rounds it once): per column ``mean = fsum(col) / S`` and
    ``std = sqrt(fsum((col - mean)**2) / S)``, each ``fsum`` correctly rounded (no dependence on
    NumPy's pairwise summation), then ``(x - mean) / std``, one rounding per operation.
    """
    x = np.asarray(x, dtype=np.float64)
    ref = x if ref is None else np.asarray(ref, dtype=np.float64)
    out = np.empty_like(x)
    n = ref.shape[0]
    for c in range(x.shape[1]):
        mean = math.fsum(ref[:, c]) / n
        std = math.sqrt(math.fsum((ref[:, c] - mean) ** 2) / n)
        out[:, c] = (x[:, c] - mean) / std
    return out


@dataclass(frozen=True)
class Task:
    """One training set: the ``task`` factor's entry.

    ``x`` (S, 2) inputs and ``y`` (S,) targets in their fixed (SGD) order; ``x_eval`` (k, 2)
    and ``y_eval`` (k,) the held-out evaluation point(s), the first of which is ``pred_test``'s.
    The reference losses are derived from the arrays, never typed in.
    """

    name: str
    x: np.ndarray = field(repr=False)  # (S, 2) float64
    y: np.ndarray = field(repr=False)  # (S,) float64
    x_eval: np.ndarray = field(repr=False)  # (k, 2) float64
    y_eval: np.ndarray = field(repr=False)  # (k,) float64
    description: str = ""

    @property
    def n_samples(self) -> int:
        """S, the training pairs per epoch."""
        return int(self.y.shape[0])

    @property
    def mse_zero_output(self) -> float:
        """MSE of a net that outputs 0 everywhere: mean(y^2) (posted: 0.59667)."""
        return float(np.mean(self.y**2))

    @property
    def mse_mean_output(self) -> float:
        """MSE of a net that outputs mean(y) everywhere: Var(y) (posted: 0.05889)."""
        return float(np.var(self.y))


def _grid(step_lo: float, n: int) -> np.ndarray:
    """(n*n, 2) points (a, b), a outer, b inner, a, b in {step_lo, step_lo + 0.1, ...}: (lo + 0.1 i) / 1
    computed as (i + 10 lo) / 10 so 0.3 is the double nearest 0.3, as in the posted literals."""
    v = (np.arange(n) + round(10 * step_lo, 6)) / 10.0
    return np.array([(a, b) for a in v for b in v])


_GRID = _grid(0.1, 8)  # 64 pairs, x1 in 0.1..0.8 outer, x2 inner
_MID = _grid(0.15, 7)  # the 7 x 7 midpoints 0.15..0.75 between the grid's points


def _make_tasks() -> dict[str, Task]:
    posted = Task("posted", X_TRAIN, Y_TRAIN, X_TEST[None, :], np.array([Y_TEST]),
                  "the six pairs as posted; test point (0.1, 0.5)")
    grid_sum, mid_sum = _GRID.sum(axis=1), _MID.sum(axis=1)  # x1 + x2: one rounding each
    tasks = (
        posted,
        Task("posted_std", standardise(X_TRAIN), Y_TRAIN, standardise(X_TEST[None, :], X_TRAIN), np.array([Y_TEST]),
             "the six inputs standardised per column (StandardScaler, ddof 0); targets as posted"),
        Task("grid64", _GRID, grid_sum, _MID, mid_sum, "x1, x2 in {0.1..0.8}, x1 outer; y = x1 + x2; "
             "evaluated on the 7 x 7 midpoints"),
        Task("grid64_std", standardise(_GRID), grid_sum, standardise(_MID, _GRID), mid_sum,
             "grid64 with its inputs standardised per column"),
        Task("product64", _GRID, _GRID[:, 0] * _GRID[:, 1], _MID, _MID[:, 0] * _MID[:, 1],
             "grid64's inputs, y = x1 * x2"),
    )
    for t in tasks:
        for a in (t.x, t.y, t.x_eval, t.y_eval):
            a.setflags(write=False)  # shared by every run: nobody may change a task's data
    return {t.name: t for t in tasks}


TASKS: dict[str, Task] = _make_tasks()  # the task factor's registry; the first is the posted task


def get_task(name: str) -> Task:
    """The :class:`Task` named ``name``; a one-line ValueError lists the allowed ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; allowed: {', '.join(TASKS)}")
    return TASKS[name]
