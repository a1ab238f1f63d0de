"""Statistics for the learning curve and the flip-rate curve (issue 16): pure functions of arrays.

- :func:`delong`: AUROCs of several scores of the same rows and their covariance (DeLong,
  DeLong & Clarke-Pearson 1988), O(n log n): the CI of an AUROC on 100,000 held-out seeds
  without a bootstrap over 100,000-row weight matrices.
- :func:`fit_saturating`: AUROC(n) = a - b n^-c, the learning curve's extrapolated ceiling a.
- :func:`clustered_proportion_ci`: a rate whose trials come in clusters (perturbations of one
  seed) with the Korn-Graubard CI: Clopper-Pearson at the effective sample size n / deff.
- :func:`poisson_bootstrap_rates` and :func:`fit_power_law`: the flip rate's exponent in eps
  and its CI from a cluster (seed) bootstrap that touches only the seeds that flip.

Randomness only through ``rng`` arguments.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class DelongResult:
    """auc : (K,) AUROC per score; cov : (K, K) their covariance; n_pos, n_neg : class sizes."""

    auc: np.ndarray
    cov: np.ndarray
    n_pos: int
    n_neg: int

    @property
    def se(self) -> np.ndarray:
        """(K,) standard errors."""
        return np.sqrt(np.diag(self.cov))

    def ci(self, k: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
        """(auc, low, high) of score k, normal approximation clipped to [0, 1]."""
        z = stats.norm.ppf(1 - alpha / 2)
        a, s = float(self.auc[k]), float(self.se[k])
        return a, max(0.0, a - z * s), min(1.0, a + z * s)


def delong(scores, label) -> DelongResult:
    """AUROC (ties count 1/2) of each row of ``scores`` for ``label``, with DeLong's covariance.

    Parameters
    ----------
    scores : (K, n) or (n,) scores, higher = more likely positive; label : (n,) bool with both classes.

    Examples
    --------
    >>> r = delong([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    >>> float(r.auc[0])
    0.75
    """
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    lab = np.asarray(label, dtype=bool)
    if s.shape[1] != lab.size:
        raise ValueError(f"scores must be (K, n) with n = len(label); got {s.shape} and {lab.shape}")
    m, n = int(lab.sum()), int((~lab).sum())
    if m == 0 or n == 0:
        raise ValueError("label must contain both classes (True and False)")
    pos, neg = s[:, lab], s[:, ~lab]
    tz = stats.rankdata(s, axis=1)  # midranks: ties count 1/2
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    v10 = (tz[:, lab] - tx) / n  # per positive: share of negatives below it
    v01 = 1.0 - (tz[:, ~lab] - ty) / m  # per negative: share of positives above it
    auc = v10.mean(axis=1)
    K = s.shape[0]

    def var(v):  # (K, K) sample covariance of the components; 0 from a class of one row
        return np.atleast_2d(np.cov(v)) if v.shape[1] > 1 else np.zeros((K, K))

    cov = var(v10) / m + var(v01) / n
    return DelongResult(auc, cov, m, n)


# --------------------------------------------------------------------------- learning curve


N0 = 1000.0  # the curve's reference size: b is the shortfall from the ceiling at N0 training seeds


def saturating(n, a, b, c):
    """a - b (n / N0)^-c: rises towards the ceiling a as n grows (b, c > 0); b is the gap at n = N0."""
    return a - b * np.power(np.asarray(n, dtype=float) / N0, -c)


C_BOUNDS = (0.01, 3.0)  # exponent range of the fit: slower than n^-0.01 cannot be told from flat


def fit_saturating(n, y, sigma=None) -> np.ndarray:
    """Least-squares (a, b, c) of :func:`saturating` through the points (n, y).

    Parameters
    ----------
    n : (P,) training sizes; y : (P,) AUROCs; sigma : optional (P,) their standard errors.

    Returns
    -------
    (3,) array a, b, c with a in [0, 1], b in [0, 2], c in C_BOUNDS; NaNs when the fit fails.
    """
    n = np.asarray(n, dtype=float)
    y = np.asarray(y, dtype=float)
    if n.size < 3 or n.size != y.size:
        raise ValueError(f"need >= 3 points (n, y) of equal length; got {n.size} and {y.size}")
    lo, hi = [0.0, 0.0, C_BOUNDS[0]], [1.0, 2.0, C_BOUNDS[1]]
    best, best_cost = np.full(3, np.nan), np.inf
    # A few starts: the cost surface is flat along (b, c) when the points barely curve.
    for c0 in (0.2, 0.5, 1.0):
        a0 = min(1.0, y.max() + 0.01)
        b0 = float(np.clip((a0 - y[np.argmin(n)]) * (n.min() / N0) ** c0, 1e-6, 1.9))
        try:
            with warnings.catch_warnings():  # a flat direction leaves the covariance undefined: not used here
                warnings.simplefilter("ignore", optimize.OptimizeWarning)
                p, _ = optimize.curve_fit(saturating, n, y, p0=[a0, b0, c0], sigma=sigma, bounds=(lo, hi), maxfev=20000)
        except (RuntimeError, ValueError):
            continue
        r = (saturating(n, *p) - y) / (1.0 if sigma is None else np.asarray(sigma))
        if float(r @ r) < best_cost:
            best, best_cost = p, float(r @ r)
    return best


# --------------------------------------------------------------------------- clustered rates


@dataclass(frozen=True)
class ClusteredRate:
    """k of n trials in G clusters: rate, Korn-Graubard CI, design effect and effective n."""

    k: int
    n: int
    clusters: int
    rate: float
    ci_low: float
    ci_high: float
    deff: float
    n_eff: float


def clustered_proportion_ci(k_g, m_g, *, alpha: float = 0.05) -> ClusteredRate:
    """Rate sum(k) / sum(m) of trials grouped in clusters, with a CI that respects the clustering.

    The ratio estimator's variance over clusters, var = G/(G-1) sum (k_g - r m_g)^2 / (sum m)^2,
    gives the design effect deff = var / (r (1-r) / (n-1)) (at least 1); the CI is Clopper-Pearson
    at the effective sample size n / deff with r n / deff successes (Korn & Graubard 1998), so
    a cluster of correlated trials counts as fewer than its size; with no successes (deff
    unknown, taken as 1) it is plain Clopper-Pearson.

    Parameters
    ----------
    k_g : (G,) successes per cluster; m_g : (G,) trials per cluster (>= 1).

    Examples
    --------
    >>> r = clustered_proportion_ci([2, 0, 0, 0], [2, 2, 2, 2])  # both successes in one cluster
    >>> r.rate, r.deff > 1
    (0.25, True)
    """
    k_g = np.asarray(k_g, dtype=float)
    m_g = np.asarray(m_g, dtype=float)
    if k_g.shape != m_g.shape or k_g.ndim != 1 or k_g.size < 2:
        raise ValueError(f"k_g and m_g must be (G,) with G >= 2; got {k_g.shape} and {m_g.shape}")
    if (m_g < 1).any() or (k_g < 0).any() or (k_g > m_g).any():
        raise ValueError("need 0 <= k_g <= m_g and m_g >= 1 in every cluster")
    G, n, k = k_g.size, float(m_g.sum()), float(k_g.sum())
    r = k / n
    deff = 1.0
    if 0 < k < n:
        var = G / (G - 1) * float(np.sum((k_g - r * m_g) ** 2)) / n**2
        deff = max(1.0, var / (r * (1 - r) / (n - 1)))  # (n - 1): like for like, so singletons give 1
    n_eff = n / deff
    k_eff = r * n_eff
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k_eff, n_eff - k_eff + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k_eff + 1, n_eff - k_eff))
    return ClusteredRate(int(k), int(n), G, r, lo, hi, deff, n_eff)


def poisson_bootstrap_rates(k_ge, m_flip_g, clusters_rest: int, m_rest_each: float, *, n_boot: int,
                            rng: np.random.Generator) -> np.ndarray:
    """Cluster (Poisson) bootstrap replicates of rates at E settings measured on the same clusters.

    Each cluster gets a Poisson(1) weight per replicate. Only the clusters with a success need
    their own weights; the rest enter the denominator through the sum of their weights, a
    Poisson(clusters_rest) draw (the sum of independent Poisson(1)s), each with m_rest_each
    trials per setting -- so 200,000 seeds cost as much as the few hundred that flip.

    Parameters
    ----------
    k_ge : (G1, E) successes at each setting of the G1 clusters with any success;
    m_flip_g : (G1,) trials per setting of those clusters;
    clusters_rest : number of other clusters; m_rest_each : their trials per setting.

    Returns
    -------
    (n_boot, E) replicate rates.
    """
    k_ge = np.asarray(k_ge, dtype=float)
    m_flip_g = np.asarray(m_flip_g, dtype=float)
    if k_ge.ndim != 2 or m_flip_g.shape != (k_ge.shape[0],):
        raise ValueError(f"k_ge must be (G1, E) and m_flip_g (G1,); got {k_ge.shape} and {m_flip_g.shape}")
    w = rng.poisson(1.0, size=(n_boot, k_ge.shape[0])).astype(float)
    w_rest = rng.poisson(float(clusters_rest), size=n_boot)
    num = w @ k_ge  # (B, E)
    den = w @ m_flip_g + w_rest * float(m_rest_each)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[:, None]


def fit_power_law(eps, k, n) -> tuple[float, float]:
    """Maximum-likelihood (A, alpha) of P = A eps^alpha from k successes of n trials at each eps.

    Poisson likelihood with log link (k_e ~ Poisson(n_e A eps_e^alpha)): zero counts are
    allowed, unlike a least-squares line through log rates. Valid while P << 1.

    Parameters
    ----------
    eps, k, n : (E,) with E >= 2 distinct eps and sum(k) > 0.

    Returns
    -------
    (A, alpha); alpha is the log-log slope.
    """
    x = np.log(np.asarray(eps, dtype=float))
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    if x.size < 2 or np.unique(x).size < 2 or k.sum() <= 0:
        raise ValueError("need >= 2 distinct eps and at least one success")
    xc = x - x.mean()  # centred: the two parameters are nearly uncorrelated

    def nll(p):
        eta = p[0] + p[1] * xc
        return float(np.sum(n * np.exp(eta) - k * eta))

    def grad(p):
        r = n * np.exp(p[0] + p[1] * xc) - k
        return np.array([r.sum(), (r * xc).sum()])

    p0 = np.array([np.log(k.sum() / n.sum()), 1.0])
    res = optimize.minimize(nll, p0, jac=grad, method="BFGS", options={"gtol": 1e-10})
    a0, alpha = res.x
    return float(np.exp(a0 - alpha * x.mean())), float(alpha)
