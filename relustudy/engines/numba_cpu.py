"""The fused CPU engine: the reference loop compiled with numba, bit for bit.

Runs are cut into blocks of ``lanes`` runs (:func:`lanes_for`); a block's parameters and
unit buffers are ``(rows, lanes)`` arrays, and every operation is a loop over the block's runs innermost,
so LLVM turns it into SIMD without changing any single run's arithmetic: each lane does
exactly the scalar operations of :mod:`.reference`, in the same order (sums over the
layer axes sequential in input order, ``(w0 a0 + w1 a1 + ...) + b``), with no FMA
contraction (numba compiles without fast-math) and the shared ``exp``/``tanh`` of
:mod:`.ieee_math`. Blocks are independent, so they run on Python threads (the kernel
releases the GIL; :func:`threads` sets how many); a run's result does not depend on its
block, its lane or the thread count.

Compiled once per machine: ``cache=True`` keeps the machine code next to this file, so
only the first run after installing pays the compile time. Activations, update rule and
optimizer are runtime codes (one compiled kernel serves every cell); the switch on them
sits outside the run loop.
"""
from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from ..activations import ELU_ALPHA, LEAKY_SLOPE
from ..config import MOMENTUM
from ..outcomes import EPOCH_ERROR_TARGET
from . import ieee_math, usable_cores
from .layout import ACT_CODES, Layout, activation_codes, curve_epochs, flatten, unflatten_into

# Runs per block (the SIMD loop's trip count): as many as keep a block's state within
# ~256 KiB (L2). Measured on the 2-4-4-1 cell, 1 thread: 32 lanes 753 runs/s, 64 966,
# 128 1066, 256 1329 (CPU time): each lane loop has a fixed cost (address set-up, alias
# checks), so longer loops win until the state spills out of the cache.
MAX_LANES, MIN_LANES = 256, 8
CACHE_BYTES = 256 * 1024
RELU, LEAKY, TANH, SIGMOID, ELU, IDENTITY = (ACT_CODES[k] for k in
                                              ("relu", "leaky_relu", "tanh", "sigmoid", "elu", "identity"))
LEAKY_STEP = 1.0 - LEAKY_SLOPE  # the reference's `tmp *= 1.0 - LEAKY_SLOPE`, the same double

# error_model="numpy": x / 0 is IEEE inf/NaN, as in the reference, not a ZeroDivisionError
# check, whose branch also kept every loop with a division from vectorizing.
_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")
_jit = njit(**_OPTIONS)
# The scalar math is inlined at numba's level, so the lane loops that call it stay simple
# loops for LLVM to vectorize.
_inline = njit(inline="always", **_OPTIONS)


# ---- the primitives of the shared math: plain IEEE operations (numba never contracts them)
@_inline
def _add(a, b):
    return a + b


@_inline
def _sub(a, b):
    return a - b


@_inline
def _mul(a, b):
    return a * b


@_inline
def _div(a, b):
    return a / b


@_inline
def _where(c, a, b):
    return a if c else b


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as an int64 (an LLVM bitcast: free, and it vectorizes)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 whose IEEE bits are the int64 ``i``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


SHIFT_BITS = int(np.float64(ieee_math.ROUND_SHIFT).view(np.int64))


@_inline
def _scale2(p, k):
    # The same products as the table lookups of the NumPy binding, (p * 2**k1) * 2**k2, with
    # the exact powers of two built from their bits: a table lookup (a gather) and a float
    # to int64 conversion would each keep the lane loops scalar on AVX2. k + 1.5 * 2**52 is
    # exact and holds k in its low bits.
    ki = _bits(k + ieee_math.ROUND_SHIFT) - SHIFT_BITS
    k1 = ki >> 1
    return p * _from_bits((k1 + 1023) << 52) * _from_bits((ki - k1 + 1023) << 52)


_exp, _expm1, _tanh = ieee_math.build(_add, _sub, _mul, _div, _where, _scale2, jit=_inline)


# ---- activations on one row of a block: the reference's formulas, lane by lane. Rows are
# addressed as (array, row index), never as views: a view costs a reference count per use.
@_jit
def _forward(code, Z, A, u, nl):
    """A[u, :] = f(Z[u, :]); the code switch sits outside the lane loop."""
    if code == RELU:
        for r in range(nl):
            v = Z[u, r]
            A[u, r] = 0.0 if v <= 0.0 else v  # np.maximum(z, 0): NaN propagates, -0.0 -> 0.0
    elif code == LEAKY:
        for r in range(nl):
            v = Z[u, r]
            s = v * LEAKY_SLOPE
            A[u, r] = s if v <= s else v  # np.maximum(z, 0.01 z)
    elif code == TANH:
        for r in range(nl):
            A[u, r] = _tanh(Z[u, r])
    elif code == SIGMOID:
        for r in range(nl):
            A[u, r] = 1.0 / (_exp(-Z[u, r]) + 1.0)
    elif code == ELU:
        for r in range(nl):
            v = Z[u, r]
            m = 0.0 if v >= 0.0 else v  # np.minimum(z, 0)
            A[u, r] = v if v > 0.0 else _expm1(m) * ELU_ALPHA
    else:
        for r in range(nl):
            A[u, r] = Z[u, r]


