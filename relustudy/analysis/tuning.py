"""Statistics of the optimizer question (issue 17): pure functions over arrays.

Three questions, each a function of boolean/float arrays whose shapes are the contract:

* **Tune, then evaluate.** Each optimizer at its own best learning rate: per optimizer the lr
  with the fewest failures on the *tuning* seeds is chosen (:func:`choose_lr`; ties go to the
  smaller lr, :data:`TIE_RULE`), and its failure rate is measured on the other, *held-out*
  seeds (:func:`tune_then_evaluate`). Tuned optimizers are then compared on the held-out seeds,
  paired by seed (:func:`compare_tuned`, exact McNemar with the paired difference in failure
  rate and its Agresti-Min CI from :mod:`relustudy.stats.proportions`). Selection and evaluation never
  share a seed, so the held-out rate carries no selection optimism (the tuning-half rate
  of the chosen lr does, and both are reported).
* **Decompose a paired change in failure rate** (:func:`decompose_change`) into the runs
  born dead under A (revived under B or not) and the runs alive at init under A (dying in
  training or failing otherwise, under either). The components are paired differences over
  all n seeds and add up to the total exactly.
* **Matched-step pairs** (:func:`matched_pairs`): which momentum lr moves like which SGD lr,
  lr_momentum = lr_sgd (1 - beta), on a given lr grid.

Conventions are those of :mod:`relustudy.stats.proportions`: comparisons are "a vs b", differences b - a,
``n10`` = a fails and b solves (b rescues), ``n01`` = a solves and b fails (b breaks).
Nothing here reads a DataFrame or plots (the frame-level tables are in
:mod:`relustudy.analysis.optimizers`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relustudy.stats.paired_tests import McNemarResult, mcnemar_exact, paired_rate_diff_ci
from relustudy.stats.proportions import ProportionResult, proportion_ci

# How choose_lr breaks a tie in tuning failures: the smaller lr (the shorter step, the
# conservative choice a practitioner makes when two settings do equally well).
TIE_RULE = "smaller lr"
SPLIT_RULES = ("parity",)  # tuning seeds: even seeds tune, odd seeds evaluate


def _bool2d(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (n_lr, n_seeds) array; got shape {a.shape}")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1)")
        a = a.astype(bool)
    return a


def _bool1d(x, name: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},); got {a.shape}")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (or 0/1)")
        a = a.astype(bool)
    return a


def _lrs(lrs, n_lr: int) -> np.ndarray:
    a = np.asarray(lrs, dtype=float)
    if a.shape != (n_lr,) or not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"lrs must be ({n_lr},) finite numbers > 0, one per row of fail; got {a!r}")
    if np.unique(a).size != a.size:
        raise ValueError("lrs must be distinct; allowed: each lr once")
    return a


def split_seeds(seeds, rule: str = "parity") -> np.ndarray:
    """(n,) bool: which seeds tune (True) and which evaluate (False).

    ``"parity"``: even seeds tune, odd seeds evaluate (a split fixed before looking at data,
    and the same for every cell, so tuning and evaluation halves are paired across cells).

    >>> split_seeds([0, 1, 2, 3, 7]).tolist()
    [True, False, True, False, False]
    """
    if rule not in SPLIT_RULES:
        raise ValueError(f"unknown split rule {rule!r}; allowed: {', '.join(SPLIT_RULES)}")
    s = np.asarray(seeds)
    if s.ndim != 1 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"seeds must be a 1-D integer array; got {s.dtype} shape {s.shape}")
    return s % 2 == 0


# --------------------------------------------------------------------------- tune, then evaluate
@dataclass(frozen=True)
class LrChoice:
    """The lr chosen on the tuning seeds (index into the lr grid) and what the choice saw."""

    index: int
    lr: float
    tune_rates: np.ndarray  # (n_lr,) failure rate of every lr on the tuning seeds
    n_tune: int  # tuning seeds
    n_tied: int  # lrs tied at the lowest tuning failure (1 = no tie)


def choose_lr(fail, lrs, tune) -> LrChoice:
    """The lr with the lowest failure rate on the tuning seeds; ties go to the smaller lr.

    Parameters
    ----------
    fail : (n_lr, n_seeds) bool, fail[i, j] = the run at lrs[i] with seed j failed.
    lrs : (n_lr,) the lr grid (any order).
    tune : (n_seeds,) bool, the tuning seeds (at least one).

    Returns
    -------
    LrChoice

    Examples
    --------
    >>> f = [[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 1, 1]]   # tuning seeds 0, 1: 2, 1, 0 failures
    >>> c = choose_lr(f, [0.1, 0.01, 0.001], [True, True, False, False])
    >>> c.lr, c.tune_rates.tolist(), c.n_tied
    (0.001, [1.0, 0.5, 0.0], 1)
    """
    f = _bool2d(fail, "fail")
    lr = _lrs(lrs, f.shape[0])
    t = _bool1d(tune, "tune", f.shape[1])
    if not t.any():
        raise ValueError("no tuning seeds; allowed: a tune mask with at least one True")
    k = f[:, t].sum(axis=1)
    best = np.flatnonzero(k == k.min())
    index = int(best[np.argmin(lr[best])])  # TIE_RULE: the smaller lr
    return LrChoice(index, float(lr[index]), k / t.sum(), int(t.sum()), int(best.size))


@dataclass(frozen=True)
class TunedResult:
    """One optimizer at its tuned lr: the choice and the held-out failure rate with its CI."""

    choice: LrChoice
    held_out: ProportionResult  # failure at the chosen lr on the evaluation seeds
    held_out_rates: np.ndarray  # (n_lr,) every lr's failure rate on the evaluation seeds
    fail_eval: np.ndarray  # (n_eval,) bool, the chosen lr's failures on the evaluation seeds

    @property
    def optimism(self) -> float:
        """Tuning-half minus held-out failure at the chosen lr (< 0: the choice looked better
        on the seeds that chose it; the held-out rate is the one to report)."""
        return float(self.choice.tune_rates[self.choice.index] - self.held_out.rate)


def tune_then_evaluate(fail, lrs, tune, *, alpha: float = 0.05) -> TunedResult:
    """Choose the lr on the tuning seeds (:func:`choose_lr`), measure it on the others.

    Parameters
    ----------
    fail : (n_lr, n_seeds) bool; lrs : (n_lr,); tune : (n_seeds,) bool (tuning seeds True;
        the rest, at least one, evaluate).
    alpha : 1 - confidence level of the held-out rate's exact CI.

    Examples
    --------
    >>> f = [[1, 1, 1, 1], [0, 1, 1, 0]]
    >>> r = tune_then_evaluate(f, [0.1, 0.01], [True, False, True, False])
    >>> r.choice.lr, r.held_out.k, r.held_out.n, r.held_out_rates.tolist(), r.optimism
    (0.01, 1, 2, [1.0, 0.5], 0.0)
    """
    f = _bool2d(fail, "fail")
    choice = choose_lr(f, lrs, tune)
    t = _bool1d(tune, "tune", f.shape[1])
    if t.all():
        raise ValueError("no evaluation seeds; allowed: a tune mask with at least one False")
    ev = f[:, ~t]
    fe = ev[choice.index]
    held = proportion_ci(int(fe.sum()), int(fe.size), alpha=alpha)
    return TunedResult(choice, held, ev.mean(axis=1), fe.copy())


def compare_tuned(a: TunedResult, b: TunedResult, *, alpha: float = 0.05) -> McNemarResult:
    """Tuned a vs tuned b on the held-out seeds, paired by seed (exact McNemar; ``diff`` =
    rate_b - rate_a with its Agresti-Min CI). Both must come from the same tune mask."""
    if a.fail_eval.shape != b.fail_eval.shape:
        raise ValueError(
            f"a and b were evaluated on different seed sets ({a.fail_eval.size} vs {b.fail_eval.size}); "
            "allowed: the same tune mask for both"
        )
    return mcnemar_exact(a.fail_eval, b.fail_eval, alpha=alpha)


# --------------------------------------------------------------------------- decomposition
COMPONENTS = ("born dead", "alive: died in training", "alive: other failure")


@dataclass(frozen=True)
class Decomposition:
    """A paired change in failure rate, rate_b - rate_a, split by what the seeds did.

    Every component is a paired difference over all ``n`` seeds of an indicator that is
    nonzero only inside its stratum (stratum = A's state at init), so the components add up
    to ``diff`` exactly and each has an Agresti-Min CI like any paired difference:

    * ``born dead``: failures among seeds born dead under A; n10 = revived by B only (B solves
      a seed that A leaves dead), n01 = solved under A only;
    * ``alive: died in training``: seeds alive at init under A that end dead (died in training);
    * ``alive: other failure``: seeds alive at init under A that fail without ending dead
      (slow, collapsed while alive, diverged).

    Arrays are ``(3,)`` in the order of :data:`COMPONENTS`.
    """

    n: int
    n_born_dead: int
    rate_a: float
    rate_b: float
    diff: float
    diff_low: float
    diff_high: float
    n10: np.ndarray  # (3,) indicator on under A, off under B (B better)
    n01: np.ndarray  # (3,) off under A, on under B (B worse)
    contrib: np.ndarray  # (3,) (n01 - n10) / n; sums to diff
    contrib_low: np.ndarray  # (3,)
    contrib_high: np.ndarray  # (3,)
    fail_born_a: float  # P(fail | born dead under A), under A (NaN if no such seeds)
    fail_born_b: float  # the same seeds, under B
    die_alive_a: float  # P(died in training | alive at init under A), under A
    die_alive_b: float  # the same seeds, under B

    @property
    def components(self) -> tuple[str, ...]:
        return COMPONENTS


def decompose_change(fail_a, fail_b, born_dead_a, died_a, died_b, *, alpha: float = 0.05) -> Decomposition:
    """Split rate_b - rate_a of paired failures into born-dead and alive-at-init components.

    Parameters
    ----------
    fail_a, fail_b : (n,) bool, the failure of the same seed under A and under B.
    born_dead_a : (n,) bool, the seed's net is born dead under A (a property of A's init; with
        the same init and gain it is the same under B).
    died_a, died_b : (n,) bool, alive at init and dead at the end ("died in training") under
        A and under B. A death counts only where it fails (a dead net always fails).
    alpha : 1 - confidence level of every CI.

    Returns
    -------
    Decomposition

    Examples
    --------
    Seeds 0-1 born dead (B revives seed 0); seeds 2-5 alive (A kills 2 and 3, B kills 2;
    seed 4 slow under B):

    >>> d = decompose_change([1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0],
    ...                      [0, 0, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0])
    >>> d.diff, d.n10.tolist(), d.n01.tolist(), d.contrib.round(4).tolist()
    (-0.16666666666666666, [1, 1, 0], [0, 0, 1], [-0.1667, -0.1667, 0.1667])
    """
    fa = np.asarray(fail_a)
    n = fa.shape[0] if fa.ndim == 1 else -1
    if n < 1:
        raise ValueError(f"fail_a must be a non-empty 1-D array; got shape {fa.shape}")
    fa = _bool1d(fa, "fail_a", n)
    fb = _bool1d(fail_b, "fail_b", n)
    born = _bool1d(born_dead_a, "born_dead_a", n)
    da = _bool1d(died_a, "died_a", n) & fa & ~born
    db = _bool1d(died_b, "died_b", n) & fb & ~born
    ind_a = (fa & born, da, fa & ~born & ~da)
    ind_b = (fb & born, db, fb & ~born & ~db)
    n10 = np.array([int(np.sum(x & ~y)) for x, y in zip(ind_a, ind_b)])
    n01 = np.array([int(np.sum(~x & y)) for x, y in zip(ind_a, ind_b)])
    cis = np.array([paired_rate_diff_ci(p, q, n, alpha=alpha) for p, q in zip(n10, n01)])
    t10, t01 = int(np.sum(fa & ~fb)), int(np.sum(~fa & fb))
    lo, hi = paired_rate_diff_ci(t10, t01, n, alpha=alpha)
    alive = ~born

    def rate(x, m):
        return float(x[m].mean()) if m.any() else float("nan")

    return Decomposition(
        n=n, n_born_dead=int(born.sum()), rate_a=float(fa.mean()), rate_b=float(fb.mean()),
        diff=(t01 - t10) / n, diff_low=lo, diff_high=hi,
        n10=n10, n01=n01, contrib=(n01 - n10) / n, contrib_low=cis[:, 0], contrib_high=cis[:, 1],
        fail_born_a=rate(fa, born), fail_born_b=rate(fb, born),
        die_alive_a=rate(da, alive), die_alive_b=rate(db, alive),
    )


# --------------------------------------------------------------------------- matched step
def matched_pairs(lrs, beta: float) -> list[tuple[float, float]]:
    """The (sgd lr, momentum lr) pairs of a grid whose steps match once the velocity builds
    up: lr_momentum = lr_sgd (1 - beta), compared after rounding to 12 significant digits
    (so 0.01 (1 - 0.9) finds 0.001 on the grid).

    Parameters
    ----------
    lrs : (n_lr,) the lr grid both optimizers ran on.
    beta : momentum coefficient, 0 <= beta < 1.

    Returns
    -------
    list of (lr_sgd, lr_momentum), by increasing lr_sgd.

    >>> matched_pairs([0.0001, 0.0003162, 0.001, 0.003162, 0.01], 0.9)
    [(0.001, 0.0001), (0.003162, 0.0003162), (0.01, 0.001)]
    """
    if not 0 <= beta < 1:
        raise ValueError(f"invalid beta {beta!r}; allowed: 0 <= beta < 1")
    grid = np.asarray(lrs, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError("lrs must be a non-empty 1-D array of finite numbers > 0")
    key = {float(f"{v:.12g}"): float(v) for v in grid}
    pairs = []
    for v in sorted(key.values()):
        m = float(f"{v * (1 - beta):.12g}")
        if m in key:
            pairs.append((v, key[m]))
    return pairs
