"""Claim 2 of the posted answer: "the weights reached a local minimum" (and momentum escapes it).

Tested on the failing ReLU-output runs of the default grid: where they end (loss, gradient,
the output's final margin) and whether momentum solves the posted cell's born-dead seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.analysis import vocabulary as vocab
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.problem import MSE_MEAN_OUTPUT, MSE_ZERO_OUTPUT, Y_TRAIN
from relustudy.studies.common import POSTED, md_table, need, num, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Study, Verdict
from relustudy.studies import randomness

EDGE_SHARE = 0.05  # dead outputs at margin exactly 0 above this share: "a local minimum" needs that qualification
ESCAPE = 0.05  # momentum solving more than this share of born-dead seeds (corrected update) would be an escape


@dataclass(frozen=True)
class LocalMinimumFinding:
    n_fail: int  # failing runs with a ReLU output, all ReLU cells
    shares: pd.Series  # outcome -> share of those failures
    zero_loss: float  # share ending at exactly the zero-output loss
    stuck_init: float  # share born with a dead output and dead at the end
    slow_median: float  # median final MSE of the "slow" ones
    n_dead: int  # dead-output runs among them
    n_edge: int  # ... whose final margin is exactly 0 (raising the output bias lowers the loss)
    edge_inits: pd.Series  # init -> count of those
    zero_grad: pd.DataFrame | None  # analysis.zero_gradient_shares by outcome (None without grad_norm_final)
    flat_share: float  # share of the failures with an exactly zero gradient
    leaky: pd.DataFrame  # leaky_relu inactive outputs: zero-gradient share
    escape: pd.DataFrame  # update, family, lr_momentum, n (born-dead seeds failing under sgd), solved share
    dead_inits: pd.Series | None = None  # init -> dead-output runs (the denominators of edge_inits)
    # the posted cell's outcome changes float64 -> float32 on the same seeds (vocab.label_changes), None without them
    arithmetic: pd.DataFrame | None = None


def select(ctx: Context) -> dict:
    relu = need(ctx.runs, {"activation": "relu", "output": "same"}, "ReLU cells with a ReLU output")
    leaky = analysis.select(ctx.runs, {"activation": "leaky_relu", "output": "same"})
    cells = {}
    for upd in ("as_posted", "corrected"):
        cells[(upd, "sgd", POSTED["lr"])] = analysis.select(ctx.runs, {**POSTED, "update": upd})
        for lr_m in (POSTED["lr"], round(POSTED["lr"] * (1 - MOMENTUM), 12)):
            cells[(upd, "momentum", lr_m)] = analysis.select(ctx.runs, {**POSTED, "update": upd, "optimizer": "momentum",
                                                                        "lr": lr_m})
    return {"relu": relu, "leaky": leaky[vocab.labels(leaky["outcome"]) == "dead_output"], "cells": cells,
            "arithmetic": _arithmetic(ctx)}


TWINS = ("dead_output", "collapsed")  # the two labels one rounding can swap (a dead output outputs a constant 0)


def _arithmetic(ctx: Context) -> pd.DataFrame | None:
    """The posted cell's label changes from float64 to float32 on the same seeds (the noise
    experiment's float32 runs against their float64 twins there or in million); None without them."""
    if "noise" not in ctx.experiments:
        return None
    noise = ctx.experiments["noise"][0]
    where = {**POSTED, "epochs": sorted(set(noise["epochs"].tolist()))}
    f32 = randomness.variant(noise, where, dtype="float32")
    f64, _ = randomness.float64_runs(noise, ctx.experiments["million"][0] if "million" in ctx.experiments else None,
                                     where)
    if f32.empty or f64.empty:
        return None
    return vocab.label_changes(f64, f32)


def finding(d: dict) -> LocalMinimumFinding:
    relu = d["relu"]
    sub = relu[vocab.failed(relu)]
    if sub.empty:
        raise Skip("no failing ReLU runs")
    out = vocab.labels(sub["outcome"])
    shares = pd.Series(out).value_counts(normalize=True)
    dead = sub[out == "dead_output"]
    margin = dead["output_margin_final"].to_numpy(float) if "output_margin_final" in dead else np.full(len(dead), np.nan)
    edge = margin == 0.0
    has_grad = "grad_norm_final" in sub.columns
    escape = []
    for upd in ("as_posted", "corrected"):
        base = d["cells"][(upd, "sgd", POSTED["lr"])]
        born_fail = set(base.loc[vocab.failed_and_born_dead(base), "seed"])
        for family, lr_m in (("equal lr", POSTED["lr"]), ("matched step", round(POSTED["lr"] * (1 - MOMENTUM), 12))):
            mom = d["cells"][(upd, "momentum", lr_m)]
            mom = mom[mom["seed"].isin(born_fail)]
            if len(mom):
                escape.append(dict(update=upd, family=family, lr_momentum=lr_m, n=len(mom),
                                   solved=float(vocab.solved(mom).mean())))
    slow = sub.loc[out == "slow", "final_mse"].to_numpy(float)
    return LocalMinimumFinding(
        n_fail=len(sub), shares=shares,
        zero_loss=float(np.isclose(sub["final_mse"].to_numpy(float), MSE_ZERO_OUTPUT, rtol=1e-9).mean()),
        stuck_init=float((vocab.output_born_dead(sub) & vocab.output_dead_at_end(sub)).mean()),
        slow_median=float(np.median(slow)) if slow.size else np.nan,
        n_dead=len(dead), n_edge=int(edge.sum()),
        edge_inits=pd.Series(vocab.labels(dead["init"])[edge]).value_counts(),
        dead_inits=pd.Series(vocab.labels(dead["init"])).value_counts(),
        zero_grad=mechanisms.zero_gradient_shares(sub) if has_grad else None,
        flat_share=float((sub["grad_norm_final"].to_numpy(float) == 0).mean()) if has_grad
        else float(shares.get("dead_output", 0.0)),
        leaky=mechanisms.zero_gradient_shares(d["leaky"], by=()) if has_grad and len(d["leaky"]) else pd.DataFrame(),
        escape=pd.DataFrame(escape), arithmetic=d.get("arithmetic"),
    )


def _asker_text(f: LocalMinimumFinding):
    """(key, sentence) led by the asker's randn init (its edge share against EDGE_SHARE), with the other inits'
    margin-0 cases given apart; None without per-init counts or randn dead outputs."""
    if getattr(f, "dead_inits", None) is None or "randn" not in f.dead_inits.index:
        return None
    n, e = int(f.dead_inits["randn"]), int(f.edge_inits.get("randn", 0))
    others = [(k, int(f.dead_inits[k]), int(f.edge_inits.get(k, 0))) for k in f.dead_inits.index if k != "randn"]
    rest = "; ".join(f"{k}: {m:,} of {d:,} ({pct(m / d)})" for k, d, m in others if d)
    apart = (f" The other inits' dead outputs, apart: at exactly 0 (where raising the output bias lowers the loss, so "
             f"they sit on the edge of the flat region, not in a minimum) {rest}.") if rest else ""
    if e / n > EDGE_SHARE:
        return "qualified", (f"Not for every dead output, even with the asker's randn init: {e:,} of its {n:,} dead-output "
                             f"runs ({pct(e / n)}, above {pct(EDGE_SHARE, 0)}) end at exactly 0, where raising the output "
                             f"bias lowers the loss"), apart
    return "minimum", (f"Yes, with the asker's randn init: {n - e:,} of its {n:,} dead-output runs (all but {e:,}, "
                       f"{pct(e / n, 2)}, threshold {pct(EDGE_SHARE, 0)}) end with the output's pre-activation below 0 on "
                       f"all six inputs, a flat, non-strict local minimum at the zero-output loss"), apart


def verdict(f: LocalMinimumFinding) -> Verdict:
    """Is a dead output a (flat) local minimum, and does momentum leave it?

    The label needs qualifying when more than :data:`EDGE_SHARE` of the dead outputs sit at
    margin exactly 0 (there raising the output bias lowers the loss: no minimum); momentum
    "escapes" when it solves more than :data:`ESCAPE` of the born-dead seeds under the
    corrected update (where only the gradient moves the weights).
    """
    edge = f.n_edge / f.n_dead if f.n_dead else 0.0
    inits = ", ".join(f"{k} {v:,}" for k, v in f.edge_inits.items() if v)
    asker, apart = _asker_text(f), ""
    if asker is not None:
        key, head, apart = asker
    elif edge > EDGE_SHARE:
        head = (f"Not for every dead output: {f.n_dead - f.n_edge:,} of the {f.n_dead:,} dead-output runs end with the output's "
                f"pre-activation below 0 on all six inputs, a flat, non-strict local minimum; the other {f.n_edge:,} "
                f"({pct(edge)}; {inits}) end at exactly 0, where raising the output bias lowers the loss, so they sit "
                "on the edge of the flat region, not in a minimum")
        key = "qualified"
    else:
        head = (f"Yes: {f.n_dead - f.n_edge:,} of the {f.n_dead:,} dead-output runs end strictly below 0 on all six inputs, "
                f"a flat, non-strict local minimum at the zero-output loss ({f.n_edge:,} at exactly 0)")
        key = "minimum"
    corr = f.escape[f.escape["update"] == "corrected"] if len(f.escape) else f.escape
    if len(corr) == 0:
        tail = "whether momentum leaves it is not testable on this dataset"
    elif corr["solved"].max() > ESCAPE:
        tail = (f"momentum leaves it for up to {pct(corr['solved'].max())} of the born-dead seeds under the corrected "
                "update")
        key += "+escape"
    else:
        tail = (f"momentum does not leave it: under the corrected update, where only the gradient moves the weights, it "
                f"solves at most {pct(corr['solved'].max())} of the born-dead seeds (threshold {pct(ESCAPE, 0)})")
    return Verdict(key, f"{head}; {tail}.{apart}")