@_jit
def _backward(code, G, Z, A, u, nl):
    """G[u, :] *= f'(Z[u, :]), the factor computed as the reference computes it."""
    if code == RELU:
        for r in range(nl):
            G[u, r] = G[u, r] * (1.0 if Z[u, r] > 0.0 else 0.0)
    elif code == LEAKY:
        for r in range(nl):
            G[u, r] = G[u, r] * ((1.0 if Z[u, r] > 0.0 else 0.0) * LEAKY_STEP + LEAKY_SLOPE)
    elif code == TANH:
        for r in range(nl):
            G[u, r] = G[u, r] * (1.0 - A[u, r] * A[u, r])
    elif code == SIGMOID:
        for r in range(nl):
            G[u, r] = G[u, r] * (A[u, r] * (1.0 - A[u, r]))
    elif code == ELU:
        for r in range(nl):
            G[u, r] = G[u, r] * (1.0 if Z[u, r] > 0.0 else A[u, r] + ELU_ALPHA)


@_jit
def _pass_down(l, W, G, sizes, w_off, a_off, nl):
    """G[inputs of layer l] = W_l^T G[layer l], summed over the output units in order."""
    n_in, n_out = sizes[l], sizes[l + 1]
    go = a_off[l + 1]
    for i in range(n_in):
        gi = a_off[l] + i
        row = w_off[l] + i
        for r in range(nl):
            G[gi, r] = W[row, r] * G[go, r]
        for j in range(1, n_out):
            wj = row + j * n_in
            for r in range(nl):
                G[gi, r] = G[gi, r] + W[wj, r] * G[go + j, r]


@_jit
def _train_block(w, b, lr, r0, n, nl, sizes, w_off, b_off, a_off, codes, x, y, epochs, points,
                 posted, momentum, curve, first_below, last_err):
    """Train runs r0 .. r0+n-1 (n <= nl) of the flat arrays in place, in nl lanes; see :func:`sgd`.

    ``nl`` (:func:`lanes_for`) arrives at run time on purpose: with a constant trip count LLVM
    unrolls the lane loops fully and leaves them scalar; with a runtime one it vectorizes them.
    """
    L = sizes.shape[0] - 1
    PW, PB = w.shape[0], b.shape[0]
    U = a_off[L + 1]
    # Unused lanes (n < nl) train zeros at lr 0: finite, and never copied back.
    W = np.zeros((PW, nl))
    Bv = np.zeros((PB, nl))
    LR = np.zeros(nl)
    for r in range(n):
        LR[r] = lr[r0 + r]
        for p in range(PW):
            W[p, r] = w[p, r0 + r]
        for p in range(PB):
            Bv[p, r] = b[p, r0 + r]
    VW = np.zeros((PW, nl))
    VB = np.zeros((PB, nl))
    Z = np.zeros((U, nl))
    A = np.zeros((U, nl))
    G = np.zeros((U, nl))
    ERR = np.zeros(nl)
    FIRST = np.full(nl, -1, dtype=np.int64)
    n_samples = y.shape[0]
    out = a_off[L]
    next_point = 0
    for epoch in range(1, epochs + 1):
        for r in range(nl):
            ERR[r] = 0.0
        for s in range(n_samples):
            x0, x1, ys = x[s, 0], x[s, 1], y[s]
            for r in range(nl):
                A[0, r] = x0
                A[1, r] = x1
            # ---- forward: z = (w0 a0 + w1 a1 + ...) + b, then the activation
            for l in range(L):
                n_in, n_out, ai = sizes[l], sizes[l + 1], a_off[l]
                for j in range(n_out):
                    u = a_off[l + 1] + j
                    row = w_off[l] + j * n_in
                    for r in range(nl):
                        Z[u, r] = W[row, r] * A[ai, r]
                    for i in range(1, n_in):
                        for r in range(nl):
                            Z[u, r] = Z[u, r] + W[row + i, r] * A[ai + i, r]
                    bj = b_off[l] + j
                    for r in range(nl):
                        Z[u, r] = Z[u, r] + Bv[bj, r]
                    _forward(codes[l], Z, A, u, nl)
            # ---- loss: (out - y)^2 accumulated in sample order; dL/dout = 2 (out - y)
            for r in range(nl):
                d = A[out, r] - ys
                ERR[r] = ERR[r] + d * d
                G[out, r] = d * 2.0
            # ---- backward, top layer first
            for l in range(L - 1, -1, -1):
                n_in, n_out, ai = sizes[l], sizes[l + 1], a_off[l]
                for j in range(n_out):
                    _backward(codes[l], G, Z, A, a_off[l + 1] + j, nl)
                if not posted and l > 0:
                    _pass_down(l, W, G, sizes, w_off, a_off, nl)  # corrected: through the old W
                for j in range(n_out):
                    gj = a_off[l + 1] + j
                    for i in range(n_in):
                        p = w_off[l] + j * n_in + i
                        if momentum:
                            for r in range(nl):
                                VW[p, r] = VW[p, r] * MOMENTUM + (A[ai + i, r] * G[gj, r]) * LR[r]
                                W[p, r] = W[p, r] - VW[p, r]
                        else:
                            for r in range(nl):
                                W[p, r] = W[p, r] - (A[ai + i, r] * G[gj, r]) * LR[r]
                    # bias step: the posted rule decays b; the corrected rule follows dL/db
                    q = b_off[l] + j
                    if momentum:
                        for r in range(nl):
                            VB[q, r] = VB[q, r] * MOMENTUM + (Bv[q, r] if posted else G[gj, r]) * LR[r]
                            Bv[q, r] = Bv[q, r] - VB[q, r]
                    else:
                        for r in range(nl):
                            Bv[q, r] = Bv[q, r] - (Bv[q, r] if posted else G[gj, r]) * LR[r]
                if posted and l > 0:
                    _pass_down(l, W, G, sizes, w_off, a_off, nl)  # as posted: through the *updated* W
        for r in range(nl):
            ERR[r] = ERR[r] / n_samples
        if next_point < points.shape[0] and epoch == points[next_point]:
            for r in range(n):
                curve[next_point, r0 + r] = ERR[r]
            next_point += 1
        for r in range(nl):  # NaN compares False: a diverged run never counts as below
            if ERR[r] < EPOCH_ERROR_TARGET and FIRST[r] < 0:
                FIRST[r] = epoch
    for r in range(n):
        last_err[r0 + r] = ERR[r]
        first_below[r0 + r] = FIRST[r]
        for p in range(PW):
            w[p, r0 + r] = W[p, r]
        for p in range(PB):
            b[p, r0 + r] = Bv[p, r]


