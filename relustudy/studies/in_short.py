"""The report's opening (issue 25.1): "In short", the recipe table beside its figure, and one
answer per question, every number from a sample of at least 10^5 seeds.

The mechanism, how often, momentum and what to do are each chosen by a rule over the finding
(:func:`mechanism_rule`, :func:`momentum_rule`, :func:`recipe_rule`, named thresholds below).
The recipe is the registry :data:`RECIPE`: one entry per row, a change to the posted program;
each row reads the largest loaded sample that holds its cell (``studies.samples``), and a
row whose cell is not in the data yet, or is there on fewer than 10^5 seeds, is named
instead of shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from relustudy.analysis import vocabulary as vocab
from relustudy.core.optimizers import MOMENTUM
from relustudy.core.outcomes import EPOCH_ERROR_TARGET
from relustudy.core.problem import MSE_ZERO_OUTPUT
from relustudy.figures import recipe as figures_recipe
from relustudy.stats import paired_tests
from relustudy.stats import proportions as stats
from relustudy.stats.intervals import median_ci
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.studies.common import ALPHA, Context, Skip, ci, diff_ci, md_table, num, pct, pval
from relustudy.studies import generality
from relustudy.studies import samples as samples_mod
from relustudy.studies.samples import CONFIRMED_SEEDS, Sample


@dataclass(frozen=True)
class Remedy:
    """One row of the recipe table: a change to the posted program."""

    label: str  # as the table and the figure name it
    change: Mapping[str, object]  # factor -> value, applied to the posted cell (core.config.Cell)
    kind: str  # "remedy", "warning" (a change that looks like a fix), "momentum" (the posted answer's),
    #            "setting" (what practitioners usually do: standardised inputs, a framework's defaults)


ADAM_LR = 0.001  # torch.optim.Adam's default lr (runs.catalog.ADAM_LR)
MATCHED_LR = round(0.01 * (1 - MOMENTUM), 12)  # momentum's step matched to SGD at the posted lr 0.01
RECIPE: tuple[Remedy, ...] = (
    Remedy("identity output unit", {"output": "identity"}, "remedy"),
    Remedy("leaky ReLU", {"activation": "leaky_relu"}, "remedy"),
    Remedy("leaky ReLU + identity output", {"activation": "leaky_relu", "output": "identity"}, "remedy"),
    Remedy(f"Adam (lr {ADAM_LR:g})", {"optimizer": "adam", "lr": ADAM_LR}, "remedy"),
    Remedy("He init + corrected update", {"init": "he", "update": "corrected"}, "remedy"),
    Remedy("RAI init + corrected update", {"init": "rai", "update": "corrected"}, "remedy"),
    # What practitioners usually do (the generality experiment, issue 27): kind "setting".
    Remedy("standardised inputs", {"task": "posted_std"}, "setting"),
    Remedy("standardised inputs + corrected update", {"task": "posted_std", "update": "corrected"}, "setting"),
    Remedy("PyTorch default init + corrected update", {"init": "torch", "update": "corrected"}, "setting"),
    # Keras's Dense default (Glorot uniform, zero bias) is the xavier transform: its runs are xavier's.
    Remedy("Keras default init (= Xavier) + corrected update", {"init": "xavier", "update": "corrected"}, "setting"),
    Remedy("full batch + corrected update", {"batch": "full", "update": "corrected"}, "setting"),
    Remedy("bias bug fixed alone (corrected update)", {"update": "corrected"}, "warning"),
    Remedy(f"momentum {MOMENTUM:g}, same lr 0.01", {"optimizer": "momentum"}, "momentum"),
    Remedy(f"momentum {MOMENTUM:g}, matched step (lr {MATCHED_LR:g})", {"optimizer": "momentum", "lr": MATCHED_LR},
           "momentum"),
)
MOMENTUM_ROWS = {"same lr": RECIPE[-2].label, "matched step": RECIPE[-1].label}
WARNING_LABEL = RECIPE[-3].label  # the corrected update alone

MECHANISM_SHARE = 0.5  # at least this share of the failed runs end with a dead output: the dead output is "the" mechanism
GOOD_RATE = 0.05  # a remedy failing at most this often (upper 95% bound) is recommended outright


@dataclass(frozen=True)
class InShortFinding:
    posted: stats.ProportionResult  # the posted cell's failure rate on its largest sample (the million)
    posted_source: str  # which sample that is
    born_dead: stats.ProportionResult  # output born dead (output unit dead on all six inputs at init), same runs
    fail_if_born_dead: stats.ProportionResult  # P(fail | output born dead)
    dead_of_failed: stats.ProportionResult  # failed runs whose outcome is dead_output, of the failed runs
    at_zero_loss: stats.ProportionResult  # dead_output runs whose final MSE is the zero-output loss (float32)
    zero_loss: float  # MSE of a net that outputs 0 everywhere: mean(Y^2), from the task's targets
    rows: pd.DataFrame  # recipe rows: label, kind, source, n, k, rate, ci_low, ci_high, n_pairs, rate_a, diff,
    #                     diff_low, diff_high, n10, n01, p, p_holm (one Holm family over the rows)
    strata: pd.DataFrame  # momentum rows per stratum: label, stratum, n, rate_a, rate_b, diff, diff_low, diff_high, p
    speed: object  # median_ci of epochs to epoch error < target over the posted cell's solved runs
    q1: pd.DataFrame | None  # median final MSE per activation x output (as posted, lr 0.1) on its largest sample
    #                          (the screen until confirm_q1 is made): n, median, low, high, source; None if missing
    generality: object = None  # studies.generality's finding (is it the toy?), None without its data
    missing: list = field(default_factory=list)  # recipe labels without a cell in the data
    small: list = field(default_factory=list)  # recipe labels with fewer than CONFIRMED_SEEDS seeds: (label, n, source)


Q1_CELLS = tuple(dict(activation=a, output=o, lr=0.1) for a in ("tanh", "sigmoid") for o in ("same", "identity"))


def select(ctx: Context) -> dict:
    posted = samples_mod.largest(ctx, {})
    if posted is None or not posted.confirmed:
        raise Skip(f"the posted cell has fewer than {CONFIRMED_SEEDS:,} seeds (run "
                   "`python scripts/run_grid.py --experiment million`)", experiment="million")
    rows = {r.label: samples_mod.largest(ctx, r.change) for r in RECIPE}
    q1 = {tuple(c.values()): samples_mod.largest(ctx, c) for c in Q1_CELLS}
    try:
        gen = ctx.finding(generality.STUDY)
    except Skip:
        gen = None
    return {"posted": posted, "rows": rows, "q1": q1, "generality": gen}


def _rate(k, n) -> stats.ProportionResult:
    return stats.proportion_ci(int(k), int(n), alpha=ALPHA) if n else stats.ProportionResult(0, 0, np.nan, np.nan,
                                                                                             np.nan, "exact")


def _paired(a: pd.DataFrame, b: pd.DataFrame):
    """(fail_a, fail_b, born dead in a) on the seeds both hold."""
    seeds = np.intersect1d(a["seed"].to_numpy(), b["seed"].to_numpy())
    a = a[np.isin(a["seed"].to_numpy(), seeds)]
    b = b[np.isin(b["seed"].to_numpy(), seeds)]
    return vocab.failed(a), vocab.failed(b), vocab.output_born_dead(a)


def finding(d: dict) -> InShortFinding:
    base: Sample = d["posted"]
    post = base.runs
    fail, born = vocab.failed(post), vocab.output_born_dead(post)
    outcome = vocab.labels(post["outcome"])
    dead_out = outcome == "dead_output"
    zero_loss = MSE_ZERO_OUTPUT  # mean(Y^2), computed from the task's targets (core.problem)
    at_zero = post["final_mse"].to_numpy() == np.asarray(zero_loss, dtype=post["final_mse"].dtype)
    rows, strata, missing, small = [], [], [], []
    for r in RECIPE:
        s: Sample | None = d["rows"][r.label]
        if s is None:
            missing.append(r.label)
            continue
        if not s.confirmed:
            small.append((r.label, s.n, s.name))
            continue
        fa, fb, bd = _paired(post, s.runs)
        mc = paired_tests.mcnemar_exact(fa, fb, alpha=ALPHA)
        own = _rate(vocab.failed(s.runs).sum(), s.n)
        rows.append(dict(label=r.label, kind=r.kind, source=s.name, n=s.n, k=own.k, rate=own.rate,
                         ci_low=own.ci_low, ci_high=own.ci_high, n_pairs=mc.n, rate_a=mc.rate_a, diff=mc.diff,
                         diff_low=mc.diff_low, diff_high=mc.diff_high, n10=mc.n10, n01=mc.n01, p=mc.pvalue))
        if r.kind == "momentum":
            for stratum, m in (("output born dead", bd), ("output alive at init", ~bd)):
                ms = paired_tests.mcnemar_exact(fa[m], fb[m], alpha=ALPHA)
                strata.append(dict(label=r.label, stratum=stratum, n=ms.n, rate_a=ms.rate_a, rate_b=ms.rate_b,
                                   diff=ms.diff, diff_low=ms.diff_low, diff_high=ms.diff_high, p=ms.pvalue))
    rows = pd.DataFrame(rows, columns=["label", "kind", "source", "n", "k", "rate", "ci_low", "ci_high", "n_pairs",
                                       "rate_a", "diff", "diff_low", "diff_high", "n10", "n01", "p"])
    rows["p_holm"] = stats.holm(rows["p"].to_numpy()) if len(rows) else []
    hit = post["epochs_to_1e-3"].dropna().to_numpy(float)
    q1 = []
    for (act, out, lr), s in d["q1"].items():
        if s is not None:
            m = median_ci(s.runs["final_mse"].to_numpy(float)[vocab.labels(s.runs["outcome"]) != "diverged"])
            q1.append(dict(activation=act, output=out, n=m.n, median=m.median, low=m.ci_low, high=m.ci_high,
                           source=s.name))
    return InShortFinding(
        posted=_rate(fail.sum(), len(post)), posted_source=base.name, born_dead=_rate(born.sum(), len(post)),
        fail_if_born_dead=_rate(fail[born].sum(), born.sum()), dead_of_failed=_rate((fail & dead_out).sum(), fail.sum()),
        at_zero_loss=_rate((dead_out & at_zero).sum(), dead_out.sum()), zero_loss=zero_loss, rows=rows,
        strata=pd.DataFrame(strata), speed=median_ci(hit), q1=pd.DataFrame(q1) if len(q1) == len(Q1_CELLS) else None,
        generality=d.get("generality"), missing=missing, small=small)


# --------------------------------------------------------------------------- rules


def mechanism_rule(f: InShortFinding) -> Verdict:
    """Is the dead output *the* way runs fail? "dead-output" when at least :data:`MECHANISM_SHARE`
    of the failed runs end with the output unit dead on all six pairs, else "mixed"."""
    d = f.dead_of_failed
    if d.rate >= MECHANISM_SHARE:
        return Verdict("dead-output", (
            f"When the input of the output ReLU is ≤ 0 on all six training pairs, the network outputs 0 everywhere, the "
            f"loss sits at {f.zero_loss:.3f} (the mean of the squared targets) and every gradient is exactly zero, so "
            f"nothing learns; only the posted code's bias decay (`b -= lr * b`) still moves anything. "
            f"{pct(d.rate, 0)} of the failed runs end this way."))
    return Verdict("mixed", (
        f"Only {pct(d.rate, 0)} of the failed runs end with the output ReLU's input ≤ 0 on all six pairs (output 0 "
        f"everywhere, loss {f.zero_loss:.3f}, every gradient zero); the rest fail some other way (see the sections)."))


def _row(f: InShortFinding, label: str) -> pd.Series | None:
    g = f.rows[f.rows["label"] == label]
    return None if g.empty else g.iloc[0]


def _direction(row) -> str:
    """"helps", "hurts" or "no change": the row's paired change, significant after Holm."""
    if row["p_holm"] >= ALPHA:
        return "no change"
    return "hurts" if row["diff"] > 0 else "helps"