def _arithmetic_text(f: LocalMinimumFinding) -> str:
    """The caveat on comparing the dead_output and collapsed shares, from the label changes under float32."""
    a = f.arithmetic
    if a is None:
        return ""
    n_pairs, n_changed = a.attrs.get("n_pairs", 0), int(a["n"].sum())
    twins = int(a.loc[a["from"].isin(TWINS) & a["to"].isin(TWINS), "n"].sum())
    return (f" Read the split between `dead_output` and `collapsed` with care: the arithmetic decides it at the margin. "
            f"Of the posted cell's {n_pairs:,} seeds trained in both float64 and float32 (the noise experiment), "
            f"{n_changed:,} change their outcome label, {twins:,} of them between these two.")


def section(f: LocalMinimumFinding, v: Verdict, links) -> str:
    s = f.shares
    if f.zero_grad is not None:
        rows = [(d.outcome, f"{d.n:,}", f"{d.n_zero:,} ({pct(d.share)})", num(d.median_norm))
                for d in f.zero_grad.itertuples(index=False) if d.n]
        grad = (f"Measured: the full loss gradient at the final weights (`grad_norm_final`, plain backpropagation) is "
                f"exactly zero in {pct(f.flat_share)} of these failing runs:\n\n"
                + md_table(pd.DataFrame(rows, columns=["outcome (failing ReLU-output runs)", "runs", "gradient exactly 0",
                                                       "median non-zero norm"]))
                + "\n\nA collapsed output behind a dead hidden layer still has a bias gradient (the posted rule ignores "
                  "it), so a zero gradient is a property of the dead output, not of every failure.")
        if len(f.leaky):
            grad += (f" A leaky ReLU output below zero on all six inputs ({f.leaky['n'].iloc[0]:,} runs) is *inactive*, "
                     f"not dead: its slope is 0.01, and {pct(f.leaky['share'].iloc[0])} of them have an exactly zero "
                     "gradient.")
    else:
        grad = "The gradient at the final weights is not measured in this dataset (no `grad_norm_final`)."
    esc = "; ".join(f"{d.update} update, {d.family} (momentum lr {d.lr_momentum:g}): {pct(d.solved)} of {d.n:,}"
                    for d in f.escape.itertuples()) if len(f.escape) else "not testable (no momentum cells)"
    return f"""Of the {f.n_fail:,} failing runs with a ReLU output (all ReLU cells), {pct(s.get("dead_output", 0.0))} end with a dead
output unit, {pct(s.get("collapsed", 0.0))} collapsed to a constant output, {pct(s.get("slow", 0.0))} are still descending
("slow", median final MSE {num(f.slow_median)}), {pct(s.get("diverged", 0.0))} diverged. {pct(f.zero_loss)} end at exactly the
zero-output loss mean(Y²) = {MSE_ZERO_OUTPUT:.5f}, and {pct(f.stuck_init)} had the output unit dead at init and still dead at
the end. A constant output c costs Var(Y) + (c − mean Y)² = {MSE_MEAN_OUTPUT:.4f} + (c − {float(np.mean(Y_TRAIN)):.3f})², so
the dead net is far from even the best constant.{_arithmetic_text(f)}

{grad}

**Is it a local minimum?** Where the output's pre-activation is below 0 on all six inputs, small moves of any weight
leave it dead and the loss constant: a flat, non-strict local minimum. At a final margin of *exactly* 0 (the largest
pre-activation over the six inputs is 0: He and Xavier nets, whose biases start at 0 and stay 0 while no gradient
reaches them (under the posted update for ever: `b -= lr * b` keeps 0 at 0), behind a dead last hidden layer) the output bias's one-sided derivative is negative: raising it makes the
output positive and lowers the loss. Of the {f.n_dead:,} dead-output runs, {f.n_edge:,} end at exactly 0.

**Does momentum escape?** A zero gradient leaves the momentum buffer at zero. Of the posted cell's seeds that fail
born dead under plain SGD, momentum solves: {esc}. Where it solves some under the posted update, the posted bias decay
(`b -= lr * b`, which momentum amplifies) moves the output unit, not the gradient.

**Verdict:** {v.text}
"""


def answer(f: LocalMinimumFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="local-minimum", title="Claim 2 of the posted answer: \"the weights reached a local minimum\"",
              select=select, finding=finding, verdict=verdict, section=section, answer=answer)
