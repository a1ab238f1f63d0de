"""Every engine gives the NumPy reference's bits: numba here, CUDA on the simulator (and a GPU if present)."""
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cuda_ptx_check import kernels
from engine_checks import compare_engines, differences, same_bits
from relustudy import Cell, train_group, train
from relustudy.core import engines
from relustudy.core.config import ACTIVATIONS, DTYPES, OPTIMIZERS, OUTPUTS, UPDATES
from relustudy.core.engines import EngineUnavailable, resolve_engine

HERE = Path(__file__).resolve().parent


# One specialised kernel per (architecture, activations, update, optimizer): each costs a
# few seconds to compile on a fresh machine, so the fast tests cover every activation, output,
# update and optimizer through few kernels (each update x optimizer pair in turn), and the
# full cross product on two architectures is the slow test below.
_PAIRS = list(itertools.product(UPDATES, OPTIMIZERS))


# One activation in the fast loop (3 kernels, ~4 s each to compile on a fresh clone); the rest are slow.
@pytest.mark.parametrize("activation", [a if a == "relu" else pytest.param(a, marks=pytest.mark.slow)
                                        for a in ACTIVATIONS])
def test_numba_matches_numpy_bit_for_bit(activation):
    """Per activation: 4-4 with each output (two update x optimizer pairs), 3-1-5 with a third pair."""
    k = ACTIVATIONS.index(activation)
    bad, n = [], 0
    for hidden, output, (update, optimizer) in [((4, 4), "same", _PAIRS[k % len(_PAIRS)]),
                                                ((4, 4), "identity", _PAIRS[(k + 1) % len(_PAIRS)]),
                                                ((3, 1, 5), "same", _PAIRS[(k + 2) % len(_PAIRS)])]:
        m, b = compare_engines("numpy", "numba", seeds=range(32), epochs=120, hidden=hidden, activations=(activation,),
                               outputs=(output,), updates=(update,), optimizers=(optimizer,))
        n, bad = n + m, bad + b
    assert n == 3 and bad == []


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [(4, 4), (3, 1, 5)], ids=["4-4", "3-1-5"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numba_matches_numpy_on_every_combination(activation, hidden):
    """Both outputs x every update x every optimizer, two cells per batch (per-run lr and init)."""
    n, bad = compare_engines("numpy", "numba", seeds=range(32), epochs=200, hidden=hidden, activations=(activation,),
                             optimizers=OPTIMIZERS)
    assert n == len(OUTPUTS) * len(UPDATES) * len(OPTIMIZERS) and bad == []


@pytest.mark.slow
def test_numba_matches_numpy_on_the_full_posted_cell():
    cell = Cell()  # the posted program: relu, randn, as_posted, sgd, lr 0.01, 5000 epochs
    seeds = range(1000)
    assert differences([train(cell, seeds, engine="numpy")], [train(cell, seeds, engine="numba")]) == []


# 19-9 (a chunk of 16 plus a remainder) in the fast loop; one kernel each, so the others are slow.
@pytest.mark.parametrize("hidden", [pytest.param((2,) * 10, marks=pytest.mark.slow), pytest.param((32,), marks=pytest.mark.slow),
                                    pytest.param((32, 32), marks=pytest.mark.slow), (19, 9)],
                         ids=["2x10", "32", "32-32", "19-9"])
def test_numba_matches_numpy_deep_and_wide(hidden):
    """Wide layers are summed in chunks of kernel_source.CHUNK (16) terms per lane loop
    (32: two chunks; 19: one plus a remainder)."""
    cells = [Cell(activation="relu", output="identity", update="corrected", optimizer=o, lr=0.05, epochs=30,
                  hidden=hidden) for o in ("sgd",)]
    assert differences(train_group(cells, range(12), engine="numpy"), train_group(cells, range(12), engine="numba")) == []


def test_numba_run_is_independent_of_block_lane_and_threads():
    """Seed 700 alone, at lane 188 of block 2 in a batch of 1000, and on 1 vs 3 threads: the same bits."""
    from relustudy.core.engines.numba_cpu import threads

    cell = Cell(activation="tanh", lr=0.1, epochs=300)
    batch = train(cell, range(1000), engine="numba")
    alone = train(cell, [700], engine="numba")
    assert same_bits(batch.metrics["final_mse"][700:701], alone.metrics["final_mse"])
    assert same_bits(batch.curve[:, 700:701], alone.curve)
    with threads(1):
        one = train(cell, range(1000), engine="numba")
    with threads(3):
        three = train(cell, range(1000), engine="numba")
    assert differences([batch], [one]) == [] and differences([batch], [three]) == []


def test_numba_kernels_are_cached_across_processes(tmp_path):
    """A second process loads the generated kernel from numba's cache instead of compiling it again."""
    code = ("from relustudy import Cell, train; from relustudy.core.engines import numba_cpu as nc; "
            "train(Cell(epochs=2, hidden=(2,)), [0]); "
            "d = nc.kernel(nc.KernelSpec((2, 2, 1), ('relu', 'relu'), 'sgd', nc.lanes_for((2, 2, 1)), output_choice=True)); "
            "print(len(d.stats.cache_hits), len(d.stats.cache_misses))")
    env = {**os.environ, "RELUSTUDY_KERNEL_DIR": str(tmp_path / "src"), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
            for _ in range(2)]
    for out in runs:
        assert out.returncode == 0, out.stderr
    first, second = (tuple(map(int, out.stdout.split())) for out in runs)
    assert first == (0, 1) and second == (1, 0)  # (hits, misses): compiled once, then loaded
    assert len(list((tmp_path / "src").glob("k_2x2x1_*.py"))) == 1


def test_the_rows_loops_follow_the_engine_sources(monkeypatch, tmp_path):
    """numba's cache checks only the file a function is defined in; the rows_<act> loops inline
    ieee_math's and formulas' code, so they live in a generated module named by the engine's
    hash: other engine sources make another module (compiled anew), never a stale cache hit."""
    from relustudy.core import ieee_math
    from relustudy.core.engines import numba_cpu as nc

    monkeypatch.setenv("RELUSTUDY_KERNEL_DIR", str(tmp_path))
    source = nc._ROWS_TEMPLATE.format(dtype="float64")
    monkeypatch.setattr(nc, "_engine_hash", lambda: "engine sources, one version")
    before = nc._generated_module("rows_float64", source)
    monkeypatch.setattr(nc, "_engine_hash", lambda: "engine sources, another version")
    after = nc._generated_module("rows_float64", source)
    assert before.__name__ != after.__name__
    assert len(list(tmp_path.glob("rows_float64_*.py"))) == 2
    z = np.linspace(-30, 30, 64).reshape(2, 32)
    out = np.empty_like(z)
    after.rows_tanh(z, out)
    assert same_bits(out, ieee_math.tanh(z))


def test_numba_arrays_are_64_byte_aligned():
    """The numba engine's arrays start on a cache line (numba's own default is 32 bytes): an
    AVX-512 row load then never straddles two lines (numba_cpu.ARRAY_ALIGN)."""
    from numba import njit

    from relustudy.core.engines import numba_cpu

    @njit
    def addresses(n):
        out = np.empty(n, np.int64)
        for i in range(n):
            out[i] = np.zeros((i % 5 + 1, 3)).ctypes.data  # odd sizes: no lucky allocator
        return out

    assert numba_cpu.ARRAY_ALIGN == 64
    assert np.all(addresses(50) % 64 == 0)


def test_numba_divergence_stays_in_its_run():
    cells = [Cell(activation="relu", output="identity", update="corrected", lr=lr, epochs=200) for lr in (10.0, 0.01)]
    wild, sane = train_group(cells, range(40), engine="numba")
    assert wild.metrics["diverged"].mean() > 0.5 and (wild.metrics["outcome"] == "diverged").any()
    assert differences([sane], [train(cells[1], range(40), engine="numba")]) == []
    assert differences([wild, sane], train_group(cells, range(40), engine="numpy")) == []


def test_unknown_engine_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown engine 'torch'; allowed: numba, numpy, cuda"):
        train(Cell(epochs=1), [0], engine="torch")


def test_missing_numba_falls_back_to_numpy_with_a_notice(monkeypatch, capsys):
    monkeypatch.setattr(engines, "_numba_missing", lambda: "numba is not installed (pip install numba)")
    monkeypatch.setitem(engines._UNAVAILABLE, "numba", engines._numba_missing)
    monkeypatch.setattr(engines, "_notified", False)
    assert resolve_engine(None) == "numpy"
    assert resolve_engine(None) == "numpy"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["relustudy: numba is not installed (pip install numba); training with the numpy engine"]
    with pytest.raises(EngineUnavailable, match="engine 'numba' cannot run here: numba is not installed"):
        resolve_engine("numba")


def _gpu_present() -> bool:
    from relustudy.core.engines.cuda_gpu import simulated, unavailable_reason

    return unavailable_reason() is None and not simulated()


@pytest.mark.skipif("_gpu_present()", reason="a GPU is present: the engine runs instead of refusing")
def test_cuda_without_a_gpu_is_refused_in_one_line():
    with pytest.raises(EngineUnavailable) as e:
        resolve_engine("cuda")
    assert "\n" not in str(e.value) and "allowed here: numba, numpy" in str(e.value)


def test_cuda_hardware_intrinsics_exist():
    """The simulator never calls them, so check here that the hardware path names real libdevice functions."""
    from numba.cuda import libdevice

    from relustudy.core.engines.cuda_gpu import LIBDEVICE_OPS

    assert all(callable(getattr(libdevice, name, None)) for name in LIBDEVICE_OPS)
    source = Path(__file__).resolve().parent.parent / "relustudy" / "core" / "engines" / "cuda_gpu.py"
    used = set(re.findall(r"libdevice\.(\w+)\(", source.read_text()))
    assert used == set(LIBDEVICE_OPS)


@pytest.mark.slow
def test_cuda_kernels_compile_for_an_h100_without_fma():
    """The hardware path (libdevice intrinsics) compiled to sm_90 PTX: no fused multiply-add anywhere.

    Needs the CUDA toolkit's NVVM and NVRTC (a GPU is not needed); skipped where they are missing.
    """
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    toolkits = sorted(Path("/usr/local").glob("cuda-*"))
    if toolkits and "CUDA_HOME" not in env:
        env["CUDA_HOME"] = str(toolkits[-1])
    out = subprocess.run([sys.executable, str(HERE / "cuda_ptx_check.py")], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode == 3:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stdout + out.stderr
    # Every kernel of cuda_ptx_check.kernels (from the registries, plus the batch kernels), each clean.
    listed = list(kernels())
    assert out.stdout.count(": 0 FMA, 0 non-IEEE divisions") == len(listed) >= len(ACTIVATIONS) * len(DTYPES)
    float32 = sum(k[4] == "float32" for k in listed)
    assert out.stdout.count(", 0 f64 instructions") == float32  # the float32 kernels: no promotion
    checked = {line.split()[1 + line.split().index("1)")].split("/")[0] for line in out.stdout.splitlines()
               if line.startswith("kernel")}
    assert checked == set(ACTIVATIONS)


# Not slow: CI's one check of the CUDA kernel's bits, in numba-cuda's simulator (~15 s).
def test_cuda_kernel_matches_numpy_on_the_simulator():
    """The CUDA kernel's logic under NUMBA_ENABLE_CUDASIM=1 (a fresh process: the flag is read at import).

    The simulator computes in unfused IEEE double, so this checks the kernel, not the GPU's
    FMA contraction; test_cuda_matches_numpy_on_a_gpu does that on hardware.
    """
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(HERE)}
    out = subprocess.run([sys.executable, str(HERE / "engine_checks.py")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "checked 28 batches numpy vs cuda (simulator); 0 differences" in out.stdout


@pytest.mark.skipif("not _gpu_present()", reason="needs an NVIDIA GPU")
def test_cuda_matches_numpy_on_a_gpu():
    cell = Cell()
    seeds = range(4096)
    assert differences([train(cell, seeds, engine="numpy")], [train(cell, seeds, engine="cuda")]) == []


def test_cell_spec_names_the_kernel_train_uses(monkeypatch):
    """The grid's warm-up compiles one kernel per numba_cpu.cell_spec: it must be the kernel the
    training call then uses (four cells of the default grid share each of its 8 kernels)."""
    from relustudy.core.engines import numba_cpu as nc
    from relustudy.runs.spec import Grid

    seen = []
    original = nc.kernel
    monkeypatch.setattr(nc, "kernel", lambda spec: seen.append(spec) or original(spec))
    cells = [Cell(epochs=1), Cell(epochs=1, output="identity", update="corrected", optimizer="momentum"),
             Cell(epochs=1, activation="tanh", hidden=(3,)), Cell(epochs=1, activation="leaky_relu", output="identity")]
    for cell in cells:
        for track in (False, True):
            seen.clear()
            train_group([cell], [0], engine="numba", track_output=track)
            assert seen == [nc.cell_spec(cell, track)]
    specs = {nc.cell_spec(c) for c in Grid().cells()}
    assert len(specs) == 8 and nc.cell_spec(Cell(update="corrected", output="identity")) == nc.cell_spec(Cell())
    assert nc.cell_spec(Cell(), track=True) != nc.cell_spec(Cell())  # a tracked output has its own kernel
