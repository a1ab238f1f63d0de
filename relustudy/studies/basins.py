"""Smooth basins or chaos? Outcome flips under tiny perturbations of the initial weights.

Data: the chaos table (``data/chaos``, ``scripts/run_chaos.py``): seeds of the posted cell,
each init moved by eps along frozen random unit directions and retrained. The finding is the
flip rate per eps; replace :func:`finding` to change the analysis, the verdict reads only
:class:`BasinsFinding`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..chaos import flip_rates
from ..report.common import ci, md_table, pct
from .base import Context, Figure, Skip, Study, Verdict

CHAOS_BOUND = 0.01  # "not chaotic at rounding scale" needs the smallest eps's flip rate bounded below 1% (95% upper CI)


@dataclass(frozen=True)
class BasinsFinding:
    """Flip rates per eps (``chaos.flip_rates``: eps, n, flips, rate, ci_low, ci_high,
    label_changed; one row per eps > 0, ascending) and the design's size."""

    rates: pd.DataFrame
    n_seeds: int
    n_directions: int

    @property
    def growth(self) -> tuple[float, float, float] | None:
        """(eps_a, eps_b, log-log slope) between the two largest eps with flips, or None."""
        hit = self.rates[self.rates["flips"] > 0]
        if len(hit) < 2:
            return None
        a, b = hit.iloc[-2], hit.iloc[-1]
        return float(a["eps"]), float(b["eps"]), float(np.log(b["rate"] / a["rate"]) / np.log(b["eps"] / a["eps"]))


def select(ctx: Context) -> pd.DataFrame:
    table = ctx.extras.get("chaos")
    if table is None:
        raise Skip("no perturbation data (data/chaos); run `python scripts/run_chaos.py`")
    return table


def finding(table: pd.DataFrame) -> BasinsFinding:
    return BasinsFinding(flip_rates(table), int(table["seed"].nunique()),
                         int(table.loc[table["direction"] >= 0, "direction"].nunique()))


def verdict(f: BasinsFinding) -> Verdict:
    """Chaos means outcomes flip at rounding-size perturbations; bounded away means it is not.

    * ``chaotic``: the smallest eps already flips a measurable share (CI above 0);
    * ``smooth``: it flips none beyond a bound below :data:`CHAOS_BOUND` (95% upper CI);
    * ``undecided``: too few pairs to bound it below :data:`CHAOS_BOUND`.
    """
    small = f.rates.iloc[0]
    eps0 = f"{small['eps']:.0e}"
    if small["ci_low"] > 0:
        return Verdict("chaotic", f"Outcomes flip already at eps = {eps0} ({pct(small['rate'], 2)} "
                                  f"{ci(small['ci_low'], small['ci_high'], 2)} of {int(small['n']):,} pairs): the "
                                  "dynamics are chaotic at the scale of rounding.")
    if small["ci_high"] < CHAOS_BOUND:
        calm = f.rates[f.rates["flips"] == 0]
        return Verdict("smooth", f"Not chaotic at the scale of rounding: at eps = {eps0}, {int(small['flips'])} of "
                                 f"{int(small['n']):,} pairs flip (95% upper bound {pct(small['ci_high'], 2)}, below "
                                 f"{pct(CHAOS_BOUND, 0)}); no flip at all up to eps = {calm['eps'].max():.0e}.")
    return Verdict("undecided", f"Too few pairs to tell: at eps = {eps0} the flip rate's 95% upper bound is "
                                f"{pct(small['ci_high'], 2)}, not below {pct(CHAOS_BOUND, 0)}.")


def _growth_text(f: BasinsFinding) -> str:
    g = f.growth
    if g is None:
        return ""
    a, b, slope = g
    ra, rb = (f.rates.set_index("eps").loc[e, "rate"] for e in (a, b))
    expect = rb * (a / b)  # a share of seeds within distance eps of a smooth boundary grows like eps
    n_a = int(f.rates.set_index("eps").loc[a, "n"])
    return (f" Between eps = {a:.0e} and {b:.0e} the flip share grows from {pct(ra, 3)} to {pct(rb, 2)} (log-log slope "
            f"{slope:.2f}). A smooth basin boundary predicts growth in proportion to eps (slope 1: the seeds within "
            f"eps of the boundary); extrapolated that way, {pct(expect, 3)} would flip at {a:.0e}, about "
            f"{expect * n_a:.1f} of {n_a:,} pairs, so zero or one flip below {b:.0e} is what smooth basins predict "
            "at this sample size, not evidence of a larger calm region.")


def figures(f: BasinsFinding):
    from ..figures_forensics import flip_figure

    return [Figure("chaos_flips.png", flip_figure(f.rates),
                   "Share of outcomes that flip against the size of the perturbation of the initial weights (log-log).")]


def section(f: BasinsFinding, v: Verdict, links) -> str:
    rates = f.rates
    shown = pd.DataFrame({
        "eps": [f"{e:.0e}" for e in rates["eps"]],
        "pairs": rates["n"],
        "flips": rates["flips"],
        "P(flip) [95% CI]": [f"{pct(r, 2)} {ci(lo, hi, 2)}" for r, lo, hi in
                             zip(rates["rate"], rates["ci_low"], rates["ci_high"])],
        "outcome label changed": [pct(x, 2) for x in rates["label_changed"]],
    })
    return "\n".join([
        f"The initial weights of seeds 0..{f.n_seeds - 1} of the posted cell were moved by eps along "
        f"{f.n_directions} random unit directions in the 37-dimensional parameter space (frozen legacy streams, "
        "`relustudy/chaos.py`) and retrained; a *flip* is a change between solved and not solved against the "
        "unperturbed run of the same seed. CIs are Clopper-Pearson 95 % over seed x direction pairs.\n",
        md_table(shown), "",
        f"**Answer.** {v.text}{_growth_text(f)}\n",
        links["chaos_flips.png"],
    ])


def answer(f: BasinsFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="basins", title="Smooth basins or chaos?", select=select, finding=finding, verdict=verdict,
              figures=figures, section=section, answer=answer)
