"""The whole document: the opening ("In short"), answers, glossary, contents, the studies' sections in registry order,
methods, references, provenance."""

from __future__ import annotations

import json
import time

from relustudy.stats import inputs
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.outcomes import COLLAPSE_RANGE, EPOCH_ERROR_TARGET, SOLVED_MSE
from relustudy.studies.common import BOOT_SEED, THEORY_DRAWS, THEORY_SEED, Context, Skip, factor_levels, fixed_factors, levels_text
from relustudy.studies import STUDIES
from relustudy.figures import cells as figures
from relustudy.runs import stored
from relustudy.studies.base import Rendered
from relustudy.studies.base import render
from relustudy.analysis.vocabulary import GLOSSARY


def section_methods(ctx: Context) -> str:
    return f"""## Methods

- **Task and training.** 2-4-4-1 MLP, six training pairs (x₁, x₂) → x₁ + x₂, per-sample SGD in fixed order, MSE
  loss, {", ".join(map(str, sorted(ctx.runs["epochs"].unique())))} epochs, the same activation after every hidden layer; the output unit uses the hidden activation
  (`same`, as posted) or none (`identity`). The `as_posted` update reproduces the posted code run for run
  (tested against a plain transcription of the posted code, `tests/test_core.py`).
- **Paired design.** For seed s, every init scheme transforms the same `np.random.RandomState(s).randn` draws
  (randn: as drawn; He [He2015]: × sqrt(2/fan_in), b = 0; Xavier [Glorot2010]: uniform via the normal CDF, b = 0),
  so cells that share a seed are paired. Leaky ReLU has slope 0.01 below zero [Maas2013]; Adam uses
  `torch.optim.Adam`'s defaults [Kingma2015]. That the seed alone can move a result is a known hazard of deep-learning
  benchmarks [Picard2021] [Bouthillier2021]; here the seed is a factor, paired across cells.
- **Outcomes.** First match wins: `diverged` (non-finite); `dead_output` (ReLU-family output, pre-activation <= 0
  on all six inputs); `collapsed` (the six predictions span < {COLLAPSE_RANGE:g}); `solved` (final MSE < {SOLVED_MSE:g});
  `slow` (the rest). Failure = not solved. `dead_output` and `collapsed` are told apart by arithmetic at the edge
  (an output whose largest pre-activation sits at 0 is dead in one precision and a near-constant live output in
  another; between float32 and float64 nearly all label changes are between these two): where their shares are
  compared, read them together as "stuck". `epochs_to_1e-3`: first epoch whose epoch error < {EPOCH_ERROR_TARGET:g}.
- **Statistics.** Failure rates with exact Clopper–Pearson 95% CIs. Paired comparisons (cells sharing seeds) lead
  with the paired difference in failure rate and its 95% CI (Agresti–Min [Agresti2001]), tested by exact McNemar on solved/not;
  the continuous comparison is a Wilcoxon signed-rank test on log10 final MSE clipped at one precision floor,
  {inputs.MSE_FLOOR:g} (float64 MSE below it is rounding, not learning; figures use the same floor), with a diverged run
  ranked worst (never dropped) and tied pairs excluded; every test states its direction and the n it used.
  Unpaired fallback: Fisher exact (Newcombe CI of the difference) and Mann–Whitney U with Vargha–Delaney A. Holm
  correction [Holm1979] within each family: one family per table and test kind, each table saying which rows form it
  (the p-values are adjusted, the CIs beside them are per comparison, unadjusted); the same
  comparison can appear in two tables (e.g. momentum on the posted cell in the momentum table and in the threshold
  table) with two adjusted p-values, one per family. Momentum is compared at equal lr and at the
  matched step lr × (1 − {MOMENTUM}). Agreement of paired outcomes by Cohen's κ. Bootstrap 95% percentile CIs
  (seed {BOOT_SEED}; the IQM as in [Agarwal2021]); dead-at-init association by 2×2 odds ratio (Woolf CI), AUROC and accuracy; theory by Monte
  Carlo simulation ({THEORY_DRAWS:,} draws, seed {THEORY_SEED}).
"""


