"""The opening's figure: failure rate per remedy with 95% CIs against the posted program's rate.

Takes a long-form DataFrame and column names (keyword-only), draws on ``ax`` (a new one when
None) and returns the Axes; the rates and CIs come in computed (``studies.in_short``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from relustudy.figures.cells import PALETTE, _new_ax


def remedy_rates(
    rows: pd.DataFrame, *, y: str = "label", hue: str = "kind", rate: str = "rate", low: str = "ci_low",
    high: str = "ci_high", reference: float | None = None, reference_label: str = "", title: str = "", ax=None,
) -> plt.Axes:
    """Horizontal bars of ``rate`` per ``y`` level (top to bottom in row order), coloured by
    ``hue``, with [``low``, ``high``] whiskers, each bar labelled with its rate; ``reference``
    (e.g. the posted program's rate) a dashed vertical line.

    rows: one row per bar with columns y, hue, rate, low, high (rates as fractions 0..1).
    """
    for c in (y, hue, rate, low, high):
        if c not in rows.columns:
            raise ValueError(f"rows has no column {c!r}; allowed: {', '.join(map(str, rows.columns))}")
    own = ax is None
    ax = ax if ax is not None else _new_ax((7.2, 0.42 * len(rows) + 1.3))
    kinds = list(dict.fromkeys(rows[hue]))
    colors = dict(zip(kinds, sns.color_palette(PALETTE, len(kinds))))
    pos = np.arange(len(rows))
    r = rows[rate].to_numpy(float)
    for k in kinds:
        m = (rows[hue] == k).to_numpy()
        ax.barh(pos[m], r[m], height=0.7, color=colors[k], label=k)
    ax.errorbar(r, pos, xerr=[r - rows[low].to_numpy(float), rows[high].to_numpy(float) - r], fmt="none",
                ecolor="0.15", capsize=3, lw=1)
    top = max(float(rows[high].max()), reference or 0.0)
    for p, v, h in zip(pos, r, rows[high].to_numpy(float)):  # the label right of the whisker, not on it
        ax.text(h + 0.015 * top, p, f"{100 * v:.1f}%", va="center", fontsize=8, zorder=4,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.3))  # readable where the reference line crosses
    if reference is not None:
        ax.axvline(reference, color="0.2", ls="--", lw=1, label=reference_label or None, zorder=3)
    ax.set_yticks(pos, rows[y].astype(str), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.18)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax.set_xlabel("runs that fail (95% CI)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: off the bars
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        ax.figure.tight_layout()
    return ax
