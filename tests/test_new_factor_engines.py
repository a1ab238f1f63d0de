"""Every fused engine gives the reference's bits for the new factors (Adam, shuffled order, float32, death timing).

An engine declares what it implements (its module's FEATURES, read by ``engines.engine_features``);
for a feature it lacks the comparison is skipped with that reason, checked when the test runs, and the
engine refuses such cells in one line (tested) rather than training them differently.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from new_factor_checks import compare_new_factors, compare_tasks
from relustudy import Cell, train
from relustudy.core.activations import ACTIVATIONS
from relustudy.core.engines import _MODULES, NEW_FEATURES, EngineUnavailable, check_engine_supports, engine_features, features_needed

HERE = Path(__file__).resolve().parent
CELLS = {"adam": Cell(optimizer="adam", epochs=2), "shuffled": Cell(data_order="shuffled", order_seed=1, epochs=2),
         "float32": Cell(dtype="float32", epochs=2), "track_output": Cell(epochs=2), "batch": Cell(batch=2, epochs=2)}


def _lacking(engine: str, feature: str) -> None:
    """Skip, saying why, when the engine does not implement the feature (decided at run time)."""
    if feature not in engine_features(engine):
        pytest.skip(f"engine {engine} does not implement {feature} yet: relustudy.core.engines.{_MODULES[engine]}.FEATURES "
                    f"lacks it (has: {', '.join(sorted(engine_features(engine))) or 'none'})")


def test_the_reference_implements_every_new_feature():
    assert engine_features("numpy") == frozenset(NEW_FEATURES)
    assert features_needed(Cell(optimizer="adam", dtype="float32"), track_output=True) == {"adam", "float32",
                                                                                         "track_output"}


@pytest.mark.parametrize("feature", NEW_FEATURES)
def test_an_engine_refuses_what_it_lacks_in_one_line(feature, monkeypatch):
    """Every engine implements every feature today, so the refusal path is exercised on a numba
    engine made to lack one (its FEATURES, which engines.engine_features reads, without it)."""
    import relustudy.core.engines.numba_cpu as numba_cpu

    monkeypatch.setattr(numba_cpu, "FEATURES", frozenset(numba_cpu.FEATURES) - {feature})
    with pytest.raises(EngineUnavailable, match=f"engine 'numba' does not implement {feature} yet") as e:
        check_engine_supports("numba", CELLS[feature], track_output=feature == "track_output")
    allowed = str(e.value).split("allowed for this cell: ")[1].split(", ")
    assert "\n" not in str(e.value) and "numpy" in allowed and "numba" not in allowed
    # asked for by name: refused; by default: the reference, with a notice
    with pytest.raises(EngineUnavailable, match="does not implement"):
        train(CELLS[feature], [0], engine="numba", track_output=feature == "track_output")
    assert train(CELLS[feature], [0], track_output=feature == "track_output").metrics["final_mse"].shape == (1,)


# The first feature in the fast loop (up to 8 kernels per feature, ~4 s each on a fresh clone); the rest are slow.
@pytest.mark.parametrize("feature", [f if k == 0 else pytest.param(f, marks=pytest.mark.slow)
                                     for k, f in enumerate(NEW_FEATURES)])
def test_numba_gives_the_reference_bits_on_a_subset(feature):
    """A representative subset (one piecewise-linear and one exp-based activation, both updates,
    momentum and adam): 8 kernels per dtype, most shared with the other features."""
    _lacking("numba", feature)
    optimizers = ["adam"] if feature == "adam" else ["momentum", "adam"]
    n, bad = compare_new_factors("numba", feature, seeds=range(16), epochs=40, activations=("relu", "tanh"),
                                 outputs=("same",), optimizers=optimizers)
    assert n == 2 * 2 * len(optimizers) and bad == []


@pytest.mark.slow  # the whole matrix: up to 12 kernels per feature and activation (one test each, for pytest-xdist)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("feature", NEW_FEATURES)
def test_numba_gives_the_reference_bits(feature, activation):
    _lacking("numba", feature)
    n, bad = compare_new_factors("numba", feature, seeds=range(16), epochs=40, activations=(activation,))
    assert n >= 2 * 2 and bad == []


def test_numba_gives_the_reference_bits_on_every_task_and_batch_on_a_subset():
    """Issue 27: every task x batch 1/2/full once, both updates and sgd/adam in turn, one net."""
    n, bad = compare_tasks("numba", seeds=range(9), epochs=3, hiddens=((4, 4),), optimizers=("sgd", "adam"), cover=True)
    assert n == 5 * 3 and bad == []


def test_numba_fused_and_summed_batch_steps_give_the_reference_bits():
    """The kernel's two batch steps (kernel_source.FUSED_MAX): fused for a batch of 3 (whole on
    six pairs) and 4 (ragged: 4 + 2, the last batch through the DW array), the DW array for 16;
    a ragged 5 on 64 pairs; the shuffled order through both."""
    from relustudy.core.engines.kernel_source import FUSED_MAX

    assert 4 <= FUSED_MAX < 16
    n, bad = compare_tasks("numba", seeds=range(9), epochs=3, tasks=("posted",), batches=(3, 4), hiddens=((4, 4),),
                           optimizers=("sgd", "momentum"), cover=True)
    m, bad2 = compare_tasks("numba", seeds=range(9), epochs=2, tasks=("grid64",), batches=(5, 16), hiddens=((3, 1, 2),),
                            optimizers=("adam",), shuffled=True, cover=True)
    assert n == 2 and m == 2 and bad + bad2 == []


@pytest.mark.slow  # every optimizer and a second net (3-1-2) in turn, the shuffled order and float32
def test_numba_gives_the_reference_bits_on_every_task_and_batch():
    n, bad = compare_tasks("numba", seeds=range(9), epochs=3, hiddens=((4, 4), (3, 1, 2)), cover=True)
    m, bad2 = compare_tasks("numba", seeds=range(9), epochs=3, tasks=("posted", "grid64_std"), batches=(2, "full"),
                            hiddens=((3, 1, 2),), shuffled=True, dtype="float32", cover=True)
    assert n == 5 * 3 and m == 2 * 2 and bad + bad2 == []


# Not slow: CI's simulator check of every task and batch (a fresh process on one core, ~10 s).
def test_cuda_kernel_gives_the_reference_bits_on_every_task_and_batch_on_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    out = subprocess.run([sys.executable, str(HERE / "new_factor_checks.py"), "tasks"], env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "for tasks; 0 differences" in out.stdout


@pytest.mark.slow  # a fresh process under numba-cuda's simulator, like test_engines' simulator check
@pytest.mark.parametrize("feature", NEW_FEATURES)
def test_cuda_kernel_gives_the_reference_bits_on_the_simulator(feature):
    _lacking("cuda", feature)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    out = subprocess.run([sys.executable, str(HERE / "new_factor_checks.py"), feature], env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"for {feature}; 0 differences" in out.stdout
