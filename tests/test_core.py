"""The training core: faithful to the posted program, batch-invariant, correct gradients."""
import warnings

import numpy as np
import pytest
from joblib import Parallel, delayed

from posted_program import posted_program
from posted_program import run as _run
from relustudy.core.config import ACTIVATIONS, Cell
from relustudy.core.inits import init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import _activations, evaluate, forward_all, train, train_group
from relustudy.core.engines.layout import curve_epochs

RTOL, ATOL = 1e-9, 1e-12  # covers np.dot's CPU-dependent FMA order, nothing more


def posted_run(net, x):
    """The posted network's scalar output at one (2,) input."""
    return float(_run(net, np.reshape(x, (2, 1)))[0, 0])


def _posted_vs_core(activation, seeds):
    """Max relative/absolute disagreement between the posted program and the core."""
    res = train(Cell(activation=activation), seeds)
    bad = []
    for k, seed in enumerate(seeds):
        net, last_err, pred, _ = posted_program(seed, activation)
        got = [(res.params[l][0][..., k], res.params[l][1][..., k]) for l in range(3)]
        ref = [(net[i].weights, net[i].biases[:, 0]) for i in (0, 2, 4)]
        for (gw, gb), (rw, rb) in zip(got, ref):
            if not (np.allclose(gw, rw, rtol=RTOL, atol=ATOL) and np.allclose(gb, rb, rtol=RTOL, atol=ATOL)):
                bad.append((seed, "weights"))
        if not np.isclose(res.metrics["last_epoch_error"][k], last_err, rtol=RTOL, atol=ATOL):
            bad.append((seed, "last_epoch_error"))
        if not np.isclose(res.metrics["pred_test"][k], pred, rtol=RTOL, atol=ATOL):
            bad.append((seed, "pred_test"))
        # The outcome computed from the posted program's own final weights is the core's.
        ref = evaluate(Cell(activation=activation), _as_core_params(net))
        if ref["outcome"][0] != res.metrics["outcome"][k]:
            bad.append((seed, "outcome"))
    return bad, list(res.metrics["outcome"])


def _as_core_params(net):
    return [(net[i].weights[..., None].copy(), net[i].biases.copy()) for i in (0, 2, 4)]


@pytest.mark.parametrize("activation,n_seeds", [
    pytest.param("relu", 8, id="relu-8"),  # the quick loop's (and CI's) check: 8 seeds, both outcomes among them
    *(pytest.param(a, 50, marks=pytest.mark.slow, id=f"{a}-50") for a in ("relu", "tanh", "sigmoid")),
])
def test_reproduces_posted_program_run_for_run(activation, n_seeds):
    seeds = list(range(n_seeds))
    # Each chunk of seeds runs the slow posted loop; two processes halve the wall time.
    chunks = [seeds[i::2] for i in range(2)]
    out = Parallel(n_jobs=2)(delayed(_posted_vs_core)(activation, c) for c in chunks)
    bad = [b for o in out for b in o[0]]
    assert bad == []
    if activation == "relu":  # the asker's observation: ReLU sometimes solves, sometimes not
        outcomes = {o for chunk in out for o in chunk[1]}
        assert "solved" in outcomes and outcomes - {"solved"}


@pytest.mark.slow
def test_outcome_of_posted_weights_by_direct_computation():
    """The outcome label, recomputed by hand from the posted program's final weights."""
    from relustudy.core.outcomes import classify

    seeds = list(range(12))
    res = train(Cell(activation="relu"), seeds)
    for k, seed in enumerate(seeds):
        net, _, _, _ = posted_program(seed, "relu")
        out = np.array([posted_run(net, x) for x in X_TRAIN])
        z_out = np.array([posted_run(net[:-1], x) for x in X_TRAIN])
        mse = np.mean((Y_TRAIN - out) ** 2)
        label = classify(
            np.array([mse]), np.array([np.ptp(out)]), np.array([np.all(z_out <= 0)]), np.array([False]), True
        )[0]
        assert label == res.metrics["outcome"][k]


def test_common_random_numbers_match_posted_draws():
    np.random.seed(7)
    ref = [(np.random.randn(4, 2), np.random.randn(4, 1)), (np.random.randn(4, 4), np.random.randn(4, 1))]
    ref.append((np.random.randn(1, 4), np.random.randn(1, 1)))
    got = init_params("randn", [3, 7], (2, 4, 4, 1))
    for (w, b), (rw, rb) in zip(got, ref):
        assert np.array_equal(w[..., 1], rw) and np.array_equal(b[:, 1], rb[:, 0])


