"""How the conclusions move with the `solved` threshold: the posted cell's rate and the direction
of each paired comparison at every threshold of :data:`relustudy.studies.common.THRESHOLDS`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.stats import proportions as stats
from relustudy.studies.base import Study, Verdict
from relustudy.studies.common import ALPHA, POSTED, THRESHOLDS, ci, diff_ci, md_table, need, paired, pct, pval, rate_of
from relustudy.studies.common import Context, Skip

ROBUST = 0.02  # the posted cell's failure rate moving less than this over the thresholds: the rate does not depend on it
CHANGES = (("momentum", {"optimizer": "momentum"}), ("corrected", {"update": "corrected"}),
           ("identity output", {"output": "identity"}))
SMOOTH = ("tanh", "sigmoid")


@dataclass(frozen=True)
class ThresholdFinding:
    posted: dict  # threshold -> ProportionResult of the posted cell
    tests: pd.DataFrame  # threshold, change, McNemarResult (mc), p_holm (one Holm family: the whole table)
    smooth: dict  # (threshold, activation) -> failure rate of the posted factors with that activation
    zero_share: float  # share of the posted cell's failures (at the default threshold) at the zero-output loss


def select(ctx: Context) -> pd.DataFrame:
    need(ctx.runs, POSTED, "the posted ReLU cell")
    return ctx.runs


def finding(r: pd.DataFrame) -> ThresholdFinding:
    post = analysis.select(r, POSTED)
    rows = []
    for t in THRESHOLDS:
        for label, alt in CHANGES:
            try:
                mc, _ = paired(r, POSTED, {**POSTED, **alt}, "threshold sensitivity", solved_mse=t)
            except Skip:
                continue
            rows.append(dict(threshold=t, change=label, mc=mc))
    tests = pd.DataFrame(rows, columns=["threshold", "change", "mc"])
    tests["p_holm"] = stats.holm([mc.pvalue for mc in tests["mc"]]) if len(tests) else []
    smooth = {}
    for t in THRESHOLDS:
        for act in SMOOTH:
            sub = analysis.select(r, {**POSTED, "activation": act})
            smooth[(t, act)] = rate_of(sub, t).rate if len(sub) else np.nan
    fail = analysis.is_failure(post)
    zero = float(np.isclose(post["final_mse"].to_numpy(float)[fail], MSE_ZERO_OUTPUT, rtol=1e-9).mean()) \
        if fail.any() else np.nan
    return ThresholdFinding({t: rate_of(post, t) for t in THRESHOLDS}, tests, smooth, zero)


def conclusion(mc, p_holm: float) -> str:
    """A paired comparison's conclusion: 'fails more' / 'fails less' (Holm p < ALPHA, the CI of
    the difference on one side of 0), else 'no significant change'."""
    if p_holm < ALPHA and mc.diff_low > 0:
        return "fails more"
    if p_holm < ALPHA and mc.diff_high < 0:
        return "fails less"
    return "no significant change"


def verdict(f: ThresholdFinding) -> Verdict:
    """Do the conclusions move with the threshold? Per change to the posted cell, its conclusion
    (:func:`conclusion`) at every threshold: "stable" when each keeps one conclusion, "moves"
    when one flips direction, "borderline" when one is significant at some thresholds only. The
    posted rate's spread is set beside :data:`ROBUST` (descriptive: a rate may move while the
    conclusions hold)."""
    rates = [f.posted[t].rate for t in THRESHOLDS]
    spread = max(rates) - min(rates)
    rate_txt = (f"the posted cell's failure rate ranges from {pct(min(rates))} to {pct(max(rates))}, a spread of "
                f"{100 * spread:.1f} percentage points ({'below' if spread < ROBUST else 'above'} the "
                f"{100 * ROBUST:.0f} points under which the rate would not depend on the threshold; "
                f"{pct(f.zero_share)} of its failures sit at the zero-output loss {MSE_ZERO_OUTPUT:.4f}, far above "
                "every threshold)")
    per = {c: [conclusion(d.mc, d.p_holm) for d in g.itertuples()] for c, g in f.tests.groupby("change", sort=False)}
    if not per:
        return Verdict("untested", f"Over the thresholds, {rate_txt}; no paired comparison could be made.")
    moved = {c: s for c, s in per.items() if len(set(s)) > 1}
    flipped = {c: s for c, s in moved.items() if {"fails more", "fails less"} <= set(s)}
    held = "; ".join(f"{c}: {s[0]}" for c, s in per.items() if c not in moved)
    ts = ", ".join(f"{t:g}" for t in THRESHOLDS)
    if not moved:
        return Verdict("stable", f"The conclusions do not move over the thresholds {ts}: each change keeps its "
                                 f"conclusion at every threshold ({held}); {rate_txt}.")
    each = "; ".join(f"{c}: " + ", ".join(f"{s_} at {t:g}" for s_, t in zip(s, THRESHOLDS)) for c, s in moved.items())
    if flipped:
        return Verdict("moves", f"A conclusion moves with the threshold ({each}); {rate_txt}.")
    return Verdict("borderline", f"Borderline: a comparison is significant at some thresholds only ({each}), so it "
                                 "reads either as a change or as none depending on the threshold; "
                                 f"{'the others hold (' + held + '); ' if held else ''}{rate_txt}.")


def section(f: ThresholdFinding, v: Verdict, links) -> str:
    cols = {c: f"{c}: fails, Δ (McNemar, Holm)" for c, _ in CHANGES}
    rows = []
    for t in THRESHOLDS:
        fr = f.posted[t]
        row = {"solved if final MSE <": f"{t:g}", "posted ReLU fails": f"{pct(fr.rate)} {ci(fr.ci_low, fr.ci_high)}"}
        for c, _ in CHANGES:
            d = f.tests[(f.tests["threshold"] == t) & (f.tests["change"] == c)]
            row[cols[c]] = "n/a" if d.empty else (
                f"{pct(d['mc'].iloc[0].rate_b)}, {diff_ci(d['mc'].iloc[0].diff, d['mc'].iloc[0].diff_low, d['mc'].iloc[0].diff_high)}"
                f" ({pval(d['p_holm'].iloc[0])})")
        for act in SMOOTH:
            row[f"{act} fails"] = pct(f.smooth[(t, act)])
        rows.append(row)
    return f"""**{v.text}**

Holm family: the {len(f.tests)} McNemar tests of this table (every change at every threshold).

{md_table(pd.DataFrame(rows))}
"""


STUDY = Study(name="thresholds", title="How the conclusions move with the solved threshold", select=select,
              finding=finding, verdict=verdict, section=section)
