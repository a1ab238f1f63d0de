"""Adam (issue 17.1): two steps worked by hand for both update rules, per-run lr, and torch.optim.Adam."""
import math

import numpy as np
import pytest

from engine_checks import differences, same_bits
from relustudy import Cell, train_group, train
from relustudy.core.optimizers import ADAM_BETA1, ADAM_BETA2, ADAM_EPS

X = (1.0, 0.5)
Y = 0.5
DATA = (np.array([X]), np.array([Y]))  # one sample: epoch e is Adam step t = e
INIT = dict(w1=[0.5, -0.3], b1=0.1, w2=0.8, b2=0.2)  # the hidden ReLU unit is alive: z1 = 0.45


def _params(w1, b1, w2, b2):
    """A 2-1-1 net for one run: W (n_out, n_in, 1), b (n_out, 1)."""
    return [(np.array(w1, float).reshape(1, 2, 1), np.array([[b1]], float)),
            (np.array([w2], float).reshape(1, 1, 1), np.array([[b2]], float))]


def _by_hand(update: str, lr: float, steps: int) -> dict:
    """The 2-1-1 net (ReLU hidden, identity output) trained with Adam in plain Python floats.

    Written from the spec, not from the engine: m, v per parameter, beta**t as running
    products, the posted rule's bias direction b itself and its gradient through the updated W.
    """
    p = {"w1a": INIT["w1"][0], "w1b": INIT["w1"][1], "b1": INIT["b1"], "w2": INIT["w2"], "b2": INIT["b2"]}
    m = dict.fromkeys(p, 0.0)
    v = dict.fromkeys(p, 0.0)
    b1t = b2t = 1.0

    def adam(name, d):
        m[name] = ADAM_BETA1 * m[name] + (1 - ADAM_BETA1) * d
        v[name] = ADAM_BETA2 * v[name] + (1 - ADAM_BETA2) * (d * d)
        denom = math.sqrt(v[name]) / math.sqrt(1 - b2t) + ADAM_EPS
        p[name] = p[name] - (lr / (1 - b1t)) * (m[name] / denom)

    for _ in range(steps):
        z1 = (p["w1a"] * X[0] + p["w1b"] * X[1]) + p["b1"]
        a1 = max(z1, 0.0)
        out = p["w2"] * a1 + p["b2"]
        g2 = 2.0 * (out - Y)
        b1t, b2t = b1t * ADAM_BETA1, b2t * ADAM_BETA2
        g1 = p["w2"] * g2  # corrected: through the old W2
        adam("w2", a1 * g2)
        adam("b2", p["b2"] if update == "as_posted" else g2)
        if update == "as_posted":
            g1 = p["w2"] * g2  # as posted: through the updated W2
        g1 = g1 * (1.0 if z1 > 0 else 0.0)
        adam("w1a", g1 * X[0])
        adam("w1b", g1 * X[1])
        adam("b1", p["b1"] if update == "as_posted" else g1)
    return p


def _engine(update: str, lr: float, steps: int, engine: str = "numpy"):
    cell = Cell(hidden=(1,), output="identity", optimizer="adam", update=update, lr=lr, epochs=steps)
    res = train(cell, [0], init=_params(**INIT), data=DATA, engine=engine)
    (w1, b1), (w2, b2) = res.params
    return {"w1a": w1[0, 0, 0], "w1b": w1[0, 1, 0], "b1": b1[0, 0], "w2": w2[0, 0, 0], "b2": b2[0, 0]}


@pytest.mark.parametrize("update", ["corrected", "as_posted"])
def test_two_adam_steps_by_hand(update):
    want = _by_hand(update, 0.1, 2)
    got = _engine(update, 0.1, 2)
    assert {k: float(v) for k, v in got.items()} == want  # every bit
    assert got != _engine(update, 0.1, 1)  # the second step moved something


@pytest.mark.parametrize("update", ["corrected", "as_posted"])
def test_the_first_adam_step_is_lr_times_the_sign_of_the_direction(update):
    """At t = 1 the bias corrections cancel: each parameter moves by lr d / (|d| + eps) ~ lr sign(d)."""
    lr = 0.1
    got = _engine(update, lr, 1)
    start = {"w1a": INIT["w1"][0], "w1b": INIT["w1"][1], "b1": INIT["b1"], "w2": INIT["w2"], "b2": INIT["b2"]}
    # out = 0.8 * 0.45 + 0.2 = 0.56 > y: every gradient direction is positive (x > 0, a1 > 0, w2 > 0);
    # the posted bias directions are the biases themselves, also positive.
    for name, p0 in start.items():
        assert got[name] == pytest.approx(p0 - lr, abs=lr * 1e-6), name  # eps / |d| < 1e-6 here


def test_posted_adam_moves_a_zero_bias_nowhere():
    """He-style b = 0 under the posted rule: direction 0 for ever, so m = v = 0 and b stays 0 (not NaN)."""
    cell = Cell(init="he", optimizer="adam", epochs=20)
    res = train(cell, range(4), engine="numpy")
    assert all((b == 0).all() for _, b in res.params)
    assert np.isfinite(res.metrics["final_mse"]).all()


def test_adam_per_run_lr_and_init_in_one_batch_equal_each_alone():
    cells = [Cell(optimizer="adam", lr=0.1, epochs=60), Cell(optimizer="adam", lr=0.003, init="he", epochs=60)]
    together = train_group(cells, range(10), engine="numpy")
    alone = [train(c, range(10), engine="numpy") for c in cells]
    assert differences(together, alone) == []
    assert not same_bits(together[0].metrics["final_mse"], together[1].metrics["final_mse"])


def test_adam_matches_torch_on_the_corrected_update():
    """torch.optim.Adam (defaults but lr) on the same net, one sample at a time: equal to rounding."""
    torch = pytest.importorskip("torch")
    from relustudy.core.problem import X_TRAIN, Y_TRAIN

    cell = Cell(activation="tanh", output="identity", update="corrected", optimizer="adam", lr=0.01, epochs=30)
    res = train(cell, [3], engine="numpy")
    params = [(torch.tensor(w[..., 0], dtype=torch.float64, requires_grad=True),
               torch.tensor(b[..., 0], dtype=torch.float64, requires_grad=True)) for w, b in res.init_params]
    opt = torch.optim.Adam([t for pair in params for t in pair], lr=cell.lr)
    for _ in range(cell.epochs):
        for x, y in zip(X_TRAIN, Y_TRAIN):
            a = torch.tensor(x, dtype=torch.float64)
            for k, (w, b) in enumerate(params):
                a = w @ a + b
                a = torch.tanh(a) if k < len(params) - 1 else a
            opt.zero_grad()
            ((a[0] - float(y)) ** 2).backward()
            opt.step()
    for (w, b), (tw, tb) in zip(res.params, params):
        np.testing.assert_allclose(w[..., 0], tw.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b[..., 0], tb.detach().numpy(), rtol=1e-10, atol=1e-12)