def test_inits_are_transforms_of_the_same_draws():
    seeds = list(range(2000))
    randn = init_params("randn", seeds, (2, 4, 4, 1))
    he = init_params("he", seeds, (2, 4, 4, 1))
    xav = init_params("xavier", seeds, (2, 4, 4, 1))
    for (wr, _), (wh, bh), (wx, bx) in zip(randn, he, xav):
        fan_out, fan_in = wr.shape[:2]
        assert np.allclose(wh, wr * np.sqrt(2 / fan_in))
        bound = np.sqrt(6 / (fan_in + fan_out))
        assert np.all(np.abs(wx) <= bound) and np.all(bh == 0) and np.all(bx == 0)
        # Monotone transform of the same draws: the ranks agree.
        assert np.array_equal(np.argsort(wr.ravel()), np.argsort(wx.ravel()))
        # Glorot uniform has variance bound^2 / 3; 2000 seeds give ~3% precision.
        assert np.isclose(wx.var(), bound**2 / 3, rtol=0.1)
        assert np.isclose(wh.var(), 2 / fan_in, rtol=0.1)


def _cells():
    return [
        Cell(activation=a, output=o, update=u, optimizer=opt, init=i, lr=0.1, epochs=20)
        for a in ACTIVATIONS
        for o, u, opt, i in [("same", "as_posted", "sgd", "randn"), ("identity", "corrected", "momentum", "he")]
    ]


def _assert_same_bits(res_a, ka, res_b, kb):
    for name, v in res_a.metrics.items():
        a, b = v[ka], res_b.metrics[name][kb]
        assert np.array_equal(a, b, equal_nan=v.dtype.kind == "f"), name
    assert np.array_equal(res_a.curve[:, ka], res_b.curve[:, kb], equal_nan=True)
    for (wa, ba), (wb, bb) in zip(res_a.params, res_b.params):
        assert np.array_equal(wa[..., ka], wb[..., kb], equal_nan=True)
        assert np.array_equal(ba[..., ka], bb[..., kb], equal_nan=True)


# ReLU's two cells in the fast loop; the others compile a kernel each (~4 s on a fresh clone): slow.
@pytest.mark.parametrize("cell", [c if c.activation == "relu" else pytest.param(c, marks=pytest.mark.slow)
                                  for c in _cells()], ids=lambda c: f"{c.activation}-{c.update}-{c.optimizer}")
def test_batch_invariance_bitwise(cell):
    """A run's bits do not depend on batch size, its position, or chunking."""
    seeds = np.arange(4096)
    big = train(cell, seeds)
    probe = [0, 1, 7, 8, 15, 1000, 4095]
    for s in probe:
        alone = train(cell, [s])
        _assert_same_bits(big, s, alone, 0)
    # Another chunking: a reversed odd-sized batch puts each seed at a different offset.
    chunk = seeds[::-1][:13]
    other = train(cell, chunk)
    for k, s in enumerate(chunk):
        _assert_same_bits(big, s, other, k)


def test_group_of_cells_equals_cells_alone():
    cells = [Cell(init=i, lr=lr, epochs=30) for i in ("randn", "he", "xavier") for lr in (0.01, 0.1)]
    seeds = [3, 1, 4, 1000]
    grouped = train_group(cells, seeds)
    for c, g in zip(cells, grouped):
        alone = train(c, seeds)
        for k in range(len(seeds)):
            _assert_same_bits(g, k, alone, k)


def _total_loss(params, cell, x, y):
    """(R,) sum over samples of (out - y)^2 at ``params``."""
    acts = _activations(cell)
    zs = forward_all(params, acts, x)
    out = np.empty_like(zs[-1])
    acts[-1].forward(zs[-1], out)
    return ((out[0] - y[:, None]) ** 2).sum(axis=0)


@pytest.mark.parametrize("output", ["same", "identity"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_corrected_gradient_matches_finite_differences(activation, output):
    """With a tiny lr, one corrected SGD epoch moves the params by -lr * dL/dtheta + O(lr^2)."""
    cell = Cell(activation=activation, output=output, update="corrected", init="randn", lr=1e-8, epochs=1)
    seeds = [11, 12, 13]
    init = init_params("xavier" if activation == "sigmoid" else "randn", seeds, cell.layer_sizes)
    # Shift biases so every unit is away from 0 (ReLU kinks) and sigmoid is not saturated.
    init = [(w, b + 0.3) for w, b in init]
    res = train(cell, seeds, init=init)
    h = 1e-6
    for l, (w, b) in enumerate(init):
        for arr_idx, arr in ((0, w), (1, b)):
            moved = (arr - res.params[l][arr_idx]) / cell.lr
            for idx in np.ndindex(arr.shape[:-1]):
                plus = [(ww.copy(), bb.copy()) for ww, bb in init]
                minus = [(ww.copy(), bb.copy()) for ww, bb in init]
                plus[l][arr_idx][idx] += h
                minus[l][arr_idx][idx] -= h
                fd = (_total_loss(plus, cell, X_TRAIN, Y_TRAIN) - _total_loss(minus, cell, X_TRAIN, Y_TRAIN)) / (2 * h)
                np.testing.assert_allclose(moved[idx], fd, rtol=2e-4, atol=1e-6)


def test_momentum_two_steps_by_hand():
    """2-1-1 linear net, two samples, one epoch: v = 0.9 v + lr g, theta -= v."""
    cell = Cell(activation="identity", output="identity", update="corrected", optimizer="momentum", lr=0.1, epochs=1, hidden=(1,))
    w1, b1, w2, b2 = np.array([0.5, -0.25]), 0.1, 0.8, -0.2
    init = [(w1.reshape(1, 2, 1).copy(), np.array([[b1]])), (np.array([[[w2]]]), np.array([[b2]]))]
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    y = np.array([1.0, 0.0])
    lr, mu = 0.1, 0.9
    theta = dict(w1=w1.copy(), b1=b1, w2=w2, b2=b2)
    vel = dict(w1=np.zeros(2), b1=0.0, w2=0.0, b2=0.0)
    for xs, ys in zip(x, y):
        hdn = theta["w1"] @ xs + theta["b1"]
        out = theta["w2"] * hdn + theta["b2"]
        d = 2 * (out - ys)
        grads = dict(w1=d * theta["w2"] * xs, b1=d * theta["w2"], w2=d * hdn, b2=d)
        for k in theta:
            vel[k] = mu * vel[k] + lr * grads[k]
            theta[k] = theta[k] - vel[k]
    res = train(cell, [0], init=init, data=(x, y))
    np.testing.assert_allclose(res.params[0][0][0, :, 0], theta["w1"], rtol=1e-12)
    np.testing.assert_allclose(res.params[0][1][0, 0], theta["b1"], rtol=1e-12)
    np.testing.assert_allclose(res.params[1][0][0, 0, 0], theta["w2"], rtol=1e-12)
    np.testing.assert_allclose(res.params[1][1][0, 0], theta["b2"], rtol=1e-12)
    # And the same net without momentum differs (the velocity really carries over).
    plain = train(Cell(**{**cell.to_dict(), "optimizer": "sgd"}), [0], init=init, data=(x, y))
    assert not np.allclose(plain.params[1][0], res.params[1][0])


def test_as_posted_bias_only_decays():
    """The posted bias rule b -= lr*b ignores the error: b_T = b_0 * (1 - lr)^(6T) up to rounding."""
    res = train(Cell(activation="tanh", lr=0.01, epochs=10), [0, 1])
    for (_, b0), (_, b) in zip(res.init_params, res.params):
        np.testing.assert_allclose(b, b0 * 0.99**60, rtol=1e-12)


def test_sigmoid_overflow_is_silent_and_diverged_runs_are_confined():
    seeds = list(range(16))
    cell = Cell(activation="sigmoid", output="identity", update="corrected", init="randn", lr=0.1, epochs=50)
    normal = train(cell, seeds)
    # Huge weights drive exp(-z) far past overflow for sigmoid.
    huge = [(w * 1e4, b * 1e4) for w, b in init_params("randn", seeds, cell.layer_sizes)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(cell, seeds, init=huge)
        wild = train(Cell(activation="relu", output="identity", update="corrected", lr=10.0, epochs=200), seeds)
    assert np.isfinite(normal.metrics["final_mse"]).all()
    assert wild.metrics["diverged"].any()
    assert (wild.metrics["outcome"][wild.metrics["diverged"]] == "diverged").all()
    # A diverging run next to a sane one: the sane one is untouched.
    mixed = train_group(
        [Cell(activation="relu", output="identity", update="corrected", lr=lr, epochs=200) for lr in (10.0, 0.01)],
        seeds,
    )
    sane = train(Cell(activation="relu", output="identity", update="corrected", lr=0.01, epochs=200), seeds)
    assert mixed[0].metrics["diverged"].any()
    for k in range(len(seeds)):
        _assert_same_bits(mixed[1], k, sane, k)


def test_records_have_shapes_and_ranges():
    seeds = list(range(40))
    res = train(Cell(activation="relu", epochs=200, hidden=(3, 2, 2)), seeds)
    m = res.metrics
    for name in ("final_mse", "last_epoch_error", "pred_test", "epochs_to_1e-3", "outcome"):
        assert m[name].shape == (40,)
    for k in (1, 2, 3):
        assert ((m[f"dead_frac_init_l{k}"] >= 0) & (m[f"dead_frac_init_l{k}"] <= 1)).all()
    assert "dead_frac_init_l4" not in m
    assert res.curve.shape == (len(curve_epochs(200)), 40)
    # The last curve point is the last epoch's error.
    assert np.array_equal(res.curve[-1], m["last_epoch_error"])
    hit = ~np.isnan(m["epochs_to_1e-3"])  # NaN: never below 1e-3 (null in the files)
    assert (m["epochs_to_1e-3"][hit] >= 1).all() and (~hit).any()
    # A dead output (ReLU) is constant zero: MSE = mean(Y^2).
    dead = m["output_dead_final"]
    assert dead.sum() >= 5  # the check below must not pass on an empty selection
    assert np.allclose(m["final_mse"][dead], np.mean(Y_TRAIN**2))


def test_dead_output_at_init_matches_a_direct_forward():
    seeds = list(range(300))
    res = train(Cell(epochs=1), seeds)
    params = init_params("randn", seeds, (2, 4, 4, 1))
    z = forward_all(params, _activations(Cell()), X_TRAIN)[-1][0]  # (6, R)
    assert np.array_equal(res.metrics["output_dead_init"], (z <= 0).all(axis=0))
    assert 0 < res.metrics["output_dead_init"].mean() < 1


def test_curve_epochs():
    assert curve_epochs(5000).tolist() == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    assert curve_epochs(1).tolist() == [1]
    assert curve_epochs(30).tolist() == [1, 2, 5, 10, 20, 30]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(activation="swish"), "unknown activation 'swish'; allowed: relu"),
        (dict(init="orthogonal"), "unknown init 'orthogonal'; allowed: randn, he, xavier"),
        (dict(output="softmax"), "unknown output 'softmax'; allowed: same, identity"),
        (dict(update="adam"), "unknown update 'adam'; allowed: as_posted, corrected"),
        (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'; allowed: sgd, momentum, adam"),
        (dict(hidden="4-x"), "malformed hidden spec '4-x'"),
        (dict(hidden=()), "malformed hidden spec"),
        (dict(epochs=0), "invalid epochs 0; allowed: an integer >= 1"),
        (dict(epochs=-5), "invalid epochs -5"),
        (dict(lr=0.0), "invalid lr 0.0; allowed: a finite number > 0"),
        (dict(lr=float("nan")), "invalid lr nan"),
        (dict(lr=float("inf")), "invalid lr inf"),
    ],
)
def test_bad_config_is_a_valueerror_naming_allowed_values(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Cell(**kwargs)


def test_empty_or_bad_seeds():
    with pytest.raises(ValueError, match="empty seed list"):
        train(Cell(epochs=1), [])
    with pytest.raises(ValueError, match="invalid seed -1"):
        train(Cell(epochs=1), [-1])


def test_group_rejects_mixed_structures():
    with pytest.raises(ValueError, match="must share"):
        train_group([Cell(activation="relu", epochs=2), Cell(activation="tanh", epochs=2)], [0])


def test_cell_json_round_trip():
    c = Cell(activation="tanh", hidden="2-2-2", lr=0.1)
    assert Cell.from_dict(c.to_dict()) == c
    assert c.to_json() == Cell.from_dict(c.to_dict()).to_json()
    with pytest.raises(ValueError, match="unknown factor"):
        Cell.from_dict({"colour": "red"})
