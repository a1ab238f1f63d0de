"""Figures of the report (seaborn, PNG).

Each function takes a long-form DataFrame and column names (keyword-only), draws on
``ax`` (a new figure when None) and returns the Axes or the FacetGrid/Figure it made.
No statistics are computed here: the summaries come in from ``analysis``.
"""
from __future__ import annotations

import textwrap

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from relustudy.core.outcomes import OUTCOMES  # noqa: E402
from relustudy.stats.inputs import MSE_FLOOR  # noqa: E402  the one precision floor: values below it are drawn at it

PALETTE = "colorblind"
_CB = sns.color_palette(PALETTE, 10)
# Fixed, well-separated colours per outcome (solved blue, dead orange, collapsed green,
# slow pink, diverged grey), so the same outcome looks the same in every figure.
OUTCOME_COLORS = dict(zip(OUTCOMES, [_CB[0], _CB[1], _CB[2], _CB[4], _CB[7]]))


def set_theme() -> None:
    """The study's seaborn theme. Axes take the style in force when they are created, so the
    report sets it before any study draws (report.document.render_studies), and each figure
    function sets it again for use on its own."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as PNG (fixed dpi, no timestamp metadata) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def levels(data: pd.DataFrame, col: str | None) -> list:
    """The distinct values of ``col`` in order of appearance ([None] when no column is given)."""
    return list(dict.fromkeys(data[col])) if col else [None]


def _new_ax(figsize: tuple[float, float]) -> plt.Axes:
    set_theme()
    return plt.subplots(figsize=figsize)[1]


def facet(
    data: pd.DataFrame,
    draw,
    *,
    col: str | None = None,
    row: str | None = None,
    col_order: list | None = None,
    row_order: list | None = None,
    width: float = 4.4,
    height: float = 3.4,
    figsize: tuple[float, float] | None = None,
    sharex: bool = True,
    sharey: bool = True,
    label_panels: bool = True,
    titles=None,
    title_size: float = 9,
    title: str = "",
    layout: bool = True,
) -> plt.Figure:
    """One panel per level of ``row`` x ``col``: ``draw(sub, ax)`` draws each panel's rows.

    The one row x column loop of the figures (as seaborn's FacetGrid, for drawings that are not
    one seaborn call). Levels come in order of appearance unless ``row_order``/``col_order``
    give them. Panels are titled "row=r | col=c" (the values alone with
    ``label_panels=False``; ``titles(r, c)`` returns any other title); an empty value is left
    out. Axis labels are kept on the bottom row (x) and the left column (y) only. The figure is
    ``figsize`` (default ``width`` x ``height`` per panel); ``layout=False`` leaves
    ``tight_layout`` to the caller (who adds a legend or colorbar first). Returns the Figure,
    whose ``axes`` are the panels row by row.
    """
    set_theme()
    rows, cols = row_order or levels(data, row), col_order or levels(data, col)
    size = figsize or (width * len(cols), height * len(rows) + 0.4)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=size, sharex=sharex, sharey=sharey, squeeze=False)
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            sub = data
            if row:
                sub = sub[sub[row] == rv]
            if col:
                sub = sub[sub[col] == cv]
            ax = axes[i, j]
            draw(sub, ax)
            if titles is not None:
                name = titles(rv, cv)
            else:
                parts = [(k, v) for k, v in ((row, rv), (col, cv)) if k and str(v) != ""]
                name = " | ".join((f"{k}={v}" if label_panels else str(v)) for k, v in parts)
            if name:
                ax.set_title(name, fontsize=title_size)
            if i < len(rows) - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
    if title:
        fig.suptitle(title, fontsize=11)
    if layout:
        fig.tight_layout()
    return fig


def _first_legend(fig: plt.Figure, **kw) -> None:
    """A figure legend from the first panel's labelled artists (every panel draws the same ones)."""
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, **kw)


def head_legend_layout(fig: plt.Figure, title: str = "", ncol: int = 1) -> None:
    """Title and the first panel's legend in a band of fixed height (inches) above the panels, then
    tight_layout below it: no empty margin however tall the figure is."""
    inch = 1 / fig.get_figheight()
    # A title wider than the figure would widen the saved image around it: wrap it to the figure's width
    # (about 8 characters an inch at this size). fig.text, not suptitle: tight_layout would reserve room for a
    # suptitle a second time.
    lines = textwrap.wrap(title, width=max(20, int(8 * fig.get_figwidth()))) if title else []
    title_h = 0.1 + 0.25 * len(lines) if lines else 0.0
    if lines:
        fig.text(0.5, 1 - 0.05 * inch, "\n".join(lines), ha="center", va="top", fontsize="large")
    _first_legend(fig, loc="upper center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 1 - (0.05 + title_h) * inch))
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.45 + title_h) * inch))


