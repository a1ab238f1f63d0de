"""float32 training (issue 19.1): the shared float32 exp/expm1/tanh, no silent promotion, a first step by hand."""
import math

import numpy as np
import pytest

from engine_checks import differences
from relustudy import Cell, train_group, train
from relustudy.core.activations import ACTIVATIONS, get_activation
from relustudy.core import ieee_math32
from relustudy.core.engines import reference
from relustudy.core.inits import init_params
from relustudy.core.problem import X_TRAIN, Y_TRAIN
from relustudy.core.train import _activations

F32 = np.float32
# name: (shared float32, float64 reference, max ulp against the correctly rounded value, least share
# correctly rounded); tanh and sigmoid trade a few ulp for one division (see ieee_math)
FUNCS = {"exp": (ieee_math32.exp, np.exp, 1, 0.75), "expm1": (ieee_math32.expm1, np.expm1, 3, 0.75),
         "tanh": (ieee_math32.tanh, np.tanh, 4, 0.6),
         "sigmoid": (ieee_math32.sigmoid, lambda x: 1 / (1 + np.exp(-x)), 2, 0.7)}


def _inputs(n=20_000, seed=0) -> np.ndarray:
    """float32 inputs over many scales plus the algorithms' branch edges."""
    rng = np.random.default_rng(seed)
    scales = (1e-6, 1e-3, 0.1, 0.35, 1.0, 3.0, 10.0, 40.0)
    edges = [0.0, 2.0**-12, np.nextafter(F32(2.0**-12), F32(0)), ieee_math32.HALF_LN2, 1.0, -1.0, 22.0, -22.0,
             88.7, 88.73, 89.0, -103.0, -103.97, -104.0, -110.0, 1e-40, -1e-45, 9.0]
    return np.concatenate([rng.normal(0, s, n) for s in scales] + [np.array(edges)]).astype(F32)


@pytest.mark.parametrize("name", list(FUNCS))
def test_within_a_few_ulp_of_the_correctly_rounded_value(name):
    shared, ref64, max_ulp, exact_share = FUNCS[name]
    x = _inputs()
    with np.errstate(all="ignore"):
        got = shared(x)
        want = ref64(x.astype(np.float64)).astype(F32)  # float64 libm, rounded once: correct to ~1/2 ulp
        numpy32 = ref64(x)  # NumPy's own float32 loops
    assert got.dtype == F32
    ok = np.isfinite(want) & (want != 0)
    ulp = np.abs(got[ok].astype(np.float64) - want[ok]) / np.spacing(np.abs(want[ok]))
    assert ulp.max() <= max_ulp and (ulp == 0).mean() > exact_share
    assert np.array_equal(got[~ok], want[~ok])  # 0 and inf exactly where they belong
    # and a few ulp from NumPy's float32 (where its naive sigmoid has not underflowed: exp(-x)
    # overflows float32 below x = -88.7, long before the true value does)
    ok &= numpy32 != 0
    ulp_np = np.abs(got[ok].astype(np.float64) - numpy32[ok]) / np.spacing(np.abs(want[ok]))
    assert ulp_np.max() <= max_ulp + 2  # NumPy's composed sigmoid rounds three times itself


@pytest.mark.parametrize("name", list(FUNCS))
def test_special_values(name):
    shared, ref64, _, _ = FUNCS[name]
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=F32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(shared(x), ref64(x.astype(np.float64)).astype(F32))
    assert np.signbit(shared(x)[4]) == (name in ("expm1", "tanh"))


def test_numpy_and_plain_python_bindings_agree_bit_for_bit():
    """The Python binding computes in double and rounds each result to float32: equal bits mean the
    NumPy binding really runs in float32 (a float64 intermediate would show in the last bits)."""
    py = vars(ieee_math32.python_binding())
    x = np.concatenate([_inputs(250, seed=1), np.array([np.inf, -np.inf, np.nan], F32)])
    for name, (shared, *_) in FUNCS.items():
        got = shared(x)
        want = np.array([py[name](float(v)) for v in x], dtype=F32)
        same = (got.view(np.int32) == want.view(np.int32)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), (name, x[~same][:5])


def test_the_raw_functions_never_promote():
    with np.errstate(all="ignore"):
        for f in (ieee_math32._exp, ieee_math32._expm1, ieee_math32._tanh, ieee_math32._sigmoid):
            assert f(_inputs(10)).dtype == F32
    for name in ("relu", "leaky_relu", "tanh", "sigmoid", "elu"):
        act = get_activation(name)
        z = _inputs(10)[:1000]
        out, g, tmp = np.empty_like(z), np.ones_like(z), np.empty_like(z)
        act.forward(z, out)
        act.backward(g, z, out, tmp)
        assert out.dtype == g.dtype == F32
    out = np.empty(5, F32)
    get_activation("tanh").forward(np.linspace(-2, 2, 5).astype(F32), out)
    assert np.array_equal(out, ieee_math32.tanh(np.linspace(-2, 2, 5).astype(F32)))


