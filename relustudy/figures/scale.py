"""Figures of the scale experiments (issue 11): million, phase, depth_width (seaborn style, PNG).

Like :mod:`relustudy.figures.cells`: each panel function takes a long-form DataFrame and column
names (keyword-only), draws on ``ax`` (a new one when None) and returns the Axes; the
multi-panel figures are made by :func:`relustudy.figures.cells.facet` and return the Figure; the
rates and CIs come in computed (the studies ``million``, ``phase``, ``depth_width``,
``remedies``), nothing statistical happens here.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from relustudy.figures.cells import PALETTE, _new_ax, facet, head_legend_layout
from relustudy.figures.cells import levels as _levels


def _edges(centers: np.ndarray) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints, extended half a step at both ends."""
    c = np.log(np.asarray(centers, dtype=float))
    mid = (c[1:] + c[:-1]) / 2
    first = c[0] - (mid[0] - c[0]) if len(c) > 1 else c[0] - 0.5
    last = c[-1] + (c[-1] - mid[-1]) if len(c) > 1 else c[-1] + 0.5
    return np.exp(np.concatenate([[first], mid, [last]]))


def _smooth(z: np.ndarray) -> np.ndarray:
    """Mean over each cell's 3 x 3 neighbourhood (NaN and the border ignored): z (ny, nx)."""
    pad = np.pad(z, 1, constant_values=np.nan)
    stack = np.stack([pad[i:i + z.shape[0], j:j + z.shape[1]] for i in range(3) for j in range(3)])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(stack, axis=0)


