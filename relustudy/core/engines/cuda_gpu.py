"""The GPU engine: one CUDA thread per run, the reference's arithmetic operation for operation.

Each thread holds its run's weights, velocities and unit values in local arrays and runs
the whole training loop. Two things keep its bits equal to the CPU engines' (GPU.md):

* numba-cuda contracts ``a * b + c`` into a fused multiply-add even without fast-math, so
  every ``+ - * /`` and ``sqrt`` goes through device primitives (:func:`_formulas`) that
  call libdevice's correctly rounded ``d*_rn`` intrinsics (``f*_rn`` for ``dtype="float32"``;
  never fused, IEEE division);
* the activations, their derivatives and the optimizer steps are :mod:`.formulas`' and
  ``exp``/``expm1``/``tanh`` :mod:`.ieee_math`'s (:mod:`.ieee_math32`'s in float32), both
  built over those primitives: the same definitions the numba engine binds.

A float32 kernel holds float32 arrays and float32 constants only (a Python float literal
would promote the arithmetic around it to float64); tests/cuda_ptx_check.py checks its PTX
has no f64 instruction.

Under numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``, how CI tests this file without
a GPU) the intrinsics return NaN, so the primitives are plain Python operators there,
which the simulator evaluates in IEEE double (float32) without fusing. The simulator therefore
checks the kernel's logic, not the hardware's contraction: that needs a real GPU.

The kernel is specialised (compiled once per process) per architecture, activations,
update rule, optimizer, number of samples, dtype and batch size (issue 27: > 1 keeps each
sample's units at row ``ib * U`` and follows ``reference.sgd``'s batch_update); ``epochs``, the data, the data order and
the death tracking are run-time arguments.
"""
from __future__ import annotations

import functools

import numpy as np

from relustudy.core.activations import RELU_FAMILY
from relustudy.core.outcomes import EPOCH_ERROR_TARGET
from relustudy.core.engines import formulas
from relustudy.core import ieee_math
from relustudy.core import ieee_math32
from relustudy.core.engines.layout import Layout, curve_epochs, flatten, unflatten_into
from relustudy.core.engines.reference import batch_size

# the correctly rounded intrinsics the kernels use (float64, float32)
LIBDEVICE_OPS = ("dadd_rn", "dmul_rn", "ddiv_rn", "dsqrt_rn", "copysign", "fadd_rn", "fmul_rn", "fdiv_rn", "fsqrt_rn",
                 "copysignf")
THREADS_PER_BLOCK = 128  # measured best on an H100 for this kernel (GPU.md)
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