def test_a_float32_run_is_float32_throughout():
    """Every parameter the loop holds, after every update, and what it returns, are float32."""
    cell = Cell(activation="sigmoid", optimizer="adam", lr=0.05, epochs=5, dtype="float32")
    params = [(w.astype(F32), b.astype(F32)) for w, b in init_params("randn", range(4), cell.layer_sizes)]
    seen = set()

    def observer(epoch, sample, layer, p):
        seen.update(a.dtype for w, b in p for a in (w, b))

    lr = np.full(4, cell.lr, F32)
    _, curve, _, err = reference.sgd(params, _activations(cell), lr, cell, X_TRAIN, Y_TRAIN, observer=observer)
    assert seen == {np.dtype(F32)} and curve.dtype == err.dtype == F32
    with pytest.raises(ValueError, match="params and lr must be float32 for a float32 cell; got float64"):
        reference.sgd(params, _activations(cell), np.full(4, 0.05), cell, X_TRAIN, Y_TRAIN)


def _one_step_by_hand(w1, b1, w2, b2, x, y, lr, t):
    """One posted SGD step of a 2-1-1 ReLU net, every operation on float32 scalars of type t."""
    w1a, w1b, b1, w2, b2, x0, x1, y, lr = (t(v) for v in (*w1, b1, w2, b2, *x, y, lr))
    z1 = (w1a * x0 + w1b * x1) + b1
    a1 = max(z1, t(0))
    z2 = w2 * a1 + b2
    out = max(z2, t(0))
    g2 = (out - y) * t(2.0) * t(z2 > 0)
    w2 = w2 - (a1 * g2) * lr
    b2 = b2 - b2 * lr
    g1 = w2 * g2 * t(z1 > 0)  # as posted: through the updated W2
    return [w1a - (g1 * x0) * lr, w1b - (g1 * x1) * lr, b1 - b1 * lr, w2, b2]


def test_a_float32_step_equals_the_hand_computation_and_differs_from_float64_by_rounding():
    init = dict(w1=(0.3, -0.7), b1=0.1, w2=1.3, b2=0.2)
    x, y, lr = (0.1, 0.2), 0.3, 0.1  # none of these is a float32 number: rounding matters
    params = [(np.array(init["w1"]).reshape(1, 2, 1), np.array([[init["b1"]]])),
              (np.array([[[init["w2"]]]]), np.array([[init["b2"]]]))]
    data = (np.array([x]), np.array([y]))
    res = {dt: train(Cell(hidden=(1,), lr=lr, epochs=1, dtype=dt), [0], init=params, data=data, engine="numpy")
           for dt in ("float32", "float64")}
    flat = {dt: [r.params[0][0][0, 0, 0], r.params[0][0][0, 1, 0], r.params[0][1][0, 0], r.params[1][0][0, 0, 0],
                 r.params[1][1][0, 0]] for dt, r in res.items()}
    assert flat["float32"] == [float(v) for v in _one_step_by_hand(*init.values(), x, y, lr, F32)]
    assert flat["float64"] == _one_step_by_hand(*init.values(), x, y, lr, float)
    diff = np.abs(np.array(flat["float32"]) - np.array(flat["float64"]))
    assert diff.max() > 0 and diff.max() < 1e-6  # float32 rounding, nothing else
    assert all(F32(v) == v for v in flat["float32"])  # promoted exactly


def test_float32_records_are_float64_of_the_float32_weights_and_batches_agree():
    cells = [Cell(activation="tanh", lr=0.1, epochs=40, dtype="float32"),
             Cell(activation="tanh", lr=0.03, init="he", epochs=40, dtype="float32")]
    together = train_group(cells, range(8), engine="numpy")
    assert differences(together, [train(c, range(8), engine="numpy") for c in cells]) == []
    r = together[0]
    assert r.metrics["final_mse"].dtype == np.float64 and r.curve.dtype == np.float64
    for w, b in r.params + r.init_params:
        assert np.array_equal(w.astype(F32).astype(np.float64), w) and np.array_equal(b.astype(F32), b)
    f64 = train(Cell(activation="tanh", lr=0.1, epochs=40), range(8), engine="numpy")
    rel = np.abs(r.metrics["final_mse"] - f64.metrics["final_mse"]) / f64.metrics["final_mse"]
    assert 0 < rel.max() < 1e-3  # smooth tanh runs: close, not equal
    assert math.isfinite(float(r.metrics["last_epoch_error"][0]))


