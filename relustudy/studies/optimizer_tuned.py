"""Each optimizer at its own best learning rate (issue 17.2): does the posted answer's remedy,
momentum, beat plain SGD when both are tuned, and does Adam?

Data: the ``tuning`` experiment (SGD, momentum, Adam x a half-decade lr grid x update x init
gain, 2000 seeds); without it, the ``phase`` map's SGD and momentum at the same gains (1000
seeds), and the section says which. Per (update, gain, optimizer) the lr with the fewest
failures on the even seeds is chosen (ties: the smaller lr), then the tuned optimizers are
compared on the odd seeds, paired by seed; each difference is decomposed into born-dead
seeds revived or not and seeds alive at init that die in training or not. The matched-step
curves (momentum at lr (1 - beta) against SGD at lr, all seeds) sit beside them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.core.optimizers import MOMENTUM
from relustudy.analysis.optimizers import TunedTables, matched_step_table, tuned_table
from relustudy.studies.common import ci, diff_ci, md_table, num, pct, pp, pval
from relustudy.analysis.tuning import TIE_RULE
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.optim import matched_step
from relustudy.figures.optim import paired_diffs
from relustudy.figures.optim import tuned_curves_grid

GAINS = (0.25, 0.5, 1.0, 2.0)  # the init gains the issue names
ALPHA = 0.05  # a tuned difference counts when its Holm-adjusted McNemar p is below this
MECHANISM_SHARE = 0.5  # "by reviving born-dead outputs" when that component is >= this share of the gain


@dataclass(frozen=True)
class TunedFinding:
    source: str  # "tuning" or "phase" (the fallback without Adam)
    tables: TunedTables
    matched: pd.DataFrame  # matched_step_table over every seed
    n_seeds: int
    lrs: tuple[float, ...]

    @property
    def optimizers(self) -> list[str]:
        return list(dict.fromkeys(self.tables.choices["optimizer"]))


def select(ctx: Context) -> tuple[str, pd.DataFrame]:
    for name in ("tuning", "phase"):
        if name in ctx.experiments:
            runs = ctx.experiments[name][0]
            runs = runs[runs["init_gain"].isin(GAINS)]
            if {"sgd", "momentum"} <= set(runs["optimizer"].astype(str)):
                return name, runs
    raise Skip("no tuning (or phase) dataset; run `python scripts/run_grid.py --experiment tuning`", experiment="tuning")


def finding(data: tuple[str, pd.DataFrame]) -> TunedFinding:
    source, runs = data
    return TunedFinding(source, tuned_table(runs), matched_step_table(runs, MOMENTUM), int(runs["seed"].nunique()),
                        tuple(sorted(runs["lr"].astype(float).unique())))


def _judge(comp: pd.DataFrame) -> pd.Series:
    """Per comparison row: "better" (B fails significantly less), "worse" or "same"."""
    sig = comp["p_holm"] < ALPHA
    return pd.Series(np.select([sig & (comp["diff"] < 0), sig & (comp["diff"] > 0)], ["better", "worse"], "same"),
                     index=comp.index)


def _strata(rows: pd.DataFrame) -> str:
    return ", ".join(f"{u} gain {g:g}" for u, g in zip(rows["update"], rows["init_gain"])) or "none"


def born_dead_share(f: TunedFinding, a: str, b: str, where: pd.Series | None = None,
                    component: str = "born dead") -> float:
    """Share of the summed change (b vs a, over the strata in ``where``) carried by one
    decomposition component (default: the born-dead seeds)."""
    dec = f.tables.decomposition
    dec = dec[(dec["a"] == a) & (dec["b"] == b)]
    comp = f.tables.comparisons
    comp = comp[(comp["a"] == a) & (comp["b"] == b)]
    if where is not None:
        keys = set(zip(comp.loc[where, "update"], comp.loc[where, "init_gain"]))
        dec = dec[[k in keys for k in zip(dec["update"], dec["init_gain"])]]
        comp = comp[where]
    total = comp["diff"].sum()
    born = dec.loc[dec["component"] == component, "contrib"].sum()
    return float(born / total) if total != 0 else float("nan")


def mean_change(f: TunedFinding, a: str, b: str, where: pd.Series, component: str) -> tuple[float, float]:
    """(component's, total) change b vs a averaged over the strata in ``where`` (rates)."""
    comp = f.tables.comparisons
    comp = comp[(comp["a"] == a) & (comp["b"] == b)][where]
    dec = f.tables.decomposition
    keys = set(zip(comp["update"], comp["init_gain"]))
    dec = dec[(dec["a"] == a) & (dec["b"] == b) & (dec["component"] == component)]
    dec = dec[[k in keys for k in zip(dec["update"], dec["init_gain"])]]
    return float(dec["contrib"].mean()), float(comp["diff"].mean())


def per_stratum(f: TunedFinding, a: str, b: str, where: pd.Series, component: str) -> list[tuple[str, float, float]]:
    """[(stratum, component's change, total change)] b vs a for the strata in ``where``."""
    comp = f.tables.comparisons
    comp = comp[(comp["a"] == a) & (comp["b"] == b)][where]
    dec = f.tables.decomposition
    dec = dec[(dec["a"] == a) & (dec["b"] == b) & (dec["component"] == component)].set_index(["update", "init_gain"])
    return [(f"{u} gain {g:g}", float(dec.loc[(u, g), "contrib"]), float(d))
            for u, g, d in zip(comp["update"], comp["init_gain"], comp["diff"]) if (u, g) in dec.index]


def _mechanism(rows: list[tuple[str, float, float]], what: str) -> str:
    """In how many strata one component carries at least MECHANISM_SHARE of the change, with each stratum's numbers."""
    carried = sum(1 for _, part, total in rows if total != 0 and part / total >= MECHANISM_SHARE)
    each = "; ".join(f"{s} {pp(part)} of {pp(total)}" for s, part, total in rows)
    return (f"{what} carry at least {pct(MECHANISM_SHARE, 0)} of the change in {carried} of these {len(rows)} strata "
            f"({each})")


def verdict(f: TunedFinding) -> Verdict:
    """Does tuned momentum beat tuned SGD on held-out seeds, in which strata, by which mechanism?

    * ``holds``: momentum fails significantly less (Holm p < :data:`ALPHA`) in every stratum;
    * ``fails``: in none;
    * ``conditional``: in some. The mechanism names the born-dead component when it carries
      at least :data:`MECHANISM_SHARE` of momentum's improvement where it improves.
    """
    comp = f.tables.comparisons
    mom = comp[(comp["a"] == "sgd") & (comp["b"] == "momentum")]
    j = _judge(mom)
    better, worse, same = (mom[j == k] for k in ("better", "worse", "same"))
    if len(better) == len(mom):
        key = "holds"
    elif better.empty:
        key = "fails"
    else:
        key = "conditional"
    text = (f"Tuned momentum against tuned SGD on held-out seeds: fails less under {_strata(better)}; "
            f"more under {_strata(worse)}; no detectable difference under {_strata(same)}.")
    if not better.empty:
        share = born_dead_share(f, "sgd", "momentum", j == "better")
        how = ("mostly by reviving born-dead outputs"
               if share >= MECHANISM_SHARE else "mostly by fewer deaths of outputs alive at init")
        part, total = mean_change(f, "sgd", "momentum", j == "better", "born dead")
        text += (f" Where it helps, it helps {how} on average: over those strata {pp(part)} of its {pp(total)} "
                 "come from seeds born dead; per stratum, "
                 + _mechanism(per_stratum(f, "sgd", "momentum", j == "better", "born dead"), "born-dead seeds") + ".")
    if not worse.empty:
        share = born_dead_share(f, "sgd", "momentum", j == "worse", "alive: died in training")
        how = ("mostly by killing outputs alive at init" if share >= MECHANISM_SHARE
               else "mostly otherwise than by deaths in training")
        part, total = mean_change(f, "sgd", "momentum", j == "worse", "alive: died in training")
        text += (f" Where it hurts, it hurts {how} on average: over those strata deaths in training of outputs "
                 f"alive at init add {pp(part)} to its {pp(total)}; per stratum, "
                 + _mechanism(per_stratum(f, "sgd", "momentum", j == "worse", "alive: died in training"),
                              "deaths in training") + ".")
    if "adam" in f.optimizers:
        ad = comp[(comp["a"] == "sgd") & (comp["b"] == "adam")]
        ja = _judge(ad)
        text += (f" Tuned Adam against tuned SGD: fails less under {_strata(ad[ja == 'better'])}; more under "
                 f"{_strata(ad[ja == 'worse'])}.")
    lead = {"holds": "The posted answer's remedy holds: ", "fails": "The posted answer's remedy does not hold: ",
            "conditional": "The posted answer's remedy holds only in part: "}[key]
    return Verdict(key, lead + text)


def figures(f: TunedFinding):
    import matplotlib.pyplot as plt

    comp = f.tables.comparisons.assign(
        label=lambda d: [f"{u}, gain {g:g}: {a} → {b}" for u, g, a, b in zip(d["update"], d["init_gain"], d["a"], d["b"])])
    ax = paired_diffs(comp, hue="b")
    ax.set_title("Tuned B − tuned A, held-out seeds (95% CI)", fontsize=9)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax2, (upd, sub) in zip(axes, f.matched.groupby("update", sort=False)):
        matched_step(sub, ax=ax2, title=f"{upd}: momentum at lr (1 − β) vs sgd at lr")
    axes[0].legend(fontsize=6, ncol=2)
    return [
        Figure("optim_tuned_curves.png", tuned_curves_grid(f.tables.curves),
               "Held-out failure rate against lr per optimizer, update and init gain; the tuned lr filled."),
        Figure("optim_tuned_diffs.png", ax, "Paired differences in failure rate between tuned optimizers."),
        Figure("optim_matched_step.png", fig, "Failure against the effective step: SGD at lr and momentum at lr (1 − β)."),
    ]


def _choice_table(f: TunedFinding) -> str:
    c = f.tables.choices
    return md_table(pd.DataFrame({
        "update": c["update"], "gain": c["init_gain"].map(lambda g: f"{g:g}"), "optimizer": c["optimizer"],
        "tuned lr": [num(v, 4) + (" (edge)" if e else "") + (f" ({t} tied)" if t > 1 else "")
                     for v, e, t in zip(c["lr"], c["edge"], c["n_tied"])],
        "fail, tuning seeds": [pct(v) for v in c["tune_rate"]],
        "fail, held-out [95% CI]": [f"{pct(r)} {ci(lo, hi)}" for r, lo, hi in zip(c["rate"], c["ci_low"], c["ci_high"])],
    }))


def _comparison_table(f: TunedFinding) -> str:
    comp, dec = f.tables.comparisons, f.tables.decomposition.set_index(["update", "init_gain", "a", "b", "component"])
    rows = []
    for r in comp.itertuples(index=False):
        k = (r.update, r.init_gain, r.a, r.b)
        born, died = (dec.loc[(*k, c)] for c in ("born dead", "alive: died in training"))
        rows.append((r.update, f"{r.init_gain:g}", f"{r.a} {num(r.lr_a, 3)} → {r.b} {num(r.lr_b, 3)}",
                     f"{pct(r.rate_a)} → {pct(r.rate_b)}", diff_ci(r.diff, r.diff_low, r.diff_high),
                     f"{r.n10:,} / {r.n01:,}", pval(r.p_holm),
                     diff_ci(born["contrib"], born["contrib_low"], born["contrib_high"]),
                     diff_ci(died["contrib"], died["contrib_low"], died["contrib_high"])))
    return md_table(pd.DataFrame(rows, columns=[
        "update", "gain", "A (tuned lr) → B (tuned lr)", "fail A → B", "Δ fail [95% CI]", "rescued / broken by B",
        "McNemar p (Holm)", "of which born dead", "of which died in training"]))


def section(f: TunedFinding, v: Verdict, links) -> str:
    src = ("the `tuning` experiment" if f.source == "tuning" else
           "the `phase` map's SGD and momentum (the `tuning` experiment, with Adam, is not in this dataset)")
    n_half = f.n_seeds // 2
    return "\n".join([
        f"Is momentum a remedy once each optimizer runs at its own best learning rate? Data: {src}, ReLU 2-4-4-1, "
        f"randn init, {f.n_seeds:,} seeds, lr {num(f.lrs[0], 3)}..{num(f.lrs[-1], 3)} ({len(f.lrs)} values). Per "
        f"update, init gain and optimizer the lr with the fewest failures on the ~{n_half:,} even seeds is chosen "
        f"(ties: the {TIE_RULE}); the tuned optimizers are then compared on the ~{n_half:,} odd seeds, paired by seed "
        "(exact McNemar, Holm over the whole table; Agresti–Min 95% CIs per comparison, not adjusted for the family: a "
        f"CI that excludes 0 beside a Holm p above {ALPHA:g} is that difference). Selection and evaluation share no seed, so the "
        "held-out rate carries no selection optimism; the tuning-half rate beside it shows how much there was. "
        "\"edge\" marks a best lr on the grid's boundary (the optimum may lie beyond it).\n",
        _choice_table(f), "",
        "Each difference splits exactly into seeds born dead (revived by B or not) and seeds alive at init that die "
        "in training under one optimizer and not the other (the rest fail alive: slow, collapsed, diverged).\n",
        _comparison_table(f), "",
        f"**Verdict.** {v.text}\n",
        links.get("optim_tuned_curves.png", ""), "", links.get("optim_tuned_diffs.png", ""), "",
        f"Matched step (all {f.n_seeds:,} seeds, no tuning): momentum at lr (1 − {MOMENTUM}) moves like SGD at lr once its "
        "velocity builds up; the curves compare them at equal effective step.\n",
        links.get("optim_matched_step.png", ""),
    ])


def answer(f: TunedFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="optimizer-tuned", title="Each optimizer at its own best learning rate", select=select,
              finding=finding, verdict=verdict, figures=figures, section=section, answer=answer, stored=True)
