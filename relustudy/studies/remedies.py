"""What fixes the posted cell: remedies paired by seed on its failing seeds (the remedies experiment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.figures import scale as figures_scale
from relustudy.stats import proportions as stats
from relustudy.stats import paired_tests
from relustudy.studies.common import ALPHA, POSTED, _experiment, ci, md_table, need, pct, pval
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies import samples


GOOD_RESCUE = 0.5  # a remedy that rescues at least half of the failing seeds counts as a fix

REMEDIES = [  # label, change from the posted cell
    ("momentum", {"optimizer": "momentum"}),
    ("leaky_relu", {"activation": "leaky_relu"}),
    ("identity output", {"output": "identity"}),
    ("he init", {"init": "he"}),
    ("xavier init", {"init": "xavier"}),
    ("leaky_relu + identity output", {"activation": "leaky_relu", "output": "identity"}),
    ("identity output + he", {"output": "identity", "init": "he"}),
]


def remedy_results(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The posted cell's runs, and per remedy its paired rescue/break counts, rates with CIs and McNemar p.

    Returns
    -------
    (base runs, DataFrame with one row per remedy present: label, n, rescued, of, rate, ci_low, ci_high,
    broken, of_solved, b_rate, b_low, b_high, p, p_holm, fail_b); Skip if there is nothing to compare.
    """
    base_where = dict(POSTED)
    base = need(runs, base_where, "the posted cell in the remedies experiment")
    if int(analysis.is_failure(base).sum()) == 0:
        raise Skip("no failing seeds in the posted cell")
    res = []
    for label, change in REMEDIES:
        where = {**base_where, **change}
        if analysis.select(runs, where).empty:
            continue
        t = analysis.paired_table(runs, base_where, where)
        mc = paired_tests.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
        rescued = stats.proportion_ci(mc.n10, mc.n10 + mc.n11, alpha=ALPHA)
        broken = stats.proportion_ci(mc.n01, mc.n01 + mc.n00, alpha=ALPHA)
        res.append(
            dict(
                label=label,
                n=mc.n,
                sample=_sample_of(runs, where),
                rescued=mc.n10,
                of=mc.n10 + mc.n11,
                rate=rescued.rate,
                ci_low=rescued.ci_low,
                ci_high=rescued.ci_high,
                broken=mc.n01,
                of_solved=mc.n01 + mc.n00,
                b_rate=broken.rate,
                b_low=broken.ci_low,
                b_high=broken.ci_high,
                p=mc.pvalue,
                fail_b=mc.rate_b,
            )
        )
    if not res:
        raise Skip("the remedies experiment has none of the remedy cells")
    df = pd.DataFrame(res)
    df["p_holm"] = stats.holm(df["p"].to_numpy())
    return base, df


def _sample_of(runs: pd.DataFrame, where) -> str:
    """The dataset a cell's runs come from (column ``sample`` of :func:`select`'s table; "" without it)."""
    if "sample" not in runs.columns:
        return ""
    return str(analysis.select(runs, where)["sample"].iloc[0])


def select(ctx: Context) -> pd.DataFrame:
    _experiment(ctx, "remedies")  # the experiment designed for it (3,000 seeds); larger samples win (issue 25.2)
    table, found = samples.largest_frame(ctx, {"posted": {}, **dict(REMEDIES)})
    names = np.concatenate([[s.name] * s.n for s in found.values()])
    return table.assign(sample=names)


def finding(runs: pd.DataFrame) -> RemediesFinding:
    base, df = remedy_results(runs)
    return RemediesFinding(base, df)


@dataclass(frozen=True)
class RemediesFinding:
    base: pd.DataFrame  # the posted cell's runs in the experiment
    table: pd.DataFrame  # remedy_results: one row per remedy


def verdict(f: RemediesFinding) -> Verdict:
    """Is momentum, the posted answer's remedy, a fix? "fix" when it rescues at least
    :data:`GOOD_RESCUE` of the failing seeds; otherwise "weak", naming what does."""
    df = f.table.sort_values("rate", ascending=False, kind="stable")
    good = df[df["rate"] >= GOOD_RESCUE]
    fixes = "; ".join(f"{d.label} rescues {pct(d.rate)} and breaks {pct(d.b_rate)}" for d in good.itertuples()) or "none"
    mom = df[df["label"] == "momentum"]
    if mom.empty:
        return Verdict("no-momentum", f"Remedies rescuing at least {pct(GOOD_RESCUE, 0)} of the failing seeds: {fixes}.")
    m = mom.iloc[0]
    said = (f"momentum rescues {pct(m['rate'])} {ci(m['ci_low'], m['ci_high'])} of the {m['of']:,} failing seeds and breaks "
            f"{pct(m['b_rate'])} of the {m['of_solved']:,} solved ones")
    if m["rate"] >= GOOD_RESCUE:
        return Verdict("fix", f"Momentum is a fix: {said}.")
    return Verdict("weak", f"Momentum is no fix: {said}. Remedies rescuing at least {pct(GOOD_RESCUE, 0)}: {fixes}.")


def figures_(f: RemediesFinding):
    df = f.table
    plot = pd.concat([
        df.assign(measure="rescued: of the posted cell's failing seeds, now solved"),
        df.assign(measure="broken: of the posted cell's solved seeds, now failing", rate=df["b_rate"],
                  ci_low=df["b_low"], ci_high=df["b_high"]),
    ])
    return [Figure("remedies.png", figures_scale.grouped_shares(
        plot, y="label", hue="measure", col="measure", xlabel="share of seeds",
        title="Remedies on the posted cell, paired by seed (95% CI); two panels, two denominators"), "remedies")]


def section(f: RemediesFinding, v: Verdict, links) -> str:
    base, df = f.base, f.table
    n_fail = int(analysis.is_failure(base).sum())
    tbl = md_table(pd.DataFrame(
        [(d.label, f"{d.n:,} (`{d.sample}`)" if d.sample else f"{d.n:,}", f"{d.rescued:,} of {d.of:,}", f"{pct(d.rate)} {ci(d.ci_low, d.ci_high)}", f"{d.broken:,} of {d.of_solved:,}",
          pct(1 - d.fail_b), pval(d.p_holm)) for d in df.itertuples()],
        columns=["remedy (one change to the posted cell)", "paired seeds (sample)", "failing seeds rescued", "rescue rate [95% CI]",
                 "solved seeds broken", "solved with the remedy", "McNemar p (Holm over the remedies)"]))
    src = f" in `{base['sample'].iloc[0]}`" if "sample" in base.columns else ""
    return f"""The posted cell (ReLU, randn, as posted, plain SGD, lr 0.01) on {len(base):,} seeds{src} fails on {n_fail:,}
({pct(n_fail / len(base))}). Each remedy changes one thing (or two) and runs on the same seeds: each cell comes from
its largest sample, and each row is paired with the posted cell on the seeds both hold (its n). For each we count the
failing seeds it rescues (of the failing seeds) and the solved seeds it breaks (of the solved seeds): two different
denominators, shown in two panels. He and Xavier run with the posted update here, under which their zero biases stay
zero for ever (`b -= lr * b`): they are bias-free networks (the He/Xavier section compares them with the corrected
update too).

{tbl}

**Verdict:** {v.text}

{links["remedies.png"]}
"""


def answer(f: RemediesFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="remedies", title="Remedies on the failing seeds", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section, answer=answer)