def _palette(names: list) -> dict:
    return dict(zip(names, sns.color_palette(PALETTE, len(names))))


def ecdf_final_mse(runs: pd.DataFrame, *, hue: str = "activation", col: str | None = "output") -> sns.FacetGrid:
    """ECDF of final_mse (log x) per ``hue``, one panel per ``col`` level.

    runs: one row per run with columns final_mse, ``hue`` and ``col``.
    """
    set_theme()
    d = runs.assign(final_mse=runs["final_mse"].clip(lower=MSE_FLOOR))
    d = d[np.isfinite(d["final_mse"])]
    # Plain strings: unused categorical levels would otherwise crowd the legend.
    d = d.assign(**{c: d[c].astype(str) for c in (hue, col) if c})
    g = sns.displot(
        d, x="final_mse", hue=hue, col=col, kind="ecdf", log_scale=(True, False), height=3.6, aspect=1.25,
        facet_kws=dict(sharex=True),
    )
    g.set_axis_labels("final MSE (log scale)", "fraction of finite runs <= x")
    for ax in g.axes.flat:
        ax.axvline(1e-3, color="0.3", ls="--", lw=1)
        ax.axvline(MSE_FLOOR, color="0.6", ls=":", lw=1)
        ax.set_xlim(left=MSE_FLOOR / 3)
    n_div = int((~np.isfinite(runs["final_mse"].to_numpy(float))).sum())
    g.figure.suptitle(
        f"Distribution of final MSE per activation (dashed: solved threshold; dotted: precision floor {MSE_FLOOR:g}, "
        f"lower values drawn there; {n_div} diverged runs not drawn)",
        y=1.04, fontsize=10,
    )
    return g


def rate_dots(
    data: pd.DataFrame, *, y: str, hue: str, order: list | None = None, hue_order: list | None = None,
    palette: dict | None = None, zoom: bool = False, xlabel: str = "failure rate (not solved), 95% CI", ax=None,
) -> plt.Axes:
    """One panel of failure rates as dots with CI error bars: one row per ``y`` level, dots dodged by ``hue``.

    data: one row per cell with columns rate, ci_low, ci_high, ``y`` and ``hue`` (strings).
    ``zoom``: x axis from the data (else 0..1), so narrow CIs of small shares stay visible.
    """
    ax = ax if ax is not None else _new_ax((4.2, 0.33 * data[y].nunique() + 1.5))
    ylev = order or levels(data, y)
    hlev = hue_order or levels(data, hue)
    colors = palette or _palette(hlev)
    offsets = np.linspace(-0.3, 0.3, len(hlev)) if len(hlev) > 1 else np.zeros(1)
    for off, h in zip(offsets, hlev):
        s = data[data[hue] == h]
        pos = np.array([ylev.index(v) for v in s[y]]) + off
        ax.errorbar(s["rate"], pos, xerr=[s["rate"] - s["ci_low"], s["ci_high"] - s["rate"]],
                    fmt="o", ms=3.5, lw=1, color=colors[h], label=h)
    ax.set_yticks(range(len(ylev)), ylev, fontsize=8)
    if zoom:
        lo, hi = float(data["ci_low"].min()), float(data["ci_high"].max())
        ax.set_xlim(max(0.0, lo - 0.05 * (hi - lo)), hi + 0.05 * (hi - lo))
    else:
        ax.set_xlim(-0.02, 1.02)
    if not ax.yaxis_inverted():  # shared y axes: inverting each panel in turn would flip it back
        ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return ax


