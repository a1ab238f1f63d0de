"""Which randomness makes runs inconsistent: the init, the data order or the arithmetic? (issue 19.2)

Data: the ``noise`` experiment (``python scripts/run_grid.py --experiment noise``) on three
cells -- the posted one, the corrected update, lr 0.1 -- with (a) a crossed design, init seeds
x order seeds in shuffled order, (b) fixed order in float32 and (c) fixed order from inits
moved by one ulp in one parameter; the float64 fixed-order runs of the posted and corrected
cells are ``million``'s (the same runs bit for bit, not retrained). The finding is, per cell
and source, the probability that two runs disagree on solved/failed when only that source
changes (:mod:`relustudy.analysis.disagreement`), beside the probability when everything changes;
the verdict reads only :class:`RandomnessFinding`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis.disagreement import CrossedResult, crossed_decomposition, distinct_seeds_disagreement, paired_disagreement
from relustudy.studies.common import POSTED, ci, md_table, num, pct
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.cells import PALETTE

BOOT_SEED = 19  # the cluster bootstraps' generator (fixed: the same data give the same report)
N_BOOT = 2000
# A source gives "nearly all" of the run-to-run disagreement when the 95 % lower bound of its
# ratio to P(everything changes) reaches NEAR_FULL, "a small part" when the upper bound stays
# below SMALL; in between it is "part".
NEAR_FULL = 0.8
SMALL = 0.25
# The init seed "decides" the outcome when more than INIT_DECIDES of the crossed design's
# variance lies between init seeds (icc's 95 % lower bound), the order seed when icc's upper
# bound is below it.
INIT_DECIDES = 0.5
# Bouthillier et al.'s pattern: the sources' variances are "comparable" -- within this factor.
COMPARABLE = 2.0
LABEL_BELOW = 0.05  # the figure prints the value of bars shorter than this

CELLS = (  # label, change from the posted cell
    ("posted", {}),
    ("corrected update", {"update": "corrected"}),
    ("lr 0.1", {"lr": 0.1}),
)
# Source key -> (label in the table and figure, design). "init" in fixed order is the only
# randomness there, so it is also that design's "everything changes".
SOURCES = {
    "init": ("init seed (fixed order)", "fixed"),
    "float32": ("float32 vs float64", "fixed"),
    "ulp": ("one ulp of one initial weight", "fixed"),
    "init_shuffled": ("init seed (same order seed)", "shuffled"),
    "order": ("order seed (same init seed)", "shuffled"),
    "everything": ("init and order seed", "shuffled"),
}
REFERENCE = {"fixed": "init", "shuffled": "everything"}  # P(everything changes) in each design
PAPERS = {
    "summers": "Summers & Dinneen, *Nondeterminism and Instability in Neural Network Optimization*, ICML 2021 "
               "([arXiv:2103.04514](https://arxiv.org/abs/2103.04514)) [Summers2021]",
    "bouthillier": "Bouthillier et al., *Accounting for Variance in Machine Learning Benchmarks*, MLSys 2021 "
                   "([arXiv:2103.03098](https://arxiv.org/abs/2103.03098)) [Bouthillier2021]",
}


# --------------------------------------------------------------------------- data selection


@dataclass(frozen=True)
class CellData:
    """One cell's failure indicators: (S,) per seed in fixed order, paired by seed; (S, K) crossed."""

    fixed64: pd.Series | None  # seed -> failed, float64, fixed order, unperturbed
    float32: pd.Series | None
    ulp: pd.Series | None
    crossed: pd.DataFrame | None  # init seed x order seed -> failed (shuffled, float64)
    fixed64_source: str  # which dataset the float64 runs come from ("" if none)
    # seed -> final MSE rounded to float32 (the compact tables' precision), per fixed-order variant
    mse: dict = field(default_factory=dict)  # "fixed64" / "float32" / "ulp" -> pd.Series