def phase_map(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str = "rate",
    x_values: np.ndarray | None = None,
    y_values: np.ndarray | None = None,
    mark: tuple[float, float] | None = None,
    level: float | None = 0.5,
    annotate_min: bool = False,
    ax=None,
) -> plt.Axes:
    """One heatmap of ``value`` (in [0, 1]) over ``x`` x ``y``, both log axes (y base 2).

    data: one row per (x, y) (several are averaged); x_values, y_values: the grid (default:
    the sorted values present). mark: (x, y) drawn as a star (e.g. the posted program); level:
    the contour drawn (e.g. 50 %) through the field smoothed over each cell's 3 x 3
    neighbourhood (sampling noise would fragment it), and only where the field spans at least
    20 points around it (no contour in a flat field). annotate_min: circle and label the lowest
    value. The colour mesh is ``ax.collections[0]`` (for a colorbar).
    """
    ax = ax if ax is not None else _new_ax((4.6, 3.6))
    xs = np.sort(data[x].unique()) if x_values is None else x_values
    ys = np.sort(data[y].unique()) if y_values is None else y_values
    grid = data.pivot_table(index=y, columns=x, values=value, aggfunc="mean").reindex(index=ys, columns=xs)
    z = grid.to_numpy(dtype=float)
    ax.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_invalid(z), cmap="rocket_r", vmin=0, vmax=1)
    zs = _smooth(z)
    if level is not None and np.nanmin(zs) < level - 0.1 and np.nanmax(zs) > level + 0.1:
        cs = ax.contour(xs, ys, zs, levels=[level], colors="white", linewidths=1.6)
        ax.clabel(cs, fmt=lambda v: f"{100 * v:.0f}%", fontsize=7)
    if annotate_min and np.isfinite(z).any():
        k = np.unravel_index(np.nanargmin(z), z.shape)
        ax.plot(xs[k[1]], ys[k[0]], marker="o", ms=12, mfc="none", mec="#56B4E9", mew=1.8)
        ax.annotate(f"lowest {100 * z[k]:.1f}%", (xs[k[1]], ys[k[0]]), textcoords="offset points",
                    xytext=(6, 8), fontsize=7, color="white", fontweight="bold")
    if mark is not None:
        ax.plot(*mark, marker="*", ms=11, color="#56B4E9", mec="black", mew=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ax.minorticks_off()  # minor log ticks on 16 panels cost seconds and say nothing here
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def phase_heatmaps(
    rates: pd.DataFrame,
    *,
    x: str,
    y: str,
    col: str,
    row: str | None = None,
    value: str = "rate",
    mark: tuple[float, float] | None = None,
    level: float | None = 0.5,
    title: str = "",
    cbar_label: str = "P(fail)",
    annotate_min: bool = False,
) -> plt.Figure:
    """:func:`phase_map` panels, one per ``col`` (x ``row``) level, on one grid and one colour scale.

    rates: one row per (x, y, col[, row]) with the ``value`` column in [0, 1].
    """
    xs, ys = np.sort(rates[x].unique()), np.sort(rates[y].unique())
    nrows, ncols = len(_levels(rates, row)), len(_levels(rates, col))
    fig = facet(
        rates, lambda sub, ax: phase_map(sub, x=x, y=y, value=value, x_values=xs, y_values=ys, mark=mark, level=level,
                                         annotate_min=annotate_min, ax=ax),
        col=col, row=row, figsize=(3.6 * ncols + 1.0, 3.0 * nrows + 0.6),
        titles=lambda rv, cv: f"{cv}" + (f" | {rv}" if row else ""), layout=False,
    )
    fig.tight_layout(rect=(0, 0, 0.92, 0.95 if title else 1))
    cax = fig.add_axes((0.93, 0.15, 0.015, 0.7))
    fig.colorbar(fig.axes[0].collections[0], cax=cax, label=cbar_label)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def block_estimates(
    blocks: pd.DataFrame, *, full_rate: float, reference: pd.DataFrame | None = None, title: str = "", ax=None
) -> plt.Axes:
    """Histogram of failure rates estimated from disjoint seed blocks, against the all-seed rate.

    blocks: one row per block with columns rate and n; reference: optional rows with label,
    rate, ci_low, ci_high (e.g. the 1,000-seed default-grid estimate) drawn as CI brackets.
    """
    own = ax is None
    ax = ax if ax is not None else _new_ax((7.0, 3.4))
    sns.histplot(blocks["rate"], ax=ax, bins=30, stat="density", color=sns.color_palette(PALETTE)[0], alpha=0.6)
    ax.axvline(full_rate, color="black", lw=1.5, label=f"all seeds: {100 * full_rate:.2f}%")
    colors = sns.color_palette(PALETTE)[1:]
    top = ax.get_ylim()[1]
    for k, r in enumerate([] if reference is None else reference.itertuples()):
        # The CI as a bracket above the bars (a shaded band over them would recolour the bars it covers).
        y = top * (1.04 + 0.06 * k)
        ax.errorbar([r.rate], [y], xerr=[[r.rate - r.ci_low], [r.ci_high - r.rate]], fmt="D", color=colors[k],
                    capsize=4, lw=1.5, label=f"{r.label}: {100 * r.rate:.1f}%, 95% CI")
    ax.set_ylim(top=top * (1.12 + 0.06 * (0 if reference is None else len(reference))))
    ax.set_xlabel(f"failure rate of one block of {int(blocks['n'].iloc[0]):,} seeds")
    ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        ax.figure.tight_layout()
    return ax


def share_bars(
    data: pd.DataFrame, *, x: str, levels: list[str], order: list | None = None, palette: dict | None = None, ax=None,
) -> plt.Axes:
    """One panel of stacked bars: per ``x`` level the share of runs in each of ``levels``.

    data: one row per ``x`` level with one column per level (shares of all runs).
    """
    xlev = order or list(dict.fromkeys(data[x]))
    ax = ax if ax is not None else _new_ax((max(3.2, 0.3 * len(xlev)), 3.2))
    colors = palette or dict(zip(levels, sns.color_palette(PALETTE, len(levels))))
    sub = data.set_index(x).reindex(xlev)
    bottom = np.zeros(len(xlev))
    for lev in levels:
        vals = sub[lev].fillna(0.0).to_numpy(dtype=float)
        ax.bar(range(len(xlev)), vals, bottom=bottom, color=colors[lev], width=0.85, label=lev)
        bottom += vals
    ax.set_xticks(range(len(xlev)), xlev, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("failed runs, share of all")
    return ax


def stacked_shares(
    shares: pd.DataFrame, *, x: str, col: str, row: str | None = None, levels: list[str], title: str = ""
) -> plt.Figure:
    """:func:`share_bars` panels by ``col`` (and ``row``), e.g. failure modes per architecture.

    shares: one row per (x, col[, row]) with one column per level (shares of all runs).
    """
    xlev = list(dict.fromkeys(shares[x]))
    colors = dict(zip(levels, sns.color_palette(PALETTE, len(levels))))
    nrows, ncols = len(_levels(shares, row)), len(_levels(shares, col))
    fig = facet(
        shares, lambda sub, ax: share_bars(sub, x=x, levels=levels, order=xlev, palette=colors, ax=ax),
        col=col, row=row, figsize=(max(3.2, 0.3 * len(xlev)) * ncols, 2.8 * nrows + 0.8), sharex=False, sharey=True,
        titles=lambda rv, cv: f"{cv}" + (f" | {rv}" if row else ""), layout=False,
    )
    head_legend_layout(fig, title, ncol=len(levels))
    return fig


def grouped_shares(
    shares: pd.DataFrame, *, y: str, hue: str, col: str | None = None, title: str = "", xlabel: str = "share",
    note: str = "",
) -> plt.Figure:
    """Horizontal grouped bars of ``rate`` with 95% CI whiskers: one group per ``y`` level, one
    bar per ``hue`` level, one panel per ``col`` level, each panel's x axis fitted to its data.

    shares: one row per (y, hue[, col]) with columns rate, ci_low, ci_high.
    """
    ylev, hlev = list(dict.fromkeys(shares[y])), list(dict.fromkeys(shares[hue]))
    colors = dict(zip(hlev, sns.color_palette(PALETTE, len(hlev))))
    per_panel = 1 if hue == col else len(hlev)  # a panel per hue level: one full-width bar per group
    height = 0.2 * per_panel * len(ylev) + 1.0
    width = 0.8 / per_panel

    def draw(sub: pd.DataFrame, ax) -> None:
        for k, h in enumerate(h for h in hlev if (sub[hue] == h).any()):
            s = sub[sub[hue] == h].set_index(y).reindex(ylev)
            pos = np.arange(len(ylev)) - 0.4 + width * (k + 0.5)
            rate = s["rate"].to_numpy(float)
            ax.barh(pos, rate, height=width * 0.92, color=colors[h], label=h)
            ax.errorbar(rate, pos, xerr=[rate - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - rate],
                        fmt="none", ecolor="0.15", capsize=2, lw=1)
        ax.set_yticks(range(len(ylev)), ylev, fontsize=8)
        if not ax.yaxis_inverted():  # shared y: a second inversion would put the first level at the bottom again
            ax.invert_yaxis()
        ax.set_xlim(0, float(sub["ci_high"].max()) * 1.08)
        ax.set_xlabel(xlabel, fontsize=9)

    fig = facet(shares, draw, col=col, width=5.2, height=height, sharex=False, sharey=True, label_panels=False)
    if hue != col:  # panel titles already name a hue that has its own panels
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=1, frameon=False, fontsize=8,
                   bbox_to_anchor=(0.5, -0.04 - 0.05 * len(hlev)))
    if title or note:
        fig.suptitle(title + (f"\n({note})" if note else ""), fontsize=10)
    fig.tight_layout()
    return fig
