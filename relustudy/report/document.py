"""The whole document: summary, sections in order, methods, provenance."""

from __future__ import annotations

import json
from typing import Callable

import numpy as np

from .. import stats, summaries
from ..outcomes import COLLAPSE_RANGE, EPOCH_ERROR_TARGET, SOLVED_MSE
from . import experiments as ex
from . import study as st
from .common import (
    BOOT_SEED,
    POSTED,
    Q1_CELL,
    THEORY_DRAWS,
    THEORY_SEED,
    Context,
    Skip,
    ci,
    need,
    num,
    paired,
    pct,
    pval,
    rate_of,
    verdict,
)


def section_methods(ctx: Context) -> str:
    return f"""## Methods

- **Task and training.** 2-4-4-1 MLP, six training pairs (x₁, x₂) → x₁ + x₂, per-sample SGD in fixed order, MSE
  loss, {", ".join(map(str, sorted(ctx.runs["epochs"].unique())))} epochs, the same activation after every hidden layer; the output unit uses the hidden activation
  (`same`, as posted) or none (`identity`). The `as_posted` update reproduces the posted code run for run
  (tested against a plain transcription of the posted code, `tests/test_core.py`).
- **Paired design.** For seed s, every init scheme transforms the same `np.random.RandomState(s).randn` draws
  (randn: as drawn; He: × sqrt(2/fan_in), b = 0; Xavier: uniform via the normal CDF, b = 0), so cells that
  share a seed are paired.
- **Outcomes.** First match wins: `diverged` (non-finite); `dead_output` (ReLU-family output, pre-activation <= 0
  on all six inputs); `collapsed` (the six predictions span < {COLLAPSE_RANGE:g}); `solved` (final MSE < {SOLVED_MSE:g});
  `slow` (the rest). Failure = not solved. `epochs_to_1e-3`: first epoch whose epoch error < {EPOCH_ERROR_TARGET:g}.
- **Statistics.** Failure rates with exact Clopper–Pearson 95% CIs; paired comparisons by exact McNemar on
  solved/not and Wilcoxon signed-rank on log10 final MSE (floored at 1e-300); unpaired fallback Fisher exact and
  Mann–Whitney U with Vargha–Delaney A; Holm correction within each family (one family per table); bootstrap
  95% percentile CIs (seed {BOOT_SEED}); dead-at-init association by 2×2 odds ratio (Woolf CI) and AUROC; theory
  by Monte Carlo ({THEORY_DRAWS:,} draws, seed {THEORY_SEED}).
"""


def section_provenance(ctx: Context) -> str:
    p = ctx.info.get("provenance", {})
    hashes = "\n".join(f"  - `{name}`: content sha256 `{h}`" for name, h in ctx.info.get("hashes", {}).items())
    grid = p.get("grid", {})
    experiments = (
        "; ".join(
            f"`{name}`: {len(runs):,} runs in {runs['cell_id'].nunique()} cells"
            for name, (runs, _) in ctx.experiments.items()
        )
        or "none loaded"
    )
    return f"""## Provenance

- Dataset files, identified by a hash of their columns and values (`relustudy.dataset.content_hash`; file
  metadata such as the creation time does not count):
{hashes}
- Produced by relustudy {p.get("relustudy", "?")} at git commit `{p.get("git_commit", "?")}`, Python {p.get("python", "?")},
  NumPy {p.get("numpy", "?")}, pandas {p.get("pandas", "?")}, pyarrow {p.get("pyarrow", "?")}.
- Grid: `{_compact(grid)}`.
- Experiments: {experiments}.
- Regenerate everything (the default grid, the experiments, then this report):

```bash
pip install -e .
python scripts/run_grid.py
python scripts/run_grid.py --experiment all
python scripts/make_report.py
```
"""


def _compact(d) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


SECTIONS: list[tuple[str, Callable[[Context], str]]] = [
    ("dataset", st.section_dataset),
    ("Q2: ReLU sometimes never learns", st.section_q2),
    ("theory check", st.section_theory),
    ("claim: local minimum", st.section_local_minimum),
    ("claim: momentum", st.section_momentum),
    ("Q1: tanh/sigmoid are slow", st.section_q1),
    ("claim: vanishing gradient", st.section_vanishing),
    ("quirks of the posted code", st.section_quirks),
    ("inits", st.section_inits),
    ("final MSE ECDF", st.section_ecdf),
    ("failure rates per cell", st.section_failure_rates),
    ("seed lottery", st.section_lottery),
    ("threshold sensitivity", st.section_thresholds),
    ("experiment: Q1 at 100,000 epochs", ex.section_q1_long),
    ("experiment: born dead", ex.section_born_dead),
    ("experiment: remedies", ex.section_remedies),
]


