"""Momentum-rule probes (issue 17.3): reference-engine run options, checked against the factor."""
import numpy as np
import pytest

from relustudy import Cell
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.engines.reference import MomentumRule, sgd
from relustudy.core.inits import init_params
from relustudy.experiments.probes import PROBES, train_probe
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import _activations

SEEDS = np.arange(12)


def _train(cell, rule=None, lr=None):
    params = init_params(cell.init, SEEDS, cell.layer_sizes, cell.init_gain)
    sgd(params, _activations(cell), np.full(SEEDS.size, cell.lr if lr is None else lr), cell, X_TRAIN, Y_TRAIN, rule=rule)
    return params


def _same_bits(p, q):
    return all(np.array_equal(a, b, equal_nan=True) for (wa, ba), (wb, bb) in zip(p, q) for a, b in ((wa, wb), (ba, bb)))


@pytest.mark.parametrize("update", ["as_posted", "corrected"])
def test_the_full_rule_is_the_momentum_factor_and_beta_zero_is_sgd(update):
    mom = Cell(update=update, optimizer="momentum", epochs=30)
    assert _same_bits(_train(mom, MomentumRule(MOMENTUM, MOMENTUM)), _train(mom))
    assert _same_bits(_train(mom, MomentumRule(0.0, 0.0)), _train(Cell(update=update, epochs=30)))


def test_posted_biases_follow_their_own_recurrence_so_each_probe_matches_one_factor():
    # As posted, b -= lr b (or its velocity) never reads the weights: with momentum on the
    # biases only they are momentum's biases, with momentum on the weights only SGD's, bit for bit.
    mom, plain = Cell(optimizer="momentum", epochs=25), Cell(epochs=25)
    full, sgd_p = _train(mom), _train(plain)
    w_only, b_only = _train(mom, MomentumRule(MOMENTUM, 0.0)), _train(mom, MomentumRule(0.0, MOMENTUM))
    for l in range(3):
        assert np.array_equal(b_only[l][1], full[l][1]) and np.array_equal(w_only[l][1], sgd_p[l][1])
        assert not np.array_equal(w_only[l][0], full[l][0])  # the weights do see the other biases


def test_dampened_momentum_is_momentum_at_the_matched_step_up_to_rounding():
    mom = Cell(update="corrected", optimizer="momentum", epochs=20)
    damp = _train(mom, MomentumRule(MOMENTUM, MOMENTUM, dampened=True), lr=0.01)
    matched = _train(mom, lr=0.01 * (1 - MOMENTUM))
    for (wd, bd), (wm, bm) in zip(damp, matched):
        assert np.allclose(wd, wm, rtol=1e-9, atol=1e-12) and np.allclose(bd, bm, rtol=1e-9, atol=1e-12)
    assert not _same_bits(damp, matched)  # (1 - beta) step vs lr (1 - beta): different roundings


def test_probe_errors_are_one_line():
    with pytest.raises(ValueError, match="numpy reference engine only"):
        train_probe(Cell(epochs=2), [0], "momentum on weights only", engine="numba")
    with pytest.raises(ValueError, match="allowed: sgd, momentum on weights only"):
        train_probe(Cell(epochs=2), [0], "nesterov")
    with pytest.raises(ValueError, match="needs optimizer 'momentum'"):
        _train(Cell(epochs=2), MomentumRule(0.5, 0.5))
    with pytest.raises(ValueError, match=r"allowed: a number in \[0, 1\)"):
        MomentumRule(1.0, 0.0)


def test_train_probe_table_has_the_vocabulary_columns_and_the_factor_bits():
    cell = Cell(epochs=40, init_gain=0.25)
    t = train_probe(cell, SEEDS, "momentum")
    f = train_probe(cell, SEEDS, "sgd")
    assert len(t) == SEEDS.size and set(t["probe"]) == {"momentum"} and (t["optimizer"] == "momentum").all()
    assert (t["init_gain"] == 0.25).all() and t["seed"].tolist() == SEEDS.tolist()
    for col in ("outcome", "output_dead_init", "output_dead_final", "dead_frac_init_l1", "dead_frac_final_l2"):
        assert col in t
    assert t["output_dead_init"].tolist() == f["output_dead_init"].tolist()  # same init, paired by seed
    from relustudy.core.train import train
    ref = train(Cell(epochs=40, init_gain=0.25, optimizer="momentum"), SEEDS, engine="numpy")
    assert np.array_equal(t["final_mse"].to_numpy(), ref.metrics["final_mse"], equal_nan=True)
    assert set(PROBES) >= {"sgd", "momentum", "dampened beta 0.9"}


def test_epoch_end_states_follow_the_death_timing_spec():
    # gain 0.25, momentum at lr 0.01: some born-dead outputs revive (the bias decay overshoots zero)
    t = train_probe(Cell(epochs=60, init_gain=0.25), np.arange(40), "momentum")
    born = t["output_dead_init"].to_numpy(bool)
    assert (born & (t["output_state_changes"] > 0).to_numpy()).any()  # some revive
    assert (t.loc[born, "output_death_epoch"] == 0).all() and (t.loc[~born, "output_death_epoch"] != 0).all()
    # the state at the end follows from the number of changes: odd = flipped from the init state
    flipped = (t["output_state_changes"] % 2 == 1).to_numpy()
    assert np.array_equal(t["output_dead_final"].to_numpy(bool), born ^ flipped)
    never = t["output_death_epoch"] == -1
    assert (t.loc[never, "output_state_changes"] == 0).all()


@pytest.mark.parametrize("lr, beta, dampened, oscillates", [
    (0.01, 0.9, False, True), (0.001, 0.9, False, False),  # momentum at the posted lr / at the matched step
    (0.01, 0.9, True, False), (0.01, 0.99, True, True), (0.01, 0.5, True, False), (0.01, 0.0, False, False),
])
def test_bias_decay_oscillates_iff_the_heavy_ball_recurrence_is_underdamped(lr, beta, dampened, oscillates):
    from relustudy.experiments.probes import bias_decay_oscillates

    assert bias_decay_oscillates(lr, beta, dampened=dampened) == oscillates
    # the recurrence itself: b crosses zero within 2000 steps iff underdamped
    b, v, c = 1.0, 0.0, (1 - beta) if dampened else 1.0
    crossed = False
    for _ in range(2000):
        v = beta * v + c * lr * b
        b -= v
        crossed |= b < 0
    assert crossed == oscillates


def test_probes_cli_writes_a_table_the_report_loads(tmp_path, capsys):
    from relustudy.runs.content import content_hash
    from relustudy.experiments.probes import PROBES_FILE, load_probes, main

    assert main(["--out", str(tmp_path), "--seeds", "0:3", "--epochs", "5"]) == 0
    t = load_probes(tmp_path)
    assert len(t) == 3 * len(PROBES) * 2 and set(t["epochs"]) == {5}
    assert len(content_hash(tmp_path / PROBES_FILE)) == 64  # our metadata: the report can hash it
    assert main(["--out", str(tmp_path), "--seeds", "5:2"]) == 2
    assert "allowed: --seeds start:stop" in capsys.readouterr().err
    (tmp_path / "x").mkdir()
    import pandas as pd
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x" / PROBES_FILE)
    with pytest.raises(ValueError, match="not a relustudy"):  # a foreign file
        load_probes(tmp_path / "x")
