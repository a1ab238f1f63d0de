"""The generality study's figure: failure rate by task x init x update, one panel per network
setting, with 95% CIs (the rates come in computed, ``studies.generality``)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from relustudy.figures.cells import PALETTE


def rates_by_task(rates: pd.DataFrame, *, x: str = "task", hue: str = "init", col: str = "update", row: str = "setting",
                  rate: str = "fail", low: str = "fail_low", high: str = "fail_high", title: str = "") -> plt.Figure:
    """A grid of panels (``row`` levels x ``col`` levels): in each, ``rate`` per ``x`` level as
    points dodged by ``hue``, with [``low``, ``high``] whiskers.

    rates: one row per point with columns x, hue, col, row, rate, low, high (fractions 0..1),
    levels drawn in order of first appearance.
    """
    for c in (x, hue, col, row, rate, low, high):
        if c not in rates.columns:
            raise ValueError(f"rates has no column {c!r}; allowed: {', '.join(map(str, rates.columns))}")
    xs, hues = list(dict.fromkeys(rates[x])), list(dict.fromkeys(rates[hue]))
    cols, rows = list(dict.fromkeys(rates[col])), list(dict.fromkeys(rates[row]))
    colors = dict(zip(hues, sns.color_palette(PALETTE, len(hues))))
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(4.2 * len(cols) + 0.6, 2.3 * len(rows) + 0.8),
                             sharex=True, sharey=True, squeeze=False)
    width = 0.7 / max(len(hues), 1)
    for i, rv in enumerate(rows):
        for j, cv in enumerate(cols):
            ax = axes[i][j]
            panel = rates[(rates[row] == rv) & (rates[col] == cv)]
            for k, h in enumerate(hues):
                d = panel[panel[hue] == h].set_index(x).reindex(xs)
                pos = np.arange(len(xs)) + (k - (len(hues) - 1) / 2) * width
                r = d[rate].to_numpy(float)
                ax.errorbar(pos, r, yerr=[r - d[low].to_numpy(float), d[high].to_numpy(float) - r], fmt="o", ms=3.5,
                            color=colors[h], ecolor=colors[h], capsize=2, lw=1, label=h if (i, j) == (0, 0) else None)
            ax.set_ylim(-0.03, 1.03)
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
            ax.grid(axis="y", lw=0.4, alpha=0.5)
            ax.grid(axis="x", visible=False)  # a line at each task's tick would cut through its points
            if i == 0:
                ax.set_title(f"{col} = {cv}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{rv}\nP(fail)", fontsize=8)
            ax.set_xticks(np.arange(len(xs)), xs, fontsize=8, rotation=20)
    fig.legend(loc="lower center", ncol=len(hues), fontsize=8, frameon=False, title=hue, title_fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97 if title else 1))
    return fig