def _chaos_command(ctx: Context) -> str:
    """The perturbation experiment's command at the size of the shipped tables (its pairs per eps
    read from them; the script's default is larger)."""
    tables = ctx.extras.get("chaos")
    if tables is None:
        return "python scripts/run_chaos.py"
    counts = tables["counts"]
    seeds, k = int(counts["seeds"].max()), int(counts["perturbations"].max())
    return f"python scripts/run_chaos.py --seeds 0:{seeds}" + (f" --perturbations {k}" if k != 1 else "")


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
    if ctx.dataset is None:
        commands = f"""pip install -e .
python scripts/run_grid.py
python scripts/run_grid.py --experiment all
python scripts/run_forensics.py && python scripts/run_gradient_trace.py && python scripts/run_init_curve.py
{_chaos_command(ctx)}
python -m relustudy.experiments.probes --out data/optim_probes
python scripts/make_report.py --store   # computes and stores the expensive results (data/stored/) once
python scripts/make_report.py"""
        what = "the default grid, the experiments, then this report"
    else:
        commands = (f"{p.get('command', 'python scripts/run_grid.py ...')}   # as recorded in the dataset\n"
                    f"python scripts/make_report.py --data {ctx.dataset}")
        what = "the dataset, then this report"
    return f"""## Provenance

- Dataset files, identified by a hash of their columns and values (`relustudy.runs.content.content_hash`; file
  metadata such as the creation time does not count):
{hashes}
- Produced by relustudy {p.get("relustudy", "?")} at git commit `{p.get("git_commit", "?")}`, Python {p.get("python", "?")},
  NumPy {p.get("numpy", "?")}, pandas {p.get("pandas", "?")}, pyarrow {p.get("pyarrow", "?")}.
- Grid: `{_compact(grid)}`.
- Experiments: {experiments}.
- Regenerate everything ({what}):

```bash
{commands}
```
"""


def _compact(d) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))




# Studies whose section opens the report, before the per-section findings and the glossary: the
# answer in one screen (issue 25.1).
OPENING = ("in-short",)


def build(ctx: Context, studies=None, jobs: int = 1) -> str:
    """Render the whole report as markdown: title, the opening (:data:`OPENING`), the findings
    section by section, glossary, contents, the other studies' sections in registry order, methods, references, provenance; studies whose data are
    missing are listed, grouped by reason, in one line under "Skipped sections"
    (:func:`skipped_line`). ``jobs`` > 1 renders the studies in that many forked processes
    (:func:`render_studies`); the text is the same."""

    rendered, skipped = [], []
    for study, result in render_studies(STUDIES if studies is None else studies, ctx, jobs):
        if isinstance(result, Skip):
            skipped.append((study.title, result))
        else:
            rendered.append(result)
    answers = [f"- **[{r.study.title}](#{r.study.name}).** {r.answer.strip()}" for r in rendered if r.answer]
    opening = [r for r in rendered if r.study.name in OPENING]
    parts = [
        section_title(ctx),
        *(r.section for r in opening),
        *(["## Findings, section by section\n\n" + "\n".join(answers) + "\n"] if answers else []),
        section_glossary(),
        "## Contents\n\n" + "\n".join(f"- [{r.study.title}](#{r.study.name})" for r in rendered)
        + "\n- [Methods](#methods)\n- [References](#references)\n- [Provenance](#provenance)\n",
        *(r.section for r in rendered if r.study.name not in OPENING),
        section_methods(ctx),
        section_references(),
        section_provenance(ctx),
    ]
    if skipped:
        parts.append("## Skipped sections\n\n" + skipped_line(skipped, ctx) + "\n")
    return "\n".join(p.rstrip() + "\n" for p in parts)


