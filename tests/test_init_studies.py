"""The two questions of issue 16 as studies: init predictability (learning curve) and smooth basins or chaos,
rendered from their stored tables; verdict keys from the rules."""
import numpy as np
import pandas as pd
import pytest

from relustudy.experiments import init_curve as ic
from relustudy.experiments.chaos import run_chaos
from relustudy.experiments.chaos_tables import load_chaos
from relustudy.studies.common import Context, Skip
from relustudy.studies import STUDIES
from relustudy.studies.base import render
from relustudy.studies import basins
from relustudy.studies import init_predictability
from test_init_curve import _runs


def _ctx(tmp_path, **extras):
    return Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path,
                   extras=extras)


def test_both_studies_are_registered():
    names = [s.name for s in STUDIES]
    assert "basins" in names and "init-predictability" in names


def test_studies_skip_without_their_tables(tmp_path):
    with pytest.raises(Skip, match="run_init_curve.py"):
        render(init_predictability.STUDY, _ctx(tmp_path))
    with pytest.raises(Skip, match="run_chaos.py"):
        render(basins.STUDY, _ctx(tmp_path))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("issue16")
    ic.run_init_curve(_runs(3000), d / "curve", cells=ic.CELLS[:1], held_out=600, sizes=(300, 900, 2400),
                      max_iter=30, n_boot=20, log=lambda m: None)
    run_chaos(d / "chaos", (0, 40), cells=("posted", "lr 0.1"), epsilons=(1e-6, 1e-1), epochs=150, block=20,
              response_seeds=10, jobs=1, log=lambda m: None)
    return ic.load_init_curve(d / "curve"), load_chaos(d / "chaos")


def test_init_predictability_renders_from_stored_tables(tmp_path, tables):
    curve, chaos = tables
    out = render(init_predictability.STUDY, _ctx(tmp_path, init_curve=curve, chaos=chaos))
    text = out.section
    assert "## How simple is the map from init to outcome?" in text
    assert "held-out seeds 0..599" in text and "fitted ceiling" in text
    assert "drawn at init" not in text and "training decides" not in text  # the invalid verdict is gone
    simple, curve_key, chaos_key = out.verdict.key.split(": ")[1].split("/")
    assert chaos_key in ("no flips", "not vanishing", "rough", "smooth", "undetermined")
    assert "under perturbations of the init" in out.verdict.text
    assert simple in ("most", "part", "little") and curve_key in ("rising to near-exact", "rising", "saturated",
                                                                  "uncertain")
    assert "near a flip boundary" in text  # the posted cell was perturbed
    assert (tmp_path / "figures" / "init_learning_curve.png").stat().st_size > 10_000
    f = init_predictability.finding((curve, chaos, {}))
    assert set(f.mistakes["cell"]) == {"posted"} and "mistakes_near_flip" in f.mistakes.columns


def test_basins_renders_and_its_key_lists_each_cell(tmp_path, tables):
    _, chaos = tables
    out = render(basins.STUDY, _ctx(tmp_path, chaos=chaos))
    keys = dict(part.split(": ") for part in out.verdict.key.split("; "))
    assert set(keys) == {"posted", "lr 0.1"}
    assert all(k in ("no flips", "not vanishing", "rough", "smooth", "undetermined") for k in keys.values())
    assert "P(flip) [95% CI, clustered]" in out.section and "Δ final weights\\|" in out.section
    assert (tmp_path / "figures" / "chaos_flips.png").stat().st_size > 10_000


def test_basins_verdict_combines_the_cells_rules():
    rates = pd.DataFrame({"eps": [1e-6, 1e-3], "pairs": [1000, 1000], "flips": [0, 0]})
    f = basins.BasinsFinding(rates.assign(cell="a"), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                             {"a": ("no flips", "none"), "b": ("smooth", "P ~ eps")})
    v = basins.verdict(f)
    assert v.key == "a: no flips; b: smooth" and v.text == "**a**: none. **b**: P ~ eps."
