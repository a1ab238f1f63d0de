"""Which randomness makes runs inconsistent: P(two runs disagree) per source (issue 19.2).

Pure statistics over failure indicators (``True`` = the run did not end ``solved``); no
I/O, no plotting, randomness only as a ``numpy.random.Generator`` argument.

The number a user feels is the probability that two runs of the same cell *disagree* on
solved/failed when only one source of randomness changes between them:

* a paired source -- float32 vs float64, one ulp of one initial weight -- compares two
  runs per init seed (:func:`paired_disagreement`);
* the init seed alone, in a fixed data order: two runs with distinct seeds,
  ``2 k (n - k) / (n (n - 1))``, whose expectation is ``2 p (1 - p)``
  (:func:`distinct_seeds_disagreement`);
* the crossed design, init seeds x order seeds (:func:`crossed_decomposition`): the order
  seed alone (same init seed), the init seed alone (same order seed) and both at once.

CIs are over init seeds, the unit that is sampled: the seeds are independent, so a
one-pair-per-seed rate has an exact (Clopper-Pearson) CI; in the crossed design the K runs
of one init seed are correlated, so its CIs come from a cluster bootstrap that resamples
whole init seeds (:func:`cluster_bootstrap`; coverage tested on simulated data).

Variance components of the failure indicator ``Y[i, j]`` (init seed i, order seed j) in
the two-way random-effects model ``Y = mu + a_i + b_j + e_ij`` (ANOVA estimators for a
balanced design without replication, negative estimates set to 0): the intraclass
correlation ``icc = var(a) / (var(a) + var(b) + var(e))`` is the share of the variance
that lies between init seeds. ``b_j`` is what an order seed does to *every* init seed (a
"good order"); ``e_ij`` is the order seed's effect on one init seed. With
``q_i = P(fail | init seed i)`` the law of total variance gives, up to O(1/K, 1/S) terms,
``P(order seeds disagree) = 2 E[q (1 - q)] = (1 - icc) * P(everything changes)``: the
order seed alone reproduces the full run-to-run disagreement exactly when icc = 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from relustudy.stats.proportions import ProportionResult, proportion_ci
from relustudy.stats.inputs import as_bool, same_length

BOOT_CHUNK = 256  # bootstrap draws per matrix product: bounds memory at ~BOOT_CHUNK x (distinct rows) floats


@dataclass(frozen=True)
class DisagreementResult:
    """P(two runs of one cell disagree on solved/failed) with its (1 - alpha) CI."""

    rate: float
    ci_low: float
    ci_high: float
    n_pairs: int  # pairs of runs the rate averages over
    n_seeds: int  # init seeds (independent clusters) behind it
    method: str  # "exact" (Clopper-Pearson over seeds) or "cluster bootstrap"
    # rate / P(two runs disagree when everything changes, same design and cell), with its
    # cluster-bootstrap CI: the share of the full run-to-run disagreement this source gives.
    ratio: float = np.nan
    ratio_low: float = np.nan
    ratio_high: float = np.nan


def paired_disagreement(fail_a, fail_b, *, alpha: float = 0.05) -> DisagreementResult:
    """Share of init seeds whose two runs (a, b) disagree, with a Clopper-Pearson CI.

    One pair per seed and independent seeds, so the disagreements are iid Bernoulli and the
    exact binomial CI is the CI clustered over init seeds. The ratio is to the full
    disagreement of a's design, P(runs a of two distinct seeds disagree)
    (:func:`distinct_seeds_disagreement` of ``fail_a``); its CI divides the ends of the two
    exact CIs, each at level 1 - alpha/2 (Bonferroni: it covers with probability >= 1 - alpha,
    also when no pair disagrees, where a bootstrap would collapse to 0).

    Parameters
    ----------
    fail_a, fail_b : (S,) bool, run a / run b of seed s failed (paired by position); a is
        the reference run (e.g. float64), b the one with the source changed.

    Examples
    --------
    >>> r = paired_disagreement([True, False, False, True], [True, True, False, False])
    >>> r.rate, r.n_pairs, r.method, round(r.ratio, 4)     # 0.5 / (2 * 2 * 2 / 12)
    (0.5, 4, 'exact', 0.75)
    """
    a, b = as_bool(fail_a, "fail_a"), as_bool(fail_b, "fail_b")
    same_length(a, b, "fail_a", "fail_b")
    k = int((a != b).sum())
    p = proportion_ci(k, a.size, alpha=alpha)
    ratio = (np.nan,) * 3
    if a.size >= 2 and 0 < a.sum() < a.size:
        ref = distinct_seeds_disagreement(a, alpha=alpha / 2)
        half = proportion_ci(k, a.size, alpha=alpha / 2)
        ratio = (p.rate / ref.rate, half.ci_low / ref.ci_high, half.ci_high / ref.ci_low)
    return DisagreementResult(p.rate, p.ci_low, p.ci_high, a.size, a.size, "exact", *ratio)


def two_p_one_minus_p(p):
    """2 p (1 - p): P(two independent runs with failure probability p disagree).

    >>> two_p_one_minus_p([0.5, 0.1]).tolist()
    [0.5, 0.18000000000000002]
    """
    p = np.asarray(p, dtype=float)
    return 2.0 * p * (1.0 - p)


def distinct_seeds_disagreement(fail, *, alpha: float = 0.05) -> DisagreementResult:
    """P(two runs with distinct init seeds disagree) in a cell with one run per seed.

    The estimate is the share of disagreeing pairs among the n (n - 1) / 2 pairs of distinct
    seeds, ``2 k (n - k) / (n (n - 1))`` (unbiased for 2 p (1 - p)). The CI maps the exact CI
    of p through 2 p (1 - p), which rises on [0, 1/2] and falls after: ``[lo, hi]`` for p
    becomes ``[min f(lo), f(hi)], max of f on [lo, hi]]`` (1/2 if the interval holds 1/2),
    so it covers whenever p's CI does.

    Parameters
    ----------
    fail : (S,) bool, one run per init seed.

    Examples
    --------
    >>> r = distinct_seeds_disagreement([True, False, False, False])
    >>> r.rate, r.n_pairs                       # 2 * 1 * 3 / (4 * 3)
    (0.5, 6)
    """
    f = as_bool(fail, "fail")
    n, k = f.size, int(f.sum())
    if n < 2:
        raise ValueError(f"fail holds {n} run; allowed: two or more (a pair of distinct seeds)")
    p = proportion_ci(k, n, alpha=alpha)
    ends = two_p_one_minus_p([p.ci_low, p.ci_high])
    hi = 0.5 if p.ci_low <= 0.5 <= p.ci_high else float(ends.max())
    rate = 2.0 * k * (n - k) / (n * (n - 1))
    ratio = (1.0,) * 3 if rate > 0 else (np.nan,) * 3  # the reference itself
    return DisagreementResult(rate, float(ends.min()), hi, n * (n - 1) // 2, n, "exact", *ratio)


def cluster_bootstrap(
    summaries, statistic: Callable[[np.ndarray], np.ndarray], *, rng: np.random.Generator, n_boot: int = 2000,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile CI of statistics that are functions of per-cluster means, resampling clusters.

    A resample draws S clusters with replacement, i.e. multinomial counts c (S,) that sum to
    S; its statistic is ``statistic(c @ summaries / S)`` (drawn over the distinct rows). Clusters are init seeds: each row
    of ``summaries`` summarises all runs of one seed, so the within-seed correlation is kept.

    Parameters
    ----------
    summaries : (S, m) per-cluster values whose means the statistic needs.
    statistic : maps means (B, m) to (B, q) statistics (B = any number of resamples);
        applied to the plain means (1, m) for the point estimate.
    rng : the random generator (required; no global RNG).
    n_boot : resamples.

    Returns
    -------
    estimate (q,), ci_low (q,), ci_high (q,).

    Examples
    --------
    >>> x = np.array([[0.0], [1.0], [1.0], [0.0]])
    >>> est, lo, hi = cluster_bootstrap(x, lambda m: m, rng=np.random.default_rng(0), n_boot=500)
    >>> float(est[0]), 0.0 <= float(lo[0]) < 0.5 < float(hi[0]) <= 1.0
    (0.5, True)
    """
    x = np.asarray(summaries, dtype=float)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"summaries must be (S, m) with S >= 1; got shape {x.shape}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    if isinstance(n_boot, bool) or int(n_boot) < 1:
        raise ValueError(f"invalid n_boot {n_boot!r}; allowed: an integer >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")
    S = x.shape[0]
    est = np.asarray(statistic(x.mean(axis=0)[None, :]), dtype=float)[0]
    # Resampling S rows is drawing how often each *distinct* row comes up: a multinomial over
    # the U distinct rows with their shares (the same distribution, and U << S here: most
    # seeds fail under every order seed or under none).
    rows, counts = np.unique(x, axis=0, return_counts=True)
    draws, done = [], 0
    while done < n_boot:
        b = min(BOOT_CHUNK, n_boot - done)
        weights = rng.multinomial(S, counts / S, size=b)  # (b, U)
        draws.append(np.asarray(statistic(weights @ rows / S), dtype=float))
        done += b
    boot = np.concatenate(draws, axis=0)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return est, lo, hi


