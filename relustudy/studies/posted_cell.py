"""Q2 on the posted cell: how often the posted ReLU program fails, how, and how much the init
decides (from the default grid's 1,000 seeds; the million-seed study gives the headline rate)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import mechanisms
from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.analysis import vocabulary as vocab
from relustudy.core.outcomes import OUTCOMES
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.studies.common import POSTED, ci, need, num, pct, pval, rate_of
from relustudy.studies.common import Context
from relustudy.studies.base import Figure, Study, Verdict

DECIDES = 0.90  # "dead at init -> fails" right for at least this share of seeds: the init largely decides
PARTLY = 0.70  # below it the init state says little; between the two it decides in part


@dataclass(frozen=True)
class PostedFinding:
    """Q2 on the posted cell: how often and how it fails, and what the init predicts."""

    rate: stats.ProportionResult
    shares: pd.Series  # outcome -> share of the cell's runs
    dead: mechanisms.DeadInitResult
    dead_final: float  # share of failures ending with the output unit dead
    zero_loss: float  # share of failures ending at exactly the zero-output loss
    modes: pd.Series  # failure_mode_table row of the cell
    revived: dict  # update -> vocab.Rate: solved among the runs whose output is born dead
    margin_bins: pd.DataFrame | None  # analysis.fail_by_margin, when the margin was recorded
    outcome_shares: pd.DataFrame  # outcome shares of the posted factors by activation x init


def select(ctx: Context) -> dict:
    return {
        "posted": need(ctx.runs, POSTED, "the posted ReLU cell"),
        "updates": {u: analysis.select(ctx.runs, {**POSTED, "update": u}) for u in ("as_posted", "corrected")},
        "neighbours": analysis.select(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("activation", "init")}),
    }


def finding(d: dict) -> PostedFinding:
    post = d["posted"]
    fail = vocab.failed(post)
    revived = {u: vocab.rate(vocab.solved(c), "runs whose output is born dead", vocab.output_born_dead(c))
               for u, c in d["updates"].items()}
    comp = analysis.outcome_shares(d["neighbours"], ["activation", "init"])
    return PostedFinding(
        rate=rate_of(post),
        shares=post["outcome"].astype(str).value_counts(normalize=True),
        dead=mechanisms.dead_init_association(post),
        dead_final=float(vocab.output_dead_at_end(post)[fail].mean()) if fail.any() else np.nan,
        zero_loss=float(np.isclose(post["final_mse"].to_numpy(float)[fail], MSE_ZERO_OUTPUT, rtol=1e-9).mean())
        if fail.any() else np.nan,
        modes=mechanisms.failure_mode_table(post, by=()).iloc[0],
        revived=revived,
        margin_bins=mechanisms.fail_by_margin(post) if "output_margin_init" in post.columns else None,
        outcome_shares=comp.assign(label=comp["activation"] + " / " + comp["init"]),
    )


def verdict(f: PostedFinding) -> Verdict:
    """How much the output's state at init decides the outcome, by the accuracy of the rule
    "output dead at init -> fails" (:data:`DECIDES`, :data:`PARTLY`)."""
    d = f.dead
    said = (f"\"output dead at init → fails\" is right for {pct(d.accuracy)} of the seeds (AUROC {num(d.auroc_dead)}; "
            f"P(fail | dead at init) {pct(d.p_fail_dead)}, P(fail | alive) {pct(d.p_fail_alive)})")
    if d.accuracy >= DECIDES:
        return Verdict("decides", f"The init largely decides: {said}.")
    if d.accuracy >= PARTLY:
        return Verdict("partly", f"The output's state at init decides in part: {said}; the rest is not read from "
                                 "that state alone (the init-predictability section asks how much more the initial "
                                 "weights tell).")
    return Verdict("weak", f"The output's state at init says little: {said}.")


def modes_text(m: pd.Series) -> str:
    """'born dead 33.3%, died in training 4.1%, diverged 0.0%, other failure 1.0%' (of all runs)."""
    return ", ".join(f"{k} {pct(m[f'share {k}'])}" for k in mechanisms.FAILURE_MODES)


def figures_(f: PostedFinding):
    if f.margin_bins is not None:
        margin = Figure("dead_at_init_vs_outcome.png",
                        figures.fail_vs_margin(f.margin_bins, title="Posted ReLU cell: P(fail) vs the output's init "
                                                                    "margin (95% CI)"),
                        "P(fail) vs output margin at init")
    else:
        margin = None
    comp = Figure("outcomes_posted.png", figures.outcome_composition(
        f.outcome_shares.assign(panel="same output, as_posted update, sgd, lr 0.01"), x="label", col="panel",
        title="Outcomes of the posted cell's 1,000 seeds and its neighbours (one bar per activation / init)",
        label_panels=False), "outcome composition")
    return [x for x in (margin, comp) if x is not None]


def section(f: PostedFinding, v: Verdict, links) -> str:
    fr, dead, m = f.rate, f.dead, f.modes
    return f"""**The posted program fails in {pct(fr.rate)} of the default grid's seeds 0–{fr.n - 1}** ({fr.k:,} of {fr.n:,},
