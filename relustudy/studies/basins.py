"""Smooth basins or chaos? The flip rate against the size of a perturbation of the init (issue 16, §2, §4).

Data: the perturbation experiment's tables (``data/chaos``, ``scripts/run_chaos.py``): every
(seed, k) pair gets its own random unit direction, its init moves by eps along it and it is
retrained; a flip is solved <-> not solved against the unperturbed run. The finding is the
flip rate per cell and eps with CIs clustered by seed, the power-law exponent where flips are
seen, the permanent share, and the continuous response of the pairs that keep their outcome.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.experiments.chaos import LONG_FACTOR
from relustudy.experiments.chaos_tables import EPS_SMALL, FIT_MAX_RATE, FRACTAL, NON_VANISHING, SMOOTH, chaos_verdict, flip_exponent, flip_rates, small_eps_flips
from relustudy.studies.common import ci, md_table, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.curves import flip_curves

EXPONENT_SEED = 20261129  # the seed bootstrap of the exponent


@dataclass(frozen=True)
class BasinsFinding:
    """rates : per (cell, eps) the rows of :func:`~relustudy.experiments.chaos_tables.flip_rates` plus ``cell``;
    fits : per cell the :class:`~relustudy.experiments.chaos_tables.FlipExponent` fields plus ``cell`` (the fit
    above EPS_SMALL where the small eps show a floor, else over every eps with flips);
    small : per cell the :class:`~relustudy.experiments.chaos_tables.SmallEpsFlips` fields plus ``cell``;
    counts : the stored counts (|Δ| quantiles per cell and eps); verdicts : cell -> (key, sentence)."""

    rates: pd.DataFrame
    fits: pd.DataFrame
    small: pd.DataFrame
    counts: pd.DataFrame
    verdicts: dict


def select(ctx: Context) -> dict:
    tables = ctx.extras.get("chaos")
    if tables is None:
        raise Skip("no perturbation data (data/chaos); run `python scripts/run_chaos.py`", experiment="chaos")
    return tables


def finding(tables: dict) -> BasinsFinding:
    """The flip rates, exponents (a seed bootstrap: ~6 s) and verdicts. A stored study
    (``stored=True``): ``make_report.py --store`` stores it, and the report (and
    init-predictability, which quotes it) reads it back."""
    rates, fits, smalls, verdicts = [], [], [], {}
    for k, cell in enumerate(dict.fromkeys(tables["counts"]["cell"].astype(str))):
        r = flip_rates(tables, cell)
        rise = flip_exponent(tables, cell, rng=np.random.default_rng([EXPONENT_SEED, k]), above=EPS_SMALL)
        small = small_eps_flips(tables, cell, rise)
        # Where the small eps flip more than the rise predicts, a single power law through both
        # would average a floor and a rise: the exponent is the rise's, the floor reported apart.
        fit = rise if small.floor else flip_exponent(tables, cell, rng=np.random.default_rng([EXPONENT_SEED, k]))
        rates.append(r.assign(cell=cell))
        fits.append({"cell": cell, **fit.__dict__})
        smalls.append({"cell": cell, **small.__dict__, "floor": small.floor})
        verdicts[cell] = chaos_verdict(r, fit, small)
    return BasinsFinding(pd.concat(rates, ignore_index=True), pd.DataFrame(fits), pd.DataFrame(smalls),
                         tables["counts"], verdicts)


def verdict(f: BasinsFinding) -> Verdict:
    """Per cell :func:`~relustudy.experiments.chaos_tables.chaos_verdict`; the key lists each cell's branch."""
    return Verdict("; ".join(f"{c}: {k}" for c, (k, _) in f.verdicts.items()),
                   " ".join(f"**{c}**: {s}." for c, (_, s) in f.verdicts.items()))


def figures(f: BasinsFinding):

    return [Figure("chaos_flips.png", flip_curves(f.rates, fits=f.fits, response=f.counts.assign(cell=f.counts["cell"].astype(str))),
                   "Share of (seed, direction) pairs whose outcome flips against eps (log-log, seed-clustered 95% CIs, "
                   "permanent flips, fitted power law), and the median change of final weights and MSE of the rest.")]


def _rates_table(rates: pd.DataFrame) -> str:
    rows = [(r["cell"], f"{r['eps']:.0e}", f"{int(r['pairs']):,}", f"{int(r['flips']):,}",
             f"{pct(r['rate'], 3)} {ci(r['ci_low'], r['ci_high'], 3)}", f"{r['deff']:.2f}",
             f"{int(r['permanent']):,}", f"{int(r['to_fail']):,}") for _, r in rates.iterrows()]
    return md_table(pd.DataFrame(rows, columns=["cell", "eps", "pairs", "flips", "P(flip) [95% CI, clustered]",
                                                "design effect", f"permanent (still flipped at {LONG_FACTOR}x epochs)",
                                                "solved -> failed"]))