def momentum_rule(f: InShortFinding) -> Verdict:
    """Does momentum help? Per comparison (same lr, matched step), "helps"/"hurts" when its paired
    change is significant (Holm p < ALPHA over the recipe rows), else "no change". Where: the same
    lr's change per stratum (output born dead / alive at init), each "helps"/"hurts" when
    significant (McNemar p < ALPHA), else "no change"."""
    keys, parts = [], []
    for name, label in MOMENTUM_ROWS.items():
        row = _row(f, label)
        if row is None:
            keys.append(f"{name}:missing")
            continue
        key = _direction(row)
        keys.append(f"{name}:{key}")
        parts.append(f"at the {name} it fails {pct(row['rate'], 1)} ({'no significant change' if key == 'no change' else key})")
    if not parts:
        return Verdict(",".join(keys), "Momentum was not measured on enough seeds.")
    lead = "helps" if any(k.endswith(":helps") for k in keys) else "does not help"
    text = f"Momentum, the posted answer's fix, {lead}: " + ", ".join(parts) + "."
    st = f.strata[f.strata["label"] == MOMENTUM_ROWS["same lr"]] if len(f.strata) else f.strata
    words = {"helps": "helps", "hurts": "hurts", "no change": "does not change"}
    where = []
    for s in st.itertuples():
        k = "no change" if s.p >= ALPHA else ("hurts" if s.diff > 0 else "helps")
        keys.append(f"{s.stratum}:{k}")
        who = "seeds whose output starts dead" if s.stratum == "output born dead" else "those that start alive"
        where.append(f"{words[k]} {who} ({pct(s.rate_a, 0)} → {pct(s.rate_b, 0)})")
    if where:
        text += " At the same lr it " + " and ".join(where) + "."
    return Verdict(",".join(keys), text)


