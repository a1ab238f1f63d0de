"""The posted cell at a million seeds: the headline rate, how much the dead-at-init draw
explains, the 500,000-seed paired effects of the corrected update and of momentum, and what
the default grid's 1,000 seeds (the factorial screen) can and cannot say."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.figures import scale as figures_scale
from relustudy.stats import proportions as stats
from relustudy.stats import paired_tests
from relustudy.analysis import theory
from relustudy.analysis import vocabulary as vocab
from relustudy.stats.intervals import median_ci
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.outcomes import OUTCOMES
from relustudy.studies.common import POSTED, THEORY_DRAWS, THEORY_SEED, ci, diff_ci, md_table, pct, pval
from relustudy.studies import stored_theory
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict

BLOCK = 1000  # seeds per block: the size of the default grid's estimate
CELLS = (  # label, change from the posted cell
    ("posted (as_posted, sgd, lr 0.01)", {}),
    ("corrected update", {"update": "corrected"}),
    (f"momentum at the matched step (lr 0.001 = 0.01 (1 - {MOMENTUM}))", {"optimizer": "momentum", "lr": 0.001}),
)
DECISIVE_GAP = 0.5  # P(fail | output dead at init) - P(fail | alive) at least this: the output's state at init is the main predictor
MINOR_GAP = 0.2  # below it the draw matters little
EXPLAINED_SHARE = 0.5  # reweighting the screen's seeds to the population's share of outputs dead at init closes at least this share of its gap: "explains"


def _rate(k: int, n: int) -> stats.ProportionResult:
    """Rate k / n with its exact CI; all NaN when there is nothing to count (n = 0)."""
    if int(n) == 0:
        return stats.ProportionResult(0, 0, np.nan, np.nan, np.nan, "exact")
    return stats.proportion_ci(int(k), int(n))


@dataclass
class MillionFinding:
    cells: pd.DataFrame  # per cell: label, n, k, rate/ci, dead rate/ci, P(fail | dead / alive) with CIs
    outcomes: pd.DataFrame  # per cell x outcome: label, outcome, n, k, rate, ci_low, ci_high
    modes: pd.DataFrame  # per cell: analysis.failure_mode_table columns + label
    blocks: pd.DataFrame  # posted cell per block of BLOCK seeds: start, n, k, rate, ci_low, ci_high
    paired: pd.DataFrame  # per other cell vs posted on shared seeds: label, n, rate_a, rate_b, diff/CI, n10, n01, p, p_holm
    theory: theory.MonteCarloResult  # P(output dead at init), Monte Carlo
    default: stats.ProportionResult | None  # the posted cell in data/default (seeds 0-999)
    default_dead: stats.ProportionResult | None
    default_fail_dead: stats.ProportionResult | None  # P(fail | output dead at init) there
    default_fail_alive: stats.ProportionResult | None
    same_seeds: tuple[int, int]  # (identical outcomes, shared runs: same cell id and seed) with data/default
    deaths: pd.DataFrame  # per cell (when the table has the death-timing columns): label, hazard_ever (vocab.Rate:
    # deaths in training at any epoch over the outputs alive at init), at_end (the same, dead at the end),
    # permanent (vocab.Rate: never alive again, over the outputs ever dead)

    @property
    def posted(self) -> pd.Series:
        return self.cells.iloc[0]

    @property
    def reweighted(self) -> float:
        """The default grid's rate with its seeds' dead-at-init share replaced by the population's:
        P(fail | dead)_1000 p_dead + P(fail | alive)_1000 (1 - p_dead); NaN without the default grid."""
        if self.default is None:
            return np.nan
        p = self.posted["dead"]
        return self.default_fail_dead.rate * p + self.default_fail_alive.rate * (1 - p)


def select(ctx: Context) -> dict:
    if "million" not in ctx.experiments:
        raise Skip("not generated yet: `data/million/` holds no dataset (make it with "
                   "`python scripts/run_grid.py --experiment million`)", experiment="million")
    ref = analysis.select(ctx.runs, POSTED) if "lr" in ctx.runs.columns else ctx.runs.iloc[:0]
    return {"runs": ctx.experiments["million"][0], "default": ref}


def _shared(default: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    keys = ["cell_id", "seed"]
    a = default[keys + ["outcome"]].assign(cell_id=default["cell_id"].astype(str), outcome=vocab.labels(default["outcome"]))
    b = other[keys + ["outcome"]].assign(cell_id=other["cell_id"].astype(str), outcome=vocab.labels(other["outcome"]))
    return a.merge(b, on=keys, suffixes=("_d", "_x"))


def finding(d: dict) -> MillionFinding:
    runs = d["runs"]
    cells, outcomes, modes, subs, deaths = [], [], [], {}, []
    for label, change in CELLS:
        sub = analysis.select(runs, {**POSTED, **change})
        if sub.empty:
            continue
        subs[label] = sub
        fail, dead = vocab.failed(sub), vocab.output_born_dead(sub)
        r, dr = _rate(fail.sum(), len(sub)), _rate(dead.sum(), len(sub))
        fd, fa = _rate(fail[dead].sum(), dead.sum()), _rate(fail[~dead].sum(), (~dead).sum())
        cells.append(dict(label=label, n=len(sub), k=r.k, rate=r.rate, ci_low=r.ci_low, ci_high=r.ci_high,
                          dead=dr.rate, dead_low=dr.ci_low, dead_high=dr.ci_high, fail_dead=fd.rate, fd_low=fd.ci_low,
                          fd_high=fd.ci_high, fail_alive=fa.rate, fa_low=fa.ci_low, fa_high=fa.ci_high))
        counts = pd.Series(vocab.labels(sub["outcome"])).value_counts()
        for o in OUTCOMES:
            p = _rate(counts.get(o, 0), len(sub))
            outcomes.append(dict(label=label, outcome=o, n=len(sub), k=p.k, rate=p.rate, ci_low=p.ci_low,
                                 ci_high=p.ci_high))
        modes.append(mechanisms.failure_mode_table(sub, by=()).assign(label=label))
        if {"output_death_epoch", "output_state_changes"} <= set(sub.columns):
            alive = ~vocab.output_born_dead(sub)
            ever = vocab.output_death_ever(sub)
            deaths.append(dict(label=label,
                               hazard_ever=vocab.hazard(vocab.output_died_in_training(sub, ever=True), alive),
                               at_end=vocab.hazard(vocab.output_died_in_training(sub), alive),
                               permanent=vocab.rate(vocab.output_dead_permanent(sub), "outputs ever dead", ever),
                               timing=_death_timing(sub, vocab.output_died_in_training(sub, ever=True))))
    if not cells or CELLS[0][0] not in subs:
        raise Skip("the million experiment lacks the posted cell")
    posted = subs[CELLS[0][0]].sort_values("seed")
    fail = vocab.failed(posted)
    blocks = []
    for b in range(len(fail) // BLOCK):
        p = _rate(fail[b * BLOCK:(b + 1) * BLOCK].sum(), BLOCK)
        blocks.append(dict(start=b * BLOCK, n=BLOCK, k=p.k, rate=p.rate, ci_low=p.ci_low, ci_high=p.ci_high))
    base = pd.Series(fail, index=posted["seed"].to_numpy())
    paired = []
    for label, sub in list(subs.items())[1:]:
        other = pd.Series(vocab.failed(sub), index=sub["seed"].to_numpy())
        seeds = other.index.intersection(base.index)
        mc = paired_tests.mcnemar_exact(base.loc[seeds].to_numpy(), other.loc[seeds].to_numpy())
        paired.append(dict(label=label, n=mc.n, rate_a=mc.rate_a, rate_b=mc.rate_b, diff=mc.diff, low=mc.diff_low,
                           high=mc.diff_high, n10=mc.n10, n01=mc.n01, p=mc.pvalue))
    paired = pd.DataFrame(paired)
    if len(paired):
        paired["p_holm"] = stats.holm(paired["p"].to_numpy())
    mc = stored_theory.p_output_dead_at_init("randn", seed=THEORY_SEED, n_draws=THEORY_DRAWS)
    ref = d["default"]
    default = default_dead = fail_dead = fail_alive = None
    same = (0, 0)
    if len(ref):
        rf, rd = vocab.failed(ref), vocab.output_born_dead(ref)
        default, default_dead = _rate(rf.sum(), len(ref)), _rate(rd.sum(), len(ref))
        fail_dead, fail_alive = _rate(rf[rd].sum(), rd.sum()), _rate(rf[~rd].sum(), (~rd).sum())
        both = _shared(ref, posted)
        same = (int((both["outcome_d"] == both["outcome_x"]).sum()), len(both))
    return MillionFinding(pd.DataFrame(cells), pd.DataFrame(outcomes), pd.concat(modes, ignore_index=True),
                          pd.DataFrame(blocks), paired, mc, default, default_dead, fail_dead, fail_alive, same,
                          pd.DataFrame(deaths))


def verdict(f: MillionFinding) -> Verdict:
    """How much the output's state at init decides, by the gap P(fail | dead) - P(fail | alive)
    (:data:`DECISIVE_GAP`, :data:`MINOR_GAP`)."""
    p = f.posted
    gap = p.fail_dead - p.fail_alive
    fails = p.dead * p.fail_dead + (1 - p.dead) * p.fail_alive
    share = p.dead * p.fail_dead / fails if fails > 0 else float("nan")
    said = (f"a run whose output is born dead fails {pct(p.fail_dead, 2)} of the time, one born alive "
            f"{pct(p.fail_alive, 2)} (a gap of {100 * gap:.1f} percentage points, threshold {100 * DECISIVE_GAP:.0f}; "
            f"{pct(p.dead, 2)} of the runs have their output born dead, and {pct(share, 1)} of the failures are "
            "output born dead)")
    # Training is deterministic given the init, so the init "causes" every outcome by construction: the rule
    # judges how well one property of it, the output's state, predicts the outcome.
    if gap >= DECISIVE_GAP:
        return Verdict("decisive", f"Whether the output starts dead is the main predictor: {said}.")
    if gap >= MINOR_GAP:
        return Verdict("partial", f"Whether the output starts dead predicts part of it: {said}.")
    return Verdict("minor", f"Whether the output starts dead predicts little: {said}.")


def figures_(f: MillionFinding):
    post = f.posted
    out = []
    if len(f.blocks) >= 2:
        ref = None
        if f.default is not None:
            d = f.default
            ref = pd.DataFrame([dict(label=f"data/default, seeds 0–{d.n - 1:,}", rate=d.rate, ci_low=d.ci_low,
                                     ci_high=d.ci_high)])
        out.append(Figure("million_blocks.png", figures_scale.block_estimates(
            f.blocks, full_rate=post.rate, reference=ref,
            title=f"Posted cell: failure rate of each block of {BLOCK:,} seeds vs all {post.n:,}"),
            "1,000-seed estimates vs a million"))
    fails = f.outcomes[f.outcomes["outcome"] != "solved"]
    out.append(Figure("million_outcomes.png", figures_scale.grouped_shares(
        fails, y="outcome", hue="label", title="How the runs that fail end, per cell", xlabel="share of all runs",
        note=f"95% CI whiskers: at {int(f.outcomes['n'].min()):,}+ runs per cell they are narrower than a bar's end "
             f"is thick"),
        "outcome shares"))
    return out


def section(f: MillionFinding, v: Verdict, links) -> str:
    post = f.posted
    tbl = md_table(pd.DataFrame(
        [(d.label, f"{d.n:,}", f"{pct(d.rate, 2)} {ci(d.ci_low, d.ci_high, 2)}", f"{pct(d.dead, 2)} {ci(d.dead_low, d.dead_high, 2)}",
          f"{pct(d.fail_dead, 2)} {ci(d.fd_low, d.fd_high, 2)}", f"{pct(d.fail_alive, 2)} {ci(d.fa_low, d.fa_high, 2)}")
         for d in f.cells.itertuples()],
        columns=["cell", "seeds", "P(fail) [95% CI]", "output born dead", "P(fail | output born dead)",
                 "P(fail | alive at init)"]))
    ptbl = md_table(pd.DataFrame(
        [(d.label, f"{d.n:,}", pct(d.rate_a, 2), pct(d.rate_b, 2), diff_ci(d.diff, d.low, d.high),
          f"{d.n10:,} / {d.n01:,}", pval(d.p_holm)) for d in f.paired.itertuples()],
        columns=["change (B) vs posted (A)", "paired seeds", "fail A", "fail B", "Δ fail (B − A) [95% CI]",
                 "rescued / broken by B", "McNemar p (Holm over these rows)"])) if len(f.paired) else ""
    wide = f.outcomes.assign(txt=[f"{pct(r.rate, 2)} {ci(r.ci_low, r.ci_high, 2)}" for r in f.outcomes.itertuples()])
    shares = md_table(wide.pivot(index="label", columns="outcome", values="txt").reindex(
        index=list(f.cells["label"]), columns=list(OUTCOMES)).reset_index().rename(columns={"label": "cell"}))
    modes = md_table(pd.DataFrame(
        [(r["label"], *[pct(r[f"share {k}"], 2) for k in mechanisms.FAILURE_MODES]) for _, r in f.modes.iterrows()],
        columns=["cell", *(f"failed: {k}" for k in mechanisms.FAILURE_MODES)]))
    b = f.blocks
    cover = float(((b["ci_low"] <= post.rate) & (post.rate <= b["ci_high"])).mean()) if len(b) else np.nan
    spread = (b["rate"].quantile(0.025), b["rate"].quantile(0.975)) if len(b) else (np.nan, np.nan)
    mc = f.theory
    return f"""The posted cell (ReLU 2-4-4-1, randn, as posted, plain SGD, lr 0.01, 5000 epochs) on {post.n:,} seeds fails on
{post.k:,}: **{pct(post.rate, 2)} {ci(post.ci_low, post.ci_high, 2)}** (exact 95% CI). This is the report's headline
rate; the default grid's 1,000 seeds per cell are the factorial screen (below: how far they sit from it).