@functools.lru_cache(maxsize=2)
def _formulas(dtype: str = "float64"):
    """:mod:`.formulas` over CUDA device primitives (libdevice's correctly rounded intrinsics) for ``dtype``.

    Also ``const`` (a Python float -> the dtype's constant), ``ZERO``, ``ONE`` and ``TARGET``
    typed in ``dtype``: a Python float literal in a float32 kernel would promote the
    arithmetic around it to float64.
    """
    _import_cuda()
    dev = cuda.jit(device=True)
    f32 = dtype == "float32"
    if simulated():  # NumPy scalars: IEEE results (inf, NaN) where Python floats would raise
        t = np.float32 if f32 else np.float64
        add = dev(lambda a, b: t(a) + b)
        sub = dev(lambda a, b: t(a) - b)
        mul = dev(lambda a, b: t(a) * b)
        div = dev(lambda a, b: t(a) / b)
        sqrt = dev(lambda a: np.sqrt(t(a)))
        copysign = dev(lambda a, b: np.copysign(t(a), b))
    elif f32:
        from numba.cuda import libdevice

        add = dev(lambda a, b: libdevice.fadd_rn(a, b))
        sub = dev(lambda a, b: libdevice.fadd_rn(a, -b))  # as for float64: a - b is a + (-b) in IEEE
        mul = dev(lambda a, b: libdevice.fmul_rn(a, b))
        div = dev(lambda a, b: libdevice.fdiv_rn(a, b))
        sqrt = dev(lambda a: libdevice.fsqrt_rn(a))
        copysign = dev(lambda a, b: libdevice.copysignf(a, b))
    else:
        from numba.cuda import libdevice

        add = dev(lambda a, b: libdevice.dadd_rn(a, b))
        sub = dev(lambda a, b: libdevice.dadd_rn(a, -b))  # a - b is a + (-b) in IEEE; libdevice has no dsub_rn
        mul = dev(lambda a, b: libdevice.dmul_rn(a, b))
        div = dev(lambda a, b: libdevice.ddiv_rn(a, b))
        sqrt = dev(lambda a: libdevice.dsqrt_rn(a))
        copysign = dev(lambda a, b: libdevice.copysign(a, b))
    where = dev(lambda c, a, b: a if c else b)
    math = ieee_math32 if f32 else ieee_math
    pow2, off = math.POW2, math.POW2_OFFSET  # exact powers of two in the dtype

    @dev
    def scale2(p, k):
        ki = int(k)
        k1 = ki >> 1
        return mul(mul(p, pow2[k1 + off]), pow2[ki - k1 + off])

    # pow2's argument is k + shift (exact), see ieee_math.build; the shift in the dtype, as a
    # float64 one would make the float32 subtraction a float64 one
    shift = (np.float32 if f32 else float)(math.ROUND_SHIFT)

    @dev
    def pow2k(v):
        return pow2[int(v - shift) + off]

    const = np.float32 if f32 else float
    if f32:
        shared = ieee_math32.build(add, sub, mul, div, where, copysign, scale2, pow2k, const, jit=dev)
    else:
        shared = ieee_math.build(add, sub, mul, div, where, copysign, scale2, pow2k, jit=dev)
    f = formulas.build(add, sub, mul, div, sqrt, shared.expm1, shared.tanh, shared.sigmoid, const=const, jit=dev)
    f.add, f.sub, f.mul, f.div = add, sub, mul, div
    # A float32 error compares with the target rounded to float32, as the reference's does
    # (NumPy's rule for a Python float; see reference.sgd).
    f.const, f.ZERO, f.ONE, f.TARGET = const, const(0.0), const(1.0), const(EPOCH_ERROR_TARGET)
    return f