def recipe_rule(f: InShortFinding) -> Verdict:
    """What to do: the remedy and setting rows that fail significantly less than the posted program
    (Holm p < ALPHA) with an upper 95% bound of at most :data:`GOOD_RATE` ("fix"); else the best
    significant one ("best-only"); else "none". Warns about every warning or setting row that fails
    significantly more."""
    rem = f.rows[f.rows["kind"].isin(["remedy", "setting"]) & (f.rows["p_holm"] < ALPHA) & (f.rows["diff"] < 0)]
    good = rem[rem["ci_high"] <= GOOD_RATE].sort_values("rate", kind="stable")
    warn = f.rows[f.rows["kind"].isin(["warning", "setting"]) & (f.rows["p_holm"] < ALPHA) & (f.rows["diff"] > 0)]
    others = [f"{w.label} ({pct(w.rate, 0)})" for w in warn.itertuples() if w.label != WARNING_LABEL]
    warning = "".join(f" Do not fix only the bias bug: that alone raises failures to {pct(w.rate, 0)}."
                      for w in warn.itertuples() if w.label == WARNING_LABEL)
    if others:
        warning += f" These fail more often: {'; '.join(others)}."
    if len(good):
        names = " or ".join(f"{r.label} ({pct(r.rate, 1)})" for r in good.head(3).itertuples())
        each = "each fails" if len(good.head(3)) > 1 else "it fails"
        return Verdict("fix", f"Use {names}: {each} on under {pct(GOOD_RATE, 0)} of seeds.{warning}")
    if len(rem):
        b = rem.sort_values("rate", kind="stable").iloc[0]
        return Verdict("best-only", f"No remedy here fails under {pct(GOOD_RATE, 0)}; the best is {b['label']} "
                                    f"({pct(b['rate'], 1)}).{warning}")
    return Verdict("none", f"No remedy measured here fails significantly less than the posted program.{warning}")


