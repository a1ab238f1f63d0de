"""Figures of issue 16 draw what they are given: one panel per cell, the fitted curves, zero rates at the floor."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from relustudy.stats.curves import saturating
from relustudy.figures.curves import flip_curves, learning_curves


def test_learning_curves_one_panel_per_cell_with_the_fitted_curve():
    rows = [dict(cell=c, predictor="gb", n_train=n, rep=0, auroc=a, low=a - 0.01, high=a + 0.01)
            for c in ("x", "y") for n, a in ((1000, 0.8), (10_000, 0.85), (100_000, 0.87))]
    rows += [dict(cell=c, predictor="dead", n_train=0, rep=0, auroc=0.7, low=0.69, high=0.71) for c in ("x", "y")]
    fit = pd.DataFrame([dict(cell="x", a=0.9, b=0.1, c=0.5, a_low=0.88, a_high=0.92),
                        dict(cell="y", a=np.nan, b=np.nan, c=np.nan, a_low=np.nan, a_high=np.nan)])
    fig = learning_curves(pd.DataFrame(rows), fit, model="gb", baselines=("dead",))
    ax_x, ax_y = fig.axes[:2]
    assert [ax_x.get_title(), ax_y.get_title()] == ["x", "y"]
    line = [l for l in ax_x.lines if len(l.get_xdata()) == 100][0]  # the fitted curve (100 points)
    xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
    np.testing.assert_allclose(ys, saturating(xs, 0.9, 0.1, 0.5))
    assert not any(len(l.get_xdata()) == 100 for l in ax_y.lines)  # no fit, no curve


def test_flip_curves_draws_zero_rates_at_the_floor_and_the_power_law():
    rates = pd.DataFrame(dict(cell="p", eps=[1e-8, 1e-4, 1e-1], rate=[0.0, 1e-4, 1e-2], ci_low=[0.0, 5e-5, 8e-3],
                              ci_high=[2e-5, 2e-4, 1.2e-2], perm_rate=[0.0, 1e-4, 5e-3]))
    fits = pd.DataFrame([dict(cell="p", A=0.1, alpha=1.0, eps_low=1e-4, eps_high=1e-1)])
    resp = pd.DataFrame(dict(cell="p", eps=rates["eps"], dweights_q50=rates["eps"], dmse_rel_q50=rates["eps"] ** 2))
    fig = flip_curves(rates, fits=fits, response=resp)
    ax = fig.axes[0]
    floor = 1e-5  # a tenth of the smallest positive rate
    pts = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    np.testing.assert_allclose(pts, [floor, 1e-4, 1e-2])
    power = [l for l in ax.lines if l.get_linestyle() == "--"][0]
    x, y = (np.asarray(v, dtype=float) for v in power.get_data())
    np.testing.assert_allclose(y, 0.1 * x)
    assert len(fig.axes) == 2