def test_a_numba_binding_gives_the_numpy_bits():
    """ieee_math32.build bound to scalar numba functions (as an engine binds it), value by value,
    equals the NumPy binding bit for bit: the float32 code binds to numba without promotion."""
    from numba import njit

    inline = njit(inline="always", error_model="numpy")
    pow2, off = ieee_math32.POW2, ieee_math32.POW2_OFFSET

    @inline
    def scale2(p, k):
        ki = np.int64(k)
        k1 = ki >> 1
        return p * pow2[k1 + off] * pow2[ki - k1 + off]

    shift = F32(ieee_math32.ROUND_SHIFT)
    _built = ieee_math32.build(inline(lambda a, b: a + b), inline(lambda a, b: a - b),
                                         inline(lambda a, b: a * b), inline(lambda a, b: a / b),
                                         inline(lambda c, a, b: a if c else b),
                                         inline(lambda a, b: math.copysign(a, b)), scale2,
                                         inline(lambda v: pow2[np.int64(v - shift) + off]), F32, jit=inline)
    exp, expm1, tanh, sigmoid = _built.exp, _built.expm1, _built.tanh, _built.sigmoid

    @njit(error_model="numpy")
    def apply(x, o1, o2, o3, o4):
        for i in range(x.size):
            o1[i], o2[i], o3[i], o4[i] = exp(x[i]), expm1(x[i]), tanh(x[i]), sigmoid(x[i])

    x = np.concatenate([_inputs(2000, seed=2), np.array([np.inf, -np.inf, np.nan], F32)])
    outs = [np.empty_like(x) for _ in range(4)]
    apply(x, *outs)
    for got, (shared, *_) in zip(outs, FUNCS.values()):
        want = shared(x)
        assert ((got.view(np.int32) == want.view(np.int32)) | (np.isnan(got) & np.isnan(want))).all()


# ---- the numba engine: the reference's bits (the 4-4 matrix is tests/test_new_factor_engines.py's)
def _numba_vs_numpy(cells, seeds) -> list[str]:
    return differences(train_group(cells, seeds, engine="numpy"), train_group(cells, seeds, engine="numba"))


@pytest.mark.parametrize("kw", [
    dict(activation="elu", update="corrected", optimizer="momentum"),
    pytest.param(dict(activation="sigmoid", output="identity", optimizer="adam", data_order="shuffled", order_seed=3),
                 marks=pytest.mark.slow),  # a second kernel to compile on a fresh clone
])
def test_numba_float32_gives_the_reference_bits_on_a_second_architecture(kw):
    cells = [Cell(dtype="float32", hidden=(3, 1, 5), epochs=30, init=i, lr=lr, **kw)
             for i, lr in (("randn", 0.1), ("he", 0.03))]
    assert _numba_vs_numpy(cells, range(8)) == []


@pytest.mark.slow  # 72 float32 kernels, 12 per activation (one test each, so pytest-xdist spreads them)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numba_float32_gives_the_reference_bits_on_every_combination_of_a_second_architecture(activation):
    from new_factor_checks import compare_new_factors

    n, bad = compare_new_factors("numba", "float32", seeds=range(6), epochs=20, hidden=(3, 1, 5),
                                 activations=(activation,), optimizers=["sgd", "momentum", "adam"])
    assert n == 2 * 2 * 3 and bad == []


def test_numba_float32_formulas_compile_to_float32_arithmetic_only():
    """No silent promotion in the engine's float32 formulas: their LLVM IR (a fresh, uncached
    compile) has float32 arithmetic and not one double operation or float->double extension."""
    import re

    from numba import njit

    from relustudy.core.engines.numba_cpu import formulas_for

    f = formulas_for("float32")
    f_relu, f_leaky, f_tanh, f_sigmoid, f_elu = f.f_relu, f.f_leaky_relu, f.f_tanh, f.f_sigmoid, f.f_elu
    d_relu, d_leaky, d_tanh, d_sigmoid, d_elu = f.d_relu, f.d_leaky_relu, f.d_tanh, f.d_sigmoid, f.d_elu
    loss_grad, sgd, momentum, adam_scales, adam, beta1, beta2 = (f.loss_grad, f.sgd, f.momentum, f.adam_scales,
                                                                  f.adam, f.BETA1, f.BETA2)

    @njit(error_model="numpy")
    def every_formula(z, out):
        s = F32(0.0)
        for i in range(z.size):
            x = z[i]
            s = s + f_relu(x) + f_leaky(x) + f_tanh(x) + f_sigmoid(x) + f_elu(x)
            s = s + d_relu(x, x, x) + d_leaky(x, x, x) + d_tanh(x, x, x) + d_sigmoid(x, x, x) + d_elu(x, x, x)
            s = s + loss_grad(x) + sgd(x, x, x)
            p, v = momentum(x, x, x, x)
            lrb, sqb = adam_scales(x, x * beta1, x * beta2)
            q, m, w = adam(p, v, x, x, lrb, sqb)
            s = s + q + m + w
        out[0] = s

    z = np.linspace(-3, 3, 7, dtype=F32)
    out = np.zeros(1, F32)
    every_formula(z, out)
    ir = "".join(every_formula.inspect_llvm().values())
    assert re.search(r"= fadd (fast )?float ", ir)
    assert not re.search(r"= (fadd|fsub|fmul|fdiv)[^\n]* double |= fpext |@llvm\.\w+\.f64", ir)
