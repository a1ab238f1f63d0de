"""How much of the outcome is decided at init: predicting failure from the initial weights.

Features of a run are computed from its initial parameters alone (no training): the raw
weights and biases, and what they do to the six training inputs (each unit's largest and
smallest pre-activation, dead units per layer, the initial outputs and MSE). Classifiers
(scikit-learn) are cross-validated over seeds: a seed's rows are never in the training and
the test fold of the same split, so every score is out-of-fold. AUROCs come with bootstrap
CIs over seeds, and the same bootstrap replicates give the CI of a difference of AUROCs
(paired: both predictors score the same seeds).

Pure functions of arrays; randomness only as ``random_state``/``rng`` arguments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from relustudy.core.activations import Activation, get_activation
from relustudy.core.config import Cell
from relustudy.core.inits import Params, init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import forward_all

N_SPLITS = 5  # cross-validation folds over seeds
N_BOOT = 1000  # bootstrap replicates (over seeds) for AUROC CIs
N_REPEATS = 5  # permutations per feature group for permutation importance


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class InitFeatures:
    """Features of R networks at init.

    values : (R, F) float; names : (F,) one name per column; groups : (F,) the feature
    group of each column (permuted together for importance).
    """

    values: np.ndarray
    names: tuple[str, ...]
    groups: tuple[str, ...]


def layer_activations(cell: Cell) -> list[Activation]:
    """One Activation per dense layer of ``cell``: hidden layers use ``cell.activation``."""
    out = cell.activation if cell.output == "same" else "identity"
    return [get_activation(cell.activation)] * len(cell.hidden) + [get_activation(out)]


def init_features(params: Params, acts: Sequence[Activation], x=X_TRAIN, y=Y_TRAIN) -> InitFeatures:
    """Features of R networks from their parameters and the training inputs.

    Per layer l = 1..L (L = output): the raw W{l}[i,j] and b{l}[i] (group ``raw l{l}``);
    per unit, the largest and smallest pre-activation over the S inputs, max_z{l}[i] and
    min_z{l}[i] (dead on the data iff max_z <= 0); per hidden layer the number of dead
    units dead_l{l} (group ``data l{l}``); the output pre-activation on each input
    z_out[s], the output unit dead (0/1), and the MSE of the initial outputs (group
    ``data out``).

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)).
    acts : one Activation per layer.
    x : (S, 2) inputs; y : (S,) targets.

    Returns
    -------
    InitFeatures with values (R, F); F = 37 + 18 + 2 + 8 = 65 for a 2-4-4-1 net.
    """
    zs = forward_all(params, acts, np.asarray(x, dtype=float))
    cols: list[np.ndarray] = []
    names: list[str] = []
    groups: list[str] = []

    def add(v, name, group):
        cols.append(np.asarray(v, dtype=float))
        names.append(name)
        groups.append(group)

    L = len(params)
    for l, (w, b) in enumerate(params, start=1):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                add(w[i, j], f"W{l}[{i},{j}]", f"raw l{l}")
            add(b[i], f"b{l}[{i}]", f"raw l{l}")
    for l, z in enumerate(zs, start=1):
        group = "data out" if l == L else f"data l{l}"
        for i in range(z.shape[0]):
            add(z[i].max(axis=0), f"max_z{l}[{i}]", group)
            add(z[i].min(axis=0), f"min_z{l}[{i}]", group)
        if l < L:
            add((z.max(axis=1) <= 0).sum(axis=0), f"dead_l{l}", group)
    z_out = zs[-1][0]  # (S, R)
    for s in range(z_out.shape[0]):
        add(z_out[s], f"z_out[{s}]", "data out")
    add(z_out.max(axis=0) <= 0, "output_dead", "data out")
    pred = np.empty_like(zs[-1])
    with np.errstate(all="ignore"):
        acts[-1].forward(zs[-1], pred)
    add(np.mean((pred[0] - np.asarray(y, dtype=float)[:, None]) ** 2, axis=0), "mse_init", "data out")
    return InitFeatures(np.column_stack(cols), tuple(names), tuple(groups))


def cell_init_features(cell: Cell, seeds: Sequence[int]) -> InitFeatures:
    """:func:`init_features` of the initial weights of ``cell`` for each seed, recomputed from the seed."""
    gain = getattr(cell, "init_gain", 1.0)  # a factor newer than this module; 1.0 = the scheme as defined
    params = init_params(cell.init, seeds, cell.layer_sizes, *([gain] if gain != 1.0 else []))
    return init_features(params, layer_activations(cell))


# --------------------------------------------------------------------------- cross-validation


def seed_folds(seeds, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """Assign each row to a fold so that all rows of one seed share a fold.

    Parameters
    ----------
    seeds : (n,) the seed of each row (a seed may repeat).
    n_splits : number of folds, 2 <= n_splits <= number of distinct seeds.

    Returns
    -------
    (n,) int fold index in 0..n_splits-1; the distinct seeds are shuffled by ``rng`` and
    dealt round-robin, so fold sizes in seeds differ by at most one.

    Examples
    --------
    >>> f = seed_folds([3, 3, 8, 5, 8], 2, np.random.default_rng(0))
    >>> bool(f[0] == f[1] and f[2] == f[4]), sorted(set(f.tolist()))
    (True, [0, 1])
    """
    seeds = np.asarray(seeds)
    uniq, inv = np.unique(seeds, return_inverse=True)
    if not 2 <= n_splits <= uniq.size:
        raise ValueError(f"n_splits must be in [2, {uniq.size}] (distinct seeds); got {n_splits}")
    fold_of_seed = np.empty(uniq.size, dtype=int)
    fold_of_seed[rng.permutation(uniq.size)] = np.arange(uniq.size) % n_splits
    return fold_of_seed[inv]


def _logistic(random_state: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Standardised features, L2 penalty C = 1 (mild: ~800 training seeds, 65 features).
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))


def _boosting(random_state: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    # Fixed size (no early stopping, whose validation split would add randomness).
    return HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=8, min_samples_leaf=20, l2_regularization=1.0,
        early_stopping=False, random_state=random_state,
    )


MODELS: dict[str, Callable[[int], object]] = {"logistic": _logistic, "boosting": _boosting}


def make_model(name: str, random_state: int):
    """An unfitted scikit-learn classifier from :data:`MODELS`."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name](random_state)


