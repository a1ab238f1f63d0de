"""Is the lottery the toy's? The task's geometry, the frameworks' default inits and the batch
size as factors (the generality experiment, issue 27).

One question: *is the lottery a property of the data's geometry, the init or the update rule?*
Per cell of task x init x update x (activation, output) x batch: P(fail), P(born dead),
P(fail | born dead) and P(fail | alive at init) with exact CIs; each cell against the same cell
on the posted task, paired by seed (McNemar) and split into the born-dead share and the rest
(:func:`relustudy.analysis.generality.kitagawa`); P(born dead) from the init alone beside the
bounds of Rister and Rubin; four verdict rules with the thresholds named below; the advice per
setting, which also feeds the report's recipe table (``studies.in_short.RECIPE``).

``keras`` is the ``xavier`` transform (Glorot uniform, zero bias; ``core.inits``), so the
experiment trains it once: every xavier row here is also what a Keras user gets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import generality as gen
from relustudy.analysis import vocabulary as vocab
from relustudy.core.problem import TASKS, get_task
from relustudy.figures import generality as figures_gen
from relustudy.runs.catalog import GENERALITY_ALIASES
from relustudy.stats import paired_tests
from relustudy.studies import stored_theory
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import ALPHA, THEORY_SEED, Context, _experiment, ci, diff_ci, md_table, pct

# A cell "has the lottery" when its failure rate's lower 95% bound is above LOTTERY_MIN, and
# "avoids it" when the upper bound is below it: 1 run in 20 is a failure a user meets in practice.
LOTTERY_MIN = 0.05
# A factor "matters" when changing it moves the failure rate by at least this much on average
# (factor_ranges, over the main setting's cells).
MATTERS = 0.05
THEORY_DRAWS = 200_000  # Monte Carlo draws per init x task x output for P(born dead) from the init alone

MAIN = {"activation": "relu", "output": "same", "batch": "1"}  # the posted network and per-sample SGD
INIT_ORDER = ("randn", "he", "xavier", "torch")  # the posted init first, then He, Glorot and the frameworks'
FRAMEWORK_INITS = {"torch": "PyTorch (nn.Linear)", "xavier": "Keras (Dense: Glorot uniform, zero bias)"}
SETTINGS = {  # (activation, output, batch) -> the label a table and the figure use
    ("relu", "same", "1"): "ReLU, ReLU output, batch 1",
    ("relu", "same", "full"): "ReLU, ReLU output, full batch",
    ("relu", "identity", "1"): "ReLU, identity output, batch 1",
    ("leaky_relu", "identity", "1"): "leaky ReLU, identity output, batch 1",
}


def init_label(init: str) -> str:
    """The init as the report names it: xavier also names the init its twin runs stand for (keras)."""
    twins = [a for a, b in GENERALITY_ALIASES.items() if b == init]
    return f"{init} (= {', '.join(twins)})" if twins else init


@dataclass(frozen=True)
class GeneralityFinding:
    rates: pd.DataFrame  # analysis.generality.cell_rates: one row per cell, plus setting and n_seeds
    contrasts: pd.DataFrame  # each cell on another task vs the same cell on posted, paired by seed:
    #                          factors, n_pairs, rate_a (posted), rate_b, diff, diff_low, diff_high, p,
    #                          born_part, training_part (Kitagawa on the common seeds: they sum to diff)
    ranges: pd.Series  # factor -> mean (max - min) P(fail) over the main setting's cells (task, init, update)
    theory: pd.DataFrame  # analysis.theory.born_dead_by_task + measured (born, born_low, born_high, n)
    epochs: int
    lr: float


def select(ctx: Context) -> pd.DataFrame:
    return _experiment(ctx, "generality")[0]


def _contrasts(runs: pd.DataFrame) -> pd.DataFrame:
    """Every cell on a task other than posted against the same cell on posted, on their common seeds."""
    keys = pd.DataFrame({c: vocab.labels(runs[c]) for c in gen.CELL_FACTORS})
    failed, born = vocab.failed(runs), vocab.born_dead(runs)
    seed = runs["seed"].to_numpy(np.int64)
    groups = keys.groupby(list(gen.CELL_FACTORS), sort=False).indices
    by_key = {k: idx[np.argsort(seed[idx], kind="stable")] for k, idx in groups.items()}
    rows = []
    for key, idx in by_key.items():
        cell = dict(zip(gen.CELL_FACTORS, key))
        if cell["task"] == "posted":
            continue
        ref = by_key.get(tuple("posted" if c == "task" else cell[c] for c in gen.CELL_FACTORS))
        if ref is None:
            continue
        _, ia, ib = np.intersect1d(seed[ref], seed[idx], assume_unique=True, return_indices=True)
        a, b = ref[ia], idx[ib]  # row positions of the common seeds, in seed order
        m = paired_tests.mcnemar_exact(failed[a], failed[b], alpha=ALPHA)
        born_part, training_part = gen.paired_split(failed[a], born[a], failed[b], born[b])
        rows.append(dict(**cell, n_pairs=m.n, rate_a=m.rate_a, rate_b=m.rate_b, diff=m.diff, diff_low=m.diff_low,
                         diff_high=m.diff_high, p=m.pvalue, born_part=born_part, training_part=training_part))
    return pd.DataFrame(rows)


def finding(runs: pd.DataFrame) -> GeneralityFinding:
    counts = gen.cell_counts(runs)
    rates = gen.cell_rates(counts, alpha=ALPHA)
    rates["setting"] = [SETTINGS.get((a, o, b), f"{a}, {o} output, batch {b}")
                        for a, o, b in zip(rates["activation"], rates["output"], rates["batch"])]
    main = rates
    for k, v in MAIN.items():
        main = main[main[k] == v]
    ranges = gen.factor_ranges(main)
    contrasts = _contrasts(runs)
    # P(born dead) from the init alone, beside the measured rate: born dead is decided at init, so
    # the as-posted, batch-1 cell of each (task, init) stands for every update and batch (same draws).
    inits = sorted(rates["init"].unique())
    tasks = [t for t in TASKS if t in set(rates["task"])]
    th = stored_theory.born_dead_by_task(inits, tasks, seed=THEORY_SEED, n_draws=THEORY_DRAWS)
    meas = rates[(rates["activation"] == "relu") & (rates["batch"] == "1") & (rates["update"] == "as_posted")]
    meas = meas[["task", "init", "output", "n", "born", "born_low", "born_high"]]
    theory = th.merge(meas, on=["task", "init", "output"], how="left", suffixes=("", "_measured"))
    return GeneralityFinding(rates, contrasts, ranges, theory, int(runs["epochs"].max()), float(runs["lr"].max()))


# --------------------------------------------------------------------------- rules


def _cells(rates: pd.DataFrame, **where) -> pd.DataFrame:
    out = rates
    for k, v in {**MAIN, **where}.items():
        out = out[out[k].isin(v) if isinstance(v, (list, tuple, set)) else out[k] == v]
    return out


def _n(cells: pd.DataFrame) -> str:
    """The seeds behind a range of rates: "n = 20,000 per cell" (or "n = 20,000–100,000 per cell")."""
    lo, hi = int(cells["n"].min()), int(cells["n"].max())
    return f"n = {lo:,} per cell" if lo == hi else f"n = {lo:,}–{hi:,} per cell"


def _name(r) -> str:
    return f"{init_label(r.init)}/{r.update}"


def standardisation_rule(f: GeneralityFinding) -> Verdict:
    """Does the lottery survive standardising the six inputs (posted_std, the main setting)? A
    cell has it when its failure rate's lower 95% bound is above :data:`LOTTERY_MIN` and avoids it
    when the upper bound is below: "survives" if every init x update cell has it, "removed" if
    every cell avoids it, "partly" otherwise."""
    c = _cells(f.rates, task="posted_std")
    if c.empty:
        return Verdict("missing", "The standardised task is not in the data.")
    has = c["fail_low"] > LOTTERY_MIN
    avoids = c["fail_high"] < LOTTERY_MIN
    span = f"{pct(c['fail'].min())}–{pct(c['fail'].max())}"
    if has.all():
        return Verdict("survives", f"The lottery survives standardisation: with the six inputs standardised, every "
                                   f"init × update cell still fails on {span} of seeds ({_n(c)}; each above "
                                   f"{pct(LOTTERY_MIN, 0)} at its lower 95% bound).")
    if avoids.all():
        return Verdict("removed", f"Standardising the inputs removes the lottery: every init × update cell fails on "
                                  f"{span} of seeds ({_n(c)}; each below {pct(LOTTERY_MIN, 0)} at its upper 95% bound).")
    gone = ", ".join(_name(r) for r in c[avoids].itertuples()) or "none"
    return Verdict("partly", f"Standardising the inputs removes the lottery only in some cells (below "
                             f"{pct(LOTTERY_MIN, 0)} at the upper 95% bound: {gone}); the cells fail on {span} of seeds ({_n(c)}).")


def data_rule(f: GeneralityFinding) -> Verdict:
    """Does more data remove it (grid64, 64 pairs, vs posted; the main setting)? "removes" if every
    init x update cell on grid64 avoids the lottery (upper 95% bound below :data:`LOTTERY_MIN`);
    "reduces" if every cell fails less than on posted on the same seeds (paired CI of the change
    below 0); "does not remove" otherwise."""
    c = _cells(f.rates, task="grid64")
    k = _cells(f.contrasts, task="grid64") if len(f.contrasts) else f.contrasts
    if c.empty or k.empty:
        return Verdict("missing", "The 64-pair task is not in the data.")
    span = f"{pct(c['fail'].min())}–{pct(c['fail'].max())}"
    ref = f"{pct(k['rate_a'].min())}–{pct(k['rate_a'].max())}"
    if (c["fail_high"] < LOTTERY_MIN).all():
        return Verdict("removes", f"More data removes it: on 64 pairs every init × update cell fails on {span} of "
                                  f"seeds ({_n(c)}; each below {pct(LOTTERY_MIN, 0)} at its upper 95% bound), against {ref} "
                                  "on the six posted pairs.")
    if (k["diff_high"] < 0).all():
        return Verdict("reduces", f"More data reduces it but does not remove it: on 64 pairs the cells fail on {span} "
                                  f"of seeds ({_n(c)}), against {ref} on the posted six (every cell lower on the same seeds).")
    worse = ", ".join(_name(r) for r in k[k["diff_low"] > 0].itertuples()) or "none"
    return Verdict("does not remove", f"More data does not remove it: on 64 pairs the cells fail on {span} of seeds "
                                      f"({_n(c)}), against {ref} on the posted six (higher on the same seeds in: {worse}).")


def defaults_rule(f: GeneralityFinding) -> Verdict:
    """Do the frameworks' defaults avoid it? The PyTorch and Keras inits with true gradients
    (corrected update), ReLU with a ReLU output, per-sample and full batch, on every task: "avoid"
    when every such cell's upper 95% bound is below :data:`LOTTERY_MIN`, "do not avoid" when every
    cell's lower bound is above it, "avoid on some tasks" otherwise (naming them)."""
    c = f.rates[f.rates["init"].isin(list(FRAMEWORK_INITS)) & (f.rates["update"] == "corrected")
                & (f.rates["activation"] == "relu") & (f.rates["output"] == "same")]
    if c.empty:
        return Verdict("missing", "The frameworks' default inits are not in the data.")
    span = f"{pct(c['fail'].min())}–{pct(c['fail'].max())}"
    if (c["fail_high"] < LOTTERY_MIN).all():
        return Verdict("avoid", f"The frameworks' defaults avoid it: PyTorch's and Keras's inits with true "
                                f"gradients fail on {span} of seeds ({_n(c)}) on every task and batch.")
    if (c["fail_low"] > LOTTERY_MIN).all():
        return Verdict("do not avoid", f"The frameworks' defaults do not avoid it: a PyTorch or Keras user who writes "
                                       f"this net with the default init and true gradients fails on {span} of seeds "
                                       f"({_n(c)}), on every task and batch measured.")
    ok = sorted({f"{r.task} ({init_label(r.init)}, batch {r.batch})" for r in c[c["fail_high"] < LOTTERY_MIN].itertuples()})
    return Verdict("avoid on some tasks", f"The frameworks' defaults avoid it only on some tasks "
                                          f"({', '.join(ok) or 'none'}); over all tasks they fail on {span} of seeds ({_n(c)}).")