@_jit
def _train_blocks(w, b, lr, nl, k0, k1, sizes, w_off, b_off, a_off, codes, x, y, epochs, points, posted, momentum,
                  curve, first_below, last_err):
    """Train blocks k0 .. k1-1 of nl runs each (the last may be partial), one after the other."""
    R = w.shape[1]
    for k in range(k0, k1):
        r0 = k * nl
        _train_block(w, b, lr, r0, min(nl, R - r0), nl, sizes, w_off, b_off, a_off, codes, x, y, epochs,
                     points, posted, momentum, curve, first_below, last_err)


_threads: int | None = None  # None: every usable core


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Train on ``n`` threads inside the block (None: every usable core); results do not change."""
    global _threads
    before, _threads = _threads, n
    try:
        yield
    finally:
        _threads = before


def lanes_for(lay: Layout) -> int:
    """Runs per block for a net: a power of two in [MIN_LANES, MAX_LANES] whose state fits the cache."""
    rows = 2 * (int(lay.w_off[-1]) + int(lay.b_off[-1])) + 3 * lay.n_units  # W, b, velocities, Z, A, G
    lanes = MAX_LANES
    while lanes > MIN_LANES and rows * lanes * 8 > CACHE_BYTES:
        lanes //= 2
    return lanes


def sgd(params, acts, lr, cell, x_train, y_train):
    """The numba engine behind :func:`relustudy.engines.run_engine` (same arguments and returns)."""
    R = lr.shape[0]
    lay = Layout.of([params[0][0].shape[1]] + [w.shape[0] for w, _ in params])
    w, b = flatten(params)
    points = curve_epochs(cell.epochs)
    curve = np.empty((len(points), R))
    first_below = np.empty(R, dtype=np.int64)
    last_err = np.empty(R)
    nl = lanes_for(lay)
    n_blocks = (R + nl - 1) // nl
    args = (lay.sizes, lay.w_off, lay.b_off, lay.a_off, activation_codes(acts),
            np.ascontiguousarray(x_train, dtype=np.float64), np.ascontiguousarray(y_train, dtype=np.float64),
            int(cell.epochs), points, cell.update == "as_posted", cell.optimizer == "momentum",
            curve, first_below, last_err)
    lr = np.ascontiguousarray(lr, dtype=np.float64)
    n_threads = min(n_blocks, _threads or usable_cores())
    # Blocks write disjoint columns, and the kernel releases the GIL (nogil), so plain
    # Python threads run them in parallel without numba's threading layer (whose
    # workqueue refuses concurrent callers) and without a second, parallel compile.
    edges = np.linspace(0, n_blocks, n_threads + 1).round().astype(int)
    if n_threads == 1:
        _train_blocks(w, b, lr, nl, 0, n_blocks, *args)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            jobs = [pool.submit(_train_blocks, w, b, lr, nl, int(k0), int(k1), *args)
                    for k0, k1 in zip(edges[:-1], edges[1:])]
            for job in jobs:
                job.result()
    unflatten_into(params, w, b)
    return points, curve, first_below, last_err
