"""Claim 1 of the posted answer: "the loss does not reach zero because of vanishing gradients".

Measured, not inferred: the gradient per layer, the output unit's derivative f'(z) and the
residual along the learning curves of the asker's tanh/sigmoid setting (the stored step
``data/q1_gradients``, ``scripts/run_gradient_trace.py``: the default grid records only the
final gradient norm), and, from the default grid, what replacing only the output unit's
activation by the identity does to the final MSE in every tanh/sigmoid stratum.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.studies.common import ALPHA, _stratified, md_table, num, pct, pval
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Study, Verdict

VANISHED = 0.1  # the output's median |f'(z)| at the last epoch below this: the gradient vanishes at the output
DEPTH_VANISHING = 0.1  # layer 1's median gradient below this fraction of the output layer's: it vanishes with depth


@dataclass(frozen=True)
class VanishingFinding:
    trace: pd.DataFrame | None  # medians per activation x output x epoch of the gradient-trace columns, n seeds
    identity: pd.DataFrame  # compare_cells(output same vs identity) over the tanh/sigmoid strata


def select(ctx: Context) -> dict:
    fam = _stratified(ctx, "output", "same", "identity", {"activation": ["tanh", "sigmoid"]}, "output same vs identity")
    return {"trace": ctx.extras.get("q1_gradients"), "identity": fam}


COLUMNS = ("grad_layer1", "grad_layer2", "grad_output", "output_derivative", "residual_rms")


def finding(d: dict) -> VanishingFinding:
    t = d["trace"]
    med = None
    if t is not None:
        g = t.groupby(["activation", "output", "epoch"], sort=True)
        med = g[list(COLUMNS)].median().join(g["seed"].nunique().rename("n")).reset_index()
    return VanishingFinding(med, d["identity"])


def _last(f: VanishingFinding) -> pd.DataFrame:
    t = f.trace
    return t[t["epoch"] == t["epoch"].max()].set_index(["activation", "output"])


def verdict(f: VanishingFinding) -> Verdict:
    """Where, if anywhere, does the gradient vanish at the last recorded epoch (medians)?

    * ``output``: the saturating output's |f'(z)| is below :data:`VANISHED`;
    * ``depth``: layer 1's gradient is below :data:`DEPTH_VANISHING` x the output layer's;
    * ``error``: neither: the gradient shrinks with the remaining error, scaled by f'(z).
    """
    if f.trace is None:
        raise Skip("no gradient trace (data/q1_gradients); run `python scripts/run_gradient_trace.py`",
                   experiment="q1_gradients")
    last = _last(f)
    same = last.xs("same", level="output")
    ep = int(f.trace["epoch"].max())
    deriv = ", ".join(f"{a} {num(r.output_derivative, 2)}" for a, r in same.iterrows())
    ratio = (last["grad_layer1"] / last["grad_output"]).min()
    per_error = {(a, o): r.grad_output / r.residual_rms for (a, o), r in last.iterrows()}
    scale = "; ".join(f"{a}: {num(per_error[(a, 'same')], 2)} with its own output vs {num(per_error[(a, 'identity')], 2)} "
                      "with a linear one" for a in same.index if (a, "identity") in per_error)
    early = _early_depth(f.trace)
    early_txt = ""
    if len(early):
        early_txt = (f" At earlier epochs the gradient does shrink with depth: layer 1's median gradient is below "
                     f"{DEPTH_VANISHING} of the output layer's for " + "; ".join(
                         f"{a}/{o} at epoch{f' {lo:,}' if lo == hi else f's {lo:,}–{hi:,}'} ({num(rmin, 2)}–{num(rmax, 2)}, {n} recorded epoch{'s' if n != 1 else ''})"
                         for (a, o), (lo, hi, rmin, rmax, n) in early.items()) + ".")
    suffix = "+early depth" if len(early) else ""
    if (same["output_derivative"] < VANISHED).any():
        return Verdict("output" + suffix, f"The gradient vanishes at the output: at epoch {ep:,} the saturating output's "
                                          f"median |f'(z)| is {deriv} (below {VANISHED}).{early_txt}")
    if ratio < DEPTH_VANISHING:
        return Verdict("depth" + suffix, f"The gradient vanishes with depth: at epoch {ep:,} layer 1's median gradient is "
                                         f"{num(ratio, 2)} of the output layer's.{early_txt}")
    factor = _factor_over_epochs(f.trace)
    parts = []
    for a, (lo, hi, e_lo, e_hi, n) in factor.items():
        moves = hi / lo > CONSTANT_FACTOR
        parts.append(f"{a}: between {num(lo, 2)} (epoch {e_lo:,}) and {num(hi, 2)} (epoch {e_hi:,}) over {n} recorded epochs, "
                     + ("not a constant factor" if moves else "a roughly constant factor")
                     + f" (max/min {num(hi / lo, 2)}, threshold {CONSTANT_FACTOR:g})")
    over = ("; over the epochs, the saturating output's gradient per unit of error as a share of the linear output's "
            "runs " + "; ".join(parts)) if parts else ""
    return Verdict("error" + suffix, (
        f"Not a vanishing gradient in the usual sense: at epoch {ep:,} the saturating output's median |f'(z)| is still "
        f"{deriv} (not below {VANISHED}), and layer 1's gradient is at least {num(ratio, 2)} times the output layer's "
        f"(no decay with depth there). The gradient shrinks because the error does; per unit of remaining error (median "
        f"output-layer gradient / RMS residual) it is {scale} at epoch {ep:,}{over}: the saturating output slows the "
        f"descent, it does not stop it.{early_txt}"))


CONSTANT_FACTOR = 3.0  # the same/identity ratio of gradient per unit error moving less than this (max/min): "constant"


def _early_depth(t: pd.DataFrame) -> dict:
    """(activation, output) -> (first, last epoch, min, max ratio, epochs) where layer 1's median gradient is
    below DEPTH_VANISHING x the output layer's, over every recorded epoch before the last (the rule reads the last)."""
    r = t.assign(ratio=t["grad_layer1"] / t["grad_output"])
    r = r[r["epoch"] < r["epoch"].max()]
    out = {}
    for (a, o), g in r[r["ratio"] < DEPTH_VANISHING].groupby(["activation", "output"], sort=True):
        out[(a, o)] = (int(g["epoch"].min()), int(g["epoch"].max()), float(g["ratio"].min()), float(g["ratio"].max()),
                       len(g))
    return out