@dataclass
class CVResult:
    """Out-of-fold predictions of one model.

    scores : (n,) P(fail) of each row from the model that did not see its seed;
    folds : (n,) fold of each row; models : one fitted model per fold (fold k tested on folds == k).
    """

    scores: np.ndarray
    folds: np.ndarray
    models: list


def cross_validate(X, y, seeds, model: str, *, n_splits: int = N_SPLITS, random_state: int = 0) -> CVResult:
    """Out-of-fold failure scores of ``model`` with folds over seeds (:func:`seed_folds`).

    Parameters
    ----------
    X : (n, F) features; y : (n,) bool, True = failed; seeds : (n,) seed of each row.

    Returns
    -------
    CVResult; the same inputs and random_state give the same scores bit for bit (one thread).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=bool)
    if X.ndim != 2 or X.shape[0] != y.size or np.asarray(seeds).size != y.size:
        raise ValueError(f"X must be (n, F) with n = len(y) = len(seeds); got X {X.shape}, y {y.shape}")
    folds = seed_folds(seeds, n_splits, np.random.default_rng(random_state))
    scores = np.empty(y.size)
    models = []
    with threadpool_limits(1):  # deterministic and polite on a shared machine
        for k in range(n_splits):
            test = folds == k
            if np.unique(y[~test]).size < 2:
                raise ValueError(f"fold {k}: its training seeds have only one class")
            m = make_model(model, random_state).fit(X[~test], y[~test])
            scores[test] = m.predict_proba(X[test])[:, 1]
            models.append(m)
    return CVResult(scores, folds, models)


# --------------------------------------------------------------------------- AUROC and its CI


def weighted_auroc(score, label, weights) -> np.ndarray:
    """AUROC of ``score`` for ``label`` with case weights, ties counting 1/2, for many weightings.

    With integer weights it equals :func:`relustudy.stats.proportions.auroc` of the rows repeated that
    many times, so multinomial weights give bootstrap replicates without copying data.

    Parameters
    ----------
    score : (n,); label : (n,) bool; weights : (B, n) non-negative.

    Returns
    -------
    (B,) AUROC per weighting; NaN where a class has zero weight.

    Examples
    --------
    >>> weighted_auroc([1, 1, 0, 0], [True, False, False, False], [[1, 1, 1, 1], [1, 0, 1, 1]]).tolist()
    [0.8333333333333334, 1.0]
    """
    s = np.asarray(score, dtype=float)
    lab = np.asarray(label, dtype=bool)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(s, kind="stable")
    s, lab, w = s[order], lab[order], w[:, order]
    # Tie groups of the sorted scores: group g spans [start[g], start[g+1]).
    new = np.r_[True, s[1:] != s[:-1]]
    gid = np.cumsum(new) - 1
    start = np.flatnonzero(np.r_[new, True])
    wneg = np.where(lab, 0.0, w)
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(wneg, axis=1)], axis=1)
    below = cum[:, start[:-1]]  # (B, G) negative weight strictly below each group
    tied = cum[:, start[1:]] - below  # (B, G) negative weight within each group
    wpos = np.where(lab, w, 0.0)
    num = (wpos * (below[:, gid] + 0.5 * tied[:, gid])).sum(axis=1)
    den = wpos.sum(axis=1) * wneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class AurocCI:
    """AUROC of each predictor and of their differences, with percentile bootstrap CIs over seeds.

    names : (K,) predictors; auroc, low, high : (K,); diff, diff_low, diff_high : (K, K)
    with diff[a, b] = auroc[a] - auroc[b] (paired: the same resampled seeds for both);
    n : rows (seeds); n_pos : failures; n_boot : replicates.
    """

    names: tuple[str, ...]
    auroc: np.ndarray
    low: np.ndarray
    high: np.ndarray
    diff: np.ndarray
    diff_low: np.ndarray
    diff_high: np.ndarray
    n: int
    n_pos: int
    n_boot: int

    def of(self, name: str) -> tuple[float, float, float]:
        """(auroc, low, high) of one predictor."""
        k = self.names.index(name)
        return float(self.auroc[k]), float(self.low[k]), float(self.high[k])

    def minus(self, a: str, b: str) -> tuple[float, float, float]:
        """(auroc[a] - auroc[b], low, high)."""
        i, j = self.names.index(a), self.names.index(b)
        return float(self.diff[i, j]), float(self.diff_low[i, j]), float(self.diff_high[i, j])


def auroc_ci(scores: dict, label, *, n_boot: int = N_BOOT, rng: np.random.Generator, alpha: float = 0.05) -> AurocCI:
    """AUROCs of several scores of the same rows, with paired bootstrap CIs (rows resampled).

    Parameters
    ----------
    scores : name -> (n,) score (higher = more likely to fail); label : (n,) bool with both classes.
        Rows are seeds: one row per seed, so resampling rows resamples seeds.
    """
    lab = np.asarray(label, dtype=bool)
    if lab.all() or not lab.any():
        raise ValueError("label must contain both classes (True and False)")
    names = tuple(scores)
    n = lab.size
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    point = np.array([weighted_auroc(scores[k], lab, np.ones((1, n)))[0] for k in names])
    boot = np.column_stack([weighted_auroc(scores[k], lab, w) for k in names])  # (B, K)
    boot = boot[np.isfinite(boot).all(axis=1)]
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    lo, hi = np.percentile(boot, q, axis=0)
    d = boot[:, :, None] - boot[:, None, :]
    dlo, dhi = np.percentile(d, q, axis=0)
    return AurocCI(names, point, lo, hi, point[:, None] - point[None, :], dlo, dhi, n, int(lab.sum()), n_boot)


# --------------------------------------------------------------------------- importance


def group_importance(cv: CVResult, X, y, groups: Sequence[str], *, subsets: dict | None = None,
                     n_repeats: int = N_REPEATS, rng: np.random.Generator) -> pd.DataFrame:
    """Grouped permutation importance on the out-of-fold predictions.

    For each feature group, its columns are permuted together (one permutation of the rows
    within each test fold), each fold's model rescores its permuted test rows, and the drop
    in out-of-fold AUROC is recorded; correlated features of one group cannot stand in for
    each other.

    Parameters
    ----------
    cv : :func:`cross_validate` result on X, y; X : (n, F); y : (n,) bool; groups : (F,) group per column.
    subsets : name -> (n,) bool mask of rows on which to measure the AUROC as well
        (default: only "all"); each needs both classes.

    Returns
    -------
    DataFrame with columns group, subset, drop (mean AUROC drop over ``n_repeats``), sd;
    groups in first-seen order.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=bool)
    groups = np.asarray(groups)
    masks = {"all": np.ones(y.size, dtype=bool), **(subsets or {})}
    ones = {k: np.ones((1, int(m.sum()))) for k, m in masks.items()}

    def aurocs(s):
        return np.array([weighted_auroc(s[m], y[m], ones[k])[0] for k, m in masks.items()])

    base = aurocs(cv.scores)
    rows = []
    with threadpool_limits(1):
        for g in dict.fromkeys(groups.tolist()):
            cols = np.flatnonzero(groups == g)
            drops = []
            for _ in range(n_repeats):
                s = np.empty(y.size)
                for k, m in enumerate(cv.models):
                    idx = np.flatnonzero(cv.folds == k)
                    Xt = X[idx]
                    Xt[:, cols] = Xt[rng.permutation(idx.size)][:, cols]
                    s[idx] = m.predict_proba(Xt)[:, 1]
                drops.append(base - aurocs(s))
            d = np.array(drops)  # (n_repeats, n_subsets)
            rows += [(g, k, d[:, j].mean(), d[:, j].std()) for j, k in enumerate(masks)]
    return pd.DataFrame(rows, columns=["group", "subset", "drop", "sd"])