_GAMMA, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@functools.lru_cache(maxsize=64)
def _kernel(sizes: tuple, acts: tuple, posted: bool, optimizer: str, n_samples: int, dtype: str = "float64",
            batch: int = 1):
    """The training kernel for one architecture, activation names per layer, update, optimizer, data size, dtype
    and batch size (samples per update; > 1: each sample's Z, A, G kept at row offset ``ib * U``).

    The arithmetic is :mod:`.formulas`' (activations, derivatives, optimizer steps); the sums
    over a layer's inputs and outputs run in the reference's order, each term through the
    unfused primitives. ``shuffled`` and ``track`` are run-time flags.
    """
    _import_cuda()
    from numba import float32, float64, int64, uint64

    F = _formulas(dtype)
    FT = float32 if dtype == "float32" else float64  # every float the kernel holds
    ZERO, ONE, TARGET, S_F = F.ZERO, F.ONE, F.TARGET, F.const(n_samples)
    add, sub, mul, div = F.add, F.sub, F.mul, F.div
    f_hid, d_hid = getattr(F, f"f_{acts[0]}"), getattr(F, f"d_{acts[0]}")
    f_out, d_out = getattr(F, f"f_{acts[-1]}"), getattr(F, f"d_{acts[-1]}")
    sgd_step, momentum_step, adam_step, adam_scales, loss_grad = F.sgd, F.momentum, F.adam, F.adam_scales, F.loss_grad
    BETA1, BETA2 = F.BETA1, F.BETA2
    lay = Layout.of(sizes)
    L = len(sizes) - 1
    W_OFF, B_OFF, A_OFF, SIZES = lay.w_off, lay.b_off, lay.a_off, lay.sizes
    PW, PB, U = int(lay.w_off[-1]), int(lay.b_off[-1]), lay.n_units
    MOM, ADAM = optimizer == "momentum", optimizer == "adam"
    NV = PW if (MOM or ADAM) else 1  # optimizer state only when it is used
    NVB = PB if (MOM or ADAM) else 1
    NM = PW if ADAM else 1
    NMB = PB if ADAM else 1
    S = n_samples
    NBATCH = batch  # samples per update (MB is Adam's bias moments)
    NU = NBATCH * U  # unit rows of Z, A, G: a constant, as cuda.local.array needs
    TRACKABLE = acts[-1] in RELU_FAMILY

    @cuda.jit(device=True)
    def act(l, z):
        return f_out(z) if l == L - 1 else f_hid(z)

    @cuda.jit(device=True)
    def dact(l, g, z, a):
        return d_out(g, z, a) if l == L - 1 else d_hid(g, z, a)

    @cuda.jit(device=True)
    def forward(W, B, Z, A, o):
        """Every layer's z and a for the sample whose units start at row o of Z, A (inputs at A[o], A[o + 1])."""
        for l in range(L):  # z = (w0 a0 + w1 a1 + ...) + b
            n_in, ai = SIZES[l], o + A_OFF[l]
            for j in range(SIZES[l + 1]):
                row = W_OFF[l] + j * n_in
                z = mul(W[row], A[ai])
                for i in range(1, n_in):
                    z = add(z, mul(W[row + i], A[ai + i]))
                z = add(z, B[B_OFF[l] + j])
                Z[o + A_OFF[l + 1] + j] = z
                A[o + A_OFF[l + 1] + j] = act(l, z)

    @cuda.jit(device=True)
    def pass_down(l, W, G, Z, A, o):
        """G[inputs of l] = W_l^T G[l] (over the units in order), times layer l-1's derivative (sample at row o)."""
        n_in, n_out, go = SIZES[l], SIZES[l + 1], o + A_OFF[l + 1]
        for i in range(n_in):
            row = W_OFF[l] + i
            gd = mul(W[row], G[go])
            for j in range(1, n_out):
                gd = add(gd, mul(W[row + j * n_in], G[go + j]))
            u = o + A_OFF[l] + i
            G[u] = dact(l - 1, gd, Z[u], A[u])

    @cuda.jit(device=True)
    def step(P, p, VP, MP, d, lr, lrb, sqb):
        if ADAM:
            P[p], MP[p], VP[p] = adam_step(P[p], MP[p], VP[p], d, lrb, sqb)
        elif MOM:
            P[p], VP[p] = momentum_step(P[p], VP[p], d, lr)
        else:
            P[p] = sgd_step(P[p], d, lr)

    @cuda.jit(device=True)
    def output_dead(W, B, Z, A, x):
        dead = True
        for s in range(S):
            A[0] = x[s, 0]
            A[1] = x[s, 1]
            forward(W, B, Z, A, 0)
            if not (Z[A_OFF[L]] <= ZERO):
                dead = False
        return dead

    @cuda.jit
    def kernel(w, b, lr_all, order, x, y, epochs, points, curve, first_below, last_err, death, changes, shuffled,
               track):
        r = cuda.grid(1)
        if r >= w.shape[1]:
            return
        W = cuda.local.array(PW, FT)
        B = cuda.local.array(PB, FT)
        VW = cuda.local.array(NV, FT)
        VB = cuda.local.array(NVB, FT)
        MW = cuda.local.array(NM, FT)
        MB = cuda.local.array(NMB, FT)
        Z = cuda.local.array(NU, FT)  # a batch: sample ib's units at rows ib * U ..
        A = cuda.local.array(NU, FT)
        G = cuda.local.array(NU, FT)
        perm = cuda.local.array(S, int64)
        for p in range(PW):
            W[p] = w[p, r]
        for p in range(NV):
            VW[p] = ZERO
        for p in range(NM):
            MW[p] = ZERO
        for p in range(PB):
            B[p] = b[p, r]
        for p in range(NVB):
            VB[p] = ZERO
        for p in range(NMB):
            MB[p] = ZERO
        for s in range(S):
            perm[s] = s
        lr = lr_all[r]
        state = order[r]
        b1t, b2t, lrb, sqb = ONE, ONE, ZERO, ZERO
        out = A_OFF[L]
        first, dth, chg, was_dead = -1, -1, 0, False
        if track and TRACKABLE:
            was_dead = output_dead(W, B, Z, A, x)
            if was_dead:
                dth = 0
        err = ZERO
        next_point = 0
        for epoch in range(1, epochs + 1):
            err = ZERO
            if shuffled:  # the run's splitmix64 stream, Fisher-Yates from the identity (reference.OrderStream)
                for s in range(S):
                    perm[s] = s
                for i in range(S - 1, 0, -1):
                    state = uint64(state + _GAMMA)
                    z = state
                    z = uint64((z ^ (z >> _S30)) * _M1)
                    z = uint64((z ^ (z >> _S27)) * _M2)
                    z = z ^ (z >> _S31)
                    j = int64(z % uint64(i + 1))
                    t = perm[i]
                    perm[i] = perm[j]
                    perm[j] = t
            for s0 in range(0, S if NBATCH > 1 else 0, NBATCH):  # batch > 1: reference.sgd's batch_update
                mb = min(NBATCH, S - s0)
                mbf = FT(mb)
                for ib in range(mb):
                    q = perm[s0 + ib]
                    o = ib * U
                    A[o] = x[q, 0]
                    A[o + 1] = x[q, 1]
                    forward(W, B, Z, A, o)
                    d = sub(A[o + out], y[q])
                    err = add(err, mul(d, d))
                    G[o + out] = dact(L - 1, loss_grad(d), Z[o + out], A[o + out])
                if ADAM:  # one step counter per update
                    b1t = mul(b1t, BETA1)
                    b2t = mul(b2t, BETA2)
                    lrb, sqb = adam_scales(lr, b1t, b2t)
                for l in range(L - 1, -1, -1):  # backward, top layer first
                    n_in, n_out, ai = SIZES[l], SIZES[l + 1], A_OFF[l]
                    if not posted and l > 0:
                        for ib in range(mb):
                            pass_down(l, W, G, Z, A, ib * U)  # corrected: through the old W
                    for j in range(n_out):
                        gj = A_OFF[l + 1] + j
                        for i in range(n_in):  # the mean direction: summed in batch order, then / mb
                            t = mul(A[ai + i], G[gj])
                            for ib in range(1, mb):
                                t = add(t, mul(A[ib * U + ai + i], G[ib * U + gj]))
                            step(W, W_OFF[l] + j * n_in + i, VW, MW, div(t, mbf), lr, lrb, sqb)
                        qb = B_OFF[l] + j
                        if posted:
                            step(B, qb, VB, MB, B[qb], lr, lrb, sqb)  # posted: b decays, once per update
                        else:
                            t = G[gj]
                            for ib in range(1, mb):
                                t = add(t, G[ib * U + gj])
                            step(B, qb, VB, MB, div(t, mbf), lr, lrb, sqb)
                    if posted and l > 0:
                        for ib in range(mb):
                            pass_down(l, W, G, Z, A, ib * U)  # as posted: through the *updated* W
            for s in range(S if NBATCH == 1 else 0):
                q = perm[s]
                A[0] = x[q, 0]
                A[1] = x[q, 1]
                forward(W, B, Z, A, 0)
                d = sub(A[out], y[q])
                err = add(err, mul(d, d))
                G[out] = dact(L - 1, loss_grad(d), Z[out], A[out])
                if ADAM:  # one step counter per run, shared by every parameter
                    b1t = mul(b1t, BETA1)
                    b2t = mul(b2t, BETA2)
                    lrb, sqb = adam_scales(lr, b1t, b2t)
                for l in range(L - 1, -1, -1):  # backward, top layer first
                    n_in, n_out, ai = SIZES[l], SIZES[l + 1], A_OFF[l]
                    if not posted and l > 0:
                        pass_down(l, W, G, Z, A, 0)  # corrected: through the old W
                    for j in range(n_out):
                        g = G[A_OFF[l + 1] + j]
                        for i in range(n_in):
                            step(W, W_OFF[l] + j * n_in + i, VW, MW, mul(A[ai + i], g), lr, lrb, sqb)
                        qb = B_OFF[l] + j
                        step(B, qb, VB, MB, B[qb] if posted else g, lr, lrb, sqb)  # posted: b decays
                    if posted and l > 0:
                        pass_down(l, W, G, Z, A, 0)  # as posted: through the *updated* W
            err = div(err, S_F)
            if next_point < points.shape[0] and epoch == points[next_point]:
                curve[next_point, r] = err
                next_point += 1
            if err < TARGET and first < 0:  # NaN compares False
                first = epoch
            if track and TRACKABLE:
                dead = output_dead(W, B, Z, A, x)
                if dead != was_dead:
                    chg += 1
                if dead and dth < 0:
                    dth = epoch
                was_dead = dead
        last_err[r] = err
        first_below[r] = first
        death[r] = dth
        changes[r] = chg
        for p in range(PW):
            w[p, r] = W[p]
        for p in range(PB):
            b[p, r] = B[p]

    return kernel