def _factor_over_epochs(t: pd.DataFrame) -> dict:
    """activation -> (min, max of the same/identity ratio of (output-layer gradient / RMS residual), the epochs of
    the min and the max, epochs compared) over the epochs recorded for both outputs."""
    per = t.assign(per_error=t["grad_output"] / t["residual_rms"]).pivot_table(
        index=["activation", "epoch"], columns="output", values="per_error")
    out = {}
    if not {"same", "identity"} <= set(per.columns):
        return out
    ratio = (per["same"] / per["identity"]).dropna()
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    for a, g in ratio.groupby(level="activation", sort=True):
        g = g.droplevel("activation")
        out[a] = (float(g.min()), float(g.max()), int(g.idxmin()), int(g.idxmax()), len(g))
    return out


def section(f: VanishingFinding, v: Verdict | None, links) -> str:
    fam = f.identity
    sig = fam["p_mse_holm"] < ALPHA
    lower = fam["n_mse_lower"].astype(float) > fam["n_mse_higher"].astype(float)
    better, worse = sig & lower, sig & ~lower
    cols = ["activation", "init", "update", "optimizer", "lr"]
    worse_txt = (" Significant the other way (the identity output ends at a higher MSE): " + "; ".join(
        f"{' / '.join(str(d[c]) for c in cols)} ({pval(d['p_mse_holm'])})" for d in fam[worse].to_dict("records")) + "."
        if worse.any() else " None is significant the other way.")
    trace = ""
    if f.trace is not None:
        t = f.trace[f.trace["epoch"].isin([1, 10, 100, 1000, int(f.trace["epoch"].max())])]
        trace = md_table(pd.DataFrame(
            [(r.activation, r.output, f"{r.epoch:,}", num(r.residual_rms, 2), num(r.output_derivative, 2),
              num(r.grad_output, 2), num(r.grad_layer2, 2), num(r.grad_layer1, 2)) for r in t.itertuples()],
            columns=["activation", "output", "epoch", "RMS residual", "output |f'(z)|", "‖∇ output layer‖",
                     "‖∇ layer 2‖", "‖∇ layer 1‖"]))
        ratios = f.trace.assign(r=f.trace["grad_layer1"] / f.trace["grad_output"]).groupby(["activation", "output"])["r"]
        trace += ("\n\nLayer 1's median gradient as a share of the output layer's, over every recorded epoch "
                  f"({f.trace['epoch'].nunique()} epochs, 1–{int(f.trace['epoch'].max()):,}): " + "; ".join(
                      f"{a}/{o} {num(g.min(), 2)}–{num(g.max(), 2)}" for (a, o), g in ratios) + ".")
        trace = (f"Medians over {int(f.trace['n'].max())} seeds of the asker's setting (randn, as posted, SGD, lr 0.1), "
                 f"at the weights after each epoch (a stored step, `data/q1_gradients`: the grid keeps only the final "
                 f"gradient norm):\n\n{trace}\n")
    return f"""{trace}
**Verdict:** {v.text}

Replacing only the output unit's activation by the identity (same hidden layers, same seeds) lowers final MSE
significantly (Wilcoxon on log10 MSE, Holm over the {len(fam)} tanh/sigmoid strata) in {int(better.sum())} of them
({pct(better.mean())}); {len(fam) - int(sig.sum())} show no significant difference.{worse_txt} The targets of 1.0 lie on
tanh's asymptote and outside sigmoid's open range, so a saturating output must push its pre-activation ever further:
that, not a gradient that has vanished, is what a linear output removes.
"""


def answer(f: VanishingFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="vanishing", title="Claim 1 of the posted answer: vanishing gradients", select=select,
              finding=finding, verdict=verdict, section=section, answer=answer)
