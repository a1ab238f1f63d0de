"""The fused CPU engine: one specialised numba kernel per cell structure, bit for bit the reference.

Runs are cut into blocks of ``lanes`` runs (:func:`lanes_for`); the kernel for a structure
(architecture, activations, optimizer, dtype, data order, output tracking; a
:class:`.kernel_source.KernelSpec`; the update rule and the output's activation are its
arguments) is generated as text by :mod:`.kernel_source`, written to a module file under
:func:`kernel_dir` and imported, so numba compiles it once per machine (``cache=True`` caches only functions that live in a real file). Inside a block
every operation is a loop over the lanes innermost, which LLVM turns into SIMD without
changing any single run's arithmetic: each lane does exactly the scalar operations of
:mod:`.reference`, in the same order, with no FMA contraction (numba compiles without
fast-math) and the formulas of :mod:`.formulas` over the shared ``exp``/``tanh`` of
:mod:`.ieee_math` (a float32 cell: float32 buffers, np.float32 constants and the float32
math of :mod:`.ieee_math32`, so nothing is promoted to float64). Blocks are independent, so they run on Python threads (the kernel
releases the GIL; :func:`threads` sets how many); a run's result does not depend on its
block, its lane or the thread count.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numba
import numba.core.cpu
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from relustudy.core.activations import WHOLE_LAYER, get_activation
from relustudy.core.outcomes import EPOCH_ERROR_TARGET
from relustudy.core.engines.cores import usable_cores
from relustudy.core.engines import formulas
from relustudy.core import ieee_math
from relustudy.core import ieee_math32
from relustudy.core.engines import kernel_source
from relustudy.core.engines.kernel_source import KernelSpec
from relustudy.core.engines.layout import curve_epochs, flatten, unflatten_into
from relustudy.core.engines.reference import batch_size

# Runs per block, a compile-time constant of each kernel: as many as keep a block's state
# within ~CACHE_BYTES, between MIN_LANES and MAX_LANES (measured, README's engine table).
MAX_LANES, MIN_LANES = 32, 8
CACHE_BYTES = 192 * 1024

# The arrays a kernel allocates for its block (W, Z, A, G, ...) are 64-byte aligned. numba
# aligns the arrays it allocates to 32 bytes ("AVX prefers 32-byte alignment"), so by the
# allocator's luck a block's rows could start mid cache line, and then every AVX-512 load of
# a row touches two lines: the 32-32 net ran at 36 or 62 thousand parameter updates/s from
# one process to the next (bench 0.41x-0.73x the 4-4 net), the posted cell at 3,380-3,550
# against 3,750-4,000 runs/s with 64 (three processes each). This sets numba's CPU target
# for the whole process: alignment changes no value, and nothing but speed.
ARRAY_ALIGN = 64
_numba_alignment = numba.core.cpu.CPUContext.get_preferred_array_alignment
numba.core.cpu.CPUContext.get_preferred_array_alignment = (
    lambda context, ty: max(ARRAY_ALIGN, _numba_alignment(context, ty)))

# error_model="numpy": x / 0 is IEEE inf/NaN, as in the reference, not a ZeroDivisionError
# check, whose branch also kept every loop with a division from vectorizing.
_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")
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
def _sqrt(a):
    return np.sqrt(a)  # correctly rounded (IEEE), float32 in float32


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


@_inline
def _pow2(v):
    # 2**k from its bits, as in _scale2 (one factor: |k| <= 540); v = k + 1.5 * 2**52 already
    return _from_bits((_bits(v) - SHIFT_BITS + 1023) << 52)


@_inline
def _copysign(a, b):
    return math.copysign(a, b)  # LLVM's copysign: bit operations (one vpternlog on AVX-512)


_built = ieee_math.build(_add, _sub, _mul, _div, _where, _copysign, _scale2, _pow2,
                                                jit=_inline)
_exp, _expm1, _tanh, _sigmoid = _built.exp, _built.expm1, _built.tanh, _built.sigmoid


# Small formulas are compiled once and inlined by LLVM (cheaper to compile than numba's IR
# inlining at every call site).
_small = njit(**_OPTIONS)
# The activations built on exp/expm1/tanh are too large for LLVM's inliner (a call per lane
# keeps the loop scalar: measured 4x slower), and inlining them into every layer of every
# kernel made one kernel cost ~30 s to compile. So they run as whole-layer loops
# ``rows_<act>(Z, A)``, compiled (and cached) once per machine and engine version (see
# _ROWS_TEMPLATE), which the kernels call: the registry's whole_layer activations.
BIG = WHOLE_LAYER


# ---- float32: the same primitives (numba keeps float32 + float32 in float32) and the
# float32 exp/expm1/tanh of ieee_math32, every constant an np.float32 (a Python float
# literal would promote the lane's arithmetic to float64)
@intrinsic
def _bits32(typingctx, x):
    """The IEEE bits of a float32 as an int32."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _from_bits32(typingctx, i):
    """The float32 whose IEEE bits are the int32 ``i``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


SHIFT32 = np.float32(ieee_math32.ROUND_SHIFT)
SHIFT32_BITS = np.int32(SHIFT32.view(np.int32))
_ONE27, _SH23 = np.int32(127), np.int32(23)


@_inline
def _scale2_32(p, k):
    # As _scale2: k (integral, |k| <= 160) + 1.5 * 2**23 is exact and holds k in its low bits;
    # the factors 2**k1, 2**(k - k1) (|.| <= 80, normal float32) built from their bits.
    ki = _bits32(k + SHIFT32) - SHIFT32_BITS
    k1 = ki >> np.int32(1)
    return p * _from_bits32((k1 + _ONE27) << _SH23) * _from_bits32((ki - k1 + _ONE27) << _SH23)


@_inline
def _pow2_32(v):
    # 2**k from its bits, as in _scale2_32 (one factor: |k| <= 80); v = k + 1.5 * 2**23 already
    return _from_bits32((_bits32(v) - SHIFT32_BITS + _ONE27) << _SH23)


_built32 = ieee_math32.build(_add, _sub, _mul, _div, _where, _copysign, _scale2_32, _pow2_32,
                                                           np.float32, jit=_inline)
_exp32, _expm1_32, _tanh32, _sigmoid32 = _built32.exp, _built32.expm1, _built32.tanh, _built32.sigmoid


def _bind(dtype: str):
    """formulas.build over numba's primitives and ``dtype``'s math, each formula jitted (see BIG)."""
    if dtype == "float64":
        f = formulas.build(_add, _sub, _mul, _div, _sqrt, _expm1, _tanh, _sigmoid, const=float, jit=lambda fn: fn)
    else:
        f = formulas.build(_add, _sub, _mul, _div, _sqrt, _expm1_32, _tanh32, _sigmoid32, const=np.float32,
                           jit=lambda fn: fn)
    for k, fn in list(vars(f).items()):
        if callable(fn):
            # f_<big> inlined into the rows_<big> loops (see BIG); their derivatives are a
            # few operations, which LLVM inlines like any small formula (numba's own
            # inlining at each of a kernel's call sites cost ~1 s of its compile)
            setattr(f, k, (_inline if k.startswith("f_") and k[2:] in BIG else _small)(fn))
    f.TARGET = EPOCH_ERROR_TARGET  # a float32 error compares exactly with it (see reference.sgd)
    return f


F64, F32 = _bind("float64"), _bind("float32")
_BOUND = {"float64": F64, "float32": F32}

# The whole-layer loops of the big activations, compiled once per machine and engine version.
# They are generated into a module named by the engine's hash (as the kernels are) because
# numba's cache checks only the file a function is defined in: loops defined here would keep
# their cached machine code after a change to ieee_math.py or formulas.py, which they inline.
_ROWS_TEMPLATE = """\
\"\"\"Generated by relustudy.core.engines.numba_cpu (the rows_<act> loops for {dtype}): do not edit.\"\"\"
from numba import njit
from relustudy.core.engines.numba_cpu import _BOUND
_F = _BOUND[{dtype!r}]
# module-level names: numba's cache keys a function by its code and closure, so a closure
# over a dispatcher would miss the cache in every new process
""" + "".join(f"""_f_{act} = _F.f_{act}