def _response_table(counts: pd.DataFrame) -> str:
    rows = [(str(r["cell"]), f"{r['eps']:.0e}", f"{r['dweights_q50']:.2e} [{r['dweights_q10']:.1e}, {r['dweights_q90']:.1e}]",
             f"{r['dmse_rel_q50']:.2e} [{r['dmse_rel_q10']:.1e}, {r['dmse_rel_q90']:.1e}]") for _, r in counts.iterrows()]
    return md_table(pd.DataFrame(rows, columns=["cell", "eps", "|Δ final weights| median [10%, 90%]",
                                                "|Δ final MSE| / final MSE, runs that solve: median [10%, 90%]"]))


def _small_table(small: pd.DataFrame) -> str:
    rows = [(r["cell"], f"{int(r['pairs']):,}", f"{int(r['flips']):,}", f"{int(r['seeds']):,}", f"{int(r['multi_eps_seeds']):,}",
             f"{r['rate']:.1e} [{r['low']:.1e}, {r['high']:.1e}]",
             f"{r['predicted']:.1e}" if np.isfinite(r["predicted"]) else "no fit", "yes" if r["floor"] else "no")
            for _, r in small.iterrows()]
    e = f"{small['eps_small'].iloc[0]:.0e}"
    return md_table(pd.DataFrame(rows, columns=["cell", f"pairs at eps <= {e}", "flips", "seeds that flip",
                                                "of them at > 1 of these eps", "P(flip) [95% CI, clustered]",
                                                f"predicted by the power law above {e}", "floor"]))


def section(f: BasinsFinding, v: Verdict, links) -> str:
    c = f.counts
    return "\n".join([
        f"Each (seed, k) pair gets its own random unit direction in the 37-dimensional parameter space (the legacy "
        f"`RandomState([key, seed, k])` stream, `relustudy/experiments/chaos.py`); its initial weights move by eps along it "
        f"(eps from {c['eps'].min():.0e} to {c['eps'].max():.0e}, the same direction at every eps) and it is "
        f"retrained. A *flip* is a change between solved and not solved against the unperturbed run of the same "
        f"seed. CIs are clustered by seed (Korn-Graubard: Clopper-Pearson at the effective sample size; the design "
        f"effect says how much flips of one seed travel together). Flipped pairs were retrained with their "
        f"unperturbed run for {LONG_FACTOR}x the epochs: a flip is *permanent* if the outcomes still differ then.\n",
        _rates_table(f.rates), "",
        f"The exponent alpha of P(flip) ~ eps^alpha is fitted by Poisson maximum likelihood over the eps from the "
        f"smallest with a flip up to where P(flip) passes {FIT_MAX_RATE:.0%}, with a 95% CI from a bootstrap over "
        f"seeds. A smooth boundary between basins, crossed along a random ray, gives alpha = 1; the rules call "
        f"alpha's CI below {NON_VANISHING} \"not vanishing\" (chaotic), below {FRACTAL} \"rough\", above {SMOOTH} "
        f"\"smooth\".\n",
        f"**The small-eps end.** Does the rate keep falling as eps -> 0? The flips at eps <= {EPS_SMALL:.0e} pooled "
        f"(clusters: seeds, each with its pair at every such eps) against what the power law fitted above "
        f"{EPS_SMALL:.0e} predicts there; a *floor* when the CI's lower end lies above that prediction (then the "
        f"exponent above is the rise's, fitted over eps > {EPS_SMALL:.0e} only). A seed that flips at several of these "
        f"eps, along its one direction, sits on a knife edge: its outcome changes under perturbations far smaller "
        f"than the distance to any smooth boundary.\n",
        _small_table(f.small), "",
        links["chaos_flips.png"], "",
        "**The runs that keep their outcome** (pairs whose unperturbed run was trained here): how far their final "
        "weights move, and their final MSE relative to the unperturbed one among the runs that solve (dead and "
        "collapsed runs end at exactly mean(Y²) whatever eps). Proportional to eps means a smooth response.\n",
        _response_table(c), "",
        f"**Answer.** {v.text}",
    ])


def answer(f: BasinsFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="basins", title="Smooth basins or chaos?", select=select, finding=finding, verdict=verdict,
              figures=figures, section=section, answer=answer, stored=True,
              notes={"data": "data/chaos (scripts/run_chaos.py)"})
