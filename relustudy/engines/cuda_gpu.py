"""The GPU engine: one CUDA thread per run, the reference's arithmetic operation for operation.

Each thread holds its run's weights, velocities and unit values in local arrays and runs
the whole training loop. Two things keep its bits equal to the CPU engines' (GPU.md):

* numba-cuda contracts ``a * b + c`` into a fused multiply-add even without fast-math, so
  every ``+ - * /`` goes through the device functions :func:`_add`, :func:`_sub`,
  :func:`_mul`, :func:`_div`, which call libdevice's correctly rounded ``d*_rn``
  intrinsics (never fused, IEEE division);
* ``exp``/``expm1``/``tanh`` are :mod:`.ieee_math`'s, built over those same primitives.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``, how CI tests this file without
a GPU) the intrinsics return NaN, so the primitives are plain Python operators there,
which the simulator evaluates in IEEE double without fusing. The simulator therefore
checks the kernel's logic, not the hardware's contraction: that needs a real GPU.

The kernel is specialised (compiled once per process) per architecture, activation
codes, update rule and optimizer; ``epochs`` and the data are runtime arguments.
"""
from __future__ import annotations

import functools

import numpy as np

from ..activations import ELU_ALPHA, LEAKY_SLOPE
from ..config import MOMENTUM
from ..outcomes import EPOCH_ERROR_TARGET
from . import ieee_math
from .layout import ACT_CODES, Layout, activation_codes, curve_epochs, flatten, unflatten_into

LIBDEVICE_OPS = ("dadd_rn", "dmul_rn", "ddiv_rn")  # the correctly rounded intrinsics the kernel uses
THREADS_PER_BLOCK = 128  # measured best on an H100 for this kernel (GPU.md)
RELU, LEAKY, TANH, SIGMOID, ELU = (ACT_CODES[k] for k in ("relu", "leaky_relu", "tanh", "sigmoid", "elu"))
LEAKY_STEP = 1.0 - LEAKY_SLOPE  # the reference's `tmp *= 1.0 - LEAKY_SLOPE`
# numba.cuda, imported on first use; a module global because the simulator swaps
# `cuda` in a kernel's globals for its fake (closure variables it would miss).
cuda = None


def _import_cuda():
    """``numba.cuda``, working around numba-cuda 0.30's use of ``np.row_stack`` (gone in NumPy 2.5)."""
    global cuda
    if cuda is None:
        if not hasattr(np, "row_stack"):
            np.row_stack = np.vstack  # same function; numba-cuda only registers an overload for it
        from numba import cuda as module

        cuda = module
    return cuda