FEATURES = frozenset({"adam", "shuffled", "float32", "track_output", "batch"})  # engines.NEW_FEATURES implemented here


def sgd(params, acts, lr, cell, x_train, y_train, *, order_seed=None, track=None):
    """The CUDA engine behind :func:`relustudy.core.engines.run_engine` (same arguments and returns)."""
    _import_cuda()
    if cell.dtype not in ("float64", "float32"):
        raise ValueError(f"the cuda engine trains float64 or float32 cells; got dtype {cell.dtype!r}")
    dt = np.dtype(cell.dtype)
    R = lr.shape[0]
    sizes = tuple([int(params[0][0].shape[1])] + [int(w.shape[0]) for w, _ in params])
    x = np.ascontiguousarray(x_train, dtype=dt)
    kernel = _kernel(sizes, tuple(a.name for a in acts), cell.update == "as_posted", cell.optimizer, int(x.shape[0]),
                     cell.dtype, batch_size(cell, int(x.shape[0])))
    w, b = flatten(params)
    points = curve_epochs(cell.epochs)
    order = np.zeros(R, np.uint64) if order_seed is None else np.ascontiguousarray(order_seed, dtype=np.uint64)
    d_w, d_b = cuda.to_device(w), cuda.to_device(b)
    d_curve = cuda.to_device(np.zeros((len(points), R), dt))
    d_first = cuda.to_device(np.zeros(R, dtype=np.int64))
    d_last = cuda.to_device(np.zeros(R, dt))
    d_death = cuda.to_device(np.full(R, -1, dtype=np.int64))
    d_changes = cuda.to_device(np.zeros(R, dtype=np.int64))
    blocks = (R + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
    with np.errstate(all="ignore"):  # the simulator computes on NumPy scalars; inf/NaN are expected
        kernel[blocks, THREADS_PER_BLOCK](
            d_w, d_b, cuda.to_device(np.ascontiguousarray(lr, dtype=dt)), cuda.to_device(order),
            cuda.to_device(x), cuda.to_device(np.ascontiguousarray(y_train, dtype=dt)), int(cell.epochs),
            cuda.to_device(points), d_curve, d_first, d_last, d_death, d_changes,
            cell.data_order == "shuffled", track is not None and acts[-1].relu_family,
        )
    unflatten_into(params, d_w.copy_to_host(), d_b.copy_to_host())
    if track is not None:
        track[0][:] = d_death.copy_to_host()
        track[1][:] = d_changes.copy_to_host()
    return points, d_curve.copy_to_host(), d_first.copy_to_host(), d_last.copy_to_host()
