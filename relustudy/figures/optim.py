"""Figures of the optimizer question (issue 17): tuned curves, paired differences, matched-step
curves, decompositions.

Each panel function takes a long-form DataFrame (from :mod:`relustudy.analysis.optimizers`),
keyword-only column choices and ``ax=None``, draws, and returns the Axes; the grid functions
lay panels out and return the Figure. No statistics are computed here.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from relustudy.figures.cells import PALETTE, set_theme, facet  # noqa: E402

_CB = sns.color_palette(PALETTE, 10)
OPTIMIZER_COLORS = {"sgd": _CB[0], "momentum": _CB[1], "adam": _CB[2]}
COMPONENT_COLORS = {"born dead": _CB[3], "alive: died in training": _CB[1], "alive: other failure": _CB[7]}


def tuned_curves(curves: pd.DataFrame, *, rate: str = "held_out_rate", ax=None, title: str = "") -> plt.Axes:
    """Failure rate against lr, one line per optimizer, the tuned lr as a filled marker.

    curves: one stratum's rows of ``TunedTables.curves`` (optimizer, lr, ``rate``, chosen).
    """
    set_theme()
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    for opt, g in curves.groupby("optimizer", sort=False):
        g = g.sort_values("lr")
        c = OPTIMIZER_COLORS.get(opt)
        ax.plot(g["lr"], g[rate], marker="o", ms=3, color=c, label=opt)
        ch = g[g["chosen"]]
        ax.plot(ch["lr"], ch[rate], marker="o", ms=9, mfc=c, mec="black", ls="none")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("lr")
    ax.set_ylabel("P(fail), held-out seeds")
    ax.set_title(title, fontsize=9)
    return ax


def tuned_curves_grid(curves: pd.DataFrame, *, row: str = "update", col: str = "init_gain") -> plt.Figure:
    """:func:`tuned_curves` per (row, col) stratum, laid out by :func:`relustudy.figures.cells.facet`."""
    rows, cols = list(dict.fromkeys(curves[row])), sorted(curves[col].unique())
    fig = facet(curves, lambda sub, ax: tuned_curves(sub, ax=ax), row=row, col=col, row_order=rows, col_order=cols,
                figsize=(3.2 * len(cols), 2.7 * len(rows)), titles=lambda r, c: f"{r}, gain {c:g}", layout=False)
    fig.axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def paired_diffs(table: pd.DataFrame, *, label: str = "label", hue: str | None = None, ax=None,
                 xlabel: str = "Δ P(fail), B − A (pp)") -> plt.Axes:
    """Paired differences with their CIs as dots with error bars, one row per ``label``.

    table: ``label``, diff, diff_low, diff_high (rates in [−1, 1]; drawn in pp), optional ``hue``.
    """
    set_theme()
    ax = ax or plt.subplots(figsize=(5, 0.3 * len(table) + 1))[1]
    y = np.arange(len(table))[::-1]
    colors = [_CB[k % 10] for k in pd.factorize(table[hue])[0]] if hue else [_CB[0]] * len(table)
    d = 100 * table["diff"].to_numpy(float)
    err = np.vstack([d - 100 * table["diff_low"].to_numpy(float), 100 * table["diff_high"].to_numpy(float) - d])
    for k in range(len(table)):
        ax.errorbar(d[k], y[k], xerr=err[:, k:k + 1], fmt="o", color=colors[k], ms=4, capsize=2)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, table[label].astype(str))
    ax.set_xlabel(xlabel)
    return ax


def matched_step(table: pd.DataFrame, *, ax=None, title: str = "") -> plt.Axes:
    """Failure against the effective step: SGD at lr (solid) and momentum at lr (1 − β)
    (dashed), one colour per init gain. table: rows of ``matched_step_table`` for one update."""
    set_theme()
    ax = ax or plt.subplots(figsize=(4.5, 3.2))[1]
    gains = sorted(table["init_gain"].unique())
    pal = sns.color_palette("viridis", len(gains))
    for g, c in zip(gains, pal):
        sub = table[table["init_gain"] == g].sort_values("lr")
        ax.plot(sub["lr"], sub["rate_sgd"], color=c, marker="o", ms=3, label=f"gain {g:g}: sgd")
        ax.plot(sub["lr"], sub["rate_momentum"], color=c, marker="s", ms=3, ls="--", label=f"gain {g:g}: momentum")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("effective step (sgd lr = momentum lr / (1 − β))")
    ax.set_ylabel("P(fail)")
    ax.set_title(title, fontsize=9)
    return ax


def decomposition_bars(dec: pd.DataFrame, *, label: str = "label", ax=None) -> plt.Axes:
    """Each contrast's change in failure split by component: one bar per (label, component),
    with the component's CI. dec: long-form rows (``label``, component, contrib, contrib_low,
    contrib_high) as :func:`relustudy.analysis.optimizers.decomposition_table` returns."""
    set_theme()
    labels = list(dict.fromkeys(dec[label].astype(str)))
    comps = list(dict.fromkeys(dec["component"]))
    ax = ax or plt.subplots(figsize=(6, 0.45 * len(labels) * len(comps) / 2 + 1.2))[1]
    h = 0.8 / len(comps)
    for k, comp in enumerate(comps):
        sub = dec[dec["component"] == comp].set_index(dec[dec["component"] == comp][label].astype(str)).reindex(labels)
        y = np.arange(len(labels))[::-1] + (len(comps) / 2 - k - 0.5) * h
        v = 100 * sub["contrib"].to_numpy(float)
        err = np.vstack([v - 100 * sub["contrib_low"].to_numpy(float), 100 * sub["contrib_high"].to_numpy(float) - v])
        ax.barh(y, v, height=h, color=COMPONENT_COLORS.get(comp), label=comp, xerr=err, capsize=1.5,
                error_kw=dict(lw=0.7))
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(np.arange(len(labels))[::-1], labels)
    ax.set_xlabel("contribution to Δ P(fail), B − A (pp)")
    ax.legend(fontsize=7, loc="best")
    return ax
