"""Initialisation schemes, all built from common random numbers.

For seed ``s`` the standard normals are drawn with the legacy
``np.random.RandomState(s).randn`` in the posted program's order
(W1, b1, W2, b2, ..., W_L, b_L). Every scheme is a pure transform of those same draws,
so cells that differ only in init (or in anything else) are paired by seed.

Shapes: a layer's weights are ``(n_out, n_in, R)`` and its biases ``(n_out, R)``, run
axis last, as the training core wants them.

``gain`` (``Cell.init_gain``) multiplies whatever a scheme makes, weights and biases alike
(randn: W, b ~ N(0, gain^2); He/Xavier biases stay 0). At gain 1 nothing is multiplied.

``Cell.init_perturb`` changes the drawn init afterwards (:func:`perturb_init`, applied by
``train`` in the run's dtype): ``one_ulp`` moves one of the run's parameters, chosen uniformly
by a splitmix64 stream of its seed, to the next representable number up or down
(:func:`ulp_choice`, :func:`one_ulp`); parameters are indexed in :func:`flatten_runs` order.

Schemes beyond the posted program's:

* ``rai`` -- randomized asymmetric initialization (Lu, Shin, Su, Karniadakis, "Dying ReLU
  and initialization: theory and numerical examples", CiCP 28, 2020; arXiv:1903.06733).
  Per unit j of a layer with fan_in n, its row V_j = (W_j1..W_jn, b_j) of n + 1 entries:
  one position k_j, uniform on {1..n+1}, is drawn from the positive, asymmetric
  P = Beta(2, 1); the other n entries from the symmetric Q = N(0, sigma^2),
  sigma = RAI_SIGMA / sqrt(n) (the paper's second-moment choice, sigma^2 ~ 0.36 / n).
  From the same n + 1 normals z_1..z_n, z_b of the row: u = Phi(z_b) is uniform, so
  k = floor((n+1) u) is uniform on n + 1 positions and the fractional part
  v = (n+1) u - k is uniform and independent of k; the positive entry is Beta(2,1)'s
  ppf(v) = sqrt(v); the weight normals z_1..z_n, times sigma, fill the other n positions
  in order. This is exactly the paper's distribution (k, the positive entry and the n
  normals independent), built from the row's draws alone, so RAI stays paired by seed.
  Deviation: none in distribution; which draw lands where differs from any other
  implementation (there is no reference stream to match).
* ``he_b0.01``, ``he_b0.1`` -- He weights with a small positive bias b = 0.01 or 0.1, the
  common ReLU advice (e.g. cs231n; Goodfellow et al., Deep Learning, sec. 8.4).

What a practitioner gets by default (issue 27), from the same draws as every scheme: a uniform
on (-1, 1) is ``u = 2 Phi(z) - 1`` of the seed's standard normal z at that position (``ndtr``,
as ``xavier`` does), so W[j, i] comes from the weight normal at (j, i) and b[j] from the bias
normal at j, in the posted draw order W1, b1, W2, b2, ...:

* ``torch`` -- ``torch.nn.Linear``'s ``reset_parameters``: ``kaiming_uniform_(W, a=sqrt(5))``,
  whose bound gain * sqrt(3 / fan_in) with gain sqrt(2 / (1 + 5)) is 1 / sqrt(fan_in), and
  b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)): W = u_W / sqrt(fan_in), b = u_b / sqrt(fan_in).
* ``keras`` -- ``keras.layers.Dense``'s defaults: ``glorot_uniform`` kernel (limit
  sqrt(6 / (fan_in + fan_out)), the same distribution as ``xavier``) and ``zeros`` bias. It is
  the ``xavier`` transform itself, so a keras run is its xavier twin bit for bit: the entry
  exists so a study can name what a Keras user gets, not as a new distribution.

Not here: Rister & Rubin's sign-flipping init (arXiv 2007.06192) flips rows by their activity
on the training data, so it needs the data and is not a transform of the draws alone.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.special import ndtr

from relustudy.core.checks import check_choice, check_init_gain, check_seeds
from relustudy.core.legacy_normals import legacy_randn

Params = list[tuple[np.ndarray, np.ndarray]]


def draw_normals(seeds: Sequence[int], layer_sizes: Sequence[int]) -> Params:
    """Standard normal draws per layer, in the posted program's order.

    Parameters
    ----------
    seeds : R seeds.
    layer_sizes : (n_0, n_1, ..., n_L), e.g. (2, 4, 4, 1).

    Returns
    -------
    list of (W, b) per layer with W: (n_out, n_in, R), b: (n_out, R).
    """
    shapes = [(n_out, n_in) for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])]
    sizes = [n_out * n_in + n_out for n_out, n_in in shapes]
    # legacy_randn: each column is np.random.RandomState(seed).randn(total), bit for bit (one
    # randn call of `total` values equals successive calls of the layer shapes: the legacy
    # generator carries its cached second Gaussian across calls), 4x faster than re-seeding
    # a RandomState per seed (see relustudy.core.legacy_normals).
    draws = legacy_randn(np.asarray(seeds, dtype=np.int64), sum(sizes))
    params: Params = []
    start = 0
    for n_out, n_in in shapes:
        w = draws[start : start + n_out * n_in].reshape(n_out, n_in, -1)
        start += n_out * n_in
        b = draws[start : start + n_out]
        start += n_out
        params.append((np.ascontiguousarray(w), np.ascontiguousarray(b)))
    return params


def _randn(w, b, fan_in, fan_out):
    # The posted program: W ~ N(0, 1), b ~ N(0, 1).
    return w.copy(), b.copy()


def _he(w, b, fan_in, fan_out):
    # He/Kaiming normal (torch kaiming_normal_, relu gain): W ~ N(0, 2/fan_in), b = 0.
    return w * np.sqrt(2.0 / fan_in), np.zeros_like(b)


def _xavier(w, b, fan_in, fan_out):
    # Glorot uniform (torch xavier_uniform_): W ~ U(-a, a), a = sqrt(6/(fan_in+fan_out)),
    # obtained from the same normal z through the CDF: u = 2*Phi(z) - 1 ~ U(-1, 1).
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return a * (2.0 * ndtr(w) - 1.0), np.zeros_like(b)


RAI_SIGMA = 0.6  # RAI's symmetric entries: N(0, (RAI_SIGMA / sqrt(fan_in))^2), Lu et al.'s choice


def rai_row(z: np.ndarray, fan_in: int) -> tuple[np.ndarray, np.ndarray]:
    """RAI rows from standard normals: the position and value of each row's positive entry.

    Parameters
    ----------
    z : (n_out, R) the bias normals z_b of the rows.
    fan_in : n; a row has n + 1 positions (n weights, then the bias).

    Returns
    -------
    k : (n_out, R) int, the positive entry's position in 0..n (n = the bias);
    p : (n_out, R) its value, Beta(2, 1)-distributed on (0, 1).
    """
    scaled = (fan_in + 1) * ndtr(z)  # uniform on (0, n + 1)
    k = np.minimum(np.floor(scaled), fan_in).astype(np.int64)  # ndtr(z) rounds to 1 for z > 8.3
    return k, np.sqrt(scaled - k)  # Beta(2, 1): cdf x^2, so ppf(v) = sqrt(v)


def _rai(w, b, fan_in, fan_out):
    # Randomized asymmetric initialization (see the module docstring): per row, the weight
    # normals fill the n positions other than k, in order; position k gets the Beta(2,1) entry.
    k, p = rai_row(b, fan_in)
    sym = w * (RAI_SIGMA / np.sqrt(fan_in))  # (n_out, n, R)
    k = k[:, None, :]  # (n_out, 1, R)
    pos = np.arange(fan_in + 1)[None, :, None]  # row positions 0..n (n = the bias)
    # Position i holds sym[i] before k, p at k, sym[i - 1] after k.
    src = np.clip(pos - (pos > k), 0, fan_in - 1)
    row = np.where(pos == k, p[:, None, :], np.take_along_axis(sym, src, axis=1))  # (n_out, n + 1, R)
    return np.ascontiguousarray(row[:, :fan_in]), np.ascontiguousarray(row[:, fan_in])


def _torch(w, b, fan_in, fan_out):
    # torch.nn.Linear's default: W, b ~ U(-a, a), a = 1/sqrt(fan_in), each from its own normal
    # through the CDF as in _xavier (the bias from the bias draw, not left at 0).
    a = 1.0 / np.sqrt(fan_in)
    return a * (2.0 * ndtr(w) - 1.0), a * (2.0 * ndtr(b) - 1.0)


def _he_bias(value: float) -> Callable:
    def he_b(w, b, fan_in, fan_out):
        # He weights and a small positive bias: every unit starts active on inputs near 0.
        return w * np.sqrt(2.0 / fan_in), np.full_like(b, value)

    return he_b


INITS: dict[str, Callable] = {
    "randn": _randn,
    "he": _he,
    "xavier": _xavier,
    "rai": _rai,
    "he_b0.01": _he_bias(0.01),
    "he_b0.1": _he_bias(0.1),
    "torch": _torch,
    "keras": _xavier,  # Keras Dense: glorot_uniform W, zeros b (= xavier; see the module docstring)
}


def transform(name: str, normals: Params, gain: float = 1.0) -> Params:
    """Apply init scheme ``name`` to per-layer standard normals (see :func:`draw_normals`),
    then multiply weights and biases by ``gain`` (not at all when it is 1)."""
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; allowed: {', '.join(INITS)}")
    gain = check_init_gain(gain)
    out: Params = []
    for w, b in normals:
        fan_out, fan_in = w.shape[:2]
        w, b = INITS[name](w, b, fan_in, fan_out)
        out.append((w, b) if gain == 1.0 else (w * gain, b * gain))
    return out


def init_params(name: str, seeds: Sequence[int], layer_sizes: Sequence[int], gain: float = 1.0) -> Params:
    """Initial parameters of R networks: ``transform(name, draw_normals(seeds, layer_sizes), gain)``."""
    return transform(name, draw_normals(seeds, layer_sizes), gain)


def flatten_runs(params: Params) -> np.ndarray:
    """(P, R) matrix of every parameter per run, in the posted order W1, b1, W2, b2, ..."""
    parts = []
    for w, b in params:
        parts += [w.reshape(-1, w.shape[-1]), b]
    return np.concatenate(parts, axis=0)


def unflatten_runs(theta: np.ndarray, like: Params) -> Params:
    """The inverse of :func:`flatten_runs`: (P, R) back into per-layer (W, b) shaped like ``like`` (copies)."""
    out, i = [], 0
    for w, b in like:
        nw, nb = w.shape[0] * w.shape[1], b.shape[0]
        out.append((theta[i : i + nw].reshape(w.shape[0], w.shape[1], -1).copy(), theta[i + nw : i + nw + nb].copy()))
        i += nw + nb
    if i != theta.shape[0]:
        raise ValueError(f"theta holds {theta.shape[0]} parameters; the layers hold {i}")
    return out


# One ulp (``Cell.init_perturb = "one_ulp"``; Summers & Dinneen's single-bit experiment, issue 19.2): per seed, one of the P
# initial parameters, chosen uniformly, moves to the next representable number up or down.
# The choice comes from a splitmix64 stream of the seed alone (uint64 wrap-around, the
# constants of SPEC_NEW_FACTORS' order stream), so it is the same on every machine and NumPy
# version and independent of the batch; ULP_STREAM_KEY keeps it apart from order streams.
ULP_STREAM_KEY = 0x1F5E_ED00_0000_0019  # xor-ed into the seed: the stream's starting state
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(state: np.ndarray, n: int) -> np.ndarray:
    """(n, R) uint64: the first n outputs of splitmix64 from each starting state (R,) uint64."""
    out = np.empty((n, state.size), dtype=np.uint64)
    s = state.copy()
    with np.errstate(over="ignore"):
        for t in range(n):
            s += _GAMMA
            z = s.copy()
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            out[t] = z ^ (z >> np.uint64(31))
    return out


def ulp_choice(seeds: Sequence[int], n_params: int) -> tuple[np.ndarray, np.ndarray]:
    """Which parameter each seed's one-ulp perturbation moves, and which way.

    Parameters
    ----------
    seeds : R run seeds in [0, 2**32).
    n_params : P, parameters per run (37 for 2-4-4-1), indexed in :func:`flatten_runs` order.

    Returns
    -------
    index (R,) int64 in [0, P): the first stream output mod P (bias < P / 2**64);
    up (R,) bool: the second output's top bit (True = toward +inf).

    Examples
    --------
    >>> idx, up = ulp_choice([0, 1, 2], 37)
    >>> idx.shape, bool(((0 <= idx) & (idx < 37)).all())
    ((3,), True)
    """
    if isinstance(n_params, bool) or not isinstance(n_params, (int, np.integer)) or n_params < 1:
        raise ValueError(f"invalid n_params {n_params!r}; allowed: an integer >= 1")
    state = np.asarray(check_seeds(seeds), dtype=np.uint64) ^ np.uint64(ULP_STREAM_KEY)
    z = _splitmix64(state, 2)
    return (z[0] % np.uint64(n_params)).astype(np.int64), (z[1] >> np.uint64(63)).astype(bool)


def one_ulp(params: Params, seeds: Sequence[int]) -> Params:
    """``params`` with one parameter per run moved by one ulp (in the arrays' own dtype).

    Parameters
    ----------
    params : per layer (W: (n_out, n_in, R), b: (n_out, R)), run r drawn for ``seeds[r]``.
    seeds : R seeds; :func:`ulp_choice` picks each run's parameter and direction.

    Returns
    -------
    A new Params (the input is not modified): ``np.nextafter`` toward +inf or -inf of the
    chosen entry, every other entry the same bits.
    """
    flat = flatten_runs(params)
    seeds = check_seeds(seeds)
    if len(seeds) != flat.shape[1]:
        raise ValueError(f"params hold {flat.shape[1]} runs; got {len(seeds)} seeds")
    idx, up = ulp_choice(seeds, flat.shape[0])
    runs = np.arange(flat.shape[1])
    toward = np.where(up, np.inf, -np.inf).astype(flat.dtype)
    flat[idx, runs] = np.nextafter(flat[idx, runs], toward)
    return unflatten_runs(flat, params)


def perturb_init(name: str, params: Params, seeds: Sequence[int]) -> Params:
    """``Cell.init_perturb`` ``name`` applied to R runs' initial parameters, in their own dtype.

    "none" returns ``params`` unchanged; "one_ulp" is :func:`one_ulp` (a float32 run's init is
    rounded first, then moved by one float32 ulp). ``seeds`` (R,) are the runs' seeds.
    """
    check_choice("init_perturb", name, tuple(PERTURBS))
    return PERTURBS[name](params, seeds)


# Cell.init_perturb's values: one_ulp is Summers & Dinneen's single-bit change of the init.
PERTURBS: dict[str, Callable[[Params, Sequence[int]], Params]] = {
    "none": lambda params, seeds: params,
    "one_ulp": one_ulp,
}
