"""Theory check: how often is a unit (or the whole net) dead at init, from the init alone?

Nothing here trains. The probabilities are over the init distribution of one scheme
(``inits.INITS``: randn W, b ~ N(0, 1); he W ~ N(0, 2/fan_in), b = 0; xavier
W ~ U(+-sqrt(6/(fan_in+fan_out))), b = 0), evaluated on the six training inputs:

* :func:`p_first_layer_unit_dead` -- exact, by geometry: a first-layer unit is dead when
  its weight vector lies in the polar cone of the inputs;
* :func:`p_output_dead_at_init` -- Monte Carlo simulation over whole networks of the
  dataset's own test (the output unit's pre-activation <= 0 on all six inputs,
  ``output_dead_init``): a check of the sampling code more than a theory;
* :func:`p_output_dead_conditional` -- the same probability computed with the last step
  integrated analytically (conditional Monte Carlo over the hidden layers, own forward code);
* :func:`p_born_dead` -- Monte Carlo: the network output is constant on the six inputs
  (for ReLU: some hidden layer is dead on all of them), cf. Lu, Shin, Su, Karniadakis 2019;
* :func:`output_dead_vs_theory` -- the measured ``output_dead_init`` rate next to theory.

A unit is *dead* when its pre-activation is <= 0 on every input (the dataset's test). With
b = 0 (he, xavier) a layer whose inputs are all 0 has pre-activation exactly 0, which
counts as dead. The output unit's pre-activation does not depend on the output
activation, so neither do these probabilities. Randomness arrives as a Generator.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.integrate
import scipy.spatial
import scipy.stats

from relustudy.core.activations import get_activation
from relustudy.core.config import INITS
from relustudy.core.checks import check_choice, parse_hidden
from relustudy.core.inits import transform
from relustudy.core.problem import X_TRAIN, get_task
from relustudy.stats.unpaired_tests import binomial_pvalue
from relustudy.stats.proportions import proportion_ci
from relustudy.core.train import dead_units, forward_all

DEFAULT_CHUNK = 100_000  # networks per vectorised batch: (width, 6, chunk) float64 arrays


@dataclass(frozen=True)
class MonteCarloResult:
    """A Monte Carlo probability with its Clopper-Pearson (1 - alpha) CI."""

    p: float
    ci_low: float
    ci_high: float
    k: int  # draws with the event
    n_draws: int
    init: str
    activation: str
    hidden: tuple[int, ...]


@dataclass(frozen=True)
class BornDeadResult(MonteCarloResult):
    """:class:`MonteCarloResult` for "output constant on the six inputs", plus layer deaths."""

    p_layer_dead: float = np.nan  # P(some hidden layer has every unit dead on all inputs)


# --------------------------------------------------------------------------- exact, layer 1
def _input_angles(x: np.ndarray) -> tuple[float, float]:
    """Smallest and largest polar angle of the (positive-quadrant) inputs."""
    ang = np.arctan2(x[:, 1], x[:, 0])
    return float(ang.min()), float(ang.max())


def _square_wedge_fraction(phi1: float, phi2: float) -> float:
    """Fraction of the square [-1, 1]^2 inside the wedge of directions [phi1, phi2]."""
    # Area element in polar coordinates: r_max(phi)^2 / 2, r_max = 1 / max(|cos|, |sin|).
    def f(phi):
        return 0.5 / max(abs(np.cos(phi)), abs(np.sin(phi))) ** 2

    breaks = [k * np.pi / 4 for k in range(-8, 17) if phi1 < k * np.pi / 4 < phi2]
    area, _ = scipy.integrate.quad(f, phi1, phi2, points=breaks or None, limit=200, epsabs=1e-13)
    return area / 4.0


EXACT_INITS = ("randn", "he", "xavier")  # the inits with a closed form below; the Monte Carlo takes any


def p_first_layer_unit_dead(init: str, x: np.ndarray = X_TRAIN) -> float:
    """Exact probability that one first-layer unit is dead on the inputs at init.

    The unit is dead when ``w . x_s + b <= 0`` for every input s, i.e. when its parameter
    vector lies in the polar cone of the inputs. For positive 2-D inputs spanning the
    angles [t_min, t_max] (width D):

    * he (w isotropic Gaussian in 2-D, b = 0): P = (pi - D) / (2 pi);
    * xavier (w uniform on a square, b = 0): the square's area fraction inside the wedge of
      directions [t_max + pi/2, t_min + 3 pi/2] (numerical quadrature, ~1e-13);
    * randn ((w, b) isotropic Gaussian in 3-D): P = (2 pi - sum a_i) / (4 pi), where a_i
      are the angles between consecutive extreme rays of the cone spanned by (x_s, 1)
      (the polar spherical polygon has angles pi - a_i; Girard's theorem).

    Parameters
    ----------
    init : "randn", "he" or "xavier".
    x : (S, 2) inputs with positive coordinates (default: the six training inputs).

    Returns
    -------
    float, the probability (the expected ``dead_frac_init_l1``).

    Examples
    --------
    >>> round(p_first_layer_unit_dead("he"), 6)   # (pi - (atan(7/3) - atan(3/5))) / (2 pi)
    0.400451
    """
    check_choice("init", init, EXACT_INITS)
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (S, 2) with S >= 1; got {x.shape}")
    if not (x > 0).all():
        raise ValueError("x must have positive coordinates (the cone geometry assumes it)")
    t_min, t_max = _input_angles(x)
    if init == "he":
        return (np.pi - (t_max - t_min)) / (2 * np.pi)
    if init == "xavier":
        return _square_wedge_fraction(t_max + np.pi / 2, t_min + 3 * np.pi / 2)
    # randn: extreme rays of cone{(x_s, 1)} = hull vertices of the x_s, in cyclic order.
    if x.shape[0] < 3:
        pts = np.unique(x, axis=0)
    else:
        pts = x[scipy.spatial.ConvexHull(x).vertices]
    rays = np.column_stack([pts, np.ones(len(pts))])
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    if len(rays) == 1:
        return 0.5
    pairs = zip(rays, np.roll(rays, -1, axis=0)) if len(rays) > 2 else [(rays[0], rays[1])] * 2
    total = sum(float(np.arccos(np.clip(u @ v, -1.0, 1.0))) for u, v in pairs)
    return (2 * np.pi - total) / (4 * np.pi)


# --------------------------------------------------------------------------- Monte Carlo
def _check_mc(init: str, activation: str, n_draws: int, rng, chunk: int, alpha: float) -> None:
    check_choice("init", init, INITS)
    get_activation(activation)  # raises for unknown names
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    if int(n_draws) < 1 or int(chunk) < 1:
        raise ValueError(f"invalid n_draws={n_draws!r} or chunk={chunk!r}; allowed: integers >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}; allowed: 0 < alpha < 1")


def _sample_zs(init: str, layer_sizes: Sequence[int], activation: str, r: int, rng,
               x: np.ndarray = X_TRAIN) -> list[np.ndarray]:
    """Pre-activations (n_out, S, r) per layer of r fresh networks drawn from ``init``, on x (S, 2)."""
    normals = [
        (rng.standard_normal((n_out, n_in, r)), rng.standard_normal((n_out, r)))
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
    ]
    params = transform(init, normals)
    hidden = get_activation(activation)
    acts = [hidden] * (len(layer_sizes) - 2) + [get_activation("identity")]
    return forward_all(params, acts, x)


def _chunks(n: int, chunk: int):
    for start in range(0, n, chunk):
        yield min(chunk, n - start)


def _binom(k: int, n: int, alpha: float) -> tuple[float, float, float]:
    """(rate, ci_low, ci_high): the exact CI of :func:`stats.proportion_ci`."""
    r = proportion_ci(k, n, alpha=alpha, method="exact")
    return r.rate, r.ci_low, r.ci_high


def p_output_dead_at_init(
    init: str,
    activation: str = "relu",
    hidden: Sequence[int] | str = (4, 4),
    *,
    rng: np.random.Generator,
    n_draws: int = 1_000_000,
    alpha: float = 0.05,
    chunk: int = DEFAULT_CHUNK,
) -> MonteCarloResult:
    """Monte Carlo P(output pre-activation <= 0 on all six training inputs) at init.

    Draws ``n_draws`` independent networks 2-hidden-1 from the init distribution (standard
    normals from ``rng`` through ``inits.transform``), in chunks, and applies the dataset's
    ``output_dead_init`` test (``train.dead_units``). No training.

    Parameters
    ----------
    init : "randn", "he" or "xavier".
    activation : hidden-layer activation (the output activation does not matter).
    hidden : hidden widths, e.g. (4, 4) or "4-4".
    rng : the random generator.
    n_draws : networks drawn (>= 10**6 for the report: CI half-width ~ 0.001).
    alpha : 1 - confidence level of the Clopper-Pearson CI.
    chunk : networks per vectorised batch (memory ~ 48 * sum(hidden) * chunk bytes).

    Returns
    -------
    MonteCarloResult

    Examples
    --------
    >>> r = p_output_dead_at_init("he", hidden=(1,), rng=np.random.default_rng(0), n_draws=10_000)
    >>> abs(r.p - (0.5 + 0.5 * p_first_layer_unit_dead("he"))) < 0.02
    True
    """
    _check_mc(init, activation, n_draws, rng, chunk, alpha)
    widths = parse_hidden(hidden)
    sizes = (2, *widths, 1)
    k = 0
    for r in _chunks(int(n_draws), int(chunk)):
        zs = _sample_zs(init, sizes, activation, r, rng)
        k += int(dead_units(zs[-1:])[0][0].sum())
    p, lo, hi = _binom(k, int(n_draws), alpha)
    return MonteCarloResult(p, lo, hi, k, int(n_draws), init, activation, widths)


@dataclass(frozen=True)
class ConditionalResult:
    """A probability estimated by conditional Monte Carlo, with its normal-approximation CI."""

    p: float
    ci_low: float
    ci_high: float
    se: float  # standard error of the mean of the conditional probabilities
    n_draws: int
    init: str
    hidden: tuple[int, ...]


def _output_weight_cdf(init: str, fan_in: int) -> "scipy.stats.rv_continuous":
    """Distribution of one output-layer weight (fan_out 1) under ``init``."""
    if init == "he":
        return scipy.stats.norm(scale=np.sqrt(2.0 / fan_in))
    if init == "xavier":
        a = np.sqrt(6.0 / (fan_in + 1))
        return scipy.stats.uniform(loc=-a, scale=2 * a)
    return scipy.stats.norm()


def p_output_dead_conditional(
    init: str,
    hidden: Sequence[int] | str = (4, 4),
    *,
    rng: np.random.Generator,
    n_draws: int = 200_000,
    alpha: float = 0.05,
) -> ConditionalResult:
    """P(output pre-activation <= 0 on all six inputs) at init, ReLU hidden layers, by
    conditional Monte Carlo: the last step is integrated analytically, not simulated.

    The hidden layers are drawn from the init distribution and run forward here (its own
    einsum code, not ``train.forward_all``); given them, the output's pre-activation on
    input s is ``z_s = t h_s + c_s`` with ``t`` one output parameter and ``c_s`` the rest.
    With h_s >= 0 (ReLU), "z_s <= 0 for all s" is ``t <= u`` (an interval), so
    P(dead | rest) = F(u), F the CDF of t:

    * randn: t = the output bias b ~ N(0, 1), h_s = 1: F(u) = Phi(-max_s c_s);
    * he / xavier (bias 0): t = the first output weight, N(0, 2/fan_in) or
      U(+-sqrt(6/(fan_in+1))), u = min over h_s > 0 of -c_s/h_s, and P = 0 if some input
      with h_s = 0 has c_s > 0 (P = 1[all c_s <= 0] when every h_s is 0).

    The estimate is the mean of F(u) over the draws (Rao-Blackwellised: lower variance
    than counting dead draws), its CI mean +- z * sd / sqrt(n).

    Parameters
    ----------
    init : "randn", "he" or "xavier".
    hidden : hidden widths, e.g. (4, 4).
    rng : the random generator.
    n_draws : networks drawn (hidden layers and all output weights but t).
    alpha : 1 - confidence level.

    Returns
    -------
    ConditionalResult

    Examples
    --------
    >>> r = p_output_dead_conditional("he", (1,), rng=np.random.default_rng(0), n_draws=20_000)
    >>> abs(r.p - (0.5 + 0.5 * p_first_layer_unit_dead("he"))) < 0.01   # dead hidden unit -> z = 0
    True
    """
    _check_mc(init, "relu", n_draws, rng, DEFAULT_CHUNK, alpha)
    check_choice("init", init, EXACT_INITS)
    widths = parse_hidden(hidden)
    sizes = (2, *widths, 1)
    probs = []
    for r in _chunks(int(n_draws), DEFAULT_CHUNK):
        normals = [
            (rng.standard_normal((n_out, n_in, r)), rng.standard_normal((n_out, r)))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        ]
        params = transform(init, normals)
        h = np.broadcast_to(X_TRAIN.T[:, :, None], (2, X_TRAIN.shape[0], r))  # (n_in, S, r)
        for w, b in params[:-1]:
            h = np.maximum(np.einsum("oir,isr->osr", w, h) + b[:, None, :], 0.0)
        w3, b3 = params[-1][0][0], params[-1][1][0]  # (n_last, r), (r,)
        if init == "randn":
            c = np.einsum("kr,ksr->sr", w3, h)  # all weights; t = b3
            probs.append(scipy.stats.norm.cdf(-c.max(axis=0)))
            continue
        c = np.einsum("kr,ksr->sr", w3[1:], h[1:]) + b3[None, :]  # t = w3[0]
        h1 = h[0]  # (S, r)
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = np.where(h1 > 0, -c / h1, np.inf)
        u = bound.min(axis=0)
        blocked = ((h1 == 0) & (c > 0)).any(axis=0)
        p = _output_weight_cdf(init, widths[-1]).cdf(u)
        probs.append(np.where(blocked, 0.0, p))
    v = np.concatenate(probs)
    se = float(v.std(ddof=1) / np.sqrt(v.size))
    half = float(scipy.stats.norm.ppf(1 - alpha / 2)) * se
    est = float(v.mean())
    return ConditionalResult(est, max(0.0, est - half), min(1.0, est + half), se, int(v.size), init, widths)


def p_born_dead(
    init: str,
    widths: Sequence[int] | str,
    activation: str = "relu",
    *,
    rng: np.random.Generator,
    n_draws: int = 100_000,
    alpha: float = 0.05,
    chunk: int | None = None,
) -> BornDeadResult:
    """Monte Carlo P(the network output is constant on the six inputs) at init.

    A network 2-widths-1 is *born dead* (Lu et al. 2019) when its output does not vary
    across the six training inputs: here, when the output pre-activation is exactly equal
    on all six. For ReLU this happens (almost surely) iff some hidden layer has every unit
    dead on all six inputs -- everything above it then computes from zeros -- and that
    rate is returned too as ``p_layer_dead``.

    Parameters
    ----------
    init : "randn", "he" or "xavier".
    widths : hidden widths, e.g. (2,) * 10 or "2-2-2-2".
    activation : hidden-layer activation.
    rng : the random generator.
    n_draws : networks drawn.
    alpha : 1 - confidence level of the Clopper-Pearson CI.
    chunk : networks per batch (default: keeps each batch around 10**7 values).

    Returns
    -------
    BornDeadResult
    """
    widths = parse_hidden(widths)
    chunk = chunk or max(1_000, 10_000_000 // (6 * (sum(widths) + 1)))
    _check_mc(init, activation, n_draws, rng, chunk, alpha)
    sizes = (2, *widths, 1)
    k = k_layer = 0
    for r in _chunks(int(n_draws), int(chunk)):
        zs = _sample_zs(init, sizes, activation, r, rng)
        out = zs[-1][0]  # (6, r)
        k += int(np.all(out == out[:1], axis=0).sum())
        layer_dead = np.zeros(r, dtype=bool)
        for d in dead_units(zs[:-1]):
            layer_dead |= d.all(axis=0)
        k_layer += int(layer_dead.sum())
    p, lo, hi = _binom(k, int(n_draws), alpha)
    return BornDeadResult(p, lo, hi, k, int(n_draws), init, activation, widths, k_layer / int(n_draws))


def born_dead_table(
    inits: Sequence[str],
    widths_list: Sequence[Sequence[int] | str],
    activation: str = "relu",
    *,
    seed: int,
    n_draws: int = 100_000,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`p_born_dead` over inits x architectures, one row each.

    Each row's generator is ``default_rng([seed, crc32("<init>/<widths>/<activation>")])``,
    so a row does not depend on which other rows are computed.

    Returns
    -------
    DataFrame: init, hidden ("w1-w2-..."), depth, width (max), n_draws, k, p, ci_low,
    ci_high, p_layer_dead.
    """
    rows = []
    for init in inits:
        for w in widths_list:
            widths = parse_hidden(w)
            name = "-".join(map(str, widths))
            rng = np.random.default_rng([int(seed), zlib.crc32(f"{init}/{name}/{activation}".encode())])
            r = p_born_dead(init, widths, activation, rng=rng, n_draws=n_draws, alpha=alpha)
            rows.append(dict(init=init, hidden=name, depth=len(widths), width=max(widths),
                             n_draws=r.n_draws, k=r.k, p=r.p, ci_low=r.ci_low, ci_high=r.ci_high,
                             p_layer_dead=r.p_layer_dead))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- vs measured
def output_dead_vs_theory(
    runs: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_draws: int = 1_000_000,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Measured ``output_dead_init`` rate per (init, activation, hidden) against theory.

    ``output_dead_init`` depends only on the init draws, so runs of cells that differ in
    anything else but share a seed repeat the same draw: each seed is counted once per
    (init, activation, hidden). The measured count is tested against the Monte Carlo
    probability with a two-sided exact binomial test (the MC error, ~1/sqrt(n_draws), is
    ignored there but shown in its own CI). Rows come in sorted order, drawing from
    ``rng`` in that order.

    Parameters
    ----------
    runs : runs DataFrame with seed, init, activation, hidden, output_dead_init.
    rng, n_draws, alpha : as in :func:`p_output_dead_at_init`.

    Returns
    -------
    DataFrame: init, activation, hidden, n_seeds, n_dead, rate, ci_low, ci_high (Clopper-
    Pearson), p_theory, p_theory_low, p_theory_high, p_first_layer_unit (exact probability
    that one first-layer unit is dead, :func:`p_first_layer_unit_dead`), pvalue.
    """
    cols = ["seed", "init", "activation", "hidden", "output_dead_init"]
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks column(s) {missing}")
    if len(runs) == 0:
        raise ValueError("runs is empty; allowed: one or more rows")
    t = pd.DataFrame({c: runs[c].astype(str) if c in ("init", "activation", "hidden") else runs[c] for c in cols})
    t = t.drop_duplicates(["init", "activation", "hidden", "seed"])
    rows = []
    for (init, act, hid), g in t.groupby(["init", "activation", "hidden"], sort=True):
        k, n = int(g["output_dead_init"].astype(bool).sum()), len(g)
        rate, lo, hi = _binom(k, n, alpha)
        mc = p_output_dead_at_init(init, act, hid, rng=rng, n_draws=n_draws, alpha=alpha)
        pval = binomial_pvalue(k, n, mc.p)
        rows.append(dict(init=init, activation=act, hidden=hid, n_seeds=n, n_dead=k, rate=rate,
                         ci_low=lo, ci_high=hi, p_theory=mc.p, p_theory_low=mc.ci_low,
                         p_theory_high=mc.ci_high, p_first_layer_unit=p_first_layer_unit_dead(init),
                         pvalue=pval))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- any task (issue 27)
def death_bounds(widths: Sequence[int] | str, *, relu_output: bool, zero_bias: bool) -> tuple[float, float]:
    """(lower, upper) bounds on P(born dead) of a ReLU net 2-widths-1 under any symmetric init,
    whatever the training inputs: the two limits of Rister and Rubin's bounds (arXiv 2007.06192).

    * upper -- the input set shrunk to one point x: each layer is dead at x with probability
      2**-n (its n pre-activations are symmetric given a living input), and a ReLU output unit
      with 1/2, so P(alive at x) = prod(1 - 2**-n_l) * (1/2 if relu_output). Dead on a set
      implies dead at each of its points, so no data set does worse.
    * lower -- the largest input set a hidden layer can see, the non-negative orthant: a unit
      of layer l >= 2 (the ReLU output unit included) is dead on all of it when its fan-in
      weights and its bias are all <= 0, probability 2**-(fan_in + 1), or 2**-fan_in when the
      init's biases are 0. Independent across layers; no data set does better. The first layer
      sees unbounded inputs and can always be alive somewhere, so it does not enter.

    Returns floats in [0, 1]. Exactly computable; the measured and the Monte Carlo rates fall
    between them, nearer the upper for a tight cluster of points and nearer the lower for
    points spread around the origin.
    """
    widths = parse_hidden(widths)
    bias = 0 if zero_bias else 1
    alive_point = float(np.prod([1.0 - 2.0 ** -n for n in widths])) * (0.5 if relu_output else 1.0)
    layers = [(n, fan_in) for fan_in, n in zip(widths[:-1], widths[1:])]
    if relu_output:
        layers.append((1, widths[-1]))
    alive_orthant = float(np.prod([1.0 - 2.0 ** (-n * (fan_in + bias)) for n, fan_in in layers]))
    return 1.0 - alive_orthant, 1.0 - alive_point


def init_has_zero_bias(init: str) -> bool:
    """Whether ``init`` sets every bias to 0 (he, xavier, keras), from one transformed draw."""
    check_choice("init", init, INITS)
    rng = np.random.default_rng(0)
    params = transform(init, [(rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4)))])
    return bool(np.all(params[0][1] == 0.0))


def p_born_dead_on_task(
    init: str,
    task: str,
    *,
    relu_output: bool,
    hidden: Sequence[int] | str = (4, 4),
    rng: np.random.Generator,
    n_draws: int = 200_000,
    alpha: float = 0.05,
    chunk: int = DEFAULT_CHUNK // 10,
    x: np.ndarray | None = None,
) -> MonteCarloResult:
    """Monte Carlo P(born dead) of a ReLU net on ``task``'s training inputs, from the init alone.

    Born dead as the dataset counts it (``analysis.vocabulary.born_dead``): at init a whole hidden
    layer is dead on all S inputs, or (``relu_output``) the output unit is. No training.
    chunk : networks per vectorised batch (memory ~ 8 * S * sum(hidden) * chunk bytes).
    x : (S, 2) inputs to use instead of the task's (``task`` is then only checked), e.g. one point.
    """
    _check_mc(init, "relu", n_draws, rng, chunk, alpha)
    x = get_task(task).x if x is None else np.asarray(x, dtype=np.float64).reshape(-1, 2)
    sizes = (2, *parse_hidden(hidden), 1)
    k = 0
    for r in _chunks(int(n_draws), int(chunk)):
        zs = _sample_zs(init, sizes, "relu", r, rng, x)
        dead = np.zeros(r, dtype=bool)
        for d in dead_units(zs[:-1]):  # (n_out, r) per hidden layer: unit dead on all S inputs
            dead |= d.all(axis=0)
        if relu_output:
            dead |= dead_units(zs[-1:])[0][0]
        k += int(dead.sum())
    p, lo, hi = _binom(k, int(n_draws), alpha)
    return MonteCarloResult(p, lo, hi, k, int(n_draws), init, "relu", parse_hidden(hidden))


def born_dead_by_task(inits: Sequence[str], tasks: Sequence[str], *, seed: int, n_draws: int = 200_000,
                      hidden: Sequence[int] | str = (4, 4)) -> pd.DataFrame:
    """:func:`p_born_dead_on_task` for every init x task x output (ReLU ``same``, ``identity``),
    beside :func:`death_bounds`. Each row's generator is ``default_rng([seed, crc32("<init>/<task>/<output>")])``.

    Returns a DataFrame: init, task, output, n_draws, k, p, ci_low, ci_high, lower, upper,
    position ((p - lower) / (upper - lower): 0 at the orthant limit, 1 at the one-point limit).
    """
    rows = []
    for init in inits:
        zero_bias = init_has_zero_bias(init)
        for task in tasks:
            for output in ("same", "identity"):
                relu_output = output == "same"
                rng = np.random.default_rng([int(seed), zlib.crc32(f"{init}/{task}/{output}".encode())])
                r = p_born_dead_on_task(init, task, relu_output=relu_output, hidden=hidden, rng=rng, n_draws=n_draws)
                lower, upper = death_bounds(hidden, relu_output=relu_output, zero_bias=zero_bias)
                rows.append(dict(init=init, task=task, output=output, n_draws=r.n_draws, k=r.k, p=r.p,
                                 ci_low=r.ci_low, ci_high=r.ci_high, lower=lower, upper=upper,
                                 position=(r.p - lower) / (upper - lower)))
    return pd.DataFrame(rows)