def verdict(f: InShortFinding) -> Verdict:
    parts = (mechanism_rule(f), momentum_rule(f), recipe_rule(f))
    return Verdict(";".join(v.key for v in parts), " ".join(v.text for v in parts))


# --------------------------------------------------------------------------- text


def in_short(f: InShortFinding) -> str:
    """The opening paragraph: plain words, at most ~200 of them, every number from the finding."""
    p, b, fd = f.posted, f.born_dead, f.fail_if_born_dead
    return (f"**Why it fails.** {mechanism_rule(f).text}\n\n"
            f"**How often.** {pct(p.rate, 1)} of {p.n:,} random starts (seeds) fail. {pct(b.rate, 0)} start with the "
            f"output unit already dead, and {pct(fd.rate, 0)} of those fail.\n\n"
            f"**Momentum.** {momentum_rule(f).text}\n\n"
            f"**What to do.** {recipe_rule(f).text}")


def recipe_table(f: InShortFinding) -> str:
    p = f.posted
    head = [("**posted program**", f"{p.n:,} (`{f.posted_source}`)", f"{pct(p.rate, 1)} {ci(p.ci_low, p.ci_high, 1)}",
             "–", "–", "–")]
    body = [(r.label, f"{r.n:,} (`{r.source}`)", f"{pct(r.rate, 1)} {ci(r.ci_low, r.ci_high, 1)}",
             f"{pct(r.rate_a, 1)} on {r.n_pairs:,}", diff_ci(r.diff, r.diff_low, r.diff_high), pval(r.p_holm))
            for r in f.rows.itertuples()]
    return md_table(pd.DataFrame(head + body, columns=[
        "change to the posted program", "seeds (sample)", "fails [95% CI]", "posted program on the same seeds",
        "Δ fails [95% CI]", "p (McNemar, Holm)"]))