95% CI {ci(fr.ci_low, fr.ci_high)}; the million-seed section gives the population rate). Outcomes:
{", ".join(f"{o} {pct(f.shares.get(o, 0.0))}" for o in OUTCOMES)}.

**How it fails.** Of all its runs: {modes_text(m)} (see the glossary for *born dead* and *died in training*).
Among the {int(m["n_alive"]):,} runs not born dead, {pct(m["fail_alive"])} fail.

**The failures are dead output units, not a slow descent.** {pct(f.dead_final)} of the failing runs end with the output
unit dead. A dead ReLU output emits 0 for every input, so its loss is mean(Y²) = {MSE_ZERO_OUTPUT:.5f}
({pct(f.zero_loss)} of failing runs end at exactly that loss).

**The output's state at init.** {pct(dead.n_dead / dead.n)} of the runs start with the output unit dead
({dead.n_dead:,} of {dead.n:,}). P(fail | output dead at init) = {pct(dead.p_fail_dead)} {ci(*dead.p_fail_dead_ci)};
P(fail | alive at init) = {pct(dead.p_fail_alive)} {ci(*dead.p_fail_alive_ci)}; odds ratio {num(dead.odds_ratio)}
(95% CI {num(dead.odds_ratio_ci[0])}–{num(dead.odds_ratio_ci[1])}{", Haldane-corrected" if dead.haldane else ""}), Fisher
{pval(dead.fisher_pvalue)}. The rule misclassifies {dead.n_solved_dead:,} seeds born dead that end solved and
{dead.n_fail_alive:,} alive at init that fail; the fraction of dead hidden units at init has AUROC
{num(dead.auroc_dead_frac)}. **Verdict:** {v.text}

{links.get("dead_at_init_vs_outcome.png", "")}

**Why some runs born dead still learn.** A dead output unit gets no gradient, yet {f.revived["as_posted"]} end solved
under the posted update. The posted bias rule `b -= lr * b` is not a gradient step: it shrinks every bias towards 0
whatever the error, which can lift the output's pre-activation back above 0. With the corrected update (biases
follow the gradient, which is zero there): {f.revived["corrected"]}.

{links["outcomes_posted.png"]}
"""


def answer(f: PostedFinding, v: Verdict) -> str:
    fr = f.rate
    return (f"On the default grid's seeds 0–{fr.n - 1} the posted program fails in {pct(fr.rate)} "
            f"{ci(fr.ci_low, fr.ci_high)}: {modes_text(f.modes)} of its runs. {v.text}")


STUDY = Study(name="posted-cell", title="Q2. How often and how the posted ReLU program fails", select=select,
              finding=finding, verdict=verdict, figures=figures_, section=section, answer=answer)
