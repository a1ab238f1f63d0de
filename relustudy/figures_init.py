"""Figure of the init-predictability section (issue 10, part 2): AUROCs with their CIs.

Like :mod:`relustudy.figures`: the function takes a long-form DataFrame and column names
(keyword-only), draws on ``ax`` (a new figure when None) and returns the Axes; the AUROCs and
CIs come in computed (``relustudy.init_predict``), nothing statistical happens here.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .figures import PALETTE, _setup


def auroc_intervals(df: pd.DataFrame, *, y: str, hue: str, x: str = "auroc", low: str = "low", high: str = "high",
                    hue_order=None, title: str = "", ax=None) -> plt.Axes:
    """AUROC per ``y`` level with CI error bars, one colour per ``hue`` level.

    df : one row per (y, hue) with the columns ``x``, ``low``, ``high`` (computed elsewhere)
    and the labels ``y`` and ``hue`` (strings). hue_order : all hue levels, so that panels
    drawn separately share colours (default: those in ``df``). Reference lines at 0.5
    (chance) and 1.
    """
    _setup()
    ylev = list(dict.fromkeys(df[y]))
    hlev = list(hue_order) if hue_order is not None else list(dict.fromkeys(df[hue]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 0.45 * len(ylev) + 1.4))
    colors = dict(zip(hlev, sns.color_palette(PALETTE, len(hlev))))
    offsets = np.linspace(-0.25, 0.25, len(hlev)) if len(hlev) > 1 else np.zeros(1)
    for off, h in zip(offsets, hlev):
        s = df[df[hue] == h]
        pos = np.array([ylev.index(v) for v in s[y]]) + off
        ax.errorbar(s[x], pos, xerr=[s[x] - s[low], s[high] - s[x]], fmt="o", ms=4, lw=1.2, color=colors[h], label=h)
    for ref in (0.5, 1.0):
        ax.axvline(ref, color="0.5", ls=":", lw=1)
    ax.set_yticks(range(len(ylev)), ylev, fontsize=8)
    ax.set_ylim(len(ylev) - 0.5, -0.5)
    ax.set_xlim(min(0.4, float(df[low].min()) - 0.02), 1.01)
    ax.set_xlabel("AUROC for failure, 95% bootstrap CI")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def auroc_panels(df: pd.DataFrame, *, y: str, hue: str, col: str, x: str = "auroc", low: str = "low",
                 high: str = "high", title: str = "") -> plt.Figure:
    """:func:`auroc_intervals` side by side, one panel per ``col`` level, shared colours and x range.

    df : as for :func:`auroc_intervals`, plus the panel label ``col`` (string).
    """
    _setup()
    panels = list(dict.fromkeys(df[col]))
    hues = list(dict.fromkeys(df[hue]))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.25 * len(panels), 0.45 * df[y].nunique() + 1.8),
                             sharey=True, squeeze=False)
    for ax, p in zip(axes[0], panels):
        auroc_intervals(df[df[col] == p], y=y, hue=hue, x=x, low=low, high=high, hue_order=hues, title=p, ax=ax)
    for ax in axes[0]:
        ax.set_xlim(min(0.4, float(df[low].min()) - 0.02), 1.01)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=len(hues), frameon=False, fontsize=9)
    return fig