FACTOR_WORDS = {"task": "the training set (task: its geometry and target)", "init": "the init", "update": "the update rule"}


def factor_rule(f: GeneralityFinding) -> Verdict:
    """Which factor moves the failure rate most (the main setting): the largest mean range of
    :func:`analysis.generality.factor_ranges`; the others are named as mattering when their range
    is at least :data:`MATTERS`. Key: the largest factor."""
    r = f.ranges.sort_values(ascending=False, kind="stable")
    top = str(r.index[0])
    also = [k for k in r.index[1:] if r[k] >= MATTERS]
    parts = "; ".join(f"{FACTOR_WORDS[k]} {100 * v:.1f} pp" for k, v in r.items())
    tail = (f" {' and '.join(FACTOR_WORDS[k] for k in also).capitalize()} also matter{'s' if len(also) == 1 else ''} "
            f"(each at least {100 * MATTERS:.0f} pp)." if also else
            f" No other factor moves it by {100 * MATTERS:.0f} pp.")
    return Verdict(top, f"What decides the failure rate most is {FACTOR_WORDS[top]}: changing it moves the rate by "
                        f"{100 * r[top]:.1f} pp on average (mean range over the other factors' cells: {parts}).{tail}")


RULES = (factor_rule, standardisation_rule, data_rule, defaults_rule)


