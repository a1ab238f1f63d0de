"""Panel functions draw on the Axes they are given; facet lays out one panel per level."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from relustudy.figures import cells as figures
from relustudy.figures import forensics as figures_forensics
from relustudy.figures import scale as figures_scale


def _rates():
    # 2 updates (rows) x 3 inits (cols) x 2 widths (hue) x 2 depths (x)
    rows = [(u, i, w, d, 0.1 * k % 1) for k, (u, i, w, d) in enumerate(
        (u, i, w, d) for u in ("posted", "fixed") for i in ("randn", "he", "xavier") for w in (2, 4) for d in (1, 3))]
    r = pd.DataFrame(rows, columns=["update", "init", "width", "depth", "rate"])
    return r.assign(ci_low=r["rate"] * 0.9, ci_high=r["rate"] * 1.1 + 0.01)


@pytest.mark.parametrize("draw", [
    lambda d, ax: figures.rate_lines(d, x="depth", hue="width", ax=ax),
    lambda d, ax: figures.rate_dots(d.astype({"depth": str, "width": str}), y="depth", hue="width", ax=ax),
    lambda d, ax: figures.rate_heatmap(d, y="width", x="depth", ax=ax),
    lambda d, ax: figures_scale.phase_map(d, x="depth", y="width", ax=ax),
])
def test_panel_function_draws_on_the_given_ax_and_returns_it(draw):
    d = _rates()
    d = d[(d["update"] == "posted") & (d["init"] == "he")]
    fig, (left, right) = plt.subplots(1, 2)
    assert draw(d, right) is right
    assert right.has_data() and not left.has_data()  # nothing leaks to another Axes or a new figure
    assert plt.gcf() is fig
    plt.close("all")


def test_panel_function_without_ax_makes_its_own():
    shares = pd.DataFrame({"x": ["a", "b"], "dead": [0.2, 0.1], "slow": [0.1, 0.3]})
    ax = figures_scale.share_bars(shares, x="x", levels=["dead", "slow"])
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.2, 0.1, 0.1, 0.3])
    plt.close("all")


def test_facet_builds_the_grid_from_the_column_levels():
    r = _rates()
    fig = figures.rate_vs_depth(r, x="depth", hue="width", col="init", row="update", ylabel="P(fail)")
    panels = fig.axes
    assert len(panels) == 6  # 2 rows x 3 columns, in order of appearance
    assert [ax.get_title() for ax in panels] == [
        f"init={i} | update={u}" for u in ("posted", "fixed") for i in ("randn", "he", "xavier")]
    # each panel holds its own rows: the posted/he panel's first line is width 2 at depths 1, 3
    he = np.asarray(panels[1].lines[0].get_ydata(), dtype=float)
    want = r[(r["update"] == "posted") & (r["init"] == "he") & (r["width"] == 2)].sort_values("depth")["rate"]
    np.testing.assert_allclose(he, want.to_numpy(float))
    # labels only on the outer panels, one legend entry per width for the whole figure
    assert [bool(ax.get_ylabel()) for ax in panels] == [True, False, False, True, False, False]
    assert [bool(ax.get_xlabel()) for ax in panels] == [False] * 3 + [True] * 3
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["width=2", "width=4"]
    plt.close("all")


def test_facet_without_row_or_col_is_one_panel_and_titles_can_be_chosen():
    data = pd.DataFrame({"x": [1, 2], "y": [3, 4], "c": ["a", "b"]})
    assert len(figures.facet(data, lambda sub, ax: ax.plot(sub["x"], sub["y"])).axes) == 1
    fig = figures.facet(data, lambda sub, ax: ax.plot(sub["x"], sub["y"]), row="c", titles=lambda r, c: f"<{r}>")
    assert [ax.get_title() for ax in fig.axes] == ["<a>", "<b>"]
    plt.close("all")


def test_death_figure_panels_draw_on_given_axes():
    runs = pd.DataFrame({"variant": ["v", "v", "w"], "output_death_epoch": [5, 50, 500]})
    traces = pd.DataFrame({"variant": ["v"] * 4, "seed": [1, 1, 2, 2], "step": [0, 6, 0, 6],
                           "output_margin": [0.5, -0.1, 0.3, 0.2]})
    fig, (a, b) = plt.subplots(1, 2)
    assert figures_forensics.death_epochs(runs, ax=a) is a
    assert figures_forensics.margin_traces(traces, variant="v", ax=b) is b
    assert len(b.lines) == 3  # two seeds and the zero line
    plt.close("all")


def test_tuned_curves_grid_orders_gains_numerically():
    from relustudy.figures import optim as figures_optim

    curves = pd.DataFrame([(u, g, o, lr, 0.5, lr == 0.1) for u in ("posted", "fixed") for g in (2.0, 0.5)
                           for o in ("sgd", "adam") for lr in (0.01, 0.1)],
                          columns=["update", "init_gain", "optimizer", "lr", "held_out_rate", "chosen"])
    fig = figures_optim.tuned_curves_grid(curves)
    assert [ax.get_title() for ax in fig.axes] == ["posted, gain 0.5", "posted, gain 2", "fixed, gain 0.5", "fixed, gain 2"]
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    plt.close("all")
