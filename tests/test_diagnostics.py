"""Diagnostics of a parameter state: gradient against finite differences, exact zeros, patterns."""
import numpy as np
import pytest

from relustudy import Cell, train
from relustudy.core.activations import ACTIVATIONS, get_activation
from relustudy.core.diagnostics import grad_norm, linear_on_data, loss_gradient, output_margin
from relustudy.core.inits import init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import evaluate, forward_all


def _acts(hidden, out, depth=2):
    return [get_activation(hidden)] * depth + [get_activation(out)]


def _mse(params, acts, r):
    """MSE of run r, straight from forward_all (independent of the backprop code)."""
    zs = forward_all(params, acts, X_TRAIN)
    out = np.empty_like(zs[-1])
    acts[-1].forward(zs[-1], out)
    return float(np.mean((Y_TRAIN - out[0, :, r]) ** 2))


@pytest.mark.parametrize("hidden,out", [("tanh", "identity"), ("sigmoid", "sigmoid"), ("relu", "identity"), ("leaky_relu", "same")])
def test_gradient_matches_central_finite_differences(hidden, out):
    acts = _acts(hidden, hidden if out == "same" else out)
    params = init_params("randn", np.arange(5), (2, 4, 4, 1))
    grads = loss_gradient(params, acts, X_TRAIN, Y_TRAIN)
    eps = 1e-6
    checked = 0
    for r in range(5):
        for l, (w, b) in enumerate(params):
            for arr, garr in ((w, grads[l][0]), (b, grads[l][1])):
                for idx in np.ndindex(arr.shape[:-1]):
                    full = (*idx, r)
                    old = arr[full]
                    arr[full] = old + eps
                    up = _mse(params, acts, r)
                    arr[full] = old - eps
                    down = _mse(params, acts, r)
                    arr[full] = old
                    fd = (up - down) / (2 * eps)
                    assert garr[full] == pytest.approx(fd, rel=1e-5, abs=1e-8), (l, full)
                    checked += 1
    assert checked == 5 * (4 * 2 + 4 + 4 * 4 + 4 + 4 + 1)
    norm = grad_norm(params, acts, X_TRAIN, Y_TRAIN)
    by_hand = np.sqrt(sum((dw**2).sum(axis=(0, 1)) + (db**2).sum(axis=0) for dw, db in grads))
    np.testing.assert_allclose(norm, by_hand, rtol=1e-14)
    assert (norm > 0).all()


def _plain_backprop(params, acts, x, y):
    """The MSE gradient written out unit by unit, independently of the library's loops:
    per sample, z_j = ((w_j0 a_0 + w_j1 a_1) + ...) + b_j, dL/dout = 2 (out - y) / S, then
    g *= f'(z) (the Activation's own derivative), dW_ji += g_j a_i, db_j += g_j and
    (W^T g)_i = (w_0i g_0 + w_1i g_1) + ...; every sum in order, the first sample's term
    starting the sum over samples."""
    S, L = len(x), len(params)
    grads = [None] * L
    for s in range(S):
        ins, zs, outs = [], [], []
        a_in = [np.full(params[0][0].shape[-1], xi) for xi in x[s]]
        for (w, b), act in zip(params, acts):
            z = np.empty(b.shape)
            for j in range(w.shape[0]):
                acc = w[j, 0] * a_in[0]
                for i in range(1, w.shape[1]):
                    acc = acc + w[j, i] * a_in[i]
                z[j] = acc + b[j]
            a = np.empty_like(z)
            act.forward(z, a)
            ins.append(a_in)
            zs.append(z)
            outs.append(a)
            a_in = list(a)
        g = 2.0 * (outs[-1] - y[s]) / S
        for l in range(L - 1, -1, -1):
            w = params[l][0]
            acts[l].backward(g, zs[l], outs[l], np.empty_like(g))
            dw = np.stack([np.stack([g[j] * ins[l][i] for i in range(w.shape[1])]) for j in range(w.shape[0])])
            grads[l] = (dw, g.copy()) if s == 0 else (grads[l][0] + dw, grads[l][1] + g)
            if l > 0:
                down = np.empty((w.shape[1], g.shape[1]))
                for i in range(w.shape[1]):
                    acc = w[0, i] * g[0]
                    for j in range(1, w.shape[0]):
                        acc = acc + w[j, i] * g[j]
                    down[i] = acc
                g = down
    return grads