def verdict(f: GeneralityFinding) -> Verdict:
    parts = [rule(f) for rule in RULES]
    return Verdict(";".join(v.key for v in parts), " ".join(v.text for v in parts))


# --------------------------------------------------------------------------- advice


def advice(f: GeneralityFinding) -> pd.DataFrame:
    """What to do, per task: what a PyTorch and a Keras user sees with the defaults (true
    gradients, ReLU output, batch 1 and full) and the lowest-failing cell measured on the task.
    Returns one row per task: task, setting, fail, fail_low, fail_high (formatted later)."""
    rows = []
    for task in [t for t in TASKS if t in set(f.rates["task"])]:
        t = f.rates[f.rates["task"] == task]
        for init, who in FRAMEWORK_INITS.items():
            for batch in ("1", "full"):
                c = t[(t["init"] == init) & (t["update"] == "corrected") & (t["activation"] == "relu")
                      & (t["output"] == "same") & (t["batch"] == batch)]
                if len(c):
                    r = c.iloc[0]
                    rows.append(dict(task=task, who=f"{who} defaults, batch {batch}", fail=r["fail"],
                                     fail_low=r["fail_low"], fail_high=r["fail_high"], n=int(r["n"])))
        best = t.sort_values(["fail_high", "fail"], kind="stable").iloc[0]
        rows.append(dict(task=task, who=f"best measured: {best['setting']}, {init_label(best['init'])}, "
                                        f"{best['update']}", fail=best["fail"], fail_low=best["fail_low"],
                         fail_high=best["fail_high"], n=int(best["n"])))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- text


