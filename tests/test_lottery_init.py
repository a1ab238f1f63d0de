"""The report section on how much is drawn at init, on a synthetic runs table whose answer is known."""
import functools

import numpy as np
import pandas as pd
import pytest

from relustudy import init_predict as ip
from relustudy.config import Cell
from relustudy.figures_init import auroc_intervals
from relustudy.studies import STUDIES
from relustudy.report.common import Context, Skip
from relustudy.report.lottery_init import init_predictability, section_init_predictability


def _runs(n=150, lr=0.01, flip_dead=0):
    """The posted cell's seeds 0..n-1 with outcomes a known function of the init: fails iff the output
    is dead or the first layer-1 unit is dead on the data (features recomputed like the section does)."""
    cell = Cell(lr=lr)
    seeds = np.arange(n)
    f = ip.cell_init_features(cell, seeds)
    v = dict(zip(f.names, f.values.T))
    dead = v["output_dead"].astype(bool)
    fail = dead | (v["max_z1[0]"] <= 0)
    recorded = dead.copy()
    recorded[:flip_dead] = ~recorded[:flip_dead]
    d = cell.to_dict()
    return pd.DataFrame({"cell_id": "posted", "seed": seeds, **{k: [d[k]] * n for k in d},
                         "outcome": np.where(fail, "dead_output", "solved"), "output_dead_init": recorded})


@pytest.fixture
def fast(monkeypatch):
    """Fewer bootstrap replicates and permutations: the section's logic, not its precision."""
    monkeypatch.setattr(ip, "predict_cell", functools.partial(ip.predict_cell, n_boot=200, n_repeats=1))


def _ctx(tmp_path, runs):
    return Context(runs=runs, curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path)


def test_section_is_in_the_report():
    assert section_init_predictability in [s.select for s in STUDIES]


def test_section_on_known_answer_is_deterministic_and_notes_missing_cells(tmp_path, fast):
    ctx = _ctx(tmp_path, _runs())
    text = section_init_predictability(ctx)
    res = ctx.finding(init_predictability)
    p = res.cells[("default", "posted")]
    # Failure is a function of two init features: the classifiers find it, "dead at init" misses half of it.
    assert p.all_seeds.of("boosting")[0] > 0.95
    assert p.all_seeds.minus("boosting", ip.DEAD)[1] > 0
    # On the seeds alive at init the layer-1 unit's margin is the whole story, and the importance says so.
    alive = res.single[res.single["subset"] == "alive"].set_index("group")["drop"]
    assert alive.idxmax() == "max_z1[0]" and alive["max_z1[0]"] > 0.3
    assert "corrected update is not in data/default" in text and "matched step lr 0.001 is not in data/default" in text
    assert "(tmp" not in text and (tmp_path / "figures" / "init_predictability.png").stat().st_size > 10_000
    again = section_init_predictability(_ctx(tmp_path / "again", _runs()))
    assert again == text


def test_section_skips_small_cells_and_data_made_with_other_init_code(tmp_path, fast):
    small = _runs(n=40)
    with pytest.raises(Skip, match="fewer than 100"):
        section_init_predictability(_ctx(tmp_path, small))
    with pytest.raises(Skip, match="disagree .* on 3 seeds"):
        section_init_predictability(_ctx(tmp_path, _runs(flip_dead=3)))


def test_auroc_intervals_draws_one_errorbar_per_row():
    df = pd.DataFrame({"cell": ["a", "a", "b"], "predictor": ["x", "y", "x"], "auroc": [0.8, 0.9, 0.6],
                       "low": [0.7, 0.85, 0.5], "high": [0.85, 0.95, 0.7]})
    ax = auroc_intervals(df, y="cell", hue="predictor")
    assert len(ax.containers) == 2 and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert ax.get_xlim()[0] <= 0.4