def _awkward_params(sizes, rng, r=12):
    """Random nets with ties at z = 0 (W = 0, b = +-0), a NaN, overflowing and infinite weights."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((n_out, n_in, r)) * rng.choice([0.3, 1.0, 3.0], size=r)
        b = rng.standard_normal((n_out, r))
        tie = rng.random((n_out, r)) < 0.2
        w[np.broadcast_to(tie[:, None, :], w.shape)] = 0.0
        b[tie] = np.where(rng.random(tie.sum()) < 0.5, 0.0, -0.0)
        params.append((w, b))
    params[0][0][0, 0, 0] = np.nan
    params[0][0][:, :, 1] *= 1e200  # overflows to inf in the products
    params[-1][0][:, :, 2] = np.inf
    params[-1][1][:, 3] = -np.inf
    params[-1][0][:, :, 4] = 0.0  # output z = b = -0.0 exactly
    params[-1][1][:, 4] = -0.0
    return params


@pytest.mark.parametrize("sizes", [(2, 4, 4, 1), (2, 8, 1), (2, 3, 3, 3, 1)], ids=["2-4-4-1", "2-8-1", "2-3-3-3-1"])
def test_loss_gradient_equals_a_plain_backprop_bit_for_bit(sizes):
    """Every activation as hidden and as output; the asker's data and inputs with +-0 and ties."""
    rng = np.random.default_rng(len(sizes))
    names = list(ACTIVATIONS)
    x_ties = np.array([[0.0, -0.0], [0.5, 0.5], [-1.0, 1.0], [0.3, -0.0]])
    for hidden in names:
        for out in names:
            acts = [get_activation(hidden)] * (len(sizes) - 2) + [get_activation(out)]
            params = _awkward_params(sizes, rng)
            for x, y in ((X_TRAIN, Y_TRAIN), (x_ties, rng.standard_normal(4))):
                with np.errstate(all="ignore"):
                    want = _plain_backprop(params, acts, x, y)
                got = loss_gradient(params, acts, x, y)
                for (dw, db), (ew, eb) in zip(got, want):
                    for g, e in ((dw, ew), (db, eb)):
                        assert g.shape == e.shape and g.dtype == np.float64
                        assert np.array_equal(g, e, equal_nan=True), (hidden, out)
                        assert np.array_equal(np.signbit(g[g == 0]), np.signbit(e[e == 0])), (hidden, out)
                # grad_norm: squares summed parameter by parameter, W then b, layer by layer
                total = np.zeros(params[0][0].shape[-1])
                with np.errstate(all="ignore"):
                    for dw, db in want:
                        for row in (*dw.reshape(-1, dw.shape[-1]), *db):
                            total = total + row * row
                assert np.array_equal(grad_norm(params, acts, x, y), np.sqrt(total), equal_nan=True)


def test_one_sample_gradient_is_the_corrected_sgd_step():
    """With one training pair and one epoch, corrected SGD moves every parameter by -lr * gradient."""
    data = (X_TRAIN[:1], Y_TRAIN[:1])
    cell = Cell(activation="tanh", output="identity", update="corrected", epochs=1, lr=0.1)
    init = init_params("randn", np.arange(3), cell.layer_sizes)
    acts = _acts("tanh", "identity")
    grads = loss_gradient(init, acts, *data)
    res = train(cell, seeds=range(3), init=[(w.copy(), b.copy()) for w, b in init], data=data)
    for (w0, b0), (w1, b1), (dw, db) in zip(init, res.params, grads):
        np.testing.assert_allclose(w0 - w1, 0.1 * dw, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(b0 - b1, 0.1 * db, rtol=1e-9, atol=1e-15)


def _dead_output_params(out_bias: float, r: int = 3):
    params = init_params("randn", np.arange(r), (2, 4, 4, 1))
    w3, b3 = params[-1]
    params[-1] = (w3, np.full_like(b3, out_bias))
    return params


def test_dead_relu_output_has_exactly_zero_gradient_and_leaky_does_not():
    # An output bias of -1e6 puts the output pre-activation far below 0 on every input.
    params = _dead_output_params(-1e6)
    relu, leaky = _acts("relu", "relu"), _acts("leaky_relu", "leaky_relu")
    n_relu = grad_norm(params, relu, X_TRAIN, Y_TRAIN)
    n_leaky = grad_norm(params, leaky, X_TRAIN, Y_TRAIN)
    assert (n_relu == 0.0).all()
    assert (n_leaky > 0).all()
    assert (output_margin(forward_all(params, relu, X_TRAIN)) < 0).all()


def test_dead_hidden_layer_leaves_the_output_bias_gradient():
    # Every second-layer unit dead (bias -1e6): the output is relu(b3) on every input, and its
    # bias gradient is 2 * mean(out - y) * 1[b3 > 0], non-zero for b3 > 0.
    params = init_params("randn", np.arange(2), (2, 4, 4, 1))
    w2, b2 = params[1]
    params[1] = (w2, np.full_like(b2, -1e6))
    params[2] = (params[2][0], np.array([[0.2, -0.2]]))
    acts = _acts("relu", "relu")
    norm = grad_norm(params, acts, X_TRAIN, Y_TRAIN)
    assert norm[0] == pytest.approx(abs(2 * np.mean(0.2 - Y_TRAIN)), rel=1e-12)
    assert norm[1] == 0.0


def test_linear_on_data_against_the_activation_pattern_by_hand():
    params = init_params("randn", np.arange(200), (2, 4, 4, 1))
    acts = _acts("relu", "identity")
    zs = forward_all(params, acts, X_TRAIN)
    lin = linear_on_data(zs, acts)
    for r in range(200):
        pattern = np.concatenate([(zs[0][:, :, r] > 0), (zs[1][:, :, r] > 0)])  # (8 units, 6 inputs)
        assert lin[r] == all(len(set(row)) == 1 for row in pattern)
    assert 0 < lin.sum() < 200  # both kinds occur among 200 draws
    assert not linear_on_data(zs, _acts("tanh", "identity")).any()  # tanh is never affine


def test_evaluate_records_the_new_columns():
    params = init_params("randn", np.arange(4), (2, 4, 4, 1))
    m = evaluate(Cell(), params)
    zs = forward_all(params, _acts("relu", "relu"), X_TRAIN)
    np.testing.assert_array_equal(m["output_margin_final"], zs[-1][0].max(axis=0))
    np.testing.assert_array_equal(m["output_dead_final"], m["output_margin_final"] <= 0)
    assert m["grad_norm_final"].shape == (4,) and m["linear_on_data_final"].dtype == bool
    res = train(Cell(epochs=3), seeds=range(4))
    np.testing.assert_array_equal(res.metrics["output_margin_init"], zs[-1][0].max(axis=0))
