"""Death forensics: hand-built deaths and revivals, and the replay is the engines' very run."""
import numpy as np

from engine_checks import same_bits
from relustudy import Cell, train
from relustudy.experiments.forensics import AT_INIT, NEVER, margins, replay
from relustudy.core.train import _activations

ONE_SAMPLE = (np.array([[1.0, 0.0]]), np.array([0.5]))  # x = (1, 0), y = 0.5


def _net(w1, b1, w2, b2):
    """A 2-1-1 net for one run: W (n_out, n_in, 1), b (n_out, 1)."""
    return [(np.array(w1, float).reshape(1, 2, 1), np.array([[b1]], float)),
            (np.array(w2, float).reshape(1, 1, 1), np.array([[b2]], float))]


def test_output_killed_by_its_own_update_at_a_known_step():
    # a1 = relu(1) = 1, out = relu(2) = 2 > y: g = 2 (2 - 0.5) = 3, and at lr 1 the posted
    # output update gives W2 = 2 - 3 = -1, b2 = 0: margin -1 after layer 2's update of step 1.
    f = replay(Cell(hidden=(1,), lr=1.0, epochs=3), [0], init=_net([1, 0], 0, [2], 0), data=ONE_SAMPLE).runs
    assert f.loc[0, "output_death_epoch"] == 1 and f.loc[0, "output_death_step"] == 1
    assert f.loc[0, "output_killer_layer"] == 2
    assert f.loc[0, "output_margin_before"] == 2.0 and f.loc[0, "output_margin_after"] == -1.0
    assert f.loc[0, "output_revival_epoch"] == NEVER and f.loc[0, "output_dead_end"]


def test_revival_by_the_posted_bias_decay():
    # Dead at init: margin 1 - 2 = -1. Nothing flows back through a dead ReLU, but the posted
    # rule decays b2 = -2 * 0.9^t, so the margin 1 - 2 * 0.9^t turns positive at t = 7.
    f = replay(Cell(hidden=(1,), lr=0.1, epochs=10), [0], init=_net([1, 0], 0, [1], -2), data=ONE_SAMPLE).runs
    assert f.loc[0, "output_death_epoch"] == AT_INIT and f.loc[0, "output_killer_layer"] == AT_INIT
    t = int(np.ceil(np.log(2) / -np.log(0.9)))
    assert t == 7 and f.loc[0, "output_revival_epoch"] == t and f.loc[0, "output_reviver_layer"] == 2
    assert not f.loc[0, "output_dead_end"]


def test_the_corrected_update_never_revives_a_dead_output():
    f = replay(Cell(hidden=(1,), lr=0.1, epochs=10, update="corrected"), [0], init=_net([1, 0], 0, [1], -2),
               data=ONE_SAMPLE).runs
    assert f.loc[0, "output_death_epoch"] == AT_INIT and f.loc[0, "output_revival_epoch"] == NEVER


def test_replay_is_the_engines_run():
    """Same final weights and outcome as the numba engine; death counts agree with the record."""
    cell = Cell(epochs=300, lr=0.1)
    seeds = range(64)
    f = replay(cell, seeds, trace_seeds=[3, 5])
    res = train(cell, seeds, engine="numba")
    for (wa, ba), (wb, bb) in zip(f.final_params, res.params):
        assert same_bits(wa, wb) and same_bits(ba, bb)
    assert np.array_equal(f.runs["output_dead_end"].to_numpy(), res.metrics["output_dead_final"])
    assert np.array_equal(f.runs["output_death_epoch"].to_numpy() == AT_INIT, res.metrics["output_dead_init"])
    died = f.runs["output_death_epoch"] > AT_INIT
    assert died.any()  # lr 0.1 kills some outputs during training
    assert (f.runs.loc[died, "output_margin_before"] > 0).all() and (f.runs.loc[died, "output_margin_after"] <= 0).all()
    assert set(f.traces["seed"]) == {3, 5} and len(f.traces) == 2 * (300 * 6 + 1)


def test_margins_by_hand():
    params = _net([1, 0], -2, [1], 0.5)  # hidden pre-activation 1 - 2 = -1 < 0: layer dead, out = 0.5
    m, dead = margins(params, _activations(Cell(hidden=(1,))), ONE_SAMPLE[0])
    assert m.tolist() == [0.5] and dead.tolist() == [[True]]


def test_run_forensics_writes_resumes_and_summarises(tmp_path):
    from relustudy.experiments.forensics import death_summary, load_forensics, run_forensics

    cells = {"posted": Cell(epochs=60, lr=0.1), "corrected": Cell(epochs=60, lr=0.1, update="corrected")}
    run_forensics(tmp_path, (0, 40), cells, jobs=1, log=lambda m: None)
    runs, traces = load_forensics(tmp_path)
    assert len(runs) == 80 and list(runs["variant"].cat.categories) == ["posted", "corrected"]
    shards = sorted((tmp_path / "shards").iterdir())
    stamp = [p.stat().st_mtime_ns for p in shards]
    logged = []
    run_forensics(tmp_path, (0, 40), cells, jobs=1, log=logged.append)  # resumes: nothing replayed
    assert [p.stat().st_mtime_ns for p in shards] == stamp and not any("replaying" in m for m in logged)
    # The summary against an independent count.
    s = death_summary(runs).set_index("variant")
    for name, g in runs.groupby("variant", observed=True):
        trained = g[g["output_death_epoch"] > 0]
        assert s.loc[name, "died_in_training"] == len(trained)
        assert s.loc[name, "born_dead"] == (g["output_death_epoch"] == 0).sum()
        if len(trained):
            assert s.loc[name, "epoch_median"] == trained["output_death_epoch"].median()
            assert s.loc[name, "killed_by output layer"] == (trained["output_killer_layer"] == 3).mean()
    assert set(traces["variant"]) <= {"posted", "corrected"} and traces["output_margin"].dtype == np.float32


def test_load_forensics_refuses_a_foreign_file(tmp_path):
    import pandas as pd
    import pytest

    from relustudy.experiments.forensics import load_forensics

    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "forensics.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "traces.parquet")
    with pytest.raises(ValueError, match="is not a relustudy dataset file"):
        load_forensics(tmp_path)
    with pytest.raises(FileNotFoundError, match="run `python scripts/run_forensics.py`"):
        load_forensics(tmp_path / "nothing")


def test_summary_and_section_without_any_death_in_training(tmp_path):
    """A cell where no output dies during training still summarises and renders (empty columns)."""
    import pandas as pd

    from relustudy.experiments.forensics import death_summary
    from relustudy.studies.common import Context
    from relustudy.studies.base import render
    from relustudy.studies import how_runs_die

    runs = pd.DataFrame({"variant": pd.Categorical(["as posted"] * 3), "output_death_epoch": [0, -1, -1],
                         "output_killer_layer": [0, -1, -1], "output_revival_epoch": [-1, -1, -1],
                         "output_reviver_layer": [-1, -1, -1], "output_dead_end": [True, False, False],
                         "layer1_death_epoch": [-1] * 3, "layer2_death_epoch": [-1] * 3})
    s = death_summary(runs).iloc[0]
    assert s["died_in_training"] == 0 and s["born_dead"] == 1 and np.isnan(s["epoch_median"])
    traces = pd.DataFrame({"variant": [], "seed": [], "step": [], "output_margin": []})
    ctx = Context(runs=None, curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path,
                  extras={"forensics": (runs, traces)})
    out = render(how_runs_die.STUDY, ctx)
    assert out.verdict.key == "none"
    assert "No output of the posted cell dies during training (0.0% (0 of 2 outputs alive at init" in out.section
