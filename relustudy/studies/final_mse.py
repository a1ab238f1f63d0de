"""The distribution of final MSE per activation: is ReLU's all-or-nothing, and where do tanh and sigmoid end?"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.figures import cells as figures
from relustudy.stats import proportions as stats
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import ALPHA, POSTED, ci, need, pct, side, versus
from relustudy.studies.common import Context, Skip

LOW = 1e-3  # final MSE below this: "low"; the middle is [LOW, zero-output loss)
ALL_OR_NOTHING = 0.05  # ReLU runs in the middle below this share: the outcome is all or nothing
IN_BETWEEN = 0.5  # tanh/sigmoid runs in the middle above this share: "they end in between"


@dataclass(frozen=True)
class FinalMseFinding:
    runs: pd.DataFrame  # the posted factors but activation and output (for the figure)
    shares: pd.DataFrame  # per activation (output same): n, low, zero, middle (+ exact CI of middle)


def _shares(mse: np.ndarray) -> dict:
    zero = np.isclose(mse, MSE_ZERO_OUTPUT, rtol=1e-9)
    mid = (mse >= LOW) & ~zero
    m = stats.proportion_ci(int(mid.sum()), int(mse.size), alpha=ALPHA)
    return dict(n=int(mse.size), low=float((mse < LOW).mean()), zero=float(zero.mean()), middle=m.rate,
                middle_low=m.ci_low, middle_high=m.ci_high)


def select(ctx: Context) -> pd.DataFrame:
    return need(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("activation", "output")}, "the posted factors")


def finding(sub: pd.DataFrame) -> FinalMseFinding:
    same = analysis.select(sub, {"output": "same"})
    rows = [dict(activation=str(a), **_shares(g["final_mse"].to_numpy(float)))
            for a, g in same.groupby(same["activation"].astype(str), sort=False)]
    shares = pd.DataFrame(rows)
    if shares.empty or "relu" not in set(shares["activation"]):
        raise Skip("no ReLU runs with the posted output")
    return FinalMseFinding(sub, shares.set_index("activation"))


def verdict(f: FinalMseFinding) -> Verdict:
    """ReLU's share of runs in the middle (MSE in [LOW, zero-output loss)) against
    :data:`ALL_OR_NOTHING` (its exact CI decides; a CI that straddles it is "borderline"), and
    the smooth activations' middle share against :data:`IN_BETWEEN`. Key "<relu>+<smooth>"."""
    r = f.shares.loc["relu"]
    where = side(r["middle_low"], r["middle_high"], ALL_OR_NOTHING)
    mid = f"{pct(r['middle'])} {ci(r['middle_low'], r['middle_high'])} of {int(r['n']):,}"
    head = (f"With the posted ReLU output, {pct(r['low'])} of ReLU runs end below MSE {LOW:g} and {pct(r['zero'])} at "
            f"exactly the zero-output loss {MSE_ZERO_OUTPUT:.4f}; in between: {mid} "
            f"({versus(r['middle'], ALL_OR_NOTHING)})")
    relu = {"below": "all-or-nothing", "above": "spread", "borderline": "borderline"}[where]
    head += {"all-or-nothing": ": a ReLU run either learns or ends at the zero-output loss.",
             "spread": ": ReLU's final errors are not all-or-nothing.",
             "borderline": f": the CI straddles {pct(ALL_OR_NOTHING, 0)}, so the data allow both readings, an "
                           "all-or-nothing outcome with a few exceptions, or a real middle group."}[relu]
    smooth = f.shares.drop(index=[a for a in f.shares.index if a not in ("tanh", "sigmoid")])
    if smooth.empty:
        return Verdict(f"{relu}+untested", head)
    parts = "; ".join(f"{a} {pct(s['middle'])} {ci(s['middle_low'], s['middle_high'])} of {int(s['n']):,}"
                      for a, s in smooth.iterrows())
    sides = {side(s["middle_low"], s["middle_high"], IN_BETWEEN) for _, s in smooth.iterrows()}
    if sides == {"above"}:
        key, tail = "between", f"Most tanh and sigmoid runs end in between ({parts}; threshold {pct(IN_BETWEEN, 0)})."
    elif sides == {"below"}:
        key, tail = "not between", (f"A minority of tanh and sigmoid runs end in between ({parts}; threshold "
                                    f"{pct(IN_BETWEEN, 0)}).")
    else:
        key, tail = "borderline", (f"tanh and sigmoid runs in between: {parts}; against a threshold of "
                                   f"{pct(IN_BETWEEN, 0)} the CIs do not put both on one side.")
    return Verdict(f"{relu}+{key}", f"{head} {tail}")


def figures_(f: FinalMseFinding):
    return [Figure("ecdf_final_mse.png", figures.ecdf_final_mse(f.runs, hue="activation", col="output"),
                   "ECDF of final MSE")]


def section(f: FinalMseFinding, v: Verdict, links) -> str:
    return f"""Runs with every other factor as posted (randn, as_posted, sgd, lr 0.01), by output activation. {v.text}

{links["ecdf_final_mse.png"]}
"""


STUDY = Study(name="final-mse", title="Final MSE per activation", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section)