def _updates_text(f: GeneralityFinding) -> str:
    per = {name: t.n_samples for name, t in TASKS.items() if name in set(f.rates["task"])}
    sizes = sorted(set(per.values()))
    return "; ".join(f"{s} pairs: {f.epochs * s:,} per-sample updates ({f.epochs:,} epochs × {s}), or "
                     f"{f.epochs:,} full-batch updates" for s in sizes)


def _rates_table(rates: pd.DataFrame) -> str:
    rows = []
    for r in rates.sort_values(["activation", "output", "batch", "task", "init", "update"]).itertuples():
        rows.append((r.setting, r.task, init_label(r.init), r.update, f"{r.n:,}",
                     f"{pct(r.fail)} {ci(r.fail_low, r.fail_high)}", f"{pct(r.born)} {ci(r.born_low, r.born_high)}",
                     f"{pct(r.fail_born)} {ci(r.fail_born_low, r.fail_born_high)}",
                     f"{pct(r.fail_alive)} {ci(r.fail_alive_low, r.fail_alive_high)}",
                     ", ".join(f"{m} {pct(getattr(r, gen.mode_column(m)) / r.failed, 0)}" for m in gen.FAILURE_MODES
                               if r.failed and getattr(r, gen.mode_column(m)))))
    return md_table(pd.DataFrame(rows, columns=[
        "setting", "task", "init", "update", "runs", "P(fail) [95% CI]", "P(born dead) [95% CI]",
        "P(fail | born dead) [95% CI]", "P(fail | alive at init) [95% CI]", "how the failed runs failed"]))