@njit(cache=True, nogil=True, error_model='numpy')
def rows_{act}(Z, A):
    \"\"\"A = {act}(Z) elementwise, (n, lanes).\"\"\"
    for j in range(Z.shape[0]):
        for k in range(Z.shape[1]):
            A[j, k] = _f_{act}(Z[j, k])


""" for act in BIG)


def formulas_for(dtype: str):
    """The :mod:`.formulas` namespace bound to numba for ``dtype``, plus ``TARGET`` and the ``rows_<act>`` loops."""
    if dtype not in _BOUND:
        raise ValueError(f"dtype {dtype!r} is not supported by the numba engine; allowed: {', '.join(_BOUND)}")
    f = _BOUND[dtype]
    if not hasattr(f, "rows_tanh"):
        rows = _generated_module(f"rows_{dtype}", _ROWS_TEMPLATE.format(dtype=dtype))
        for act in BIG:
            setattr(f, f"rows_{act}", getattr(rows, f"rows_{act}"))
    return f


# ---- the shuffled data order: the reference's stream (splitmix64, Fisher-Yates per epoch)
_GAMMA, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@_inline
def next_order(state, perm, k, ns):
    """Write one epoch's visiting order into ``perm[:, k]`` (ns samples); returns the new stream state."""
    for s in range(ns):
        perm[s, k] = s
    for i in range(ns - 1, 0, -1):
        state = state + _GAMMA
        z = state
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        z = z ^ (z >> _S31)
        j = np.int64(z % np.uint64(i + 1))
        t = perm[i, k]
        perm[i, k] = perm[j, k]
        perm[j, k] = t
    return state


