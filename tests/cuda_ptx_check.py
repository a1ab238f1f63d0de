"""Compile the CUDA engine's kernels to PTX for an H100 (sm_90) without a GPU and count FMAs.

Run as a script (tests/test_engines.py does): prints one line per kernel and exits 0 when
none contains a fused multiply-add and every division and square root is IEEE (.rn), and the
float32 kernels hold no float64 instruction at all (no promotion); exits 3
when the CUDA toolkit's compiler libraries (NVVM, NVRTC) are not installed, so the caller
can skip. A control kernel written with plain operators must show FMAs, or the count
would prove nothing. The kernels checked come from the registries (:func:`kernels`), so a new
activation or optimizer is checked without editing this file.
"""
import re
import sys
import types

from relustudy.core.activations import ACTIVATIONS
from relustudy.core.config import DTYPES
from relustudy.core.engines import cuda_gpu as cg
from relustudy.core.optimizers import OPTIMIZERS

SIG = ("void({t}[:, ::1], {t}[:, ::1], {t}[::1], uint64[::1], {t}[:, ::1], {t}[::1], int64, "
       "int64[::1], {t}[:, ::1], int64[::1], {t}[::1], int64[::1], int64[::1], boolean, boolean)")
FMA = re.compile(r"\b(fma|mad)\.[a-z.]*f(64|32)")
F64 = re.compile(r"\.f64\b")


# Batches beyond per-sample SGD: the mean direction's sums and division (a full batch of 64 on a
# 64-sample task, 2, and 6 in float32).
BATCH_KERNELS = [((2, 4, 4, 1), ("relu",) * 3, True, "sgd", "float64", 64),
                 ((2, 4, 4, 1), ("relu",) * 3, False, "momentum", "float64", 2),
                 ((2, 3, 1, 2, 1), ("leaky_relu",) * 4, False, "adam", "float32", 6)]


def kernels():
    """(sizes, acts, posted, optimizer, dtype, batch) of the kernels to check: every activation of
    the registry as hidden and as output unit in each dtype, both update rules and every optimizer
    among them (len(ACTIVATIONS) * len(DTYPES) kernels of batch 1), then BATCH_KERNELS."""
    names, optimizers = list(ACTIVATIONS), list(OPTIMIZERS)
    for i, act in enumerate(names):
        for j, dtype in enumerate(DTYPES):
            out = names[(i + 1) % len(names)] if j else act  # in the second dtype, another output unit
            yield (2, 3, 2, 1), (act, act, out), (i + j) % 2 == 0, optimizers[(i + j) % len(optimizers)], dtype, 1
    yield from BATCH_KERNELS


def control(x, y, out):
    out[0] = x[0] * y[0] + x[1]  # plain operators: numba-cuda contracts these (GPU.md)


def main() -> int:
    cuda = cg._import_cuda()
    import numba.cuda.dispatcher as dispatcher

    # No GPU here: device functions ask the current device for its compute capability.
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
    try:
        ptx, _ = cuda.compile_ptx(control, "void(float64[::1], float64[::1], float64[::1])", cc=(9, 0))
        ptx32, _ = cuda.compile_ptx(control, "void(float32[::1], float32[::1], float32[::1])", cc=(9, 0))
    except Exception as e:  # no NVVM/NVRTC: nothing to check here
        print(f"skip: cannot compile PTX here ({type(e).__name__})")
        return 3
    assert FMA.search(ptx) and re.search(r"\bfma\.rn\.f32", ptx32), "the control kernels should contain FMAs"
    bad = 0
    for sizes, acts, posted, optimizer, dtype, batch in kernels():
        kernel = cg._kernel(sizes, acts, posted, optimizer, max(6, batch), dtype, batch).py_func
        ptx, _ = cuda.compile_ptx(kernel, SIG.format(t=dtype), cc=(9, 0))
        fma = len(FMA.findall(ptx))
        loose = len(re.findall(r"(div|sqrt)\.(approx|full)\.f(64|32)", ptx))  # only .rn (IEEE) divisions and square roots
        wide = len(F64.findall(ptx)) if dtype == "float32" else 0  # a float32 kernel promoted nowhere
        bad += fma + loose + wide
        print(f"kernel {sizes} {'/'.join(acts)} posted={posted} {optimizer} {dtype} batch {batch}: {fma} FMA, "
              f"{loose} non-IEEE divisions"
              + (f", {wide} f64 instructions" if dtype == "float32" else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