@dataclass(frozen=True)
class CrossedResult:
    """The crossed design of one cell (S init seeds x K order seeds): what each source does."""

    n_seeds: int  # S
    n_orders: int  # K
    p_fail: float  # share of the S K runs that fail
    order: DisagreementResult  # same init seed, distinct order seeds
    init: DisagreementResult  # same order seed, distinct init seeds
    everything: DisagreementResult  # distinct init seed and distinct order seed
    icc: float  # var(init) / total: share of the variance between init seeds
    icc_low: float
    icc_high: float
    order_share: float  # var(order seed's main effect) / total
    residual_share: float  # var(init x order) / total
    consistent: ProportionResult  # init seeds whose outcome is the same under every order seed


def _as_crossed(fail) -> np.ndarray:
    y = np.asarray(fail)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        raise ValueError(f"fail must be (S, K) with S >= 2 init seeds and K >= 2 order seeds; got shape {y.shape}")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"fail must be boolean (or 0/1); got values {np.unique(y)[:5]}")
        y = y.astype(bool)
    return y


def _crossed_stats(means: np.ndarray, S: int, K: int) -> np.ndarray:
    """(B, 8) [P order, P init, P everything, share init, share order, share residual, P order /
    P everything, P init / P everything] from
    per-seed means (B, K + 2) = [Y[., 0..K-1], q^2, d] (see :func:`crossed_decomposition`)."""
    p_j = means[:, :K]  # per order seed: share failing
    q2, d = means[:, K], means[:, K + 1]
    y = p_j.mean(axis=1)
    col_pairs = (p_j * (1.0 - p_j)).mean(axis=1)  # mean_j p_j (1 - p_j)
    p_init = 2.0 * col_pairs * S / (S - 1)
    n = S * K  # P(everything): disagreeing pairs of distinct row and column over their count
    p_all = 2.0 * (n * n * y * (1 - y) - S * K * (K - 1) / 2 * d - K * S * S * col_pairs) / (n * (S - 1) * (K - 1))
    v_a = q2 - y * y  # variance of the per-seed failure share
    v_b = ((p_j - y[:, None]) ** 2).mean(axis=1)
    v_e = y * (1 - y) - v_a - v_b
    ms_a, ms_b = K * S * v_a / (S - 1), S * K * v_b / (K - 1)
    ms_e = S * K * v_e / ((S - 1) * (K - 1))
    comp = np.stack([(ms_a - ms_e) / K, (ms_b - ms_e) / S, ms_e], axis=1).clip(min=0.0)
    total = comp.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, comp / total, np.nan)
        ratios = np.where(p_all[:, None] > 0, np.column_stack([d, p_init]) / p_all[:, None], np.nan)
    return np.column_stack([d, p_init, p_all, shares, ratios])