def _col(runs: pd.DataFrame, name: str, default) -> pd.Series:
    """A factor column, or its default for a table that predates the factor."""
    return runs[name].astype(str) if name in runs.columns else pd.Series(str(default), index=runs.index)


def _fails(runs: pd.DataFrame) -> pd.Series:
    return pd.Series(analysis.is_failure(runs), index=runs["seed"].to_numpy(np.int64)).sort_index()


def _mse(runs: pd.DataFrame) -> pd.Series:
    return pd.Series(runs["final_mse"].to_numpy(np.float32), index=runs["seed"].to_numpy(np.int64)).sort_index()


def variant(runs: pd.DataFrame | None, where: dict, *, dtype="float64", order="fixed", perturb="none") -> pd.DataFrame:
    """The rows of ``runs`` matching ``where`` in one arithmetic (dtype), order and init perturbation."""
    if runs is None:
        return pd.DataFrame()
    sub = analysis.select(runs, {k: v for k, v in where.items() if k in runs.columns})
    keep = (_col(sub, "dtype", "float64") == dtype) & (_col(sub, "data_order", "fixed") == order)
    keep &= _col(sub, "init_perturb", "none") == perturb
    return sub[keep.to_numpy()]


def float64_runs(noise: pd.DataFrame, million: pd.DataFrame | None, where: dict) -> tuple[pd.DataFrame, str]:
    """A cell's unperturbed float64 runs in fixed order and where they come from: the noise
    experiment's own, else million's (the same cells and seeds, not retrained)."""
    f64 = variant(noise, where)
    return (f64, "noise") if not f64.empty else (variant(million, where), "million")


def select(ctx: Context) -> dict[str, CellData]:
    """Per cell label, the failure indicators of each design; Skip without the noise experiment."""
    if "noise" not in ctx.experiments:
        raise Skip("no dataset for experiment 'noise' (run `python scripts/run_grid.py --experiment noise`)",
                   experiment="noise")
    noise = ctx.experiments["noise"][0]
    million = ctx.experiments["million"][0] if "million" in ctx.experiments else None
    epochs = sorted(set(noise["epochs"].tolist()))  # million's runs pair only at the noise runs' budget
    out = {}
    for label, change in CELLS:
        where = {**POSTED, **change, "epochs": epochs}
        f64, source = float64_runs(noise, million, where)
        f32, ulp = variant(noise, where, dtype="float32"), variant(noise, where, perturb="one_ulp")
        shuf = variant(noise, where, order="shuffled")
        crossed = None
        if not shuf.empty:
            crossed = (pd.DataFrame({"seed": shuf["seed"].to_numpy(np.int64), "order_seed": shuf["order_seed"].to_numpy(),
                                     "fail": analysis.is_failure(shuf)})
                       .pivot(index="seed", columns="order_seed", values="fail"))
            if crossed.isna().any().any():
                raise Skip(f"the crossed design of cell {label!r} is incomplete (not every seed x order seed)")
        variants = {"fixed64": f64, "float32": f32, "ulp": ulp}
        out[label] = CellData(*(None if d.empty else _fails(d) for d in variants.values()), crossed,
                              source if not f64.empty else "",
                              {k: _mse(d) for k, d in variants.items() if not d.empty})
    if not any(d.crossed is not None or d.float32 is not None or d.ulp is not None for d in out.values()):
        raise Skip("the noise experiment holds none of its cells")
    return out


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class RandomnessFinding:
    """P(two runs disagree) per cell x source, and the crossed design's decomposition per cell.

    ``table``: one row per cell x source measured, with columns cell, source (a key of
    :data:`SOURCES`), label, design, rate, ci_low, ci_high, ratio, ratio_low, ratio_high
    (rate / P(everything changes) in the same design), n_pairs, n_seeds, p_fail (the design's
    failure rate).
    """

    table: pd.DataFrame
    crossed: dict[str, CrossedResult]
    # cell -> source -> share of paired seeds whose final MSE (float32 record) moved at all: the
    # paired change is not a no-op even where no outcome flips
    moved: dict
    fixed64_source: dict[str, str]

    def row(self, cell: str, source: str) -> pd.Series | None:
        hit = self.table[(self.table["cell"] == cell) & (self.table["source"] == source)]
        return None if hit.empty else hit.iloc[0]


