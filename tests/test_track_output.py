"""Death-timing columns (issue 16.3): output_death_epoch and output_state_changes, by hand and against an oracle."""
import dataclasses

import numpy as np
import pytest

from relustudy import Cell, load_runs, train
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.core.schema import TRACK_OUTPUT_COLUMNS

ONE_SAMPLE = (np.array([[1.0, 0.0]]), np.array([0.5]))  # x = (1, 0), y = 0.5: one update per epoch


def _net(w1, b1, w2, b2):
    """A 2-1-1 net for one run: W (n_out, n_in, 1), b (n_out, 1)."""
    return [(np.array(w1, float).reshape(1, 2, 1), np.array([[b1]], float)),
            (np.array(w2, float).reshape(1, 1, 1), np.array([[b2]], float))]


def _track(cell, init):
    m = train(cell, [0], init=init, data=ONE_SAMPLE, engine="numpy", track_output=True).metrics
    assert m["output_death_epoch"].dtype == np.int32 and m["output_state_changes"].dtype == np.int32
    return int(m["output_death_epoch"][0]), int(m["output_state_changes"][0]), bool(m["output_dead_final"][0])


def test_dead_at_init_and_never_revived_is_epoch_0_with_no_change():
    cell = Cell(hidden=(1,), lr=0.1, epochs=10, update="corrected")  # no gradient reaches a dead output
    assert _track(cell, _net([1, 0], 0, [1], -2)) == (0, 0, True)


def test_a_known_death():
    # out = relu(2) = 2 > y: at lr 1 the posted output update gives W2 = -1, b2 = 0 at step 1 (epoch 1),
    # and a dead ReLU output stays dead under the posted rule with b2 = 0.
    assert _track(Cell(hidden=(1,), lr=1.0, epochs=3), _net([1, 0], 0, [2], 0)) == (1, 1, True)


def test_a_revival_is_counted():
    # Dead at init (margin 1 - 2 = -1); the posted decay b2 = -2 * 0.9^t lifts the margin above 0 at t = 7.
    assert _track(Cell(hidden=(1,), lr=0.1, epochs=10), _net([1, 0], 0, [1], -2)) == (0, 1, False)
    assert _track(Cell(hidden=(1,), lr=0.1, epochs=6), _net([1, 0], 0, [1], -2)) == (0, 0, True)


def test_an_output_that_cannot_die_is_minus_one_and_zero():
    cell = Cell(output="identity", lr=0.1, epochs=20)
    m = train(cell, range(16), engine="numpy", track_output=True).metrics
    assert (m["output_death_epoch"] == -1).all() and (m["output_state_changes"] == 0).all()


def test_columns_match_epoch_by_epoch_replays():
    """Oracle: a run stopped after e epochs has the weights of epoch e's end, so output_dead_final of
    the e-epoch runs (e = 0..E) is the state sequence the tracker must have summarised."""
    cell = Cell(optimizer="adam", lr=0.05, epochs=30)  # outputs die and revive often here
    seeds = range(32)
    full = train(cell, seeds, engine="numpy", track_output=True).metrics
    states = [full["output_dead_init"]]
    states += [train(dataclasses.replace(cell, epochs=e), seeds, engine="numpy").metrics["output_dead_final"]
               for e in range(1, cell.epochs + 1)]
    states = np.array(states)  # (E + 1, R)
    changes = (states[1:] != states[:-1]).sum(axis=0)
    ever = states.any(axis=0)
    first = np.where(ever, states.argmax(axis=0), -1)
    assert np.array_equal(full["output_state_changes"], changes)
    assert np.array_equal(full["output_death_epoch"], first)
    assert np.array_equal(states[-1], full["output_dead_final"])
    assert changes.max() >= 3 and ((first > 0).any()) and (first == 0).any()  # the cases the test is for


def test_tracking_changes_nothing_else():
    cell = Cell(lr=0.1, epochs=50)
    a = train(cell, range(20), engine="numpy")
    b = train(cell, range(20), engine="numpy", track_output=True)
    assert set(b.metrics) - set(a.metrics) == set(TRACK_OUTPUT_COLUMNS)
    for k, v in a.metrics.items():
        np.testing.assert_array_equal(v, b.metrics[k])


def test_grid_track_output_writes_the_columns(tmp_path):
    kw = dict(seeds=(0, 6), activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",),
              optimizers=("sgd",), lrs=(0.1,), epochs=(20,), block=3, engine="numpy")
    engine = kw.pop("engine")
    run_grid(Grid(**kw, out=tmp_path / "plain"), jobs=1, progress=False, log=lambda m: None, engine=engine)
    run_grid(Grid(**kw, track_output=True, columns="compact", out=tmp_path / "t"), jobs=1, progress=False,
             log=lambda m: None, engine=engine)
    plain, tracked = load_runs(tmp_path / "plain"), load_runs(tmp_path / "t")
    assert not set(TRACK_OUTPUT_COLUMNS) & set(plain.columns)
    assert tracked["output_death_epoch"].dtype == np.int32
    m = train(Cell(lr=0.1, epochs=20), range(6), engine="numpy", track_output=True).metrics
    for c in TRACK_OUTPUT_COLUMNS:
        assert np.array_equal(tracked[c].to_numpy(), m[c])
    assert load_runs(tmp_path / "t").attrs["relustudy"]["grid"]["track_output"] is True


@pytest.mark.parametrize("name", ["numba", "cuda"])
def test_an_engine_without_the_feature_is_refused_in_one_line(name):
    from relustudy.core.engines import EngineUnavailable, check_engine_supports, engine_features

    if "track_output" in engine_features(name):
        pytest.skip(f"engine {name} implements track_output (tested in test_new_factor_engines.py)")
    with pytest.raises(EngineUnavailable, match=f"engine '{name}' does not implement track_output yet; allowed"):
        check_engine_supports(name, Cell(), track_output=True)
