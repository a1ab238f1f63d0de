"""Compile the CUDA engine's kernels to PTX for an H100 (sm_90) without a GPU and count FMAs.

Run as a script (tests/test_engines.py does): prints one line per kernel and exits 0 when
none contains a fused multiply-add and every float64 division is IEEE (div.rn); exits 3
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
SIG = ("void(float64[:, ::1], float64[:, ::1], float64[::1], float64[:, ::1], float64[::1], int64, int64[::1], "
       "float64[:, ::1], int64[::1], float64[::1])")
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
for sizes, codes, posted, momentum in [((2, 4, 4, 1), (0, 0, 0), True, False), ((2, 4, 4, 1), (2, 2, 2), False, True),
                                        ((2, 3, 1), (3, 5), True, True), ((2, 2, 2, 1), (4, 4, 1), False, False)]:
    ptx, _ = cuda.compile_ptx(cg._kernel(sizes, codes, posted, momentum).py_func, SIG, cc=(9, 0))
    fma = len(FMA.findall(ptx))
    loose = len(re.findall(r"div\.(approx|full)\.f64", ptx))
    bad += fma + loose
    print(f"kernel {sizes} codes {codes} posted={posted} momentum={momentum}: {fma} FMA, {loose} non-IEEE divisions")
sys.exit(1 if bad else 0)
