"""Shuffled data order (issue 19.1): the splitmix64 permutation stream and the shuffled training path."""
import numpy as np
import pytest
import scipy.stats

from engine_checks import differences, same_bits
from relustudy import Cell, train_group, train
from relustudy.core.engines import reference
from relustudy.core.engines.reference import OrderStream, order_perms
from relustudy.core.inits import init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import _activations

MASK = 2**64 - 1


def _splitmix(seed: int):
    """splitmix64 in Python integers: an oracle independent of the engine's uint64 arrays."""
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def _perms_by_hand(seed: int, epochs: int) -> list[list[int]]:
    stream, out = _splitmix(seed), []
    for _ in range(epochs):
        perm = list(range(6))
        for i in range(5, 0, -1):
            j = next(stream) % (i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        out.append(perm)
    return out


def test_the_stream_is_splitmix64():
    # The published first output for seed 1234567 (Vigna's splitmix64.c test value).
    assert next(_splitmix(1234567)) == 6457827717110365317
    stream = OrderStream([1234567, 0], 6)
    assert stream.next().tolist() == [6457827717110365317, next(_splitmix(0))]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
def test_order_perms_is_fisher_yates_over_the_stream_and_deterministic(seed):
    got = order_perms(seed, 50)
    assert got.shape == (50, 6) and got.dtype == np.int64
    assert got.tolist() == _perms_by_hand(seed, 50)
    assert np.array_equal(got, order_perms(seed, 50))
    assert (np.sort(got, axis=1) == np.arange(6)).all()


def test_runs_in_a_batch_draw_their_own_streams():
    seeds = np.array([5, 0, 5, 9], dtype=np.uint64)
    stream = OrderStream(seeds, 6)
    batch = np.stack([stream.perms() for _ in range(20)])  # (epochs, 6, R)
    for r, s in enumerate(seeds):
        assert np.array_equal(batch[:, :, r], order_perms(int(s), 20))
    assert not np.array_equal(batch[:, :, 0], batch[:, :, 1])


def test_permutations_are_uniform():
    """All 720 permutations equally likely (chi-square over 86,400 epochs of 1,200 runs), and every
    sample equally likely at every position."""
    stream = OrderStream(np.arange(1200, dtype=np.uint64) * 7919, 6)
    perms = np.concatenate([stream.perms().T for _ in range(72)])  # (86400, 6)
    code = np.zeros(len(perms), dtype=np.int64)
    for k in range(6):
        code = code * 6 + perms[:, k]
    counts = np.unique(code, return_counts=True)[1]
    assert len(counts) == 720
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    for pos in range(6):
        assert scipy.stats.chisquare(np.bincount(perms[:, pos], minlength=6)).pvalue > 1e-3
    one_run = order_perms(3, 7200)  # and along one run's epochs
    assert scipy.stats.chisquare(np.bincount(one_run[:, 0], minlength=6)).pvalue > 1e-3


def _reference(cell, seeds, perms=None, order_seed=None):
    params = init_params(cell.init, seeds, cell.layer_sizes)
    lr = np.full(len(seeds), cell.lr)
    out = reference.sgd(params, _activations(cell), lr, cell, X_TRAIN, Y_TRAIN, perms=perms, order_seed=order_seed)
    return params, out


@pytest.mark.parametrize("update", ["as_posted", "corrected"])
def test_the_identity_stream_reproduces_the_fixed_order_bit_for_bit(update):
    seeds = range(20)
    fixed = Cell(update=update, optimizer="momentum", lr=0.1, epochs=40)
    shuffled = Cell(update=update, optimizer="momentum", lr=0.1, epochs=40, data_order="shuffled", order_seed=3)
    identity = np.repeat(np.arange(6)[:, None], 20, axis=1)
    pa, (_, ca, fa, ea) = _reference(fixed, seeds)
    pb, (_, cb, fb, eb) = _reference(shuffled, seeds, perms=lambda epoch: identity)
    assert same_bits(ca, cb) and same_bits(fa, fb) and same_bits(ea, eb)
    assert all(same_bits(wa, wb) and same_bits(ba, bb) for (wa, ba), (wb, bb) in zip(pa, pb))
    pc, (_, cc, _, _) = _reference(shuffled, seeds, order_seed=np.full(20, 3, np.uint64))
    assert not same_bits(ca, cc)  # the real stream does change the run


def test_a_constant_permutation_is_the_fixed_order_on_permuted_data():
    """Visiting perm p every epoch = training in fixed order on (X[p], Y[p]): the per-run gather is right."""
    p = np.array([4, 0, 5, 2, 1, 3])
    seeds = range(12)
    cell = Cell(activation="tanh", lr=0.1, epochs=30, data_order="shuffled")
    pa, (_, ca, _, _) = _reference(cell, seeds, perms=lambda epoch: np.repeat(p[:, None], 12, axis=1))
    fixed = Cell(activation="tanh", lr=0.1, epochs=30)
    params = init_params(fixed.init, seeds, fixed.layer_sizes)
    _, cb, _, _ = reference.sgd(params, _activations(fixed), np.full(12, 0.1), fixed, X_TRAIN[p], Y_TRAIN[p])
    assert same_bits(ca, cb)
    assert all(same_bits(wa, wb) and same_bits(ba, bb) for (wa, ba), (wb, bb) in zip(pa, params))


def test_train_visits_the_order_seeds_stream():
    cell = Cell(lr=0.1, epochs=25, data_order="shuffled", order_seed=11)
    seeds = range(6)
    res = train(cell, seeds, engine="numpy")
    stream = order_perms(11, 25)
    _, (_, curve, _, _) = _reference(cell, seeds, perms=lambda epoch: np.repeat(stream[epoch - 1][:, None], 6, axis=1))
    assert same_bits(res.curve, curve)


def test_order_seeds_share_a_batch_and_each_run_keeps_its_bits():
    cells = [Cell(lr=0.1, epochs=30, data_order="shuffled", order_seed=s, init=i) for s, i in ((0, "randn"), (7, "he"))]
    together = train_group(cells, range(9), engine="numpy")
    assert differences(together, [train(c, range(9), engine="numpy") for c in cells]) == []
    assert differences([train(cells[0], [4], engine="numpy")], [train(cells[0], range(9), engine="numpy")]) != []
    assert same_bits(train(cells[0], [4], engine="numpy").curve, together[0].curve[:, 4:5])