def answers(f: InShortFinding) -> list[tuple[str, str, str]]:
    """One answer per question: (question, section anchor, at most three sentences)."""
    b, fd, d = f.born_dead, f.fail_if_born_dead, f.dead_of_failed
    out = [("Q2: why do some ReLU runs never learn?", "million",
            f"Because the output unit dies: {pct(d.rate, 0)} of the failed runs end with its input ≤ 0 on every pair, "
            f"where every gradient is zero. {pct(b.rate, 0)} of the seeds start with it dead, and {pct(fd.rate, 0)} of "
            "those fail.")]
    s = f.speed
    out.append(("Q2: why is ReLU fast when it works?", "relu-speed",
                f"The posted program's runs that succeed reach an epoch error below {EPOCH_ERROR_TARGET:g} in a median "
                f"{num(s.median, 4)} epochs [{num(s.ci_low, 4)}, {num(s.ci_high, 4)}] (n = {s.n:,}). The section measures "
                "what sets that pace."))
    if f.q1 is not None:
        m = {(r.activation, r.output): r for r in f.q1.itertuples()}
        n = int(f.q1["n"].min())
        src = "`, `".join(dict.fromkeys(f.q1["source"]))
        where = f"n = {n:,} seeds each, from `{src}`" + (
            "" if n >= CONFIRMED_SEEDS else f"; not yet confirmed on {CONFIRMED_SEEDS:,}: `confirm_q1` does that")
        out.append(("Q1 and claim 1: why are tanh and sigmoid slow, and is it a vanishing gradient?", "q1",
                    f"After 5,000 epochs at lr 0.1 the median final MSE is {num(m[('tanh', 'same')].median, 2)} (tanh) and "
                    f"{num(m[('sigmoid', 'same')].median, 2)} (sigmoid) as posted, {num(m[('tanh', 'identity')].median, 2)} "
                    f"and {num(m[('sigmoid', 'identity')].median, 2)} with an identity output unit ({where}). The "
                    "targets of 1.0 sit on tanh's asymptote and outside sigmoid's range; [claim 1](#vanishing) measures "
                    "whether the gradient vanishes."))
    else:
        out.append(("Q1 and claim 1: why are tanh and sigmoid slow, and is it a vanishing gradient?", "q1",
                    "This dataset has no tanh/sigmoid cells at lr 0.1; see the section."))
    z = f.at_zero_loss
    out.append(("Claim 2: a local minimum?", "local-minimum",
                f"A dead output is a flat plateau: {pct(z.rate, 1)} of the {z.n:,} dead-output runs end at exactly the "
                f"zero-output loss {f.zero_loss:.3f}, where every gradient is zero. The section checks which of them "
                "are (non-strict) local minima."))
    out.append(("Claim 3: does momentum avoid it?", "momentum", momentum_rule(f).text))
    if f.generality is not None:
        g = f.generality
        out.append(("Is the lottery ReLU's or the toy's?", "generality",
                    " ".join(rule(g).text for rule in (generality.standardisation_rule, generality.data_rule,
                                                       generality.defaults_rule))))
    out.append(("What should I change?", "in-short",
                recipe_rule(f).text.rstrip(".") + "; the recipe table above has the rest."))
    return out