def crossed_decomposition(fail, *, rng: np.random.Generator, n_boot: int = 2000, alpha: float = 0.05) -> CrossedResult:
    """P(two runs disagree) per source and the variance components of one crossed cell.

    Parameters
    ----------
    fail : (S, K) bool, run of init seed i under order seed j failed; every order seed j is
        the same permutation stream for every init seed.
    rng : for the cluster bootstrap over init seeds.

    Returns
    -------
    CrossedResult. The three disagreement rates are exact pair counts (U-statistics):
    ``order`` averages, over init seeds, the share of disagreeing pairs among its K (K - 1) / 2
    pairs of order seeds; ``init`` the same per order seed over pairs of init seeds;
    ``everything`` counts pairs that differ in both. Their CIs and icc's are cluster-bootstrap
    percentiles over init seeds; ``consistent`` (0 or K failures) is exact over init seeds.

    Examples
    --------
    >>> y = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 0, 0]], dtype=bool)
    >>> r = crossed_decomposition(y, rng=np.random.default_rng(0), n_boot=200)
    >>> round(r.order.rate, 4), r.consistent.k      # seed 2 disagrees in 2 of its 3 pairs
    (0.1667, 3)
    """
    y = _as_crossed(fail)
    S, K = y.shape
    k = y.sum(axis=1)
    q = k / K
    d = 2.0 * k * (K - k) / (K * (K - 1))  # per init seed: share of its order-seed pairs that disagree
    summaries = np.column_stack([y.astype(float), q * q, d])
    est, lo, hi = cluster_bootstrap(summaries, lambda m: _crossed_stats(m, S, K), rng=rng, n_boot=n_boot, alpha=alpha)
    boot = "cluster bootstrap"
    pairs = (S * K * (K - 1) // 2, K * S * (S - 1) // 2, S * K * (S - 1) * (K - 1) // 2)
    ratio = [(est[6], lo[6], hi[6]), (est[7], lo[7], hi[7]), (1.0, 1.0, 1.0) if est[2] > 0 else (np.nan,) * 3]
    rates = [DisagreementResult(float(est[i]), float(lo[i]), float(hi[i]), pairs[i], S, boot, *map(float, ratio[i]))
             for i in range(3)]
    return CrossedResult(
        n_seeds=S, n_orders=K, p_fail=float(y.mean()), order=rates[0], init=rates[1], everything=rates[2],
        icc=float(est[3]), icc_low=float(lo[3]), icc_high=float(hi[3]), order_share=float(est[4]),
        residual_share=float(est[5]), consistent=proportion_ci(int(((k == 0) | (k == K)).sum()), S, alpha=alpha),
    )