def summary(ctx: Context) -> str:
    """The few sentences at the top, each from the data (or a note that it could not be computed)."""
    lines = []
    r = ctx.runs
    try:
        post = need(r, POSTED, "posted")
        fr = rate_of(post)
        dead = stats.dead_init_association(post)
        fail = stats.is_failure(post)
        flat = post["outcome"].astype(str).isin(["dead_output", "collapsed"]).to_numpy()[fail].mean()
        lines.append(
            f"- **Q2 (ReLU sometimes never learns).** The posted program fails on {pct(fr.rate)} of seeds "
            f"{ci(fr.ci_low, fr.ci_high)}; {pct(flat)} of those failures end with a dead or collapsed output, where "
            f"every gradient is exactly zero. The random draw decides: a run whose output unit is already dead at "
            f"initialization fails {pct(dead.p_fail_dead)} of the time, one whose output unit is alive "
            f"{pct(dead.p_fail_alive)} (odds ratio {num(dead.odds_ratio)}, AUROC {num(dead.auroc_dead)}). When it works, "
            f"ReLU is fast because a net of active ReLU units is linear on the data, like the target."
        )
        mc, _ = paired(r, POSTED, {**POSTED, "optimizer": "momentum"}, "momentum")
        effect = verdict(mc.pvalue, mc.rate_b - mc.rate_a, "lowers", "raises", "does not significantly change")
        lines.append(
            f"- **The posted answer** (local minimum; use momentum). {pct(flat)} of the failures are zero-gradient "
            f"plateaus, not local minima, and momentum {effect} the posted cell's failure rate "
            f"({pct(mc.rate_a)} → {pct(mc.rate_b)}; rescues {mc.n10:,} failing seeds, breaks {mc.n01:,}; McNemar {pval(mc.pvalue)})."
        )
    except Skip as e:
        lines.append(f"- Q2 summary not available: {e}.")
    try:
        med = {}
        for act in ("tanh", "sigmoid"):
            for upd in ("as_posted", "corrected"):
                for out in ("same", "identity"):
                    sub = summaries.select(r, {**Q1_CELL, "activation": act, "update": upd, "output": out})
                    if len(sub):
                        med[(act, upd, out)] = float(np.median(sub["final_mse"]))
        if len(med) < 8:
            raise Skip("needs tanh and sigmoid with both outputs and both updates at randn, sgd, lr 0.1")
        ep = int(summaries.select(r, {**Q1_CELL, "activation": "tanh"})["epochs"].max())
        lines.append(
            f"- **Q1 (tanh/sigmoid are slow).** After {ep} epochs at lr 0.1, the posted tanh/sigmoid networks reach a "
            f"median MSE of {num(med[('tanh', 'as_posted', 'same')])} / {num(med[('sigmoid', 'as_posted', 'same')])}; "
            f"with a linear output unit {num(med[('tanh', 'as_posted', 'identity')])} / {num(med[('sigmoid', 'as_posted', 'identity')])}, "
            f"with the corrected update {num(med[('tanh', 'corrected', 'same')])} / {num(med[('sigmoid', 'corrected', 'same')])}, "
            f"with both {num(med[('tanh', 'corrected', 'identity')])} / {num(med[('sigmoid', 'corrected', 'identity')])} "
            f"(same seeds). The targets of 1.0 sit on tanh's asymptote and outside sigmoid's range, so the gradient "
            f"vanishes at the output unit; the posted update, which never trains the biases, slows it further."
        )
    except Skip as e:
        lines.append(f"- Q1 summary not available: {e}.")
    if "remedies" in ctx.experiments:
        lines.append(_remedies_summary(ctx.experiments["remedies"][0]))
    return "## Summary\n\n" + "\n".join(lines) + "\n"


def _remedies_summary(runs) -> str:
    """One sentence: what rescues the posted cell's failing seeds, from the remedies experiment."""
    try:
        base, df = ex.remedy_results(runs)
    except Skip as e:
        return f"- Remedies summary not available: {e}."
    df = df.sort_values("rate", ascending=False, kind="stable")
    best = df.iloc[0]
    mom = df[df["label"] == "momentum"]
    mom_txt = (
        f"; momentum rescues {pct(mom['rate'].iloc[0])} and breaks {mom['broken'].iloc[0]:,} seeds that plain SGD solves"
        if len(mom)
        else ""
    )
    top = "; ".join(f"{d.label} rescues {pct(d.rate)}" for d in df.head(3).itertuples())
    return (
        f"- **What does fix it** ({len(base):,} seeds, paired). Of the posted cell's failing seeds, {top}{mom_txt}. "
        f"The best, {best['label']}, leaves {pct(best['fail_b'])} of all seeds unsolved."
    )


def build(ctx: Context, extra_sections: list[tuple[str, Callable[[Context], str]]] = ()) -> str:
    """Render the whole report as markdown; sections that cannot be rendered are listed."""
    parts = [
        "# Why does a tiny ReLU network sometimes never learn to add two numbers?\n",
        "Generated by `python scripts/make_report.py` from the dataset; every number below is computed from it. "
        "The question and the posted answer: `shared/seed/` (see STUDY.md §1).\n",
        summary(ctx),
    ]
    skipped = []
    for title, fn in [*SECTIONS, *extra_sections]:
        try:
            parts.append(fn(ctx))
        except Skip as e:
            skipped.append((title, str(e)))
    parts.append(section_methods(ctx))
    parts.append(section_provenance(ctx))
    if skipped:
        parts.append("## Skipped sections\n\n" + "\n".join(f"- **{t}**: {why}" for t, why in skipped) + "\n")
    text = "\n".join(p.rstrip() + "\n" for p in parts)
    return text