def _main_table(f: GeneralityFinding) -> str:
    c = _cells(f.rates)
    k = f.contrasts.set_index(list(gen.CELL_FACTORS)) if len(f.contrasts) else None
    rows = []
    for r in c.sort_values(["update", "init", "task"], key=lambda s: s.map(
            {t: i for i, t in enumerate(TASKS)}) if s.name == "task" else s).itertuples():
        key = tuple(getattr(r, x) for x in gen.CELL_FACTORS)
        vs = "–"
        if k is not None and key in k.index:
            q = k.loc[key]
            vs = (f"{diff_ci(q['diff'], q['diff_low'], q['diff_high'])} (born dead {100 * q['born_part']:+.1f}, "
                  f"in training {100 * q['training_part']:+.1f})")
        rows.append((r.update, init_label(r.init), r.task, f"{r.n:,}", f"{pct(r.fail)} {ci(r.fail_low, r.fail_high)}",
                     f"{pct(r.born)}", f"{pct(r.fail_born)}", f"{pct(r.fail_alive)}", vs))
    return md_table(pd.DataFrame(rows, columns=[
        "update", "init", "task", "runs", "P(fail) [95% CI]", "P(born dead)", "P(fail | born dead)",
        "P(fail | alive)", "vs posted task, same seeds: Δ P(fail) [95% CI] (parts, pp)"]))


def _theory_text(f: GeneralityFinding) -> tuple[str, str]:
    th = f.theory.dropna(subset=["born"])
    pos = th.groupby("task")["position"].mean()
    order = [t for t in TASKS if t in pos.index]
    where = "; ".join(f"{t} {pos[t]:.2f}" for t in order)
    gap = float(np.nanmax(np.abs(th["p"] - th["born"]))) if len(th) else np.nan
    text = (f"From the init alone ({THEORY_DRAWS:,} Monte Carlo draws per init × task × output), P(born dead) differs "
            f"from the measured rate by at most {100 * gap:.1f} pp. Rister and Rubin [Rister2020] bound the chance "
            "that a ReLU net starts trainable between two limits; for this 2-4-4-1 net and any symmetric init they "
            "are P(born dead) at one input point (upper: dead on a set means dead at each of its points) and on the "
            "whole non-negative orthant a hidden layer can see (lower: a unit whose fan-in weights and bias are all "
            "≤ 0 is dead on any data). On a scale from 0 (the orthant limit) to 1 (the one-point limit), the "
            f"measured-from-init rate sits at (mean over inits and outputs): {where}. The posted six points, a small "
            "cluster away from the origin, sit nearest the one-point limit; standardising spreads them around the "
            "origin and moves the rate toward the lower limit.")
    rows = [(r.task, init_label(r.init), r.output, f"{pct(r.p)} {ci(r.ci_low, r.ci_high)}",
             f"{pct(r.born)} ({int(r.n):,} runs)", pct(r.lower, 2), pct(r.upper, 1), f"{r.position:.2f}")
            for r in th.sort_values(["output", "task", "init"]).itertuples()]
    return text, md_table(pd.DataFrame(rows, columns=[
        "task", "init", "output", "P(born dead), init alone [95% CI]", "measured", "lower limit (orthant)",
        "upper limit (one point)", "position (0 = lower, 1 = upper)"]))


def _advice_table(f: GeneralityFinding) -> str:
    a = advice(f)
    return md_table(pd.DataFrame([(r.task, r.who, f"{pct(r.fail)} {ci(r.fail_low, r.fail_high)}", f"{r.n:,}")
                                  for r in a.itertuples()], columns=["task", "setting", "P(fail) [95% CI]", "runs"]))


