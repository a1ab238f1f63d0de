"""Initialisation schemes, all built from common random numbers.

For seed ``s`` the standard normals are drawn with the legacy
``np.random.RandomState(s).randn`` in the posted program's order
(W1, b1, W2, b2, ..., W_L, b_L). Every scheme is a pure transform of those same draws,
so cells that differ only in init (or in anything else) are paired by seed.

Shapes: a layer's weights are ``(n_out, n_in, R)`` and its biases ``(n_out, R)``, run
axis last, as the training core wants them.

``gain`` (``Cell.init_gain``) multiplies whatever a scheme makes, weights and biases alike
(randn: W, b ~ N(0, gain^2); He/Xavier biases stay 0). At gain 1 nothing is multiplied.

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
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.special import ndtr

from .config import check_init_gain

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
    total = sum(sizes)
    draws = np.empty((total, len(seeds)))
    rs = np.random.RandomState()
    for r, seed in enumerate(seeds):
        # Re-seeding one generator is 10x faster than constructing one per seed and gives
        # the same stream (seed() also clears the cached Gaussian). One randn call of
        # `total` values equals successive randn calls of the layer shapes: the legacy
        # generator carries its cached second Gaussian across calls.
        rs.seed(seed)
        draws[:, r] = rs.randn(total)
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
