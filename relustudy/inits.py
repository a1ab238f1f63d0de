"""Initialisation schemes, all built from common random numbers.

For seed ``s`` the standard normals are drawn with the legacy
``np.random.RandomState(s).randn`` in the posted program's order
(W1, b1, W2, b2, ..., W_L, b_L). Every scheme is a pure transform of those same draws,
so cells that differ only in init (or in anything else) are paired by seed.

Shapes: a layer's weights are ``(n_out, n_in, R)`` and its biases ``(n_out, R)``, run
axis last, as the training core wants them.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.special import ndtr

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


INITS: dict[str, Callable] = {"randn": _randn, "he": _he, "xavier": _xavier}


def transform(name: str, normals: Params) -> Params:
    """Apply init scheme ``name`` to per-layer standard normals (see :func:`draw_normals`)."""
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; allowed: {', '.join(INITS)}")
    out: Params = []
    for w, b in normals:
        fan_out, fan_in = w.shape[:2]
        out.append(INITS[name](w, b, fan_in, fan_out))
    return out


def init_params(name: str, seeds: Sequence[int], layer_sizes: Sequence[int]) -> Params:
    """Initial parameters of R networks: ``transform(name, draw_normals(seeds, layer_sizes))``."""
    return transform(name, draw_normals(seeds, layer_sizes))
