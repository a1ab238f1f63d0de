"""The whole document: summary, sections in order, methods, provenance."""

from __future__ import annotations

import json

import numpy as np
from typing import Callable

from .. import analysis, stats
from ..config import MOMENTUM
from ..outcomes import COLLAPSE_RANGE, EPOCH_ERROR_TARGET, SOLVED_MSE
from . import experiments as ex
from . import forensics as fo
from . import lottery_init as li
from . import scale as sc
from . import study as st
from .common import (
    BOOT_SEED,
    Q1_CELL,
    THEORY_DRAWS,
    THEORY_SEED,
    Context,
    Skip,
    ci,
    diff_ci,
    mse_at,
    num,
    pct,
    pval,
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
- **Statistics.** Failure rates with exact Clopper–Pearson 95% CIs. Paired comparisons (cells sharing seeds) lead
  with the paired difference in failure rate and its 95% CI (Agresti–Min), tested by exact McNemar on solved/not;
  the continuous comparison is a Wilcoxon signed-rank test on log10 final MSE clipped at one precision floor,
  {stats.MSE_FLOOR:g} (float64 MSE below it is rounding, not learning; figures use the same floor), with a diverged run
  ranked worst (never dropped) and tied pairs excluded; every test states its direction and the n it used.
  Unpaired fallback: Fisher exact (Newcombe CI of the difference) and Mann–Whitney U with Vargha–Delaney A. Holm
  correction within each family (one family per table and test kind). Momentum is compared at equal lr and at the
  matched step lr × (1 − {MOMENTUM}). Agreement of paired outcomes by Cohen's κ. Bootstrap 95% percentile CIs
  (seed {BOOT_SEED}); dead-at-init association by 2×2 odds ratio (Woolf CI), AUROC and accuracy; theory by Monte
  Carlo simulation ({THEORY_DRAWS:,} draws, seed {THEORY_SEED}).
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
    ("how a run dies", fo.section_forensics),
    ("smooth basins or chaos", fo.section_chaos),
    ("how much is drawn at init", li.section_init_predictability),
    ("threshold sensitivity", st.section_thresholds),
    ("experiment: Q1 at 100,000 epochs", ex.section_q1_long),
    ("experiment: born dead", ex.section_born_dead),
    ("experiment: remedies", ex.section_remedies),
    ("experiment: a million seeds", sc.section_million),
    ("experiment: phase diagram", sc.section_phase),
    ("experiment: depth x width", sc.section_depth_width),
]


POSTED_LR = st.POSTED["lr"]


def summary(ctx: Context) -> str:
    """The few sentences at the top: they format the findings the sections report, never recompute them."""
    lines = []
    try:
        f = ctx.finding(st.posted)
        fr, dead = f.rate, f.dead
        lines.append(
            f"- **Q2 (ReLU sometimes never learns).** The posted program fails on {pct(fr.rate)} of seeds "
            f"{ci(fr.ci_low, fr.ci_high)}: {_modes(f.modes)}; {pct(f.dead_final)} of the failures end with the output "
            f"unit dead, where every gradient is exactly zero. The initial draw largely decides: a run whose output unit "
            f"is already dead at initialization fails {pct(dead.p_fail_dead)} of the time, one whose output unit is alive "
            f"{pct(dead.p_fail_alive)} (odds ratio {num(dead.odds_ratio)}, AUROC {num(dead.auroc_dead)}); as a rule, "
            f"\"dead at init → fails\" is right for {pct(dead.accuracy)} of the seeds."
        )
    except Skip as e:
        lines.append(f"- Q2 summary not available: {e}.")
    try:
        m = ctx.finding(st.momentum)
        parts = [
            f"{d.family} (sgd lr {float(d.lr):g} vs momentum lr {float(d.lr_momentum):g}): "
            f"{pct(d.rate_a)} → {pct(d.rate_b)}, {diff_ci(d.rate_diff, d.diff_low, d.diff_high)}, McNemar (Holm) {pval(d.p_fail_holm)}"
            for d in m.posted.itertuples(index=False)
            if POSTED_LR in (float(d.lr), float(d.lr_momentum))  # the posted lr, as A or as B
        ]
        lines.append(
            "- **The posted answer** (local minimum; use momentum). A dead output is a flat, non-strict local minimum "
            "at the zero-output loss, which a zero gradient gives momentum no way out of. Momentum, paired by seed on "
            "the posted stratum, changes the failure rate: " + "; ".join(parts) + ". At equal lr momentum also takes "
            "a ten times larger step; at the matched step lr × (1 − 0.9) the comparison is fair."
        )
    except Skip as e:
        lines.append(f"- Momentum summary not available: {e}.")
    try:
        _, q1 = ctx.finding(st.q1_mse)
        med = {(d.activation, d.update, d.output): d.median for d in q1.itertuples(index=False)}
        keys = [(a, u, o) for u in ("as_posted", "corrected") for o in ("same", "identity") for a in ("tanh", "sigmoid")]
        if any(k not in med for k in keys):
            raise Skip("needs tanh and sigmoid with both outputs and both updates at randn, sgd, lr 0.1")

        def both(u, o):
            return f"{mse_at(med[('tanh', u, o)])} / {mse_at(med[('sigmoid', u, o)])}"

        ep = int(analysis.select(ctx.runs, {**Q1_CELL, "activation": "tanh"})["epochs"].max())
        lines.append(
            f"- **Q1 (tanh/sigmoid are slow).** After {ep} epochs at lr 0.1, the posted tanh/sigmoid networks reach a "
            f"median MSE of {both('as_posted', 'same')}; with a linear output unit {both('as_posted', 'identity')}, "
            f"with the corrected update {both('corrected', 'same')}, with both {both('corrected', 'identity')} "
            f"(same seeds). The targets of 1.0 sit on tanh's asymptote and outside sigmoid's range, so the gradient "
            f"vanishes at the output unit; the posted update, which never trains the biases, slows it further."
        )
    except Skip as e:
        lines.append(f"- Q1 summary not available: {e}.")
    if "remedies" in ctx.experiments:
        lines.append(_remedies_summary(ctx))
    mech = _mechanism_summary(ctx)
    if mech:
        lines.append(mech)
    return "## Summary\n\n" + "\n".join(lines) + "\n"