def failure_rate_dots(
    rates: pd.DataFrame, *, y: str, hue: str, col: str, row: str, title: str = "",
    xlabel: str = "failure rate (not solved), 95% CI", zoom: bool = False, min_height: float = 0.0,
) -> plt.Figure:
    """:func:`rate_dots` panels, one per ``row`` x ``col`` level (panels titled by the values);
    ``min_height`` (inches) keeps a figure of few rows readable under its title and legend."""
    ylev, hlev = levels(rates, y), levels(rates, hue)
    colors = _palette(hlev)
    nrows, ncols = len(levels(rates, row)), len(levels(rates, col))
    fig = facet(
        rates, lambda sub, ax: rate_dots(sub, y=y, hue=hue, order=ylev, hue_order=hlev, palette=colors, zoom=zoom,
                                         xlabel=xlabel, ax=ax),
        col=col, row=row, figsize=(4.2 * ncols, max(0.33 * len(ylev) * nrows + 1.5, min_height)), sharex=not zoom,
        sharey=True,
        label_panels=False, layout=False,
    )
    height = fig.get_figheight()
    # Keep ~0.55 in at the bottom for the legend and ~0.45 in at the top for the title.
    fig.tight_layout(rect=(0, 0.55 / height, 1, 1 - 0.45 / height))
    _first_legend(fig, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(hlev), 4), frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def rate_heatmap(
    data: pd.DataFrame, *, y: str, x: str, value: str = "rate", order: list | None = None,
    x_order: list | None = None, ax=None,
) -> plt.Axes:
    """One annotated heatmap of ``value`` (a share, drawn in %) over ``y`` x ``x``.

    data: one row per (``y``, ``x``) with the ``value`` column; blank where a pair is absent.
    """
    ylev, xlev = order or levels(data, y), x_order or levels(data, x)
    ax = ax if ax is not None else _new_ax((0.9 * len(xlev) + 2.5, 0.38 * len(ylev) + 1.6))
    grid = data.pivot(index=y, columns=x, values=value).reindex(index=ylev, columns=xlev) * 100
    sns.heatmap(grid, ax=ax, vmin=0, vmax=100, cmap="rocket_r", annot=True, fmt=".0f", cbar=False,
                annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.tick_params(axis="y", labelsize=8)
    return ax


def failure_rate_heatmap(
    rates: pd.DataFrame, *, y: str, x: str, col: str, row: str, title: str = ""
) -> plt.Figure:
    """:func:`rate_heatmap` of failure rates (%), one panel per ``row`` x ``col`` level.

    rates: one row per cell with column rate and the ``y``, ``x``, ``col``, ``row`` labels
    (strings); every panel shows the same ``y`` x ``x`` grid (blank where a cell is absent).
    """
    ylev, xlev = levels(rates, y), levels(rates, x)
    nrows, ncols = len(levels(rates, row)), len(levels(rates, col))
    fig = facet(
        rates, lambda sub, ax: rate_heatmap(sub, y=y, x=x, order=ylev, x_order=xlev, ax=ax), col=col, row=row,
        figsize=(0.9 * len(xlev) * ncols + 2.5, 0.38 * len(ylev) * nrows + 1.6), layout=False,
    )
    fig.suptitle(title or "failure rate (%)")
    fig.tight_layout()
    return fig


DIVERGED_CEILING = 1e2  # diverged runs (epoch error inf) are drawn at this height on log axes


def _diverged_shown(bands: pd.DataFrame) -> bool:
    """Whether any drawn quartile (of a group with at least 2 runs) lies above DIVERGED_CEILING."""
    drawn = bands[bands["n"] >= 2] if "n" in bands else bands
    return bool((drawn[["q25", "q50", "q75"]].to_numpy() > DIVERGED_CEILING).any())


def curve_bands(
    data: pd.DataFrame, *, hue: str, hue_order: list | None = None, palette: dict | None = None,
    ymin: float | None = None, reference: float | None = None, ceiling: bool | None = None, ax=None,
) -> plt.Axes:
    """One panel of median epoch error with an interquartile band per ``hue`` level, log-log.

    data: one row per (``hue``, epoch) with columns epoch, q25, q50, q75 and optionally n (runs;
    a level with fewer than 2 is not drawn). Values below :data:`MSE_FLOOR` are drawn at it,
    inf at :data:`DIVERGED_CEILING`. ymin: lower y limit (default: the precision floor).
    reference: if given, a dashed 1/epoch line through this error at epoch 1000. ceiling: draw
    the dotted ceiling line (default: when this panel has a value above it).
    """
    ax = ax if ax is not None else _new_ax((4.6, 3.4))
    hlev = hue_order or levels(data, hue)
    colors = palette or _palette(hlev)

    def shown(v):
        return v.clip(lower=MSE_FLOOR, upper=DIVERGED_CEILING)

    for h in hlev:
        s = data[data[hue] == h].sort_values("epoch")
        if s.empty or ("n" in s and int(s["n"].max()) < 2):
            continue  # one run is no distribution: no median or band
        label = f"{h} (n={int(s['n'].max())})" if "n" in s else h
        # Markers at the recorded epochs (1, 2, 5, 10, ...): the lines between them interpolate.
        ax.plot(s["epoch"], shown(s["q50"]), color=colors[h], lw=1.6, marker="o", ms=3, label=label)
        ax.fill_between(s["epoch"], shown(s["q25"]), shown(s["q75"]), color=colors[h], alpha=0.2)
    if reference is not None:
        e = np.array([data["epoch"].min(), data["epoch"].max()], dtype=float)
        ax.plot(e, reference * 1000.0 / e, color="0.3", ls="--", lw=1, label="∝ 1/epoch")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=ymin if ymin is not None else MSE_FLOOR / 3, top=DIVERGED_CEILING * 5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("epoch error (median, IQR)")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    ax.axhline(MSE_FLOOR, color="0.6", lw=0.8, ls=":")
    if ceiling if ceiling is not None else _diverged_shown(data):
        ax.axhline(DIVERGED_CEILING, color="0.3", lw=0.8, ls=":")
    return ax


def learning_curves(
    bands: pd.DataFrame,
    *,
    hue: str,
    col: str | None = None,
    row: str | None = None,
    title: str = "",
    ymin: float | None = None,
    reference: float | None = None,
) -> plt.Figure:
    """:func:`curve_bands` panels, one per ``col`` x ``row`` level, with the same colours and axes.

    bands: one row per (``hue``, ``col``, ``row``, epoch) with columns epoch, q25, q50, q75
    (e.g. ``analysis.curve_bands``; a diverged run's error is inf and ranks worst).
    """
    hlev = levels(bands, hue)
    colors = _palette(hlev)
    any_inf = _diverged_shown(bands)
    note = f"dotted: precision floor {MSE_FLOOR:g}" + (
        f"; diverged runs and errors above {DIVERGED_CEILING:g} drawn at {DIVERGED_CEILING:g}" if any_inf else ""
    )
    return facet(
        bands, lambda sub, ax: curve_bands(sub, hue=hue, hue_order=hlev, palette=colors, ymin=ymin,
                                           reference=reference, ceiling=any_inf, ax=ax),
        col=col, row=row, width=4.6, height=3.4, title_size=10, title=f"{title}\n({note})" if title else note,
    )


def outcome_bars(data: pd.DataFrame, *, x: str, order: list | None = None, ax=None) -> plt.Axes:
    """One panel of stacked bars: the share of each outcome per ``x`` level.

    data: one row per (``x``, outcome) with a ``share`` column summing to 1 within each bar.
    """
    xlev = order or levels(data, x)
    ax = ax if ax is not None else _new_ax((max(4.0, 0.42 * len(xlev)), 3.4))
    wide = data.pivot_table(index=x, columns="outcome", values="share", aggfunc="sum", observed=True)
    wide = wide.reindex(index=xlev, columns=list(OUTCOMES)).fillna(0.0)
    bottom = np.zeros(len(xlev))
    for o in OUTCOMES:
        ax.bar(range(len(xlev)), wide[o], bottom=bottom, color=OUTCOME_COLORS[o], label=o, width=0.8)
        bottom += wide[o].to_numpy()
    ax.set_xticks(range(len(xlev)), xlev, rotation=70, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of runs")
    return ax


def outcome_composition(
    counts: pd.DataFrame, *, x: str, col: str, row: str | None = None, title: str = "", label_panels: bool = True
) -> plt.Figure:
    """:func:`outcome_bars` panels by ``col`` (and ``row``), panels titled "col=c | row=r".

    counts: one row per (x, col[, row], outcome) with a ``share`` column summing to 1
    within each bar. ``label_panels=False`` titles panels by the column's value alone.
    """
    xlev = levels(counts, x)
    nrows, ncols = len(levels(counts, row)), len(levels(counts, col))
    fig = facet(
        counts, lambda sub, ax: outcome_bars(sub, x=x, order=xlev, ax=ax), col=col, row=row,
        figsize=(max(4.0, 0.42 * len(xlev)) * ncols, 3.4 * nrows + 0.8), sharex=False, sharey=True,
        titles=lambda rv, cv: (f"{col}={cv}" if label_panels else str(cv)) + (f" | {row}={rv}" if row else ""),
        layout=False,
    )
    _first_legend(fig, loc="upper center", ncol=len(OUTCOMES), frameon=False, bbox_to_anchor=(0.5, 1.04))
    if title:
        fig.suptitle(title, y=1.09)
    fig.tight_layout()
    return fig


def dead_at_init_vs_outcome(counts: pd.DataFrame, *, x: str, col: str, title: str = "") -> plt.Figure:
    """Outcome shares for runs grouped by a dead-at-init variable ``x``, panels by ``col``.

    counts: as for :func:`outcome_composition`.
    """
    return outcome_composition(counts, x=x, col=col, title=title, label_panels=False)


def fail_vs_margin(bins: pd.DataFrame, *, title: str = "", ax=None) -> plt.Axes:
    """P(fail) with CI error bars per bin of the output unit's init margin.

    bins: one row per bin in margin order with columns bin (label), n, rate, ci_low, ci_high
    (e.g. ``analysis.fail_by_margin``); the first bin is drawn apart as the dead one.
    """
    set_theme()
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 3.8))
    x = np.arange(len(bins))
    colors = [OUTCOME_COLORS["dead_output"] if str(b).startswith("dead") else _CB[0] for b in bins["bin"]]
    err = np.vstack([bins["rate"] - bins["ci_low"], bins["ci_high"] - bins["rate"]])
    ax.bar(x, bins["rate"], color=colors, alpha=0.85, width=0.7)
    ax.errorbar(x, bins["rate"], yerr=err, fmt="none", ecolor="0.2", capsize=3, lw=1)
    for xi, (n, hi) in enumerate(zip(bins["n"], bins["ci_high"])):
        ax.text(xi, hi + 0.02, f"n={n}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, bins["bin"], rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("output unit's largest pre-activation over the six inputs at init (bins of equal counts)")
    ax.set_ylabel("P(fail), 95% CI")
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax




def seed_lottery(matrix: pd.DataFrame, *, title: str = "", ylabel: str | None = None, ax=None) -> plt.Axes:
    """Seeds (rows) x cells (columns) coloured by outcome: the paired 'seed lottery'.

    matrix: index = seed, columns = cell labels, values = outcome strings.
    """
    own = ax is None
    ax = ax if ax is not None else _new_ax((1.0 + 0.75 * matrix.shape[1], 7.5))
    codes = matrix.apply(lambda s: s.map({o: k for k, o in enumerate(OUTCOMES)})).to_numpy(dtype=float)
    cmap = matplotlib.colors.ListedColormap([OUTCOME_COLORS[o] for o in OUTCOMES])
    ax.imshow(codes, aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(OUTCOMES) - 0.5, interpolation="nearest")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(ylabel or f"seed ({matrix.index.min()}..{matrix.index.max()})")
    ax.grid(False)
    handles = [matplotlib.patches.Patch(color=OUTCOME_COLORS[o], label=o) for o in OUTCOMES]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.12), ncol=3, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, pad=48)
    if own:
        ax.figure.tight_layout()
    return ax