def figures_(f: GeneralityFinding):
    order = {**{t: i for i, t in enumerate(TASKS)}, **{t: i for i, t in enumerate(INIT_ORDER)}}
    plot = f.rates.sort_values(["task", "init"], key=lambda s: s.map(order))
    plot = plot.assign(init=[init_label(i) for i in plot["init"]])
    plot["setting"] = pd.Categorical(plot["setting"], categories=[s for s in SETTINGS.values()
                                                                   if s in set(plot["setting"])] or None)
    plot = plot.sort_values("setting", kind="stable")
    plot["setting"] = plot["setting"].astype(str)
    return [Figure("generality.png", figures_gen.rates_by_task(
        plot, title=f"Failure rate by task × init × update (lr {f.lr:g}, {f.epochs:,} epochs; 95% CIs)"),
        "failure rate by task, init and update")]


def section(f: GeneralityFinding, v: Verdict, links) -> str:
    r = f.rates
    six = r["task"].map(lambda t: get_task(t).n_samples) == get_task("posted").n_samples
    relu_out = (r["activation"] == "relu") & (r["output"] == "same")
    n_main = int(_cells(r, task="posted")["n"].max())
    n_six = int(r.loc[six & ~relu_out, "n"].min())
    n_big = int(r.loc[~six, "n"].min()) if (~six).any() else 0
    rel = r.groupby("task")["threshold_rel"].first()
    thr = "; ".join(f"{t}: {pct(rel[t], 2)}" for t in TASKS if t in rel.index)
    theory_text, theory_table = _theory_text(f)
    k = f.contrasts
    return f"""Does the lottery belong to ReLU or to the toy? The experiment `generality` trains the 2-4-4-1 net on five
training sets (`task`: the posted six pairs; the same six standardised per column, as scikit-learn's StandardScaler
does; a 64-pair grid of x1, x2 in 0.1..0.8 with y = x1 + x2, raw and standardised; the same grid with y = x1 · x2),
with the inits randn, he, xavier and torch (PyTorch's `nn.Linear` default; Keras's `Dense` default is the xavier
transform itself, so its runs are xavier's bit for bit), under both updates, for ReLU with a ReLU output and, per
sample, ReLU and leaky ReLU with an identity output; ReLU with a ReLU output also trains on the full batch (the mean
gradient over all pairs per update). lr {f.lr:g} and {f.epochs:,} epochs throughout, so the runs differ in updates:
{_updates_text(f)}. Seeds: {n_main:,} for the six-pair ReLU-output cells, {n_six:,} for the other six-pair cells and {n_big:,}
for the 64-pair ones; a cell is paired by seed with the same cell on the posted task (same initial draw). Solved still means final MSE < 1e-3; as a
share of each task's target variance (the MSE of predicting the mean) that is {thr}.

**{v.text}**

{links.get("generality.png", "")}

**The main setting** (ReLU, ReLU output, per-sample SGD), per task: the failure rate, how much of it is born dead,
and each cell's change against the posted task on the same seeds, split (Kitagawa [Kitagawa1955]) into the part the born-dead share
carries and the part that happens in training. Over {len(k):,} such contrasts (all settings), the born-dead part
accounts for {pct(np.nansum(np.abs(k["born_part"])) / max(np.nansum(np.abs(k["born_part"]) + np.abs(k["training_part"])), 1e-300), 0)} of the absolute change.

{_main_table(f)}

**What to do.** What a PyTorch or Keras user who writes this net with the defaults (true gradients, a ReLU output)
would see on each task, and the lowest-failing cell measured there:

{_advice_table(f)}

**Born dead, from the init alone.** {theory_text}

<details><summary>P(born dead) per task, init and output: Monte Carlo, measured, and the two limits</summary>

{theory_table}

</details>

<details><summary>All cells</summary>

{_rates_table(r)}

</details>
"""


def answer(f: GeneralityFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="generality", title="Is it the toy? Task geometry, framework defaults and the batch",
              select=select, finding=finding, verdict=verdict, figures=figures_, section=section, answer=answer,
              stored=True)