# --------------------------------------------------------------------------- one cell


@dataclass
class CellPrediction:
    """How well failure in one cell is predicted from the initial weights.

    seeds : (n,); failed : (n,) bool; dead : (n,) bool output dead at init;
    scores : predictor -> (n,) score ("dead at init", "output margin" = minus the output unit's
    largest pre-activation, and each model's out-of-fold P(fail));
    all_seeds : AUROCs on every seed; alive : AUROCs on the seeds whose output is alive at
    init (None if that subset lacks a class); importance : :func:`group_importance` rows of
    every model with a ``model`` column (subsets "all", and "alive" when it has both classes);
    features : the features; cv : model -> its :class:`CVResult`.
    """

    seeds: np.ndarray
    failed: np.ndarray
    dead: np.ndarray
    scores: dict
    all_seeds: AurocCI
    alive: AurocCI | None
    importance: pd.DataFrame
    features: InitFeatures
    cv: dict


DEAD = "dead at init"
MARGIN = "output margin"


def predict_cell(cell: Cell, seeds, failed, *, models: Sequence[str] = tuple(MODELS), n_splits: int = N_SPLITS,
                 n_boot: int = N_BOOT, n_repeats: int = N_REPEATS, random_state: int = 0) -> CellPrediction:
    """Predict ``failed`` from the initial weights of ``cell`` for ``seeds`` (one row per seed).

    Parameters
    ----------
    cell : the cell (its init, layer sizes and activations define the features).
    seeds : (n,) distinct seeds; failed : (n,) bool outcome of each seed's run.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    failed = np.asarray(failed, dtype=bool)
    if np.unique(seeds).size != seeds.size:
        raise ValueError("seeds must be distinct: one run per seed in a cell")
    f = cell_init_features(cell, seeds)
    dead = f.values[:, f.names.index("output_dead")].astype(bool)
    margin = f.values[:, f.names.index(f"max_z{len(cell.layer_sizes) - 1}[0]")]
    scores = {DEAD: dead.astype(float), MARGIN: -margin}
    live = ~dead
    alive_ok = bool(failed[live].any() and not failed[live].all())
    subsets = {"alive": live} if alive_ok else {}
    importance, cvs = [], {}
    for k, name in enumerate(models):
        cv = cvs[name] = cross_validate(f.values, failed, seeds, name, n_splits=n_splits, random_state=random_state)
        scores[name] = cv.scores
        imp = group_importance(cv, f.values, failed, f.groups, subsets=subsets, n_repeats=n_repeats,
                               rng=np.random.default_rng([random_state, k]))
        importance.append(imp.assign(model=name))
    rng = np.random.default_rng([random_state, len(models)])
    all_seeds = auroc_ci(scores, failed, n_boot=n_boot, rng=rng)
    alive = None
    if alive_ok:
        alive = auroc_ci({k: v[live] for k, v in scores.items() if k != DEAD}, failed[live], n_boot=n_boot, rng=rng)
    return CellPrediction(seeds, failed, dead, scores, all_seeds, alive, pd.concat(importance, ignore_index=True), f, cvs)
