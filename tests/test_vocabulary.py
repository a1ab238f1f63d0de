"""One definition per word: each term on a hand-made runs table whose answers are known."""
import numpy as np
import pandas as pd
import pytest

from relustudy.analysis import mechanisms
from relustudy.analysis import vocabulary as vocab


def _runs():
    # rows: 0 relu born dead (output) & solved (revived); 1 relu output dies in training, dead at end;
    # 2 relu alive, solved; 3 relu layer-1 dead at init, fails; 4 leaky inactive output at init, fails;
    # 5 tanh, fails; 6 relu with identity output, output_dead flags set but not a ReLU output.
    return pd.DataFrame({
        "activation": pd.Categorical(["relu", "relu", "relu", "relu", "leaky_relu", "tanh", "relu"]),
        "output": pd.Categorical(["same"] * 6 + ["identity"]),
        "outcome": pd.Categorical(["solved", "dead_output", "solved", "collapsed", "dead_output", "slow", "solved"]),
        "output_dead_init": [True, False, False, False, True, False, True],
        "output_dead_final": [False, True, False, False, True, False, True],
        "dead_frac_init_l1": [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        "dead_frac_init_l2": [0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        "dead_frac_final_l1": [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        "dead_frac_final_l2": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "output_death_epoch": [0, 7, -1, -1, 0, -1, 0],
        "output_state_changes": [1, 1, 0, 0, 0, 0, 0],
    })


def test_terms_on_known_rows():
    r = _runs()
    assert vocab.solved(r).tolist() == [True, False, True, False, False, False, True]
    assert (vocab.failed(r) == ~vocab.solved(r)).all()
    assert vocab.output_born_dead(r).tolist() == [True, False, False, False, True, False, False]  # identity output: no
    assert vocab.hidden_layer_dead(r, "init").tolist() == [False, False, False, True, False, False, False]  # tanh: no
    assert vocab.born_dead(r).tolist() == [True, False, False, True, True, False, False]
    assert vocab.failed_and_born_dead(r).tolist() == [False, False, False, True, True, False, False]
    assert vocab.output_dead_at_end(r).tolist() == [False, True, False, False, True, False, False]
    assert vocab.output_death_ever(r).tolist() == [True, True, False, False, True, False, False]
    assert vocab.output_died_in_training(r).tolist() == [False, True, False, False, False, False, False]
    # permanent: died once and stayed (row 1), born inactive and stayed (row 4); row 0 revived
    assert vocab.output_dead_permanent(r).tolist() == [False, True, False, False, True, False, False]
    # the analysis's failure mode uses the same words
    assert mechanisms.failure_mode(r).tolist() == ["solved", "died in training", "solved", "born dead", "born dead",
                                                 "other failure", "solved"]


def test_dead_vs_inactive_and_bad_input():
    assert vocab.state_word("relu") == "dead" and vocab.state_word("leaky_relu") == "inactive"
    with pytest.raises(ValueError, match="allowed: relu, leaky_relu"):
        vocab.state_word("tanh")
    with pytest.raises(ValueError, match="allowed: init, final"):
        vocab.hidden_layer_dead(_runs(), "end")
    with pytest.raises(ValueError, match="output_death_epoch"):
        vocab.output_death_ever(_runs().drop(columns="output_death_epoch"))


def test_hazard_uses_the_runs_at_risk():
    r = _runs()
    alive = ~vocab.output_born_dead(r) & (vocab.relu_family(r) & (r["output"] == "same").to_numpy())
    h = vocab.hazard(vocab.output_died_in_training(r), alive)
    assert (h.k, h.n) == (1, 3) and h.denominator == "runs alive at init"
    assert "1 of 3 runs alive at init" in str(h)
    with pytest.raises(ValueError, match="not at risk"):
        vocab.hazard(vocab.output_born_dead(r), alive)
    empty = vocab.rate(np.zeros(3, bool), "runs", np.zeros(3, bool))
    assert empty.n == 0 and "n/a" in str(empty)


def test_labels_is_fast_path_of_astype_str():
    s = pd.Series(pd.Categorical(["a", "b", None, "a"]))
    assert vocab.labels(s).tolist() == ["a", "b", "nan", "a"]
    assert vocab.labels(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]


def test_label_changes_counts_each_changed_seed_once_on_common_seeds():
    import pandas as pd
    from relustudy.analysis import vocabulary as v
    from relustudy.studies import local_minimum as lm

    a = pd.DataFrame({"seed": [0, 1, 2, 3, 4], "outcome": ["dead_output", "collapsed", "solved", "solved", "slow"]})
    b = pd.DataFrame({"seed": [1, 2, 3, 4, 9], "outcome": ["dead_output", "solved", "collapsed", "slow", "solved"]})
    c = v.label_changes(a, b)
    assert c.attrs["n_pairs"] == 4  # seeds 1-4
    assert sorted(map(tuple, c[["from", "to", "n"]].to_numpy().tolist())) == [
        ("collapsed", "dead_output", 1), ("solved", "collapsed", 1)]
    f = lm.LocalMinimumFinding(*([None] * 12), arithmetic=c)
    assert "Of the posted cell's 4 seeds" in lm._arithmetic_text(f) and "2 change their outcome label, 1 of them" in (
        lm._arithmetic_text(f))
    assert lm._arithmetic_text(lm.LocalMinimumFinding(*([None] * 12))) == ""
