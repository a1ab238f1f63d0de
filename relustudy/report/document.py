"""The whole document: summary, sections in order, methods, provenance."""

from __future__ import annotations

import json
import time

import numpy as np
from typing import Callable

from .. import analysis, stats
from ..config import MOMENTUM
from ..outcomes import COLLAPSE_RANGE, EPOCH_ERROR_TARGET, SOLVED_MSE
from . import experiments as ex
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




POSTED_LR = st.POSTED["lr"]


def summary(ctx: Context) -> str:
    """The few sentences at the top: they format the findings the sections report, never recompute them."""
    lines = []
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
    return "\n".join(lines) + "\n"


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


def build(ctx: Context, studies=None) -> str:
    """Render the whole report as markdown: title, answers, glossary, contents, the studies'
    sections in registry order, methods, references, provenance; studies whose data are
    missing are listed under "Skipped sections"."""
    from ..studies import STUDIES
    from ..studies.base import render

    rendered, skipped = [], []
    for study in STUDIES if studies is None else studies:
        start = time.perf_counter()
        try:
            rendered.append(render(study, ctx))
        except Skip as e:
            skipped.append((study.title, str(e)))
        ctx.timings[f"study {study.name}"] = time.perf_counter() - start
    answers = [f"- **[{r.study.title}](#{r.study.name}).** {r.answer.strip()}" for r in rendered if r.answer]
    parts = [
        "# Why does a tiny ReLU network sometimes never learn to add two numbers?\n",
        "Generated by `python scripts/make_report.py` from the dataset; every number below is computed from it. "
        "The question and the posted answer: `shared/seed/` (see STUDY.md §1).\n",
        "## Answers\n\n" + "\n".join(answers) + "\n" + summary(ctx),
        section_glossary(),
        "## Contents\n\n" + "\n".join(f"- [{r.study.title}](#{r.study.name})" for r in rendered)
        + "\n- [Methods](#methods)\n- [References](#references)\n- [Provenance](#provenance)\n",
        *(r.section for r in rendered),
        section_methods(ctx),
        section_references(),
        section_provenance(ctx),
    ]
    if skipped:
        parts.append("## Skipped sections\n\n" + "\n".join(f"- **{t}**: {why}" for t, why in skipped) + "\n")
    return "\n".join(p.rstrip() + "\n" for p in parts)


def section_glossary() -> str:
    """The glossary: one definition per term, from :data:`relustudy.vocabulary.GLOSSARY`."""
    from ..vocabulary import GLOSSARY

    return "## Glossary\n\n" + "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY) + "\n"


REFERENCES = (  # (key, citation): the published work the report cites
    ("Lu2019", "Lu Lu, Yeonjong Shin, Yanhui Su, George Em Karniadakis. *Dying ReLU and Initialization: Theory and "
               "Numerical Examples.* arXiv:1903.06733 (2019); Communications in Computational Physics 28(5), 2020."),
    ("He2015", "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. *Delving Deep into Rectifiers: Surpassing "
               "Human-Level Performance on ImageNet Classification.* ICCV 2015."),
    ("Glorot2010", "Xavier Glorot, Yoshua Bengio. *Understanding the difficulty of training deep feedforward neural "
                   "networks.* AISTATS 2010."),
    ("Agresti2001", "Alan Agresti, Yongyi Min. *On small-sample confidence intervals for parameters in discrete "
                    "distributions.* Biometrics 57(3), 2001 (the paired difference's CI)."),
    ("Holm1979", "Sture Holm. *A simple sequentially rejective multiple test procedure.* Scandinavian Journal of "
                 "Statistics 6(2), 1979."),
    ("Agarwal2021", "Rishabh Agarwal, Max Schwarzer, Pablo Samuel Castro, Aaron Courville, Marc G. Bellemare. *Deep "
                    "Reinforcement Learning at the Edge of the Statistical Precipice.* NeurIPS 2021 (the IQM)."),
)


def section_references() -> str:
    return "## References\n\n" + "\n".join(f"- [{key}] {text}" for key, text in REFERENCES) + "\n"
