"""Registry contracts, in the style of scikit-learn's ``parametrize_with_checks``: every entry of
every registry (activations, inits, optimizers, studies) is walked through every table derived
from it, so a new entry that some place misses fails here by name.

The engines' bit-for-bit agreement with the reference on every activation and optimizer is
test_engines.py's and test_new_factor_engines.py's (parametrized over the same registries); the
PTX check's coverage is checked here through ``cuda_ptx_check.kernels``.
"""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import cuda_ptx_check
from relustudy import Cell, train
from relustudy.analysis import vocabulary
from relustudy.core import activations, config, inits, optimizers
from relustudy.core.engines import formulas, kernel_source, numba_cpu
from relustudy.core.inits import draw_normals, transform
from relustudy.studies import STUDIES
from relustudy.studies.base import Study


def _formulas():
    return formulas.build(np.add, np.subtract, np.multiply, np.divide, np.sqrt, np.expm1, np.tanh,
                          lambda z: 1.0 / (1.0 + np.exp(-z)))


def activation_misses(name: str) -> list[str]:
    """The derived tables that do not agree with the registry's entry ``name`` (empty: all do)."""
    act = activations.ACTIVATIONS[name]
    missing = []
    if name not in config.ACTIVATIONS:
        missing.append("config.ACTIVATIONS")
    if name not in config.FACTOR_REGISTRY["activation"].levels:
        missing.append("the activation factor's levels")
    F = _formulas()
    if not (callable(getattr(F, f"f_{name}", None)) and callable(getattr(F, f"d_{name}", None))):
        missing.append("formulas.build's f_/d_")
    if (name in vocabulary.RELU_FAMILY) != act.relu_family:
        missing.append("vocabulary.RELU_FAMILY")
    if (name in kernel_source.RELU_FAMILY) != act.relu_family:
        missing.append("kernel_source.RELU_FAMILY")
    if (name in numba_cpu.BIG) != act.whole_layer or (name in kernel_source.WHOLE_LAYER) != act.whole_layer:
        missing.append("the numba engine's whole-layer loops")
    if not (np.isfinite(act.cost) and act.cost >= 0):
        missing.append("the grid's cost model")
    if not any(acts[0] == name for _, acts, *_ in cuda_ptx_check.kernels()):
        missing.append("the PTX check's kernels")
    return missing


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
def test_every_activation_is_in_every_derived_table(name):
    assert activation_misses(name) == []


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
def test_every_activation_trains_in_the_reference(name):
    res = train(Cell(activation=name, epochs=3), [0, 1], engine="numpy")
    assert res.metrics["final_mse"].shape == (2,) and np.all(np.isfinite(res.metrics["final_mse"]))


def test_a_new_activation_missing_from_a_derived_table_is_named(monkeypatch):
    """The contract catches an entry that a table computed at import time does not have."""
    relu = activations.ACTIVATIONS["relu"]
    new = dataclasses.replace(relu, name="softplus_trial", relu_family=False, whole_layer=True)
    monkeypatch.setitem(activations.ACTIVATIONS, "softplus_trial", new)
    missing = activation_misses("softplus_trial")
    assert "config.ACTIVATIONS" in missing and "the activation factor's levels" in missing
    assert "the numba engine's whole-layer loops" in missing
    assert "formulas.build's f_/d_" not in missing  # built from the registry at call time
    assert "the PTX check's kernels" not in missing  # likewise


@pytest.mark.parametrize("name", list(inits.INITS))
def test_every_init_is_a_factor_level_and_a_paired_transform(name):
    assert name in config.INITS and name in config.FACTOR_REGISTRY["init"].levels
    normals = draw_normals([3, 4], (2, 4, 1))
    a, b = transform(name, normals), transform(name, draw_normals([3, 4], (2, 4, 1)))
    for (wa, ba), (wb, bb), (wn, bn) in zip(a, b, normals):
        assert wa.shape == wn.shape and ba.shape == bn.shape  # (n_out, n_in, R), (n_out, R)
        assert np.all(np.isfinite(wa)) and np.all(np.isfinite(ba))
        assert np.array_equal(wa, wb) and np.array_equal(ba, bb)  # a transform of the seed's draws alone


@pytest.mark.parametrize("name", list(inits.PERTURBS))
def test_every_init_perturbation_is_a_factor_level(name):
    assert name in config.INIT_PERTURBS and name in config.FACTOR_REGISTRY["init_perturb"].levels


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_every_optimizer_has_a_step_and_trains(name):
    opt = optimizers.OPTIMIZERS[name]
    assert name in config.OPTIMIZERS and name in config.FACTOR_REGISTRY["optimizer"].levels
    assert callable(getattr(_formulas(), name, None))  # the fused engines' per-lane step
    assert opt.state >= 0 and opt.cost >= 0 and opt.doc
    res = train(Cell(optimizer=name, epochs=3), [0], engine="numpy")
    assert np.all(np.isfinite(res.metrics["final_mse"]))


def test_optimizer_constants_are_the_documented_defaults():
    assert (optimizers.MOMENTUM, optimizers.ADAM_BETA1, optimizers.ADAM_BETA2, optimizers.ADAM_EPS) == (0.9, 0.9, 0.999, 1e-8)


# --------------------------------------------------------------------------- studies

_CONTRACT = {"select": 1, "finding": 1, "section": 3, "verdict": 1, "figures": 1, "answer": 2}


@pytest.mark.parametrize("study", STUDIES, ids=[s.name for s in STUDIES])
def test_every_study_satisfies_the_contract(study):
    assert isinstance(study, Study)
    assert study.title and study.title == study.title.strip()
    for field, arity in _CONTRACT.items():
        fn = getattr(study, field)
        if fn is None:
            assert field in ("verdict", "figures", "answer"), field
            continue
        params = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert len(params) == arity, f"{study.name}.{field} takes {len(params)} arguments; the contract: {arity}"


def test_study_names_are_unique_anchors():
    names = [s.name for s in STUDIES]
    assert len(set(names)) == len(names)
    with pytest.raises(ValueError, match="invalid study name"):
        Study(name="Not An Anchor", title="t", select=lambda ctx: None, finding=lambda d: d,
              section=lambda r, v, links: "")


def test_posted_cell_comes_from_cell_defaults():
    from relustudy.studies.common import POSTED

    defaults = Cell().factor_values()
    assert all(defaults[k] == v for k, v in POSTED.items())