def section_title(ctx: Context) -> str:
    """The title and opening line. The study's own dataset: the question. A dataset of one's own
    (``ctx.dataset``): its folder's name and the factors it varies, with those it fixes."""
    if ctx.dataset is None:
        return ("# Why does a tiny ReLU network sometimes never learn to add two numbers?\n\n"
                "Generated by `python scripts/make_report.py` from the dataset; every number below is computed from "
                "it. The question and the posted answer: [docs/question.md](../docs/question.md) in the repository; the "
                "posted program runs as `python examples/posted_program.py`.\n")
    levels = factor_levels(ctx.runs)
    varied = [levels_text(f, v) for f, v in levels.items() if len(v) > 1]
    fixed = fixed_factors(levels)
    return (f"# `{ctx.dataset}`: {' × '.join(varied) or 'one cell'}\n\n"
            f"A report on the dataset in `{ctx.dataset}`: {len(ctx.runs):,} runs in {ctx.runs['cell_id'].nunique():,} "
            f"cells{'; fixed: ' + ', '.join(fixed) if fixed else ''}. Generated by "
            f"`python scripts/make_report.py --data {ctx.dataset}`; every number below is computed from it. It shows "
            "what this dataset supports: every cell's failure rate, outcomes and final error, paired comparisons of "
            "its cells, and the study's questions whose cells it holds; the rest are listed at the end as skipped.\n")


def skipped_line(skipped: list[tuple[str, Skip]], ctx: Context) -> str:
    """One line for the skipped sections ``[(title, Skip)]``: the sections that lack the same
    cells grouped under that reason, then those that need one of the study's own experiments
    (for a dataset of one's own: experiments it does not have, read only beside data/default)."""
    groups: dict[str, list[str]] = {}
    experiments = []
    for title, skip in skipped:
        if skip.experiment:
            experiments.append((title, skip))
        else:
            groups.setdefault(str(skip), []).append(title)
    clauses = [", ".join(f"*{t}*" for t in titles) + f" ({why})" for why, titles in groups.items()]
    if experiments and ctx.dataset is None:
        clauses.append("not generated yet: " + ", ".join(f"*{t}* ({skip})" for t, skip in experiments))
    elif experiments:
        clauses.append("the study's own experiments, read from the folders beside `data/default`, not part of this "
                       "dataset: " + ", ".join(f"*{t}* (`{skip.experiment}`)" for t, skip in experiments))
    n = len(skipped)
    return f"{n} section{'s' if n != 1 else ''} skipped: " + "; ".join(clauses) + "."


def render_studies(studies, ctx: Context, jobs: int = 1) -> list:
    """[(study, Rendered or Skip)] in the order given; ``ctx.timings`` and ``ctx.figure_files``
    get every study's entries.

    With ``jobs`` > 1 the studies are rendered by a pool of forked processes, each holding a
    copy of ``ctx`` (fork shares the loaded tables without pickling them); a study's section
    depends only on the data, so the text is the sequential one. A finding that two studies
    share is computed in each process that needs it. Sequential where fork is unavailable or
    stored results are being written (two processes must not write one file).
    """
    import multiprocessing


    # The theme before any study draws: a figure whose axes are made before its drawing helper
    # sets the theme would otherwise look different depending on what its process drew first.
    figures.set_theme()
    studies = list(studies)
    if jobs <= 1 or len(studies) < 2 or stored.writing() or "fork" not in multiprocessing.get_all_start_methods():
        return [(study, _render_one_here(study, ctx)) for study in studies]
    global _FORKED
    _FORKED = (studies, ctx)  # inherited by the forked workers
    results = [None] * len(studies)
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(studies))) as pool:
            for i, outcome, timings, figure_files, computed in pool.imap_unordered(_render_forked, range(len(studies))):
                results[i] = outcome
                ctx.timings.update(timings)
                ctx.figure_files.extend(figure_files)
                stored.note_computed(computed)
    finally:
        _FORKED = None

    out = []
    for study, outcome in zip(studies, results):
        if outcome[0] == "skip":
            out.append((study, Skip(outcome[1], experiment=outcome[2])))
        else:
            out.append((study, Rendered(study, *outcome[1:])))
    return out


_FORKED = None  # (studies, ctx) while a pool of forked workers renders them


def _render_one_here(study, ctx: Context):
    """Rendered, or the Skip that says why the study's data are missing; timed into ctx.timings."""

    start = time.perf_counter()
    try:
        return render(study, ctx)
    except Skip as e:
        return e
    finally:
        ctx.timings[f"study {study.name}"] = time.perf_counter() - start


