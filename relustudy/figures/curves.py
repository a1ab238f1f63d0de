"""Figures of issue 16: the learning curve of init-only prediction and the flip rate against eps.

Like :mod:`relustudy.figures.cells`: each function takes long-form DataFrames (computed elsewhere,
nothing statistical happens here), keyword-only options, and returns the matplotlib Figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from relustudy.stats.curves import saturating
from relustudy.figures.cells import PALETTE, set_theme


def learning_curves(curve: pd.DataFrame, fit: pd.DataFrame, *, model: str, baselines: tuple[str, ...]) -> plt.Figure:
    """AUROC against training seeds per cell (log x), the fitted saturating curve and ceiling, the baselines.

    Parameters
    ----------
    curve : rows (cell, predictor, n_train, rep, auroc, low, high); predictor ``model`` at n_train > 0,
        the ``baselines`` at n_train 0 (drawn as horizontal bands).
    fit : one row per cell (cell, a, b, c, a_low, a_high).
    """
    set_theme()
    cells = list(dict.fromkeys(curve["cell"]))
    fig, axes = plt.subplots(1, len(cells), figsize=(4.6 * len(cells), 4.0), sharey=True, squeeze=False)
    colors = sns.color_palette(PALETTE, 2 + len(baselines))
    for ax, cell in zip(axes[0], cells):
        c = curve[curve["cell"] == cell]
        m = c[c["predictor"] == model]
        ax.errorbar(m["n_train"] * np.exp(0.06 * (m["rep"] - 1)), m["auroc"],
                    yerr=[m["auroc"] - m["low"], m["high"] - m["auroc"]], fmt="o", ms=3.5, color=colors[0],
                    label=f"{model} (held-out, 95% CI)")
        f = fit[fit["cell"] == cell]
        if len(f) and np.isfinite(f["a"].iloc[0]):
            r = f.iloc[0]
            ns = np.logspace(np.log10(m["n_train"].min()), np.log10(m["n_train"].max()) + 1, 100)
            ax.plot(ns, saturating(ns, r["a"], r["b"], r["c"]), color=colors[0], lw=1)
            ax.axhspan(r["a_low"], r["a_high"], color=colors[1], alpha=0.2, label="fitted ceiling, 95% CI")
        for k, b in enumerate(baselines):
            row = c[c["predictor"] == b]
            if len(row):
                row = row.iloc[0]
                ax.axhline(row["auroc"], color=colors[2 + k], ls="--", lw=1, label=b)
                ax.axhspan(row["low"], row["high"], color=colors[2 + k], alpha=0.12)
        ax.set_xscale("log")
        ax.set_xlabel("training seeds")
        ax.set_title(cell, fontsize=10)
    axes[0, 0].set_ylabel("AUROC for failure on the held-out seeds")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2 + len(baselines), frameon=False,
               fontsize=8)
    return fig


def flip_curves(rates: pd.DataFrame, *, fits: pd.DataFrame | None = None, response: pd.DataFrame | None = None) -> plt.Figure:
    """P(flip) against eps per cell on log-log axes (clustered 95% CIs, permanent flips, the fitted power law),
    and beside it the median |Δ final weights| and |Δ final MSE| of the pairs that do not flip.

    Parameters
    ----------
    rates : rows (cell, eps, rate, ci_low, ci_high, perm_rate) -- zero rates are drawn at the axis floor.
    fits : optional rows (cell, A, alpha, eps_low, eps_high).
    response : optional rows (cell, eps, dweights_q50, dmse_rel_q50).
    """
    set_theme()
    cells = list(dict.fromkeys(rates["cell"]))
    colors = dict(zip(cells, sns.color_palette(PALETTE, len(cells))))
    fig, axes = plt.subplots(1, 2 if response is not None else 1, figsize=(11 if response is not None else 6, 4.2),
                             squeeze=False)
    ax = axes[0, 0]
    pos = rates.loc[rates["rate"] > 0, "rate"]
    floor = float(pos.min()) / 10 if len(pos) else 1e-7
    for cell in cells:
        r = rates[rates["cell"] == cell]
        col = colors[cell]
        ax.errorbar(r["eps"], np.maximum(r["rate"], floor), yerr=[np.maximum(r["rate"], floor) - np.maximum(r["ci_low"], floor),
                    r["ci_high"] - np.maximum(r["rate"], floor)], fmt="o", ms=4, color=col, label=f"{cell}: P(flip)")
        ax.plot(r["eps"], np.maximum(r["perm_rate"], floor), "x", color=col, ms=5, label=f"{cell}: permanent")
        if fits is not None:
            f = fits[fits["cell"] == cell]
            if len(f) and np.isfinite(f["alpha"].iloc[0]):
                f = f.iloc[0]
                e = np.logspace(np.log10(f["eps_low"]), np.log10(f["eps_high"]), 20)
                ax.plot(e, f["A"] * e ** f["alpha"], color=col, lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(floor, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("perturbation of the initial weights, eps (Euclidean norm)")
    ax.set_ylabel("share of (seed, direction) pairs that flip")
    ax.set_title("Flip rate vs eps (dotted line: zero flips)", fontsize=10)
    ax.legend(fontsize=7)
    if response is not None:
        ax2 = axes[0, 1]
        for cell in cells:
            r = response[response["cell"] == cell]
            ax2.plot(r["eps"], r["dweights_q50"], "o-", color=colors[cell], ms=3, label=f"{cell}: |Δ final weights|")
            ax2.plot(r["eps"], r["dmse_rel_q50"], "s--", color=colors[cell], ms=3, label=f"{cell}: |Δ final MSE| / MSE (solved)")
        e = np.array([rates["eps"].min(), rates["eps"].max()])
        ax2.plot(e, e, color="0.5", lw=0.8, ls=":", label="∝ eps")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("eps")
        ax2.set_ylabel("median over the pairs that do not flip")
        ax2.set_title("Continuous response of the runs that keep their outcome", fontsize=10)
        ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig
