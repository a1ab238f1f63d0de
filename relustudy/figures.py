"""Figures of the report (seaborn, PNG).

Each function takes a long-form DataFrame and column names (keyword-only), draws on
``ax`` (a new figure when None) and returns the Axes or the FacetGrid/Figure it made.
No statistics are computed here: the summaries come in from ``analysis``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .outcomes import OUTCOMES  # noqa: E402
from .stats import MSE_FLOOR  # noqa: E402  the one precision floor: values below it are drawn at it

PALETTE = "colorblind"
_CB = sns.color_palette(PALETTE, 10)
# Fixed, well-separated colours per outcome (solved blue, dead orange, collapsed green,
# slow pink, diverged grey), so the same outcome looks the same in every figure.
OUTCOME_COLORS = dict(zip(OUTCOMES, [_CB[0], _CB[1], _CB[2], _CB[4], _CB[7]]))


def _setup() -> None:
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


def facet(
    data: pd.DataFrame,
    draw,
    *,
    col: str | None = None,
    row: str | None = None,
    width: float = 4.4,
    height: float = 3.4,
    sharex: bool = True,
    sharey: bool = True,
    label_panels: bool = True,
    title: str = "",
) -> plt.Figure:
    """One panel per level of ``row`` x ``col``: ``draw(sub, ax)`` draws each panel's rows.

    The one row x column loop of the figures (as seaborn's FacetGrid, for drawings that are not
    one seaborn call). Panels are titled "row=r | col=c" (the values alone with
    ``label_panels=False``); ``draw`` sets everything inside the Axes. Returns the Figure.
    """
    _setup()
    rows, cols = levels(data, row), levels(data, col)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(width * len(cols), height * len(rows) + 0.4),
                             sharex=sharex, sharey=sharey, squeeze=False)
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            sub = data
            if row:
                sub = sub[sub[row] == rv]
            if col:
                sub = sub[sub[col] == cv]
            ax = axes[i, j]
            draw(sub, ax)
            parts = [(row, rv), (col, cv)]
            name = " | ".join((f"{k}={v}" if label_panels else str(v)) for k, v in parts if k)
            if name:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def ecdf_final_mse(runs: pd.DataFrame, *, hue: str = "activation", col: str | None = "output") -> sns.FacetGrid:
    """ECDF of final_mse (log x) per ``hue``, one panel per ``col`` level.

    runs: one row per run with columns final_mse, ``hue`` and ``col``.
    """
    _setup()
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


def failure_rate_dots(
    rates: pd.DataFrame, *, y: str, hue: str, col: str, row: str, title: str = "",
    xlabel: str = "failure rate (not solved), 95% CI", zoom: bool = False,
) -> plt.Figure:
    """Dot plot of failure rates with their CIs as error bars.

    rates: one row per cell with columns rate, ci_low, ci_high and the ``y``, ``hue``,
    ``col``, ``row`` labels (strings). ``zoom``: x axis from the data (else 0..1), so narrow
    CIs of small shares stay visible.
    """
    _setup()
    cols, rows = list(dict.fromkeys(rates[col])), list(dict.fromkeys(rates[row]))
    ylev, hlev = list(dict.fromkeys(rates[y])), list(dict.fromkeys(rates[hue]))
    colors = dict(zip(hlev, sns.color_palette(PALETTE, len(hlev))))
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(4.2 * len(cols), 0.33 * len(ylev) * len(rows) + 1.5),
        sharex=not zoom, sharey=True, squeeze=False,
    )
    offsets = np.linspace(-0.3, 0.3, len(hlev)) if len(hlev) > 1 else np.zeros(1)
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i, j]
            sub = rates[(rates[row] == rv) & (rates[col] == cv)]
            for off, h in zip(offsets, hlev):
                s = sub[sub[hue] == h]
                pos = np.array([ylev.index(v) for v in s[y]]) + off
                ax.errorbar(
                    s["rate"], pos, xerr=[s["rate"] - s["ci_low"], s["ci_high"] - s["rate"]],
                    fmt="o", ms=3.5, lw=1, color=colors[h], label=h if (i, j) == (0, 0) else None,
                )
            ax.set_yticks(range(len(ylev)), ylev, fontsize=8)
            if zoom:
                lo, hi = float(sub["ci_low"].min()), float(sub["ci_high"].max())
                ax.set_xlim(max(0.0, lo - 0.05 * (hi - lo)), hi + 0.05 * (hi - lo))
            else:
                ax.set_xlim(-0.02, 1.02)
            ax.invert_yaxis()
            if rv != "" or cv != "":
                ax.set_title(" | ".join(str(v) for v in (rv, cv) if v != ""), fontsize=9)
            if i == len(rows) - 1:
                ax.set_xlabel(xlabel)
    height = fig.get_figheight()
    # Keep ~0.55 in at the bottom for the legend and ~0.45 in at the top for the title.
    fig.tight_layout(rect=(0, 0.55 / height, 1, 1 - 0.45 / height))
    fig.legend(loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(hlev), 4), frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def failure_rate_heatmap(
    rates: pd.DataFrame, *, y: str, x: str, col: str, row: str, title: str = ""
) -> plt.Figure:
    """Annotated heatmaps of failure rates (%), one panel per ``row`` x ``col`` level.

    rates: one row per cell with column rate and the ``y``, ``x``, ``col``, ``row`` labels
    (strings); every panel shows the same ``y`` x ``x`` grid (blank where a cell is absent).
    """
    _setup()
    cols, rows = list(dict.fromkeys(rates[col])), list(dict.fromkeys(rates[row]))
    ylev, xlev = list(dict.fromkeys(rates[y])), list(dict.fromkeys(rates[x]))
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(0.9 * len(xlev) * len(cols) + 2.5, 0.38 * len(ylev) * len(rows) + 1.6),
        sharex=True, sharey=True, squeeze=False,
    )
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i, j]
            sub = rates[(rates[row] == rv) & (rates[col] == cv)]
            grid = sub.pivot(index=y, columns=x, values="rate").reindex(index=ylev, columns=xlev) * 100
            sns.heatmap(grid, ax=ax, vmin=0, vmax=100, cmap="rocket_r", annot=True, fmt=".0f", cbar=False,
                        annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white")
            ax.set_title(f"{row}={rv} | {col}={cv}", fontsize=9)
            ax.set_xlabel(x if i == len(rows) - 1 else "")
            ax.set_ylabel(y if j == 0 else "")
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
            ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(title or "failure rate (%)")
    fig.tight_layout()
    return fig


DIVERGED_CEILING = 1e2  # diverged runs (epoch error inf) are drawn at this height on log axes


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
    """Median epoch error with an interquartile band, log-log; one panel per ``col`` x ``row``.

    bands: one row per (``hue``, ``col``, ``row``, epoch) with columns epoch, q25, q50, q75
    (e.g. ``analysis.curve_bands``; a diverged run's error is inf and ranks worst). Values
    below the precision floor :data:`MSE_FLOOR` are drawn at it, inf at :data:`DIVERGED_CEILING`
    (dotted line), so diverged runs stay visible.
    ymin: lower y limit (default: the precision floor).
    reference: if given, a dashed 1/epoch line through this error at epoch 1000.
    """
    _setup()
    cols = list(dict.fromkeys(bands[col])) if col else [None]
    rows = list(dict.fromkeys(bands[row])) if row else [None]
    hlev = list(dict.fromkeys(bands[hue]))
    colors = dict(zip(hlev, sns.color_palette(PALETTE, len(hlev))))
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(4.6 * len(cols), 3.4 * len(rows) + 0.4), sharex=True, sharey=True, squeeze=False
    )

    def shown(v):
        return v.clip(lower=MSE_FLOOR, upper=DIVERGED_CEILING)

    any_inf = False
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i, j]
            sub = bands
            if cv is not None:
                sub = sub[sub[col] == cv]
            if rv is not None:
                sub = sub[sub[row] == rv]
            for h in hlev:
                s = sub[sub[hue] == h].sort_values("epoch")
                if s.empty or ("n" in s and int(s["n"].max()) < 2):
                    continue  # one run is no distribution: no median or band
                any_inf |= bool((s[["q25", "q50", "q75"]].to_numpy() > DIVERGED_CEILING).any())
                label = f"{h} (n={int(s['n'].max())})" if "n" in s else h
                # Markers at the recorded epochs (1, 2, 5, 10, ...): the lines between them interpolate.
                ax.plot(s["epoch"], shown(s["q50"]), color=colors[h], lw=1.6, marker="o", ms=3, label=label)
                ax.fill_between(s["epoch"], shown(s["q25"]), shown(s["q75"]), color=colors[h], alpha=0.2)
            if reference is not None:
                e = np.array([sub["epoch"].min(), sub["epoch"].max()], dtype=float)
                ax.plot(e, reference * 1000.0 / e, color="0.3", ls="--", lw=1, label="∝ 1/epoch")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom=ymin if ymin is not None else MSE_FLOOR / 3, top=DIVERGED_CEILING * 5)
            if i == len(rows) - 1:
                ax.set_xlabel("epoch")
            name = " | ".join(f"{k}={v}" for k, v in ((row, rv), (col, cv)) if v is not None)
            ax.set_title(name, fontsize=10)
            ax.legend(fontsize=7, loc="best", framealpha=0.8)
        axes[i, 0].set_ylabel("epoch error (median, IQR)")
    for ax in axes.flat:
        ax.axhline(MSE_FLOOR, color="0.6", lw=0.8, ls=":")
        if any_inf:
            ax.axhline(DIVERGED_CEILING, color="0.3", lw=0.8, ls=":")
    note = f"dotted: precision floor {MSE_FLOOR:g}" + (
        f"; diverged runs and errors above {DIVERGED_CEILING:g} drawn at {DIVERGED_CEILING:g}" if any_inf else ""
    )
    fig.suptitle(f"{title}\n({note})" if title else note, fontsize=11)
    fig.tight_layout()
    return fig


def outcome_composition(
    counts: pd.DataFrame, *, x: str, col: str, row: str | None = None, title: str = "", label_panels: bool = True
) -> plt.Figure:
    """Stacked bars: share of each outcome per ``x`` label, panels by ``col`` (and ``row``).

    counts: one row per (x, col[, row], outcome) with a ``share`` column summing to 1
    within each bar. ``label_panels=False`` titles panels by the value alone.
    """
    _setup()
    cols = list(dict.fromkeys(counts[col]))
    rows = list(dict.fromkeys(counts[row])) if row else [None]
    xlev = list(dict.fromkeys(counts[x]))
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(max(4.0, 0.42 * len(xlev)) * len(cols), 3.4 * len(rows) + 0.8),
        sharey=True, squeeze=False,
    )
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i, j]
            sub = counts[(counts[col] == cv) & ((counts[row] == rv) if row else True)]
            wide = sub.pivot_table(index=x, columns="outcome", values="share", aggfunc="sum", observed=True)
            wide = wide.reindex(index=xlev, columns=list(OUTCOMES)).fillna(0.0)
            bottom = np.zeros(len(xlev))
            for o in OUTCOMES:
                ax.bar(range(len(xlev)), wide[o], bottom=bottom, color=OUTCOME_COLORS[o], label=o if (i, j) == (0, 0) else None, width=0.8)
                bottom += wide[o].to_numpy()
            ax.set_xticks(range(len(xlev)), xlev, rotation=70, ha="right", fontsize=8)
            ax.set_ylim(0, 1)
            name = f"{col}={cv}" if label_panels else str(cv)
            ax.set_title(name + (f" | {row}={rv}" if row else ""), fontsize=9)
        axes[i, 0].set_ylabel("share of runs")
    fig.legend(loc="upper center", ncol=len(OUTCOMES), frameon=False, bbox_to_anchor=(0.5, 1.04))
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
    _setup()
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


def seed_lottery(matrix: pd.DataFrame, *, title: str = "", ylabel: str | None = None) -> plt.Figure:
    """Seeds (rows) x cells (columns) coloured by outcome: the paired 'seed lottery'.

    matrix: index = seed, columns = cell labels, values = outcome strings.
    """
    _setup()
    codes = matrix.apply(lambda s: s.map({o: k for k, o in enumerate(OUTCOMES)})).to_numpy(dtype=float)
    cmap = matplotlib.colors.ListedColormap([OUTCOME_COLORS[o] for o in OUTCOMES])
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * matrix.shape[1], 7.5))
    ax.imshow(codes, aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(OUTCOMES) - 0.5, interpolation="nearest")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(ylabel or f"seed ({matrix.index.min()}..{matrix.index.max()})")
    ax.grid(False)
    handles = [matplotlib.patches.Patch(color=OUTCOME_COLORS[o], label=o) for o in OUTCOMES]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.12), ncol=3, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, pad=48)
    fig.tight_layout()
    return fig


def rate_vs_depth(
    rates: pd.DataFrame, *, x: str, hue: str, col: str, row: str | None = None, title: str = "", ylabel: str = "rate"
) -> plt.Figure:
    """Rates with CIs against ``x`` (e.g. depth), one line per ``hue`` (e.g. width).

    rates: columns x, hue, col[, row], rate, ci_low, ci_high; optional ``theory`` column
    drawn dashed.
    """
    _setup()
    cols = list(dict.fromkeys(rates[col]))
    rows = list(dict.fromkeys(rates[row])) if row else [None]
    hlev = sorted(dict.fromkeys(rates[hue]))
    colors = dict(zip(hlev, sns.color_palette(PALETTE, len(hlev))))
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(4.2 * len(cols), 3.4 * len(rows)), sharex=True, sharey=True, squeeze=False)
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i, j]
            sub = rates[(rates[col] == cv) & ((rates[row] == rv) if row else True)]
            for h in hlev:
                s = sub[sub[hue] == h].sort_values(x)
                ax.errorbar(
                    s[x], s["rate"], yerr=[s["rate"] - s["ci_low"], s["ci_high"] - s["rate"]],
                    marker="o", ms=3.5, lw=1.3, capsize=2, color=colors[h], label=f"{hue}={h}" if (i, j) == (0, 0) else None,
                )
                if "theory" in s:
                    ax.plot(s[x], s["theory"], ls="--", lw=1, color=colors[h])
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{col}={cv}" + (f" | {row}={rv}" if row else ""), fontsize=9)
            if i == len(rows) - 1:
                ax.set_xlabel(x)
        axes[i, 0].set_ylabel(ylabel)
    fig.legend(loc="upper center", ncol=len(hlev), frameon=False, bbox_to_anchor=(0.5, 1.05))
    if title:
        fig.suptitle(title, y=1.1)
    fig.tight_layout()
    return fig