def _render_forked(i: int):
    """In a forked worker: render study i of _FORKED and return what the parent needs (picklable:
    the study object holds functions, so the parent rebuilds Rendered around its own)."""

    studies, ctx = _FORKED
    before_timings, before_figures, before_computed = set(ctx.timings), len(ctx.figure_files), len(stored.computed())
    result = _render_one_here(studies[i], ctx)
    outcome = (("skip", str(result), result.experiment) if isinstance(result, Skip)
               else ("ok", result.section, result.answer, result.verdict))
    timings = {k: v for k, v in ctx.timings.items() if k not in before_timings or k == f"study {studies[i].name}"}
    return i, outcome, timings, ctx.figure_files[before_figures:], stored.computed()[before_computed:]


def section_glossary() -> str:
    """The glossary: one definition per term, from :data:`relustudy.analysis.vocabulary.GLOSSARY`."""

    return "## Glossary\n\n" + "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY) + "\n"


REFERENCES = (  # (key, citation): the published work the report cites
    ("Lu2019", "Lu Lu, Yeonjong Shin, Yanhui Su, George Em Karniadakis. *Dying ReLU and Initialization: Theory and "
               "Numerical Examples.* arXiv:1903.06733 (2019); Communications in Computational Physics 28(5), 2020."),
    ("He2015", "Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun. *Delving Deep into Rectifiers: Surpassing "
               "Human-Level Performance on ImageNet Classification.* ICCV 2015."),
    ("Glorot2010", "Xavier Glorot, Yoshua Bengio. *Understanding the difficulty of training deep feedforward neural "
                   "networks.* AISTATS 2010."),
    ("Shin2020", "Yeonjong Shin, George Em Karniadakis. *Trainability of ReLU Networks and Data-dependent "
                 "Initialization.* Journal of Machine Learning for Modeling and Computing 1(1), 2020 (trainability, the "
                 "probability that a random init is not permanently dead, bounds the success rate)."),
    ("Maas2013", "Andrew L. Maas, Awni Y. Hannun, Andrew Y. Ng. *Rectifier Nonlinearities Improve Neural Network "
                 "Acoustic Models.* ICML Workshop on Deep Learning for Audio, Speech and Language Processing, 2013 (the "
                 "leaky ReLU, slope 0.01)."),
    ("Kingma2015", "Diederik P. Kingma, Jimmy Ba. *Adam: A Method for Stochastic Optimization.* ICLR 2015."),
    ("Summers2021", "Cecilia Summers, Michael J. Dinneen. *Nondeterminism and Instability in Neural Network "
                    "Optimization.* ICML 2021 (arXiv:2103.04514)."),
    ("Bouthillier2021", "Xavier Bouthillier, Pierre Delaunay, Mirko Bronzi, et al. *Accounting for Variance in Machine "
                        "Learning Benchmarks.* MLSys 2021 (arXiv:2103.03098)."),
    ("Picard2021", "David Picard. *Torch.manual_seed(3407) is all you need: On the influence of random seeds in deep "
                   "learning architectures for computer vision.* arXiv:2109.08203 (2021)."),
    ("Agresti2001", "Alan Agresti, Yongyi Min. *On small-sample confidence intervals for parameters in discrete "
                    "distributions.* Biometrics 57(3), 2001 (the paired difference's CI)."),
    ("Holm1979", "Sture Holm. *A simple sequentially rejective multiple test procedure.* Scandinavian Journal of "
                 "Statistics 6(2), 1979."),
    ("Agarwal2021", "Rishabh Agarwal, Max Schwarzer, Pablo Samuel Castro, Aaron Courville, Marc G. Bellemare. *Deep "
                    "Reinforcement Learning at the Edge of the Statistical Precipice.* NeurIPS 2021 (the IQM)."),
    ("Rister2020", "Blaine Rister, Daniel L. Rubin. *Probabilistic bounds on neuron death in deep rectifier "
                   "networks.* arXiv:2007.06192 (2020)."),
    ("Kitagawa1955", "Evelyn M. Kitagawa. *Components of a Difference Between Two Rates.* Journal of the American "
                     "Statistical Association 50(272), 1955 (the decomposition of a rate's change)."),
)


def section_references() -> str:
    return "## References\n\n" + "\n".join(f"- [{key}] {text}" for key, text in REFERENCES) + "\n"