# ---- generated kernels: one module file per KernelSpec, imported so numba can cache it
@functools.lru_cache(maxsize=None)
def _engine_hash() -> str:
    """Changes whenever code the kernels inline changes (numba's cache would not notice it).

    Read once per process: the code a process runs is the code it imported, so every module it
    generates (kernels and rows_<act> loops alike) carries the same hash even if the sources
    change on disk meanwhile (a kernel cached under a newer hash calling an older rows module
    would not load in the next process)."""
    h = hashlib.sha256(numba.__version__.encode())
    here = Path(__file__).resolve().parent
    for name in ("numba_cpu.py", "formulas.py"):  # kernel_source's part is in the text itself
        h.update((here / name).read_bytes())
    for name in ("ieee_math.py", "ieee_math32.py", "activations.py"):  # core/, beside engines/
        h.update((here.parent / name).read_bytes())
    return h.hexdigest()[:16]


def kernel_dir() -> Path:
    """Where generated kernel modules live: $RELUSTUDY_KERNEL_DIR, else the package's __pycache__, else a temp dir."""
    env = os.environ.get("RELUSTUDY_KERNEL_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent / "__pycache__" / "relustudy_kernels"
    try:
        here.mkdir(parents=True, exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"relustudy_kernels_{os.getuid() if hasattr(os, 'getuid') else 0}"


@functools.lru_cache(maxsize=None)
def kernel(spec: KernelSpec):
    """The compiled-on-first-call ``train_blocks`` of ``spec``'s generated module."""
    return _generated_module(spec.name()[:120], kernel_source.generate(spec)).train_blocks


def _generated_module(stem: str, source: str):
    """Import ``source`` from a module file in :func:`kernel_dir` named by ``stem`` and a hash of
    the source and the engine's code (so numba's cache of it is never stale), written once."""
    digest = hashlib.sha256((source + _engine_hash()).encode()).hexdigest()[:12]
    name = f"{stem}_{digest}".replace(".", "_")
    if name in sys.modules:
        return sys.modules[name]
    folder = kernel_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists():  # never rewrite: a new mtime would invalidate numba's cache of it
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: concurrent processes write the same text
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


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


def lanes_for(sizes, optimizer: str = "sgd", itemsize: int = 8, batch: int = 1) -> int:
    """Runs per block for a net: a power of two in [MIN_LANES, MAX_LANES] whose state (``itemsize``
    bytes a number; with a batch > 1, also the direction sums) fits the cache.

    A batch's per-sample Z, A, G rows are left out of the budget: they are written once and read
    in order, and counting them cut a full batch of 64 on the 2-4-4-1 net to 8 lanes, where it ran
    at 0.35x per-sample SGD's rate per sample step, against 0.92x at 16 lanes and 1.09x at 32
    (grid64, one thread, two alternations on a loaded machine)."""
    sizes = list(sizes)
    pw = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    pb = sum(sizes[1:])
    copies = {"sgd": 1, "momentum": 2, "adam": 3}[optimizer]
    rows = copies * (pw + pb) + 3 * pb  # parameters and optimizer state, Z, A, G
    if batch > 1:
        rows += pw + pb  # DW, DB
    lanes = MAX_LANES
    while lanes > MIN_LANES and rows * lanes * itemsize > CACHE_BYTES:
        lanes //= 2
    return lanes


FEATURES = frozenset({"adam", "shuffled", "float32", "track_output", "batch"})  # engines.NEW_FEATURES implemented here


def spec_of(sizes: tuple, names: tuple, cell, track: bool, n_samples: int | None = None) -> KernelSpec:
    """The kernel a cell trains with: ``sizes`` (L + 1,) layer sizes, ``names`` (L,) activation
    names per layer, ``track`` whether the output's death is asked for, ``n_samples`` the training
    pairs (default: the cell's task's), which a ``"full"`` batch means."""
    n_samples = cell.n_samples if n_samples is None else n_samples
    batch = batch_size(cell, n_samples)
    tracked = track and get_activation(names[-1]).relu_family
    # The output unit's two settings (the hidden activation or identity) share one kernel that
    # picks at run time (the argument out_same: one kernel where the grid has two cells, the
    # same operations per lane either way). A tracked output keeps a kernel of its own. The
    # update rule is always the kernel's argument ``posted`` (kernel_source's docstring).
    choice = not tracked and len(set(names[:-1])) == 1 and names[-1] in (names[0], "identity")
    return KernelSpec(sizes=sizes, acts=names[:-1] + (names[0],) if choice else names, optimizer=cell.optimizer,
                      lanes=lanes_for(sizes, cell.optimizer, np.dtype(cell.dtype).itemsize, batch), dtype=cell.dtype,
                      shuffled=cell.data_order == "shuffled", track=tracked, output_choice=choice, batch=batch,
                      ragged=batch > 1 and n_samples % batch != 0)


def cell_spec(cell, track: bool = False) -> KernelSpec:
    """:func:`spec_of` for a :class:`~relustudy.core.config.Cell` (its hidden activation after every
    hidden layer, its output's): which cells share a compiled kernel."""
    hidden = (cell.activation,) * len(cell.hidden)
    return spec_of(tuple(cell.layer_sizes), hidden + (cell.activation if cell.output == "same" else "identity",),
                   cell, track)


def sgd(params, acts, lr, cell, x_train, y_train, *, order_seed=None, track=None):
    """The numba engine behind :func:`relustudy.core.engines.run_engine` (same arguments and returns).

    ``order_seed`` (R,) uint64: each run's stream for ``data_order="shuffled"``; ``track``:
    two (R,) int32 arrays filled with the output's death epoch and state changes (see
    :func:`.reference.sgd`).
    """
    if cell.dtype not in _BOUND:
        raise ValueError(f"the numba engine trains float64 or float32 cells; got dtype {cell.dtype!r}")
    dt = np.dtype(cell.dtype)
    R = lr.shape[0]
    sizes = tuple([int(params[0][0].shape[1])] + [int(w.shape[0]) for w, _ in params])
    names = tuple(a.name for a in acts)
    spec = spec_of(sizes, names, cell, track is not None, int(np.shape(y_train)[0]))
    out_same = names[-1] == names[0]
    train_blocks = kernel(spec)
    w, b = flatten(params)
    points = curve_epochs(cell.epochs)
    curve = np.empty((len(points), R), dt)
    first_below = np.empty(R, dtype=np.int64)
    last_err = np.empty(R, dt)
    death = np.full(R, -1, dtype=np.int64)
    changes = np.zeros(R, dtype=np.int64)
    order = np.zeros(R, np.uint64) if order_seed is None else np.ascontiguousarray(order_seed, dtype=np.uint64)
    nl = spec.lanes
    n_blocks = (R + nl - 1) // nl
    lr = np.ascontiguousarray(lr, dtype=dt)  # the caller's lr is already in the cell's dtype
    args = (np.ascontiguousarray(x_train, dtype=dt), np.ascontiguousarray(y_train, dtype=dt),
            int(cell.epochs), points, curve, first_below, last_err, death, changes, bool(out_same), cell.update == "as_posted")
    n_threads = min(n_blocks, _threads or usable_cores())
    # Blocks write disjoint columns, and the kernel releases the GIL (nogil), so plain
    # Python threads run them in parallel without numba's threading layer (whose
    # workqueue refuses concurrent callers) and without a second, parallel compile.
    edges = np.linspace(0, n_blocks, n_threads + 1).round().astype(int)
    if n_threads == 1:
        train_blocks(w, b, lr, order, 0, n_blocks, *args)
    else:
        train_blocks(w, b, lr, order, 0, 0, *args)  # compile (or load) once, before the threads race to
        with ThreadPoolExecutor(n_threads) as pool:
            jobs = [pool.submit(train_blocks, w, b, lr, order, int(k0), int(k1), *args)
                    for k0, k1 in zip(edges[:-1], edges[1:])]
            for job in jobs:
                job.result()
    unflatten_into(params, w, b)
    if track is not None:
        track[0][:] = death
        track[1][:] = changes
    return points, curve, first_below, last_err