def rate_lines(
    data: pd.DataFrame, *, x: str, hue: str, hue_order: list | None = None, palette: dict | None = None,
    ylabel: str = "rate", ax=None,
) -> plt.Axes:
    """One panel of rates with CI error bars against ``x`` (e.g. depth), one line per ``hue`` level.

    data: columns ``x``, ``hue``, rate, ci_low, ci_high; an optional ``theory`` column is drawn dashed.
    """
    ax = ax if ax is not None else _new_ax((4.2, 3.4))
    hlev = hue_order or sorted(dict.fromkeys(data[hue]))
    colors = palette or _palette(hlev)
    for h in hlev:
        s = data[data[hue] == h].sort_values(x)
        ax.errorbar(s[x], s["rate"], yerr=[s["rate"] - s["ci_low"], s["ci_high"] - s["rate"]],
                    marker="o", ms=3.5, lw=1.3, capsize=2, color=colors[h], label=f"{hue}={h}")
        if "theory" in s:
            ax.plot(s[x], s["theory"], ls="--", lw=1, color=colors[h])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    return ax


def rate_vs_depth(
    rates: pd.DataFrame, *, x: str, hue: str, col: str, row: str | None = None, title: str = "", ylabel: str = "rate"
) -> plt.Figure:
    """:func:`rate_lines` panels by ``col`` (and ``row``), panels titled "col=c | row=r".

    rates: columns x, hue, col[, row], rate, ci_low, ci_high; optional ``theory`` column
    drawn dashed.
    """
    hlev = sorted(dict.fromkeys(rates[hue]))
    colors = _palette(hlev)
    nrows, ncols = len(levels(rates, row)), len(levels(rates, col))
    fig = facet(
        rates, lambda sub, ax: rate_lines(sub, x=x, hue=hue, hue_order=hlev, palette=colors, ylabel=ylabel, ax=ax),
        col=col, row=row, figsize=(4.2 * ncols, 3.4 * nrows),
        titles=lambda rv, cv: f"{col}={cv}" + (f" | {row}={rv}" if row else ""), layout=False,
    )
    head_legend_layout(fig, title, ncol=len(hlev))
    return fig