def _mechanism_summary(ctx: Context) -> str:
    """How the posted cell's runs die, how much init predicts, and whether tiny changes flip outcomes."""
    parts = []
    try:
        d = ctx.finding(fo.deaths).set_index("variant").loc[fo.POSTED]
        parts.append(
            f"In the posted cell, {d['born_dead']} of {d['n']} outputs are dead at init and {d['died_in_training']} die "
            f"during training, at a median epoch of {num(d['epoch_median'], 3)} ({pct(d['early'])} within "
            f"{fo.EARLY_EPOCHS} epochs): deaths come early, not after a long descent; {d['revived']} of the "
            f"{d['ever_dead']} dead outputs come back under the posted bias decay")
    except (Skip, KeyError):
        pass
    try:
        res = ctx.finding(li.init_predictability)
        p = res.cells[res.key]
        best = max((m for m in p.all_seeds.names if m not in ("dead at init", "output margin")),
                   key=lambda m: p.all_seeds.of(m)[0])
        a, lo, hi = p.all_seeds.of(best)
        parts.append(
            f"from the initial weights alone a cross-validated {best} model predicts failure with AUROC {num(a)} "
            f"[{num(lo)}, {num(hi)}] against {num(p.all_seeds.of('dead at init')[0])} "
            f"for \"output dead at init\" (data/{res.key[0]}), so training decides the rest")
    except (Skip, KeyError, ValueError):
        pass
    try:
        rates = ctx.finding(fo.chaos_rates)
        flips = rates["flips"].to_numpy()
        calm = rates.iloc[: int(np.argmax(flips > 0)) if (flips > 0).any() else len(rates)]
        if len(calm):
            parts.append(
                f"perturbing the initial weights by up to {calm['eps'].max():.0e} flips none of "
                f"{int(calm['n'].sum())} outcomes (at {rates['eps'].max():.0e}: {pct(rates['rate'].iloc[-1], 2)}): "
                "the outcome is a smooth function of the init, not chaos")
    except Skip:
        pass
    if not parts:
        return ""
    return "- **How runs fail.** " + "; ".join(parts) + "."


def _modes(m) -> str:
    """'born dead 33.3%, died in training 4.1%, ...' of all the cell's runs."""
    return ", ".join(f"{k} {pct(m[f'share {k}'])}" for k in analysis.FAILURE_MODES) + " of its runs"


def _remedies_summary(ctx: Context) -> str:
    """One sentence: what rescues the posted cell's failing seeds, from the remedies experiment."""
    try:
        base, df = ctx.finding(ex.remedies)
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
