"""Figure of how outputs die (issue 10, part 1): death epochs and margin traces."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from relustudy.figures.cells import PALETTE
from relustudy.experiments.forensics import AT_INIT


def death_epochs(runs: pd.DataFrame, *, counts: dict | None = None, ax=None) -> plt.Axes:
    """ECDF of the epoch at which the output unit dies (deaths in training only), one line per variant.

    runs : forensics table, one row per run (``variant``, ``output_death_epoch``).
    counts : variant -> number of deaths in training, shown in the legend as "(n = k)".
    """
    ax = ax if ax is not None else plt.subplots(figsize=(6.0, 4.2))[1]
    died = runs[runs["output_death_epoch"] > AT_INIT]
    if len(died):
        counts = counts or died["variant"].value_counts().to_dict()
        died = died.assign(variant=[f"{v} (n = {counts.get(v, 0)})" for v in died["variant"]])
        sns.ecdfplot(data=died, x="output_death_epoch", hue="variant", ax=ax, palette=PALETTE, log_scale=True)
    ax.set_xlabel("epoch at which the output unit dies (deaths during training)")
    ax.set_ylabel("share of those deaths")
    ax.set_title("When outputs die")
    return ax


def margin_traces(traces: pd.DataFrame, *, variant: str = "as posted", ax=None) -> plt.Axes:
    """The output margin against sample step, one line per traced seed of ``variant``.

    traces : long-form margins (``variant``, ``seed``, ``step``, ``output_margin``).
    variant : whose traces to draw (the first variant with traces if absent).
    """
    ax = ax if ax is not None else plt.subplots(figsize=(6.0, 4.2))[1]
    have = list(traces["variant"].unique())
    v = variant if variant in have else (have[0] if have else None)
    if v is not None:
        t = traces[traces["variant"] == v]
        for (seed, g), color in zip(t.groupby("seed"), sns.color_palette(PALETTE, t["seed"].nunique())):
            ax.plot(np.maximum(g["step"], 1), g["output_margin"], color=color, lw=1, label=f"seed {seed}")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0, color="k", lw=0.8)
        ax.legend(fontsize=8, ncol=2)
    ax.set_xlabel("sample step (6 per epoch; the init value drawn at step 1)")
    ax.set_ylabel("output margin (max pre-activation over the 6 inputs)")
    ax.set_title(f"Output margin, traced runs ({v})")
    return ax


def death_figure(runs: pd.DataFrame, traces: pd.DataFrame, *, variant: str = "as posted", counts: dict | None = None):
    """Two panels side by side: :func:`death_epochs` and :func:`margin_traces` (arguments as there).

    Returns the left Axes (its figure holds both).
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2))
    death_epochs(runs, counts=counts, ax=ax)
    margin_traces(traces, variant=variant, ax=bx)
    fig.tight_layout()
    return ax


def flip_figure(rates: pd.DataFrame, *, ax=None):
    """P(outcome flips) against the perturbation size on log-log axes, with 95 % CIs.

    Parameters
    ----------
    rates : one row per eps (``eps``, ``flips``, ``rate``, ``ci_low``, ``ci_high``), as
        ``chaos.flip_rates`` gives. An eps with no flip has no point on a log axis: its 95 %
        upper bound is drawn as a downward triangle instead.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.8, 4.2))
    color = sns.color_palette(PALETTE, 1)[0]
    hit = rates[rates["flips"] > 0]
    none = rates[rates["flips"] == 0]
    ax.errorbar(hit["eps"], hit["rate"], yerr=[hit["rate"] - hit["ci_low"].clip(lower=1e-9), hit["ci_high"] - hit["rate"]],
                fmt="o", color=color, capsize=3, label="P(solved/not solved flips), 95% CI")
    ax.scatter(none["eps"], none["ci_high"], marker="v", color="0.45",
               label=f"no flip in {int(none['n'].max()) if len(none) else 0:,} pairs: 95% upper bound")
    if len(hit):
        top = hit.iloc[-1]
        e = rates["eps"].to_numpy(float)
        ax.plot(e, top["rate"] * e / top["eps"], ls="--", lw=1, color="0.3", label="∝ eps (a smooth boundary)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(1e-7, 0.3 * float(rates["ci_high"].min())), top=1.0)
    ax.set_xlabel("perturbation of the initial weights, eps (Euclidean norm)")
    ax.set_ylabel("share of seed x direction pairs")
    ax.set_title("Does a tiny change of the init change the outcome?")
    ax.legend(fontsize=8, loc="upper left")
    ax.figure.tight_layout()
    return ax
