"""Compile the CUDA engine's kernels to PTX for an H100 (sm_90) without a GPU and count FMAs.

Run as a script (tests/test_engines.py does): prints one line per kernel and exits 0 when
none contains a fused multiply-add and every float64 division and square root is IEEE (.rn); exits 3
when the CUDA toolkit's compiler libraries (NVVM, NVRTC) are not installed, so the caller
can skip. A control kernel written with plain operators must show FMAs, or the count
would prove nothing.
"""
import re
import sys
import types

from relustudy.engines import cuda_gpu as cg

cuda = cg._import_cuda()
import numba.cuda.dispatcher as dispatcher  # noqa: E402

# No GPU here: device functions ask the current device for its compute capability.
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
SIG = ("void(float64[:, ::1], float64[:, ::1], float64[::1], uint64[::1], float64[:, ::1], float64[::1], int64, "
       "int64[::1], float64[:, ::1], int64[::1], float64[::1], int64[::1], int64[::1], boolean, boolean)")
FMA = re.compile(r"\b(fma|mad)\.[a-z.]*f64")


def control(x, y, out):
    out[0] = x[0] * y[0] + x[1]  # plain operators: numba-cuda contracts these (GPU.md)


try:
    ptx, _ = cuda.compile_ptx(control, "void(float64[::1], float64[::1], float64[::1])", cc=(9, 0))
except Exception as e:  # no NVVM/NVRTC: nothing to check here
    print(f"skip: cannot compile PTX here ({type(e).__name__})")
    sys.exit(3)
assert FMA.search(ptx), "the control kernel should contain an FMA"
bad = 0
for sizes, acts, posted, optimizer in [((2, 4, 4, 1), ("relu",) * 3, True, "sgd"),
                                       ((2, 4, 4, 1), ("tanh",) * 3, False, "momentum"),
                                       ((2, 3, 1), ("sigmoid", "identity"), True, "adam"),
                                       ((2, 2, 2, 1), ("elu", "elu", "leaky_relu"), False, "adam")]:
    ptx, _ = cuda.compile_ptx(cg._kernel(sizes, acts, posted, optimizer, 6).py_func, SIG, cc=(9, 0))
    fma = len(FMA.findall(ptx))
    loose = len(re.findall(r"(div|sqrt)\.(approx|full)\.f64", ptx))  # only .rn (IEEE) divisions and square roots
    bad += fma + loose
    print(f"kernel {sizes} {'/'.join(acts)} posted={posted} {optimizer}: {fma} FMA, {loose} non-IEEE divisions")
sys.exit(1 if bad else 0)
