"""How the conclusions move with the `solved` threshold."""
from __future__ import annotations

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.stats import proportions as stats
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.studies.common import POSTED, THRESHOLDS, ci, diff_ci, md_table, need, paired, pct, pval, rate_of
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


def section_thresholds(ctx: Context) -> str:
    r = ctx.runs
    post = need(r, POSTED, "the posted ReLU cell")
    rows, tests = [], []  # tests: (row, column, McNemarResult), Holm-adjusted over the whole table below
    for t in THRESHOLDS:
        fr = rate_of(post, t)
        row = [f"{t:g}", f"{pct(fr.rate)} {ci(fr.ci_low, fr.ci_high)}"]
        for alt in ({"optimizer": "momentum"}, {"update": "corrected"}, {"output": "identity"}):
            try:
                mc, _ = paired(r, POSTED, {**POSTED, **alt}, "threshold sensitivity", solved_mse=t)
                tests.append((len(rows), len(row), mc))
                row.append(None)
            except Skip:
                row.append("n/a")
        for act in ("tanh", "sigmoid"):
            sub = analysis.select(r, {**POSTED, "activation": act})
            row.append(pct(rate_of(sub, t).rate) if len(sub) else "n/a")
        rows.append(row)
    for (i, j, mc), p_adj in zip(tests, stats.holm([mc.pvalue for _, _, mc in tests])):
        rows[i][j] = f"{pct(mc.rate_b)}, {diff_ci(mc.diff, mc.diff_low, mc.diff_high)} ({pval(p_adj)})"
    tbl = md_table(
        pd.DataFrame(
            rows,
            columns=[
                "solved if final MSE <",
                "posted ReLU fails",
                "with momentum: fails, Δ (McNemar, Holm)",
                "corrected: fails, Δ (McNemar, Holm)",
                "identity output: fails, Δ (McNemar, Holm)",
                "tanh fails",
                "sigmoid fails",
            ],
        )
    )
    relu_rates = [rate_of(post, t).rate for t in THRESHOLDS]
    fail = analysis.is_failure(post)
    zero_share = float(np.isclose(post["final_mse"].to_numpy(float)[fail], MSE_ZERO_OUTPUT, rtol=1e-9).mean()) \
        if fail.any() else np.nan
    return f"""## How the conclusions move with the `solved` threshold

Over thresholds {", ".join(f"{t:g}" for t in THRESHOLDS)}, the posted ReLU cell's failure rate ranges from
{pct(min(relu_rates))} to {pct(max(relu_rates))}: {robust_text(max(relu_rates) - min(relu_rates), zero_share)}

{tbl}
"""


ROBUST = 0.02  # the posted cell's failure rate moving less than this over the thresholds: the threshold does not matter


def robust_text(spread: float, zero_share: float) -> str:
    """The sentence on the posted cell's threshold sensitivity, by :data:`ROBUST`."""
    at_zero = f"{pct(zero_share)} of its failures sit at the zero-output loss {MSE_ZERO_OUTPUT:.4f}"
    if spread < ROBUST:
        return (f"it moves by {100 * spread:.1f} percentage points (less than {100 * ROBUST:.0f}), the threshold does "
                f"not decide it: {at_zero}, far above every threshold.")
    return f"it moves by {100 * spread:.1f} percentage points, so the threshold matters here ({at_zero})."


STUDY = text_study('thresholds', 'How the conclusions move with the solved threshold', section_thresholds)
