"""Remedies where they matter (issue 17.4): every remedy under both update rules, with momentum at
equal lr and at the matched step and Adam beside SGD; and the posted bias rule as a remedy of
its own.

Data: the ``remedies_optim`` experiment (ReLU/leaky ReLU x output same/identity x randn/He/Xavier
x as_posted/corrected x {SGD 0.01, momentum 0.01, momentum 0.001 (matched step), Adam 0.001},
3000 seeds, paired by seed). Every comparison is paired and decomposed into born-dead seeds
and seeds alive at init (:func:`relustudy.analysis.optimizers.decomposition_table`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis.optimizers import decomposition_table
from relustudy.studies.common import diff_ci, md_table, pct, pval
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.optim import paired_diffs

ALPHA = 0.05  # a paired difference counts when its Holm-adjusted McNemar p is below this
# Optimizer settings (label -> factor values), the first is the reference of every comparison.
SETTINGS = {
    "sgd 0.01": {"optimizer": "sgd", "lr": 0.01},
    "momentum 0.01": {"optimizer": "momentum", "lr": 0.01},
    "momentum 0.001 (matched step)": {"optimizer": "momentum", "lr": 0.001},
    "adam 0.001": {"optimizer": "adam", "lr": 0.001},
}
STRUCTURE = ("activation", "output", "init")  # what a remedy changes besides the optimizer
POSTED_REMEDY = ("relu", "same", "randn")  # no remedy: the posted program's choices


@dataclass(frozen=True)
class RemediesFinding:
    rates: pd.DataFrame  # activation, output, init, update, setting, n, rate
    vs_sgd: pd.DataFrame  # decomposition rows: each setting vs sgd 0.01 in its (remedy, update); Holm over the table
    bias_rule: pd.DataFrame  # decomposition rows: corrected (A) vs as_posted (B) per (remedy, setting)
    n_seeds: int


def select(ctx: Context) -> pd.DataFrame:
    if "remedies_optim" not in ctx.experiments:
        raise Skip("no remedies_optim dataset; run `python scripts/run_grid.py --experiment remedies_optim`",
                   experiment="remedies_optim")
    return ctx.experiments["remedies_optim"][0]


def _settings(runs: pd.DataFrame) -> dict:
    have = set(zip(runs["optimizer"].astype(str), runs["lr"].astype(float)))
    return {k: v for k, v in SETTINGS.items() if (v["optimizer"], v["lr"]) in have}


def _remedy_label(a, o, i) -> str:
    return f"{a}, {o}, {i}"


def finding(runs: pd.DataFrame) -> RemediesFinding:
    settings = _settings(runs)
    remedies = runs[list(STRUCTURE)].astype(str).drop_duplicates().itertuples(index=False)
    remedies = sorted((tuple(r) for r in remedies), key=lambda r: (r != POSTED_REMEDY, r))  # no remedy first
    rates, vs, bias = [], {}, {}
    fail = runs["outcome"].astype(str) != "solved"
    for rem in remedies:
        where = dict(zip(STRUCTURE, rem))
        for upd in ("as_posted", "corrected"):
            for label, s in settings.items():
                m = analysis.mask(runs, {**where, "update": upd, **s})  # categorical codes: no str copies
                if m.any():
                    rates.append({**where, "update": upd, "setting": label, "n": int(m.sum()), "rate": float(fail[m].mean())})
                if label != "sgd 0.01":
                    vs[f"{_remedy_label(*rem)}|{upd}|{label}"] = ({**where, "update": upd, **settings["sgd 0.01"]},
                                                                   {**where, "update": upd, **s})
            for label, s in settings.items():
                bias[f"{_remedy_label(*rem)}|{label}"] = ({**where, "update": "corrected", **s},
                                                           {**where, "update": "as_posted", **s})
    vs_t = decomposition_table(runs, vs)
    vs_t[["remedy", "update", "setting"]] = vs_t["label"].str.split("|", expand=True)
    bias_t = decomposition_table(runs, bias)
    bias_t[["remedy", "setting"]] = bias_t["label"].str.split("|", expand=True)
    return RemediesFinding(pd.DataFrame(rates), vs_t, bias_t, int(runs["seed"].nunique()))


def _totals(dec: pd.DataFrame) -> pd.DataFrame:
    """One row per contrast: the total and the born-dead / died-in-training components."""
    t = dec.drop_duplicates("label").set_index("label")
    for comp, col in (("born dead", "born"), ("alive: died in training", "died")):
        c = dec[dec["component"] == comp].set_index("label")
        t[col], t[col + "_low"], t[col + "_high"] = c["contrib"], c["contrib_low"], c["contrib_high"]
    return t.reset_index()


def _sig(t: pd.DataFrame) -> pd.Series:
    s = t["p_holm"] < ALPHA
    return pd.Series(np.select([s & (t["diff"] < 0), s & (t["diff"] > 0)], ["better", "worse"], "same"), index=t.index)


def verdict(f: RemediesFinding) -> Verdict:
    """Is the posted bias rule a remedy of its own? Key from the posted cell with SGD 0.01:
    ``"bias rule helps"`` (as_posted fails significantly less than corrected, Holm p <
    :data:`ALPHA`), ``"bias rule hurts"`` (significantly more) or ``"no difference"``."""
    b = _totals(f.bias_rule)
    posted = b[b["label"] == f"{_remedy_label(*POSTED_REMEDY)}|sgd 0.01"].iloc[0]
    key = {"better": "bias rule helps", "worse": "bias rule hurts", "same": "no difference"}[
        _sig(b.loc[[posted.name]]).iloc[0]]
    j = _sig(b)
    text = (f"On the posted cell with SGD, the posted bias rule instead of the corrected update changes the failure "
            f"rate from {pct(posted['rate_a'])} to {pct(posted['rate_b'])} ({diff_ci(posted['diff'], posted['diff_low'], posted['diff_high'])}, "
            f"{pval(posted['p_holm'])} Holm), of which {diff_ci(posted['born'], posted['born_low'], posted['born_high'])} from seeds "
            f"born dead and {diff_ci(posted['died'], posted['died_low'], posted['died_high'])} from deaths in training: ")
    text += {"bias rule helps": "the posted bias decay is a remedy of its own.",
             "bias rule hurts": "the posted bias decay does harm here.",
             "no difference": "no detectable effect."}[key]
    text += (f" Over all {len(b)} remedy x optimizer cells it helps in {int((j == 'better').sum())}, hurts in "
             f"{int((j == 'worse').sum())} (Holm family: these {len(b)} tests).")
    v = _totals(f.vs_sgd)
    jv = _sig(v)
    text += (f" The counts below use one Holm family of all {len(v)} optimizer tests against SGD 0.01 (every remedy, "
             "update and setting); a smaller family per setting or update would count differently.")
    for setting in [s for s in SETTINGS if s != "sgd 0.01" and s in set(v["setting"])]:
        parts = []
        for upd in ("as_posted", "corrected"):
            m = (v["setting"] == setting) & (v["update"] == upd)
            parts.append(f"{upd}: better in {int((jv[m] == 'better').sum())}, worse in {int((jv[m] == 'worse').sum())} "
                         f"of {int(m.sum())} remedies")
        text += f" {setting} against SGD 0.01 — {'; '.join(parts)}."
    return Verdict(key, text)


def figures(f: RemediesFinding):
    import matplotlib.pyplot as plt

    v = _totals(f.vs_sgd)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.22 * len(v) / 2 + 1.5), sharex=True, sharey=True)
    for ax, upd in zip(axes, ("as_posted", "corrected")):
        sub = v[v["update"] == upd].assign(lab=lambda d: d["remedy"] + ": " + d["setting"])
        paired_diffs(sub, label="lab", hue="setting", ax=ax)
        ax.set_title(f"{upd}: B − SGD 0.01 (95% CI)", fontsize=9)
        ax.tick_params(axis="y", labelsize=6)
    # One set of row labels, on the left: the right panel's rows are the same remedies in the same order.
    axes[1].tick_params(axis="y", labelleft=False)
    fig.tight_layout()
    return [Figure("optim_remedies.png", fig, "Paired change in failure against SGD 0.01 for every remedy and "
                                              "optimizer setting, under both updates.")]


def section(f: RemediesFinding, v: Verdict, links) -> str:
    r = f.rates.assign(col=lambda d: d["update"] + ": " + d["setting"], remedy=lambda d: d[list(STRUCTURE)].agg(", ".join, axis=1))
    wide = r.pivot_table(index="remedy", columns="col", values="rate", aggfunc="first", sort=False)
    cols = [f"{u}: {s}" for u in ("as_posted", "corrected") for s in SETTINGS if f"{u}: {s}" in wide.columns]
    wide = wide[cols].map(pct).reset_index()
    b = _totals(f.bias_rule)
    bias_tab = md_table(pd.DataFrame({
        "remedy": b["remedy"], "optimizer": b["setting"],
        "fail corrected → as_posted": [f"{pct(x)} → {pct(y)}" for x, y in zip(b["rate_a"], b["rate_b"])],
        "Δ [95% CI]": [diff_ci(d, lo, hi) for d, lo, hi in zip(b["diff"], b["diff_low"], b["diff_high"])],
        "p (Holm)": [pval(p) for p in b["p_holm"]],
        "of which born dead": [diff_ci(d, lo, hi) for d, lo, hi in zip(b["born"], b["born_low"], b["born_high"])],
    }))
    return "\n".join([
        f"The remedies of the posted cell ({f.n_seeds:,} seeds, paired by seed) under both update rules, each with SGD "
        "and momentum at the posted lr 0.01, momentum at the matched step lr 0.001 = 0.01 (1 − 0.9), and Adam at its "
        "default lr 0.001 (what a practitioner reaches for). Failure rates:\n",
        md_table(wide), "",
        links.get("optim_remedies.png", ""), "",
        "The posted bias rule as a remedy: the same cell with the corrected update (A) against the posted update (B), "
        "paired by seed; a negative Δ means the posted rule fails less (Holm family: the rows of this table).\n",
        bias_tab, "",
        f"**Verdict.** {v.text}",
    ])


def answer(f: RemediesFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="optimizer-remedies", title="Remedies under both updates: momentum at the matched step, Adam, "
                                                "and the posted bias rule", select=select, finding=finding,
              verdict=verdict, figures=figures, section=section, answer=answer, stored=True)
