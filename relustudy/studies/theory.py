"""Theory check: how often is the output unit dead at init, from the init distribution alone."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.stats import unpaired_tests
from relustudy.studies.common import CONDITIONAL_DRAWS, THEORY_DRAWS, THEORY_SEED, ci, md_table, need, pct, pval
from relustudy.studies import stored_theory
from relustudy.studies.base import Study, Verdict
from relustudy.studies.common import Context, versus


@dataclass(frozen=True)
class TheoryFinding:
    table: pd.DataFrame  # stored_theory.output_dead_vs_theory: per init, measured rate and plain Monte Carlo
    cond: dict  # init -> the conditional computation (p, CI, se)
    p_cond: dict  # init -> binomial p-value, measured vs computed
    gap: float  # largest |simulation - computation| in standard errors


def select(ctx: Context) -> pd.DataFrame:
    return need(ctx.runs, {"activation": "relu", "hidden": "4-4"}, "ReLU 4-4 cells")


def finding(relu: pd.DataFrame) -> TheoryFinding:
    tbl = stored_theory.output_dead_vs_theory(relu, seed=THEORY_SEED, n_draws=THEORY_DRAWS)
    cond = {
        init: stored_theory.p_output_dead_conditional(init, seed=[THEORY_SEED, k], n_draws=CONDITIONAL_DRAWS)
        for k, init in enumerate(sorted(tbl["init"]))
    }
    p_cond = {t.init: unpaired_tests.binomial_pvalue(t.n_dead, t.n_seeds, cond[t.init].p) for t in tbl.itertuples(index=False)}
    gap = max(abs(cond[t.init].p - t.p_theory) / np.hypot(cond[t.init].se, (t.p_theory_high - t.p_theory_low) / 3.92)
              for t in tbl.itertuples(index=False))
    return TheoryFinding(tbl, cond, p_cond, float(gap))


def verdict(f: TheoryFinding) -> Verdict:
    """Measured against computed (Bonferroni-adjusted smallest binomial p-value against
    :data:`AGREE_P`) and simulation against computation (:data:`AGREE_SE`); key "<data>+<sim>"."""
    p_adj = min(1.0, min(f.p_cond.values()) * len(f.p_cond))
    key = f"{'agree' if p_adj >= AGREE_P else 'differ'}+{'agree' if f.gap <= AGREE_SE else 'differ'}"
    return Verdict(key, agreement(p_adj, f.gap))


def section(f: TheoryFinding, v: Verdict, links) -> str:
    tbl, cond = f.table, f.cond
    rows = []
    for t in tbl.itertuples(index=False):
        c = cond[t.init]
        p_c = f.p_cond[t.init]
        rows.append(
            (
                t.init,
                f"{t.n_seeds:,}",
                f"{pct(t.rate, 2)} {ci(t.ci_low, t.ci_high, 2)}",
                f"{pct(c.p, 2)} {ci(c.ci_low, c.ci_high, 2)}",
                pval(p_c),
                f"{pct(t.p_theory, 2)} {ci(t.p_theory_low, t.p_theory_high, 2)}",
                pct(t.p_first_layer_unit, 2),
            )
        )
    table = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "init",
                "seeds",
                "measured: output dead at init [95% CI]",
                "computed: conditional, last step analytic [95% CI]",
                "binomial test, measured vs computed",
                "Monte Carlo simulation of the same test [95% CI]",
                "one first-layer unit dead (exact geometry)",
            ],
        )
    )
    return f"""The probability that the output unit's pre-activation is <= 0 on all six training inputs, from the init
distributions alone (no training), against the rate measured at init in the dataset (each seed counted once).
It is computed by conditional Monte Carlo ({CONDITIONAL_DRAWS:,} draws of the hidden layers per scheme): given the
hidden layers, the output is dead exactly when one output parameter (the bias for randn, the first weight for
He/Xavier, whose biases are 0) lies below a bound, and that probability is the parameter's CDF at the bound, so the
last step is integrated, not simulated. A plain Monte Carlo simulation of the dataset's own test
({THEORY_DRAWS:,} draws) is shown beside it; it checks the random-number code more than a theory. The exact
probability that one first-layer unit is dead comes from the geometry of the inputs' cone.

{table}

Under every scheme, {pct(min(c.p for c in cond.values()))}–{pct(max(c.p for c in cond.values()))} of randomly initialised
2-4-4-1 ReLU nets start with their output born dead (dead on all six inputs at init): He or Xavier scaling changes the weights' scale, not the signs that
decide whether a unit is dead, and with zero biases a dead last hidden layer leaves the output pre-activation at
exactly 0, which counts as dead too. {v.text}
"""


AGREE_P = 0.05  # Bonferroni-adjusted smallest binomial p-value at least this: measured and computed rates agree
AGREE_SE = 3.0  # simulation and conditional computation within this many standard errors: they agree


def agreement(p_adjusted: float, gap: float) -> str:
    """The sentence on measured vs computed rates, by :data:`AGREE_P` and :data:`AGREE_SE`."""
    p_adjusted = min(1.0, p_adjusted)
    p_txt = versus(p_adjusted, AGREE_P, fmt=lambda x: f"{x:.3g}")
    data = (f"The measured rates agree with the computation (smallest binomial p-value, Bonferroni over the inits, "
            f"{p_txt})" if p_adjusted >= AGREE_P else
            f"The measured rates differ from the computation (smallest binomial p-value, Bonferroni over the inits, "
            f"{p_txt})")
    se_txt = f"threshold {AGREE_SE:g}"
    sim = (f"the simulation agrees with the computation within {gap:.1f} standard errors ({se_txt})" if gap <= AGREE_SE else
           f"the simulation and the computation differ by {gap:.1f} standard errors ({se_txt})")
    return f"{data}, and {sim}."


STUDY = Study(name="theory", title="Theory check: how often is the output unit dead at init?", select=select,
              finding=finding, verdict=verdict, section=section)
