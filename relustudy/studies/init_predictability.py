"""How simple is the map from init to outcome? The learning curve of init-only prediction (issue 16, §1, §4).

Training is deterministic, so every run's outcome is a function of its initial weights: the
question is not *whether* the init decides (it does, by construction) but how simple that
function is. Data: the stored tables of ``scripts/run_init_curve.py`` (``data/init_curve``:
gradient boosting on the init features of data/million's seeds, trained on 1,000 ... 900,000
seeds, scored on the fixed held-out seeds 0..99,999), and, where present, the perturbation
experiment's flips (``data/chaos``) to mark the held-out seeds that lie near a flip boundary.
The report only reads and formats them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.experiments import init_curve as ic
from relustudy.stats.intervals import PooledResult, pooled_ci
from relustudy.studies.common import md_table, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.curves import learning_curves
from relustudy.studies import basins

NEAR_FLIP_EPS = 1e-2  # a held-out seed is "near a flip boundary" when one of its perturbations up to this eps flips
CHAOS_CELL = {"posted": "posted"}  # init-curve cell -> the perturbation experiment's cell with the same factors


@dataclass(frozen=True)
class InitMapFinding:
    """curve, fit : the stored tables; verdicts : cell -> :class:`~relustudy.experiments.init_curve.InitVerdict`;
    mistakes : :func:`~relustudy.experiments.init_curve.mistake_table` of the largest models (with near-flip
    columns for the cells the perturbation experiment covers)."""

    curve: pd.DataFrame
    fit: pd.DataFrame
    verdicts: dict
    mistakes: pd.DataFrame
    chaos: dict  # cell -> (key, sentence) of the perturbation experiment's rule, where it covers the cell


def select(ctx: Context):
    tables = ctx.extras.get("init_curve")
    if tables is None:
        raise Skip("no learning-curve data (data/init_curve); run `python scripts/run_init_curve.py`",
                   experiment="init_curve")
    chaos = ctx.extras.get("chaos")
    flips = {}
    if chaos is not None:

        found = ctx.finding(basins.STUDY)  # the same rule and numbers as the basins section
        flips = {ours: found.verdicts[theirs] for ours, theirs in CHAOS_CELL.items() if theirs in found.verdicts}
    return tables, chaos, flips


def finding(data) -> InitMapFinding:
    tables, chaos, flips = data
    curve, fit = tables["curve"], tables["fit"].set_index("cell")
    verdicts = {c: ic.init_verdict(curve[curve["cell"] == c], fit.loc[c]) for c in fit.index}
    near = None
    flips = {c: v for c, v in flips.items() if c in verdicts}
    if chaos is not None:
        f = chaos["flips"]
        f = f[f["eps"] <= NEAR_FLIP_EPS]
        near = {ours: set(f.loc[f["cell"] == theirs, "seed"].astype(int)) for ours, theirs in CHAOS_CELL.items()
                if (chaos["counts"]["cell"] == theirs).any()}
    return InitMapFinding(curve, tables["fit"], verdicts, ic.mistake_table(tables["scores"], near), flips)


def verdict(f: InitMapFinding) -> Verdict:
    """Per cell, the rules of :func:`relustudy.experiments.init_curve.init_verdict` and, where the perturbation experiment
    covers the cell, :func:`relustudy.experiments.chaos_tables.chaos_verdict`; the key lists each cell's
    simple/curve[/chaos] branches."""
    key = "; ".join(f"{c}: {v.simple}/{v.curve}" + (f"/{f.chaos[c][0]}" if c in f.chaos else "")
                    for c, v in f.verdicts.items())
    text = " ".join(f"**{c}**: {v.sentence}" + (f"; under perturbations of the init, {f.chaos[c][1]}" if c in f.chaos
                                                else "") + "." for c, v in f.verdicts.items())
    return Verdict(key, text)


def figures(f: InitMapFinding):

    return [Figure("init_learning_curve.png",
                   learning_curves(f.curve, f.fit, model=ic.MODEL, baselines=(ic.DEAD, ic.MARGIN)),
                   "Held-out AUROC of init-only failure prediction against the number of training seeds, per cell, "
                   "with the fitted saturating curve, its ceiling and the single-feature baselines.")]


Z95 = 1.959963984540054  # the normal quantile of the stored DeLong 95% CIs (estimate +- Z95 * SE)


def _pooled(g: pd.DataFrame, est: str, low: str, high: str) -> PooledResult:
    """One size's training draws pooled (Rubin's rules): each draw's standard error from its stored
    symmetric 95% CI, so the CI holds both the held-out seeds' and the training draws' spread."""
    se = (g[high].to_numpy(float) - g[low].to_numpy(float)) / (2 * Z95)
    return pooled_ci(g[est].to_numpy(float), se)


def _curve_table(curve: pd.DataFrame) -> str:
    m = curve[curve["predictor"] == ic.MODEL]
    rows = []
    for (cell, n), g in m.groupby(["cell", "n_train"], sort=False):
        g = g.sort_values("rep")
        auc, vs = _pooled(g, "auroc", "low", "high"), _pooled(g, "minus_margin", "minus_margin_low", "minus_margin_high")
        spread = f" (mean of {len(g)} draws: {', '.join(f'{x:.3f}' for x in g['auroc'])})" if len(g) > 1 else ""
        rows.append((cell, f"{int(n):,}", f"{auc.estimate:.3f} [{auc.ci_low:.3f}, {auc.ci_high:.3f}]{spread}",
                     f"{vs.estimate:+.3f} [{vs.ci_low:+.3f}, {vs.ci_high:+.3f}]",
                     ", ".join(str(int(x)) for x in g["n_iter"]) + (" (cap)" if g["hit_cap"].any() else ""),
                     f"{g['seconds'].sum():.0f}"))
    base = curve[curve["n_train"] == 0]
    for _, b in base.iterrows():
        rows.append((b["cell"], "no training", f"{b['predictor']}: {b['auroc']:.3f} [{b['low']:.3f}, {b['high']:.3f}]",
                     "", "", ""))
    return md_table(pd.DataFrame(rows, columns=["cell", "training seeds", "held-out AUROC [95% CI]",
                                                "minus output margin [95% CI]", "iterations", "fit seconds (all draws, one thread)"]))


def _fit_table(fit: pd.DataFrame) -> str:
    rows = [(r["cell"], f"{int(r['n_max']):,}", f"{r['auroc_max']:.3f}",
             f"{r['a']:.3f} [{r['a_low']:.3f}, {r['a_high']:.3f}]" if np.isfinite(r["a"]) else "n/a",
             f"{r['c']:.2f} [{r['c_low']:.2f}, {r['c_high']:.2f}]" if np.isfinite(r["c"]) else "n/a",
             f"{int(r['n_boot'])}") for _, r in fit.iterrows()]
    return md_table(pd.DataFrame(rows, columns=["cell", "largest training set", "its AUROC (mean of draws)",
                                                "fitted ceiling a [95% CI]", "exponent c [95% CI]", "bootstrap fits"]))


def _mistake_table(m: pd.DataFrame) -> str:
    cols = ["cell", "kind", "held-out runs", "confident mistakes", "share mistaken"]
    rows = []
    for _, r in m.iterrows():
        row = [r["cell"], r["kind"], f"{r['held_out']:,}", f"{r['mistakes']:,}", pct(r["rate"], 2)]
        if "near_flip" in m.columns and pd.notna(r.get("near_flip")):
            row.append(f"{int(r['mistakes_near_flip']):,} of {int(r['mistakes']):,} (all runs of this kind: "
                       f"{int(r['near_flip']):,} of {r['held_out']:,})")
        elif "near_flip" in m.columns:
            row.append("not perturbed")
        rows.append(row)
    if "near_flip" in m.columns:
        cols.append(f"near a flip boundary (flips at eps <= {NEAR_FLIP_EPS:g})")
    return md_table(pd.DataFrame(rows, columns=cols))


def section(f: InitMapFinding, v: Verdict, links) -> str:
    held = int(f.curve["n_test"].iloc[0])
    return "\n".join([
        "Training is deterministic: a run's outcome is a function of its initial weights, so whether the init "
        "decides is not in question. What the data can say is how *simple* that function is: how much a single "
        "property of the init tells, and how much a classifier that sees only the initial weights recovers as it "
        "learns from more seeds.\n",
        f"Every seed's initial weights are recomputed from its seed (data/million) and described by the features of "
        f"`relustudy/experiments/init_predict.py` (the 37 raw weights and biases, the output's pre-activation on each input, each "
        f"unit's largest and smallest pre-activation, dead units, initial MSE). Gradient boosting "
        f"(HistGradientBoostingClassifier: learning rate {ic.LEARNING_RATE}, at most {ic.MAX_LEAF_NODES} leaves, early "
        f"stopping on {ic.VALIDATION_FRACTION:.0%} of the training seeds after {ic.N_ITER_NO_CHANGE} iterations "
        f"without gain, capped at {ic.MAX_ITER} iterations) is trained on random subsets of the other seeds "
        f"({held:,} and up) and scored on the fixed held-out seeds 0..{held - 1:,}; sizes up to "
        f"{ic.REPEAT_LIMIT:,} are drawn {ic.REPEATS_SMALL} times. AUROC CIs: DeLong over the held-out seeds; where a "
        f"size was drawn more than once, the table gives the mean of its draws and pools their CIs by Rubin's rules (the "
        f"variance within a draw plus the variance between draws, t interval), so the CI holds the spread between "
        f"training draws too; the difference to the output margin is paired on the same seeds and pooled the same way.\n",
        _curve_table(f.curve), "",
        f"A saturating curve AUROC(n) = a − b (n/1000)^−c is fitted through the mean AUROC per size; its ceiling a is "
        f"bootstrapped by resampling the held-out seeds (one weighting for all models, so the points keep their "
        f"correlation) and the training draws ({ic.N_BOOT} replicates).\n",
        _fit_table(f.fit), "",
        links["init_learning_curve.png"], "",
        f"**Where the largest model errs.** Confident mistakes: P(fail) ≥ {ic.CONFIDENT} for a solved seed or ≤ "
        f"{1 - ic.CONFIDENT:.1f} for a failed one, by what happened to the run.\n",
        _mistake_table(f.mistakes), "",
        f"**Answer.** {v.text}",
    ])


def answer(f: InitMapFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="init-predictability", title="How simple is the map from init to outcome?", select=select, finding=finding,
              verdict=verdict, figures=figures, section=section, answer=answer,
              notes={"data": "data/init_curve (scripts/run_init_curve.py); data/chaos for the flip boundary"})