{tbl}

**Does the initial draw decide?** {v.text} The Monte Carlo of the init distribution alone ({mc.n_draws:,} draws, no
training) puts P(output born dead) at {pct(mc.p, 2)} {ci(mc.ci_low, mc.ci_high, 2)}.

**Paired effects on {int(f.paired["n"].max()) if len(f.paired) else 0:,} seeds** (the same seeds in both cells; one Holm
family of {len(f.paired)}):

{ptbl}

{_deaths_text(f)}

**Every outcome's share** (95% CI):

{shares}

**How runs fail** (shares of all runs; see the glossary):

{modes}

**What 1,000 seeds can say.** {_screen_text(f, spread, cover)}

{links.get("million_blocks.png", f"(fewer than two blocks of {BLOCK:,} seeds: no block figure)")}

{links["million_outcomes.png"]}

The shipped table has compact columns (factors, outcome, dead-unit columns, `final_mse` as float32; no curves). The
full table: `python scripts/run_grid.py --experiment million --columns full --out data/million_full`.
"""


def _death_timing(sub: pd.DataFrame, died: np.ndarray) -> str:
    """When outputs alive at init first die: the median first-death epoch with its order-statistic
    95% CI, the share dead by epoch 10 and the latest first death, over the runs that die (n)."""
    epochs = sub["output_death_epoch"].to_numpy()[np.asarray(died, bool)].astype(float)
    if epochs.size == 0:
        return "no death in training"
    m = median_ci(epochs)
    return (f"median epoch {m.median:g} [{m.ci_low:g}, {m.ci_high:g}] (n = {m.n:,}); "
            f"{pct(float(np.mean(epochs <= 10)))} by epoch 10; latest {epochs.max():g}")


def _deaths_text(f: MillionFinding) -> str:
    """Deaths in training with the runs at risk as denominator (ever, at the end) and how many are permanent."""
    if f.deaths.empty:
        return ""
    tbl = md_table(pd.DataFrame(
        [(d.label, str(d.hazard_ever), d.timing, str(d.at_end), str(d.permanent)) for d in f.deaths.itertuples()],
        columns=["cell", "output dies in training, ever (of those alive at init)", "first death (of those that die)",
                 "... and is dead at the end", "permanent (never alive again, of those ever dead)"]))
    return ("**Deaths in training** (recorded at every epoch's end; see the glossary for ever / at the end / "
            f"permanent):\n\n{tbl}")


def _screen_text(f: MillionFinding, spread, cover) -> str:
    post = f.posted
    txt = (f"Cut into {len(f.blocks):,} disjoint blocks of {BLOCK:,} seeds, the posted cell's failure rate ranges over "
           f"{pct(spread[0])}–{pct(spread[1])} (central 95% of blocks), and {pct(cover)} of the blocks' exact 95% CIs "
           "contain the million-seed rate (nominal: at least 95%).")
    if f.default is None:
        return txt + " The default grid is not loaded, so there is no 1,000-seed estimate to compare with."
    d, dd = f.default, f.default_dead
    return txt + (
        f" The default grid's seeds 0–{d.n - 1:,} fail {pct(d.rate, 2)} {ci(d.ci_low, d.ci_high, 2)}, "
        f"{100 * (d.rate - post.rate):+.1f} percentage points from the million; they start with the output dead in "
        f"{pct(dd.rate, 1)} {ci(dd.ci_low, dd.ci_high, 1)} (population: {pct(post.dead, 1)}). {screen_gap_rule(f).text}"
        f" On the {f.same_seeds[1]:,} runs both datasets hold (same cell id and seed) the outcomes agree on "
        f"{f.same_seeds[0]:,}: they are the same computation.")


def screen_gap_rule(f: MillionFinding) -> Verdict:
    """Does the screen's excess of seeds whose output starts dead explain its gap to the million?
    Reweighted to the population's share of outputs dead at init (:attr:`MillionFinding.reweighted`), "explains" when at least
    :data:`EXPLAINED_SHARE` of the gap closes, else "sampling" (the rest is the luck of 1,000 seeds)."""
    gap = f.default.rate - f.posted.rate
    closed = f.default.rate - f.reweighted
    share = closed / gap if gap != 0 else np.nan
    said = (f"Reweighted to the population's share of outputs dead at init, their rate would be {pct(f.reweighted, 2)}: that closes "
            f"{100 * closed:+.2f} of the {100 * gap:+.2f} percentage points ({pct(share, 0)} of the gap")
    if np.isfinite(share) and share >= EXPLAINED_SHARE:
        return Verdict("explains", f"{said}), so the excess of seeds whose output starts dead explains most of it.")
    return Verdict("sampling", f"{said}), so the excess of seeds whose output starts dead explains little of it; the rest is which "
                               "1,000 seeds were drawn, within the blocks' spread above.")


def answer(f: MillionFinding, v: Verdict) -> str:
    post = f.posted
    eff = "; ".join(f"{d.label}: {pct(d.rate_b, 2)}, {diff_ci(d.diff, d.low, d.high)} paired over {d.n:,} seeds"
                    for d in f.paired.itertuples())
    scr = (f" The default grid's seeds 0–{f.default.n - 1:,} (the screen) fail {pct(f.default.rate, 1)}. "
           + screen_gap_rule(f).text if f.default is not None else "")
    return (f"The posted program fails on **{pct(post.rate, 2)}** of {post.n:,} seeds {ci(post.ci_low, post.ci_high, 2)}. "
            f"{v.text} Against it: {eff}.{scr}")


STUDY = Study(name="million", title="The posted program at a million seeds", select=select, finding=finding,
              verdict=verdict, figures=figures_, section=section, answer=answer, stored=True)