def simulated() -> bool:
    """True under numba-cuda's CPU simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def unavailable_reason() -> str | None:
    """Why the CUDA engine cannot run here, in a few words; None if it can (or is simulated)."""
    try:
        _import_cuda()
    except Exception as e:  # ImportError, or a numba-cuda/driver mismatch at import
        return f"numba-cuda is not importable ({type(e).__name__}); install it with pip install -e '.[gpu]'"
    if simulated():
        return None
    try:
        if cuda.is_available():
            return None
    except Exception:  # a broken driver raises instead of answering False
        pass
    return "no NVIDIA GPU or CUDA driver was found"


@functools.lru_cache(maxsize=1)
def _primitives():
    """(add, sub, mul, div, exp, expm1, tanh) as CUDA device functions."""
    _import_cuda()
    dev = cuda.jit(device=True)
    if simulated():  # NumPy scalars: IEEE results (inf, NaN) where Python floats would raise
        add = dev(lambda a, b: np.float64(a) + b)
        sub = dev(lambda a, b: np.float64(a) - b)
        mul = dev(lambda a, b: np.float64(a) * b)
        div = dev(lambda a, b: np.float64(a) / b)
    else:
        from numba.cuda import libdevice

        add = dev(lambda a, b: libdevice.dadd_rn(a, b))
        sub = dev(lambda a, b: libdevice.dadd_rn(a, -b))  # a - b is a + (-b) in IEEE; libdevice has no dsub_rn
        mul = dev(lambda a, b: libdevice.dmul_rn(a, b))
        div = dev(lambda a, b: libdevice.ddiv_rn(a, b))
    where = dev(lambda c, a, b: a if c else b)
    pow2, off = ieee_math.POW2, ieee_math.POW2_OFFSET

    @dev
    def scale2(p, k):
        ki = int(k)
        k1 = ki >> 1
        return mul(mul(p, pow2[k1 + off]), pow2[ki - k1 + off])

    exp, expm1, tanh = ieee_math.build(add, sub, mul, div, where, scale2, jit=dev)
    return add, sub, mul, div, exp, expm1, tanh


@functools.lru_cache(maxsize=64)
def _kernel(sizes: tuple, codes: tuple, posted: bool, momentum: bool):
    """The training kernel for one architecture, activation codes per layer, update and optimizer."""
    _import_cuda()
    from numba import float64

    add, sub, mul, div, exp, expm1, tanh = _primitives()
    lay = Layout.of(sizes)
    L = len(sizes) - 1
    W_OFF, B_OFF, A_OFF, SIZES, CODES = lay.w_off, lay.b_off, lay.a_off, lay.sizes, np.array(codes, dtype=np.int64)
    PW, PB, U = int(lay.w_off[-1]), int(lay.b_off[-1]), lay.n_units
    NV = PW if momentum else 1  # velocity arrays only when they are used

    @cuda.jit(device=True)
    def forward(code, z):
        if code == RELU:
            return 0.0 if z <= 0.0 else z  # np.maximum(z, 0)
        if code == LEAKY:
            s = mul(z, LEAKY_SLOPE)
            return s if z <= s else z  # np.maximum(z, 0.01 z)
        if code == TANH:
            return tanh(z)
        if code == SIGMOID:
            return div(1.0, add(exp(-z), 1.0))
        if code == ELU:
            m = 0.0 if z >= 0.0 else z  # np.minimum(z, 0)
            return z if z > 0.0 else mul(expm1(m), ELU_ALPHA)
        return z

    @cuda.jit(device=True)
    def backward(code, g, z, a):
        if code == RELU:
            return mul(g, 1.0 if z > 0.0 else 0.0)
        if code == LEAKY:
            return mul(g, add(mul(1.0 if z > 0.0 else 0.0, LEAKY_STEP), LEAKY_SLOPE))
        if code == TANH:
            return mul(g, sub(1.0, mul(a, a)))
        if code == SIGMOID:
            return mul(g, mul(a, sub(1.0, a)))
        if code == ELU:
            return mul(g, 1.0 if z > 0.0 else add(a, ELU_ALPHA))
        return g

    @cuda.jit(device=True)
    def pass_down(l, W, G):
        n_in, n_out, go = SIZES[l], SIZES[l + 1], A_OFF[l + 1]
        for i in range(n_in):
            row = W_OFF[l] + i
            gd = mul(W[row], G[go])
            for j in range(1, n_out):
                gd = add(gd, mul(W[row + j * n_in], G[go + j]))
            G[A_OFF[l] + i] = gd

    @cuda.jit
    def kernel(w, b, lr_all, x, y, epochs, points, curve, first_below, last_err):
        r = cuda.grid(1)
        if r >= w.shape[1]:
            return
        W = cuda.local.array(PW, float64)
        B = cuda.local.array(PB, float64)
        VW = cuda.local.array(NV, float64)
        VB = cuda.local.array(PB, float64)
        Z = cuda.local.array(U, float64)
        A = cuda.local.array(U, float64)
        G = cuda.local.array(U, float64)
        for p in range(PW):
            W[p] = w[p, r]
            if momentum:
                VW[p] = 0.0
        for p in range(PB):
            B[p] = b[p, r]
            VB[p] = 0.0
        lr = lr_all[r]
        n_samples = y.shape[0]
        out = A_OFF[L]
        first = -1
        err = 0.0
        next_point = 0
        for epoch in range(1, epochs + 1):
            err = 0.0
            for s in range(n_samples):
                A[0] = x[s, 0]
                A[1] = x[s, 1]
                for l in range(L):  # forward: z = (w0 a0 + w1 a1 + ...) + b
                    n_in, ai = SIZES[l], A_OFF[l]
                    for j in range(SIZES[l + 1]):
                        row = W_OFF[l] + j * n_in
                        z = mul(W[row], A[ai])
                        for i in range(1, n_in):
                            z = add(z, mul(W[row + i], A[ai + i]))
                        z = add(z, B[B_OFF[l] + j])
                        Z[A_OFF[l + 1] + j] = z
                        A[A_OFF[l + 1] + j] = forward(CODES[l], z)
                d = sub(A[out], y[s])
                err = add(err, mul(d, d))
                G[out] = mul(d, 2.0)
                for l in range(L - 1, -1, -1):  # backward, top layer first
                    n_in, n_out, ai = SIZES[l], SIZES[l + 1], A_OFF[l]
                    for j in range(n_out):
                        u = A_OFF[l + 1] + j
                        G[u] = backward(CODES[l], G[u], Z[u], A[u])
                    if not posted and l > 0:
                        pass_down(l, W, G)  # corrected: through the old W
                    for j in range(n_out):
                        g = G[A_OFF[l + 1] + j]
                        for i in range(n_in):
                            p = W_OFF[l] + j * n_in + i
                            st = mul(mul(A[ai + i], g), lr)
                            if momentum:
                                VW[p] = add(mul(VW[p], MOMENTUM), st)
                                W[p] = sub(W[p], VW[p])
                            else:
                                W[p] = sub(W[p], st)
                        q = B_OFF[l] + j
                        st = mul(B[q] if posted else g, lr)  # posted: b decays; corrected: dL/db
                        if momentum:
                            VB[q] = add(mul(VB[q], MOMENTUM), st)
                            B[q] = sub(B[q], VB[q])
                        else:
                            B[q] = sub(B[q], st)
                    if posted and l > 0:
                        pass_down(l, W, G)  # as posted: through the *updated* W
            err = div(err, float(n_samples))
            if next_point < points.shape[0] and epoch == points[next_point]:
                curve[next_point, r] = err
                next_point += 1
            if err < EPOCH_ERROR_TARGET and first < 0:  # NaN compares False
                first = epoch
        last_err[r] = err
        first_below[r] = first
        for p in range(PW):
            w[p, r] = W[p]
        for p in range(PB):
            b[p, r] = B[p]

    return kernel


def sgd(params, acts, lr, cell, x_train, y_train):
    """The CUDA engine behind :func:`relustudy.engines.run_engine` (same arguments and returns)."""
    _import_cuda()
    R = lr.shape[0]
    sizes = tuple([int(params[0][0].shape[1])] + [int(w.shape[0]) for w, _ in params])
    kernel = _kernel(sizes, tuple(int(c) for c in activation_codes(acts)), cell.update == "as_posted",
                     cell.optimizer == "momentum")
    w, b = flatten(params)
    points = curve_epochs(cell.epochs)
    d_w, d_b = cuda.to_device(w), cuda.to_device(b)
    d_curve = cuda.to_device(np.zeros((len(points), R)))
    d_first = cuda.to_device(np.zeros(R, dtype=np.int64))
    d_last = cuda.to_device(np.zeros(R))
    blocks = (R + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    with np.errstate(all="ignore"):  # the simulator computes on NumPy scalars; inf/NaN are expected
        kernel[blocks, THREADS_PER_BLOCK](
            d_w, d_b, cuda.to_device(np.ascontiguousarray(lr, dtype=np.float64)),
            cuda.to_device(np.ascontiguousarray(x_train, dtype=np.float64)),
            cuda.to_device(np.ascontiguousarray(y_train, dtype=np.float64)), int(cell.epochs),
            cuda.to_device(points), d_curve, d_first, d_last,
        )
    unflatten_into(params, d_w.copy_to_host(), d_b.copy_to_host())
    return points, d_curve.copy_to_host(), d_first.copy_to_host(), d_last.copy_to_host()
