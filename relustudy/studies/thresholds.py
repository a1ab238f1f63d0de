"""How the conclusions move with the `solved` threshold."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import analysis, stats
from ..problem import MSE_ZERO_OUTPUT
from ..report.common import POSTED, THRESHOLDS, ci, diff_ci, md_table, need, paired, pct, pval, rate_of
from .base import Context, Skip, Study
from .legacy import text_study


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
    return f"""## How the conclusions move with the `solved` threshold

Over thresholds {", ".join(f"{t:g}" for t in THRESHOLDS)}, the posted ReLU cell's failure rate ranges from
{pct(min(relu_rates))} to {pct(max(relu_rates))}: its failures sit at MSE {MSE_ZERO_OUTPUT:.4f}, far above every threshold.
The tanh/sigmoid rates, whose runs are still descending, are the ones the threshold decides.

{tbl}
"""


STUDY = text_study('thresholds', 'How the conclusions move with the solved threshold', section_thresholds)
