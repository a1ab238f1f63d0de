"""What the posted code's two quirks do (the bias decay `b -= lr * b`, and weights updated
before the gradient passed down is computed): the corrected update against the posted one,
paired by seed, led by the mechanism behind the difference."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.stats import paired_tests
from relustudy.analysis import vocabulary as vocab
from relustudy.studies.common import ALPHA, POSTED, _stratified, diff_ci, md_table, need, pct, pval, wilcoxon_text
from relustudy.studies.common import Context
from relustudy.studies.base import Study, Verdict
from relustudy.studies import samples

REVIVAL_SHARE = 0.5  # at least this share of the corrected update's net extra failures born dead: the bias decay's revivals explain them


@dataclass(frozen=True)
class QuirksFinding:
    mc: paired_tests.McNemarResult  # posted (a) vs corrected (b) on the posted cell, paired by seed
    wx: paired_tests.WilcoxonResult
    broken_born_dead: int  # seeds solved as posted, failed corrected (n01), that are born dead
    rescued_born_dead: int  # seeds failed as posted, solved corrected (n10), that are born dead
    died: dict  # update -> deaths in training (output alive at init, dead at the end), at-risk Rate
    died_ever: dict | None  # variant -> deaths in training ever (forensics), or None without it
    by_activation: pd.DataFrame  # per activation: strata, corrected better / worse (Holm), mean fail rates
    sample: str = "the screen"  # where mc and the counts come from: "`million` (posted) and `million` (corrected)"
    replay_n: dict | None = None  # variant -> seeds replayed by the forensics (the denominators of died_ever)


def select(ctx: Context) -> dict:
    need(ctx.runs, POSTED, "the posted ReLU cell")
    need(ctx.runs, {**POSTED, "update": "corrected"}, "the corrected update on the posted cell")
    # The verdict's pair: each cell's largest sample (the million's when loaded; issue 25.2).
    a, b = samples.largest(ctx, {}), samples.largest(ctx, {"update": "corrected"})
    fam = _stratified(ctx, "update", "as_posted", "corrected", {"hidden": "4-4"}, "as_posted vs corrected")
    fo = ctx.extras.get("forensics")
    return {"a": a.runs, "b": b.runs, "family": fam, "forensics": fo[0] if fo is not None else None,
            "sample": f"`{a.name}` (as posted) and `{b.name}` (corrected)"}


def finding(d: dict) -> QuirksFinding:
    a, b = d["a"].set_index("seed").sort_index(), d["b"].set_index("seed").sort_index()
    seeds = a.index.intersection(b.index)
    a, b = a.loc[seeds], b.loc[seeds]
    fa, fb = vocab.failed(a), vocab.failed(b)
    born = vocab.born_dead(a)  # the same draws: born dead in one iff in the other
    mc = paired_tests.mcnemar_exact(fa, fb)
    wx = paired_tests.wilcoxon_log_mse(a["final_mse"].to_numpy(float), b["final_mse"].to_numpy(float))
    alive = {u: ~vocab.output_born_dead(x) & vocab.relu_family(x) for u, x in (("as_posted", a), ("corrected", b))}
    died = {u: vocab.hazard(vocab.output_died_in_training(x), alive[u]) for u, x in (("as_posted", a), ("corrected", b))}
    died_ever = replay_n = None
    fo = d["forensics"]
    if fo is not None:
        died_ever = {v: int((g["output_death_epoch"] > 0).sum()) for v, g in fo.groupby("variant", observed=True)}
        replay_n = {v: int(len(g)) for v, g in fo.groupby("variant", observed=True)}
    rows = []
    for act, g in d["family"].groupby("activation", observed=True):
        rows.append(dict(activation=act, strata=len(g),
                         better=int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] < 0)).sum()),
                         worse=int(((g["p_fail_holm"] < ALPHA) & (g["rate_diff"] > 0)).sum()),
                         rate_a=g["rate_a"].mean(), rate_b=g["rate_b"].mean()))
    return QuirksFinding(mc, wx, int((~fa & fb & born).sum()), int((fa & ~fb & born).sum()), died, died_ever,
                         pd.DataFrame(rows), d.get("sample", "the screen"), replay_n)


def verdict(f: QuirksFinding) -> Verdict:
    """Why the corrected update fails more (or less): by the share of its extra failures that
    are born-dead seeds (:data:`REVIVAL_SHARE`)."""
    mc = f.mc
    extra = mc.n01 - mc.n10  # the net extra failures of the corrected update
    net_born = f.broken_born_dead - f.rescued_born_dead
    share = net_born / extra if extra > 0 else np.nan
    change = (f"fails {pct(mc.rate_b)} of the seeds against {pct(mc.rate_a)} as posted "
              f"({diff_ci(mc.diff, mc.diff_low, mc.diff_high)}, McNemar {pval(mc.pvalue)}; n = {mc.n:,} paired seeds "
              f"from {f.sample})")
    counts = (f"of its {extra:,} extra failures ({mc.n01:,} seeds broken − {mc.n10:,} rescued), {net_born:,} "
              f"({pct(share)}) are born-dead seeds")
    if extra > 0 and share >= REVIVAL_SHARE:
        return Verdict("revival", (
            f"The corrected update {change}, and the mechanism is the posted bias decay: {counts}, whose dead output the "
            "posted `b -= lr * b` revives and the corrected update (a zero gradient) cannot."))
    return Verdict("other", f"The corrected update {change}; {counts}, so the posted bias decay's revivals are not the "
                            "main difference.")


DEATHS_SHARE = 0.25  # extra deaths in training under the corrected update below this share of its extra failures: they do not explain them


def deaths_text(f: QuirksFinding) -> str:
    """Whether deaths in training explain the corrected update's extra failures, as shares of seeds
    (the replay and the paired grid are different samples): its extra deaths per replayed seed
    (forensics, ever dead) against :data:`DEATHS_SHARE` x its net extra failures per paired seed."""
    extra = (f.mc.n01 - f.mc.n10) / f.mc.n if f.mc.n else np.nan
    posted, corrected = "as posted", "corrected update"
    n = f.replay_n or {}
    if not n.get(posted) or not n.get(corrected):
        return "the replay has no seeds of both updates to compare"
    more = f.died_ever.get(corrected, 0) / n[corrected] - f.died_ever.get(posted, 0) / n[posted]
    said = (f"{100 * more:+.1f} percentage points of the replay's {n[corrected]:,} seeds die in training under the "
            f"corrected update beyond the posted one, against its net extra failures of {100 * extra:+.1f} points of "
            f"the {f.mc.n:,} paired seeds (threshold: {pct(DEATHS_SHARE, 0)} of them, {100 * DEATHS_SHARE * extra:.1f})")
    if not extra > 0:
        return f"the corrected update has no net extra failures to explain ({said})"
    if more < DEATHS_SHARE * extra:
        return f"deaths in training do not explain the difference ({said})"
    return f"deaths in training could explain {min(more / extra, 1):.0%} of the difference at most ({said})"


def section(f: QuirksFinding, v: Verdict, links) -> str:
    mc, wx = f.mc, f.wx
    ever = ""
    if f.died_ever:
        ever = (" Replayed update by update (the forensics below), the outputs that die during training at some epoch "
                "are " + ", ".join(f"{n:,} of {f.replay_n[k]:,} ({k})" for k, n in f.died_ever.items()
                                   if k in ("as posted", "corrected update"))
                + f" replayed seeds: {deaths_text(f)}.")
    tbl = md_table(pd.DataFrame(
        [(d.activation, d.strata, d.better, d.worse, pct(d.rate_a), pct(d.rate_b)) for d in f.by_activation.itertuples()],
        columns=["activation", "strata", "corrected fails less (Holm p<0.05)", "corrected fails more",
                 "mean fail, as posted", "mean fail, corrected"]))
    return f"""**{v.text}**

The posted `Dense.backward` decays the biases (`b -= lr * b`, so they never see the error) and updates the weights
before computing the gradient it passes down. Fixing both (`corrected`) on the posted cell, paired by seed
({mc.n:,} seeds from {f.sample}): rescued
{mc.n10:,} ({f.rescued_born_dead:,} of them born dead), broken {mc.n01:,} ({f.broken_born_dead:,} born dead); {wilcoxon_text(wx)}.
Outputs alive at init that are dead at the end: as posted {f.died["as_posted"]}; corrected {f.died["corrected"]}.{ever}

Over all 4-4 strata of the screen (the default grid, 1,000 seeds per cell), per activation (one Holm family over the
strata):

{tbl}
"""


def answer(f: QuirksFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="quirks", title="What the posted code's two quirks do", select=select, finding=finding,
              verdict=verdict, section=section, answer=answer)