def _paired(base: pd.Series, other: pd.Series) -> tuple | None:
    both = pd.concat([base.rename("a"), other.rename("b")], axis=1, join="inner")
    if len(both) < 2:
        return None
    r = paired_disagreement(both["a"].to_numpy(bool), both["b"].to_numpy(bool))
    return r, float(both["a"].mean())


def finding(data: dict[str, CellData]) -> RandomnessFinding:
    rng = np.random.default_rng(BOOT_SEED)
    rows, crossed, moved = [], {}, {}

    def add(cell, source, r, p_fail):
        label, design = SOURCES[source]
        rows.append(dict(cell=cell, source=source, label=label, design=design, rate=r.rate, ci_low=r.ci_low,
                         ci_high=r.ci_high, ratio=r.ratio, ratio_low=r.ratio_low, ratio_high=r.ratio_high,
                         n_pairs=r.n_pairs, n_seeds=r.n_seeds, p_fail=p_fail))

    for cell, d in data.items():
        if d.fixed64 is not None:
            # the init seed's pairs over the same seeds the paired sources use
            paired_seeds = [s.index for s in (d.float32, d.ulp) if s is not None]
            base = d.fixed64.loc[d.fixed64.index.isin(paired_seeds[0])] if paired_seeds else d.fixed64
            if len(base) >= 2:
                add(cell, "init", distinct_seeds_disagreement(base.to_numpy(bool)), float(base.mean()))
            for source, other in (("float32", d.float32), ("ulp", d.ulp)):
                got = None if other is None else _paired(d.fixed64, other)
                if got is not None:
                    add(cell, source, *got)
                    both = pd.concat([d.mse["fixed64"], d.mse[source]], axis=1, join="inner").to_numpy()
                    moved.setdefault(cell, {})[source] = float((both[:, 0] != both[:, 1]).mean())
        if d.crossed is not None:
            c = crossed_decomposition(d.crossed.to_numpy(bool), rng=rng, n_boot=N_BOOT)
            crossed[cell] = c
            for source, r in (("init_shuffled", c.init), ("order", c.order), ("everything", c.everything)):
                add(cell, source, r, c.p_fail)
    return RandomnessFinding(pd.DataFrame(rows), crossed, moved, {c: d.fixed64_source for c, d in data.items()})


# --------------------------------------------------------------------------- verdict


def share_class(ratio_low: float, ratio_high: float) -> str:
    """'nearly all', 'small' or 'part' of the full disagreement, from the ratio's 95 % CI.

    >>> share_class(0.85, 1.1), share_class(0.0, 0.1), share_class(0.3, 0.9), share_class(np.nan, np.nan)
    ('nearly all', 'small', 'part', 'n/a')
    """
    if not (np.isfinite(ratio_low) and np.isfinite(ratio_high)):
        return "n/a"
    if ratio_low >= NEAR_FULL:
        return "nearly all"
    if ratio_high <= SMALL:
        return "small"
    return "part"


def decider(c: CrossedResult) -> str:
    """Who decides the outcome in a crossed cell: 'init seed', 'order seed' or 'both'.

    >>> from types import SimpleNamespace as N
    >>> decider(N(icc_low=0.6, icc_high=0.8)), decider(N(icc_low=0.1, icc_high=0.4)), decider(N(icc_low=0.4, icc_high=0.6))
    ('init seed', 'order seed', 'both')
    """
    if c.icc_low >= INIT_DECIDES:
        return "init seed"
    if c.icc_high < INIT_DECIDES:
        return "order seed"
    return "both"


