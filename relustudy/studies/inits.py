"""He and Xavier init against the posted randn, paired by seed, under both updates.

Under the posted update every net's biases decay geometrically (`b -= lr * b`), randn's too;
He and Xavier start theirs at 0. What differs is the early revival: a randn output born dead
behind a negative bias comes back as the decay lifts it, a He/Xavier one has no bias to lift.
The comparison is also made with the corrected update, where the biases learn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.stats import proportions as stats
from relustudy.stats import inputs
from relustudy.stats import paired_tests
from relustudy.analysis import vocabulary as vocab
from relustudy.studies.common import ALPHA, FAMILY_COLUMNS, POSTED, ci, diff_ci, md_table, need, pct, pval
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Study, Verdict
from relustudy.studies import samples

SCHEMES = ("he", "xavier")
UPDATES = ("as_posted", "corrected")


@dataclass(frozen=True)
class InitsFinding:
    rows: pd.DataFrame  # per update x scheme: McNemar/Wilcoxon vs randn (same update), p Holm over the table,
    #                     sample_a / sample_b: the dataset each cell's runs come from (its largest sample)
    revived: pd.DataFrame | None = None  # per update x init: output born dead (n), of them solved (k, rate, exact CI)
    decay: tuple | None = None  # (lr, epochs, (1 - lr)^(6 epochs)): the posted bias decay over the whole run


def select(ctx: Context) -> dict:
    # The baseline first: the posted cell (under either update), then a scheme to compare with it.
    need(ctx.runs, {k: v for k, v in POSTED.items() if k != "update"}, "the posted ReLU cell (either update)")
    sub = analysis.select(ctx.runs, {k: v for k, v in POSTED.items() if k not in ("init", "update")})
    if not set(SCHEMES) & set(sub["init"].astype(str)):
        raise Skip("the dataset has neither he nor xavier init on the posted cell")
    # Each cell from its largest sample (issue 25.2): million's randn, confirm's He/Xavier when loaded.
    table, found = samples.largest_frame(ctx, {(i, u): {"init": i, "update": u}
                                               for u in UPDATES for i in ("randn", *SCHEMES)})
    return {"runs": table, "names": {k: s.name for k, s in found.items()}}


def finding(d: dict) -> InitsFinding:
    runs = d["runs"]
    rows = []
    for upd in UPDATES:
        base = {**POSTED, "update": upd}
        for alt in SCHEMES:
            if analysis.select(runs, base).empty or analysis.select(runs, {**base, "init": alt}).empty:
                continue  # the screen lacks this cell
            t = analysis.paired_table(runs, base, {**base, "init": alt})
            if t.empty:
                continue
            mc = paired_tests.mcnemar_exact(t["failed_a"].to_numpy(), t["failed_b"].to_numpy())
            wx = paired_tests.wilcoxon_log_mse(t["final_mse_a"].to_numpy(), t["final_mse_b"].to_numpy())
            rows.append(dict(update=upd, init=alt, mc=mc, wx=wx, sample_a=d["names"][("randn", upd)],
                             sample_b=d["names"][(alt, upd)]))
    if not rows:
        raise Skip("no he/xavier cell shares seeds with the posted cell")
    df = pd.DataFrame(rows)
    df["p_fail_holm"] = stats.holm([m.pvalue for m in df["mc"]])  # one family per test kind over this table
    df["p_mse_holm"] = stats.holm([w.pvalue for w in df["wx"]])
    rev = []
    for upd in UPDATES:
        for init in ("randn", *SCHEMES):
            sub = analysis.select(runs, {**POSTED, "update": upd, "init": init})
            dead = vocab.output_born_dead(sub) if len(sub) else np.zeros(0, bool)
            if dead.any():
                p = stats.proportion_ci(int(vocab.solved(sub)[dead].sum()), int(dead.sum()), alpha=ALPHA)
                rev.append(dict(update=upd, init=init, n=p.n, k=p.k, rate=p.rate, ci_low=p.ci_low, ci_high=p.ci_high))
    post = analysis.select(runs, POSTED)
    lr, epochs = float(POSTED["lr"]), int(post["epochs"].max()) if len(post) else 0
    return InitsFinding(df, pd.DataFrame(rev), (lr, epochs, (1 - lr) ** (6 * epochs)))


def verdict(f: InitsFinding) -> Verdict:
    """Do He/Xavier fail less than randn? Per update: "better" when every scheme fails
    significantly less (Holm p < ALPHA), "worse" when every one fails significantly more."""
    parts, keys = [], []
    for upd, g in f.rows.groupby("update", sort=False):
        less = [(r.mc.diff < 0) and r.p_fail_holm < ALPHA for r in g.itertuples()]
        more = [(r.mc.diff > 0) and r.p_fail_holm < ALPHA for r in g.itertuples()]
        key = "better" if all(less) else "worse" if all(more) else "mixed"
        keys.append(f"{upd}:{key}")
        nums = "; ".join(f"{r.init} {pct(r.mc.rate_b)} ({diff_ci(r.mc.diff, r.mc.diff_low, r.mc.diff_high)}, Holm "
                         f"{pval(r.p_fail_holm)}, n = {r.mc.n:,} from `{r.sample_b}`)" for r in g.itertuples())
        word = {"better": "fail less than randn", "worse": "fail more than randn", "mixed": "do not consistently differ "
                "from randn"}[key]
        bias = " (biases decay, never learn)" if upd == "as_posted" else " (biases learn)"
        parts.append(f"with the {upd} update{bias}, He and Xavier {word} ({pct(g.iloc[0].mc.rate_a)}): {nums}")
    return Verdict(",".join(keys), "; ".join(parts) + ".")


def section(f: InitsFinding, v: Verdict, links) -> str:
    rows = [(f"{r.update} / {r.init}", f"`{r.sample_a}` / `{r.sample_b}`", f"{r.mc.n:,}", pct(r.mc.rate_a), pct(r.mc.rate_b),
             diff_ci(r.mc.diff, r.mc.diff_low, r.mc.diff_high), f"{r.mc.n10:,} / {r.mc.n01:,}", pval(r.p_fail_holm),
             f"{r.wx.n_lower:,} / {r.wx.n_higher:,} ({r.wx.n_used:,})", pval(r.p_mse_holm)) for r in f.rows.itertuples()]
    tbl = md_table(pd.DataFrame(rows, columns=["update / init (B; A = randn, same update)", "samples (A / B)",
                                               *FAMILY_COLUMNS]))
    decay = revival = ""
    if f.decay is not None:
        lr, epochs, d = f.decay
        decay = (f"Under the posted update every net's biases decay by the factor (1 − lr) = {1 - lr:g} per sample step, to "
                 f"{d:.0e} of their initial value after {epochs:,} epochs, randn's as well: as posted no init keeps its "
                 "biases, so being bias-free is not what sets He/Xavier apart as posted. ")
    if f.revived is not None and len(f.revived):
        r = f.revived[f.revived["update"] == "as_posted"]
        revival = ("The difference is the early revival: of the seeds born with a dead output, under the posted update "
                   + "; ".join(f"{d.init} ends solved in {d.k:,} of {d.n:,} ({pct(d.rate)} {ci(d.ci_low, d.ci_high)})"
                               for d in r.itertuples()) + " (a randn output born dead behind a negative bias comes back "
                   "as the decay lifts the bias; He/Xavier biases start at 0, with nothing to lift). ")
    return f"""He and Xavier start with zero biases. {decay}{revival}With the corrected update the biases
learn. Same seeds, same underlying normal draws, transformed by the scheme (paired; Holm family: the {len(f.rows)} rows
of this table, per test; MSE floored at {inputs.MSE_FLOOR:g}, diverged ranked worst, ties excluded):

{tbl}

**Verdict:** {v.text}
"""


def answer(f: InitsFinding, v: Verdict) -> str:
    return v.text[0].upper() + v.text[1:]


STUDY = Study(name="inits", title="He and Xavier init on the posted cell", select=select, finding=finding,
              verdict=verdict, section=section, answer=answer)
