"""The distribution of final MSE per activation (descriptive)."""
from __future__ import annotations

import numpy as np

from relustudy.analysis import cells as analysis
from relustudy.figures import cells as figures
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.studies.common import POSTED, need, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.legacy import text_study


def section_ecdf(ctx: Context) -> str:
    sub = need(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("activation", "output")}, "the posted factors")
    fig = ctx.fig(
        figures.ecdf_final_mse(sub, hue="activation", col="output"), "ecdf_final_mse.png", "ECDF of final MSE"
    )
    relu = analysis.select(sub, {"activation": "relu", "output": "same"})["final_mse"].to_numpy(float)
    if relu.size == 0:
        raise Skip("no ReLU runs with the posted output")
    relu_low = (relu < 1e-3).mean()
    zero = np.isclose(relu, MSE_ZERO_OUTPUT, rtol=1e-9)
    relu_zero = zero.mean()
    relu_mid = ((relu >= 1e-3) & ~zero).mean()
    return f"""## Final MSE per activation

Runs with every other factor as posted (randn, as_posted, sgd, lr 0.01), by output activation. With the posted
ReLU output, {pct(relu_low)} of ReLU runs end below MSE 1e-3 and {pct(relu_zero)} at exactly the zero-output loss
{MSE_ZERO_OUTPUT:.4f}, with almost nothing in between ({pct(relu_mid)}); tanh and sigmoid runs end in between.

{fig}
"""


STUDY = text_study('final-mse', 'Final MSE per activation', section_ecdf)