def classes(f: RandomnessFinding) -> pd.DataFrame:
    """Per cell x non-reference source: its share class (:func:`share_class`)."""
    t = f.table[~f.table["source"].isin(REFERENCE.values())]
    return t.assign(share=[share_class(lo, hi) for lo, hi in zip(t["ratio_low"], t["ratio_high"])])


def verdict(f: RandomnessFinding) -> Verdict:
    """Which source decides the outcome, and whether the arithmetic matters, in every cell.

    Arithmetic sources (float32, one ulp): ``negligible`` if 'small' in every cell,
    ``full`` if 'nearly all' in every cell, else ``mixed``. Order vs init: the decider of every
    crossed cell (:func:`decider`) if they agree, else ``mixed``. The key is
    ``arithmetic-<...>/<decider>``.
    """
    cl = classes(f)
    arith = cl[cl["source"].isin(["float32", "ulp"])]
    shares = set(arith["share"]) - {"n/a"}
    a_key = "negligible" if shares == {"small"} else "full" if shares == {"nearly all"} else "mixed" if shares else "n/a"
    deciders = {cell: decider(c) for cell, c in f.crossed.items()}
    d_set = set(deciders.values())
    d_key = d_set.pop() if len(d_set) == 1 else ("mixed" if d_set else "n/a")
    parts = []
    if a_key == "negligible":
        worst = arith.loc[arith["ci_high"].idxmax()]
        flips = "; ".join(f"{label}: " + ", ".join(f"{int(round(r.rate * r.n_pairs)):,} of {r.n_pairs:,} ({r.cell})"
                                                    for r in g.itertuples())
                          for label, g in arith.groupby("label", sort=False))
        parts.append(f"The arithmetic barely matters: float32 instead of float64 and a one-ulp change of one initial "
                     f"weight flip solved/failed in at most {rate_text(worst['ci_high'])} of seeds (95 % upper bound; "
                     f"seeds that flip: {flips}), at most {rate_text(arith['ratio_high'].max())} of "
                     f"the disagreement between two runs with different init seeds (threshold {pct(SMALL, 0)}).")
    elif a_key == "full":
        parts.append("The arithmetic alone reproduces the run-to-run inconsistency: float32 and one ulp each give "
                     f"at least {pct(NEAR_FULL, 0)} of the disagreement of two independent runs, in every cell.")
    elif a_key == "mixed":
        parts.append("The arithmetic's share differs between cells and sources: " + "; ".join(
            f"{r.label}, {r.cell}: {r.share}" for r in arith.itertuples()) + ".")
    if d_key in ("init seed", "order seed", "both"):
        iccs = ", ".join(f"{cell} {num(c.icc, 2)} {ci_plain(c.icc_low, c.icc_high)}" for cell, c in f.crossed.items())
        says = {"init seed": "the init seed decides the outcome: most of the variance of failing lies between init seeds",
                "order seed": "the data order decides more than the init: most of the variance lies within init seeds, "
                              "between order seeds",
                "both": "init seed and data order share the variance"}[d_key]
        orders = ", ".join(f"{cell} {pct(c.order.rate, 2)}" for cell, c in f.crossed.items())
        parts.append(f"With shuffled data, {says} (intraclass correlation {iccs}; threshold {num(INIT_DECIDES, 2)}): "
                     f"two runs of one init seed under different order seeds disagree in {orders} of pairs, two runs "
                     f"with different init and order seeds in "
                     f"{', '.join(pct(c.everything.rate, 0) for c in f.crossed.values())}.")
    elif d_key == "mixed":
        parts.append("Which of init seed and data order decides differs between cells: " + ", ".join(
            f"{cell}: {d}" for cell, d in deciders.items()) + ".")
    if not parts:
        parts.append("Too few runs in the noise experiment to rank the sources.")
    return Verdict(f"arithmetic-{a_key}/{d_key}", " ".join(parts))