EFFECT_LABELS = {"posted": "the posted program", "helps": f"fails less (paired, Holm p < {ALPHA:g})",
                 "hurts": f"fails more (paired, Holm p < {ALPHA:g})", "no change": "no significant change"}  # legend


def figures_(f: InShortFinding):
    if f.rows.empty:
        return []
    p = f.posted
    rows = f.rows.assign(effect=[_direction(r) for _, r in f.rows.iterrows()])
    bars = pd.concat([pd.DataFrame([dict(label="posted program", effect="posted", rate=p.rate, ci_low=p.ci_low,
                                         ci_high=p.ci_high)]), rows[["label", "effect", "rate", "ci_low", "ci_high"]]],
                     ignore_index=True)
    bars["effect"] = bars["effect"].map(EFFECT_LABELS)
    return [Figure("recipe.png", figures_recipe.remedy_rates(
        bars, y="label", hue="effect", reference=f.posted.rate,
        reference_label=f"posted program: {pct(f.posted.rate, 1)}",
        title="How often each change to the posted program fails"), "failure rate per remedy")]


def section(f: InShortFinding, v: Verdict, links) -> str:
    missing = (f" Rows to come: {', '.join(f.missing)} (not in the data yet)." if f.missing else "")
    small = ("" if not f.small else f" Left out for fewer than {CONFIRMED_SEEDS:,} seeds: "
             + ", ".join(f"{lab} ({n:,} in `{src}`)" for lab, n, src in f.small) + ".")
    qa = "\n".join(f"- **[{q}](#{anchor})** {text}" for q, anchor, text in answers(f))
    return f"""{in_short(f)}

**The recipe.** Each row changes one thing (or two) in the posted program and runs it from the same random starts:
seed s gives both programs the same initial draw, so the difference is measured on the same seeds ("paired"). The
95% CI is the range that holds the true rate with 95% confidence. Δ is the change in failure rate on the seeds both
programs ran; p is the exact McNemar test of that change (it counts the seeds one program solves and the other does
not), Holm-adjusted over the {len(f.rows)} rows (a correction for testing several rows at once).{missing}{small}

{recipe_table(f)}

{links.get("recipe.png", "")}

### One answer per question

{qa}
"""


STUDY = Study(name="in-short", title="In short", select=select, finding=finding, verdict=verdict,
              figures=figures_, section=section)