def ci_plain(lo: float, hi: float) -> str:
    """A CI of a plain number: '[0.61, 0.66]'."""
    return f"[{num(lo, 2)}, {num(hi, 2)}]"


# Point by point against the papers: each point a rule over the classes, tested on both sides.
def compare_all_sources_alike(f: RandomnessFinding) -> str:
    """Both papers: every source alone gives about the full variability. 'agrees' if every
    measured source is 'nearly all' in every cell, 'differs' if any is 'small', else 'partly'."""
    s = set(classes(f)["share"]) - {"n/a"}
    if not s:
        return "n/a"
    return "agrees" if s == {"nearly all"} else "differs" if "small" in s else "partly"


def compare_one_ulp(f: RandomnessFinding) -> str:
    """Summers & Dinneen: a one-bit change of one initial weight gives the full variability."""
    cl = classes(f)
    s = set(cl.loc[cl["source"] == "ulp", "share"]) - {"n/a"}
    if not s:
        return "n/a"
    return "agrees" if s == {"nearly all"} else "differs" if s == {"small"} else "partly"


def compare_comparable(f: RandomnessFinding) -> str:
    """Bouthillier et al.: init, data order and numerical noise give comparable variance (within
    :data:`COMPARABLE`). Per cell the ratios of init (same order seed), order seed and float32;
    'agrees' if max/min <= COMPARABLE in every cell that has all three, else 'differs'."""
    verdicts = []
    for cell in f.table["cell"].unique():
        r = [f.row(cell, s) for s in ("init_shuffled", "order", "float32")]
        if any(x is None or not np.isfinite(x["ratio"]) for x in r):
            continue
        lo, hi = min(x["ratio"] for x in r), max(x["ratio"] for x in r)
        verdicts.append(lo > 0 and hi / lo <= COMPARABLE)
    if not verdicts:
        return "n/a"
    return "agrees" if all(verdicts) else "differs"


# --------------------------------------------------------------------------- figure


def disagreement_bars(table: pd.DataFrame, *, x: str = "label", hue: str = "cell", ax=None):
    """P(two runs disagree) as bars with 95 % CIs: one group per source ``x``, one bar per ``hue``.

    Parameters
    ----------
    table : long form with columns ``x``, ``hue``, rate, ci_low, ci_high (e.g. the finding's table).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns


    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    xs = list(dict.fromkeys(table[x]))
    hs = list(dict.fromkeys(table[hue]))
    colors = dict(zip(hs, sns.color_palette(PALETTE, len(hs))))
    width = 0.8 / max(len(hs), 1)
    for k, h in enumerate(hs):
        sub = table[table[hue] == h].set_index(x).reindex(xs)
        pos = np.arange(len(xs)) + (k - (len(hs) - 1) / 2) * width
        rate = sub["rate"].to_numpy(float)
        err = np.vstack([rate - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - rate])
        ax.bar(pos, rate, width, color=colors[h], label=h)
        ax.errorbar(pos, rate, yerr=err, fmt="none", ecolor="black", elinewidth=1, capsize=2)
        for xp, r, hi in zip(pos, rate, sub["ci_high"].to_numpy(float)):
            if np.isfinite(r) and r < LABEL_BELOW:  # a bar too short to read: print its value
                ax.text(xp, hi + 0.01, rate_text(r), ha="center", va="bottom", rotation=90, fontsize=7)
    ax.set_xticks(np.arange(len(xs)))
    ax.set_xticklabels(xs, rotation=20, ha="right")
    ax.set_ylabel("P(two runs disagree on solved)")
    ax.set_ylim(0, max(0.55, float(np.nanmax(table["ci_high"])) * 1.05) if len(table) else 0.55)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")  # the most two runs can disagree (p = 1/2)
    if "design" in table.columns:  # a divider between the fixed-order and the shuffled-order sources
        design = table.drop_duplicates(x).set_index(x).reindex(xs)["design"].tolist()
        for i in range(1, len(xs)):
            if design[i] != design[i - 1]:
                ax.axvline(i - 0.5, color="grey", lw=0.8, ls="--")
        for i, d in enumerate(design):
            if i == 0 or design[i - 1] != d:
                ax.text(i - 0.45, ax.get_ylim()[1] * 0.97, f"{d} order", va="top", fontsize=9, color="dimgrey")
    ax.legend(title=hue, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def figures(f: RandomnessFinding):
    if f.table.empty:
        return []
    ax = disagreement_bars(f.table)
    ax.set_title("Which randomness makes two runs disagree (bars: 95 % CIs over init seeds)")
    return [Figure("randomness_sources.png", ax.figure,
                   "Probability that two runs of the same cell disagree on solved/failed when only one source of "
                   "randomness changes, per source and cell, with 95% CIs.")]


# --------------------------------------------------------------------------- section


def rate_text(x: float) -> str:
    """A probability as a percentage with the digits a small one needs: '46.76%', '0.0037%', '0'.

    >>> rate_text(0.46759), rate_text(3.69e-05), rate_text(0.0)
    ('46.76%', '0.0037%', '0')
    """
    if not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    return f"{100 * x:.2g}%" if x < 1e-3 else pct(x, 2)


def _table(f: RandomnessFinding) -> str:
    t = f.table
    return md_table(pd.DataFrame({
        "cell": t["cell"],
        "source that changes": t["label"],
        "P(disagree) [95% CI]": [f"{rate_text(r)} [{rate_text(lo)}, {rate_text(hi)}]"
                                 for r, lo, hi in zip(t["rate"], t["ci_low"], t["ci_high"])],
        "share of 'everything changes' [95% CI]": [
            "(reference)" if s in REFERENCE.values() else f"{num(r, 2)} {ci_plain(lo, hi)}" if np.isfinite(r) else "n/a"
            for s, r, lo, hi in zip(t["source"], t["ratio"], t["ratio_low"], t["ratio_high"])],
        "pairs": [f"{n:,}" for n in t["n_pairs"]],
        "init seeds": [f"{n:,}" for n in t["n_seeds"]],
        "P(fail) in the design": [pct(p) for p in t["p_fail"]],
    }))


def _crossed_table(f: RandomnessFinding) -> str:
    rows = [(cell, f"{c.n_seeds:,} x {c.n_orders}", pct(c.p_fail), f"{num(c.icc, 2)} {ci_plain(c.icc_low, c.icc_high)}",
             num(c.order_share, 2), num(c.residual_share, 2),
             f"{pct(c.consistent.rate)} {ci(c.consistent.ci_low, c.consistent.ci_high)}", decider(c))
            for cell, c in f.crossed.items()]
    return md_table(pd.DataFrame(rows, columns=[
        "cell", "init x order seeds", "P(fail)", "icc: share between init seeds [95% CI]", "order seeds' main effect",
        "init x order", "init seeds with one outcome under every order seed [95% CI]", "decides"]))


def _comparison(f: RandomnessFinding) -> str:
    word = {"agrees": "agrees", "differs": "**differs**", "partly": "agrees only in part", "n/a": "cannot be checked"}
    return "\n".join([
        f"- *Every source alone gives nearly the full run-to-run variability* ({PAPERS['summers']}; likewise "
        f"{PAPERS['bouthillier']} for the sources other than data sampling and hyperparameters). Here: "
        f"{word[compare_all_sources_alike(f)]} (a source counts as 'nearly all' when its ratio's lower bound reaches "
        f"{num(NEAR_FULL, 2)}).",
        f"- *A one-bit change of one initial parameter gives models as different as a new seed* (Summers & Dinneen). "
        f"Here the one-ulp change {word[compare_one_ulp(f)]}.",
        f"- *Init, data order and numerical noise give variances of one size* (Bouthillier et al.; our deterministic "
        f"engines have no numerical noise, so float32 vs float64 stands for it). Within a factor "
        f"{num(COMPARABLE, 2)}: {word[compare_comparable(f)]}.",
        "- *What differs in the setting.* The papers train networks with 10^5 to 10^8 parameters (ResNets on "
        "CIFAR-10 and a language model in Summers & Dinneen; five tasks from image classification to BERT "
        "fine-tuning in Bouthillier et al.) on thousands to millions of examples with minibatch SGD with momentum "
        "or Adam, on GPUs in float32, and measure a continuous score (test accuracy, its standard deviation over "
        "tens to hundreds of runs). Here the net has 37 parameters, six training pairs, per-sample SGD, "
        "deterministic CPU arithmetic, and the outcome is binary (solved or not, on the training set) over 10^4 to "
        "10^5 runs per source. A binary outcome decided early -- the output unit dead at init or soon after -- "
        "cannot be moved by a last-bit change, while a big net's accuracy sums many small, chaotic differences.",
    ])


def section(f: RandomnessFinding, v: Verdict, links) -> str:
    src = ", ".join(f"{cell}: data/{s}" for cell, s in f.fixed64_source.items() if s) or "none"
    parts = [
        "For each cell, two runs that differ in *one* source of randomness are compared on the outcome a user "
        "sees, solved or not: the init seed (in fixed order, two distinct seeds: its expectation is 2p(1-p), the "
        "disagreement when everything changes), float32 instead of float64 (same seed, every operation in single "
        "precision, the init rounded once), one ulp (same seed, one of the 37 initial parameters, chosen "
        "uniformly from a stream of the seed, moved to the next float64 up or down), and, in a crossed design "
        "with a fresh permutation of the six pairs every epoch, the order seed (same init seed) and the init seed "
        "(same order seed). CIs are 95 % over init seeds: exact binomial for one pair per seed, a cluster "
        f"bootstrap ({N_BOOT:,} resamples of whole init seeds) for the crossed design. The share column divides "
        "each rate by the disagreement when everything changes in the same design (paired sources: the ends of "
        "the two exact 97.5 % CIs divided, so the interval covers at 95 % even with no flip at all). Float64 "
        f"fixed-order runs: {src}.",
        "",
        _table(f),
        "",
    ]
    if f.moved:
        parts += ["The paired changes do move the runs: the final MSE (as the compact table stores it, in float32) "
                  "differs from the float64 run's in " + "; ".join(
                      f"{cell}: " + ", ".join(f"{pct(v, 1)} ({SOURCES[k][0]})" for k, v in m.items())
                      for cell, m in f.moved.items()) + " of the seeds.", ""]
    if f.crossed:
        parts += [
            "The crossed design's failure indicator split into variance components (two-way random effects, ANOVA "
            "estimators): between init seeds (the intraclass correlation), the order seeds' main effect (an order "
            "that is bad for every init), and the rest (the order seed's effect on one init). P(order seeds "
            "disagree) is about (1 - icc) P(everything changes).",
            "",
            _crossed_table(f),
            "",
        ]
    parts += [f"**Answer.** {v.text}", "", "**Against the published findings.**", "", _comparison(f), ""]
    if "randomness_sources.png" in links:
        parts.append(links["randomness_sources.png"])
    parts += ["", "Run the crossed design for any cell from the command line, e.g. "
              "`python scripts/run_grid.py --seeds 0:4000 --order-seeds 0:16 --activations relu --outputs same "
              "--inits randn --updates as_posted --optimizers sgd --lrs 0.01 --out data/crossed`."]
    return "\n".join(parts)


def answer(f: RandomnessFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="randomness-sources", title="Which randomness makes runs inconsistent?", select=select,
              finding=finding, verdict=verdict, figures=figures, section=section, answer=answer, stored=True)
