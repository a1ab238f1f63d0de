"""How much of the seed lottery is drawn at init? (issue 10, part 2; to be rewritten by issue 16).

Failure is predicted from each run's initial weights alone (``relustudy.init_predict``),
for the posted ReLU cell and its main variants, from the default grid and, where loaded,
from the remedies experiment (3,000 seeds). The finding is computed once
(:func:`finding`, over the runs tables :func:`select` returns); the section formats it.
Fixed seeds: the same data give the same text and figure. To replace the analysis, replace
``finding`` (and the section that formats its result); ``select`` stays.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import analysis
from .. import init_predict as ip
from ..config import Cell
from ..figures_init import auroc_panels
from ..report.common import POSTED, md_table, num
from .base import Context, Figure, Skip, Study, Verdict

PREDICT_SEED = 20261127  # CV fold assignment, model random_state, bootstrap and permutations
DRAWN_AT_INIT = 0.95  # an AUROC whose CI lies above this counts as "drawn at init"
SINGLE_REPEATS = 2  # permutations per single feature (65 of them: kept cheap)
MIN_SEEDS = 100  # fewer seeds in a cell: too few for 5-fold CV and a useful CI; the cell is skipped

# The posted cell and its main variants (randn init, ReLU, output same), as changes to POSTED.
VARIANTS: tuple[tuple[str, dict], ...] = (
    ("posted", {}),
    ("corrected update", dict(update="corrected")),
    ("momentum, equal lr 0.01", dict(optimizer="momentum")),
    ("momentum, matched step lr 0.001", dict(optimizer="momentum", lr=0.001)),
    ("lr 0.1", dict(lr=0.1)),
)
MODEL_LABELS = {"logistic": "logistic regression", "boosting": "gradient boosting", ip.MARGIN: "−output margin"}
GROUP_LABELS = {
    "raw l1": "W1, b1 (raw)",
    "raw l2": "W2, b2 (raw)",
    "raw l3": "W3, b3 (raw)",
    "data l1": "layer 1 on the data (margins, dead units)",
    "data l2": "layer 2 on the data (margins, dead units)",
    "data out": "output on the data (margins, 6 outputs, dead, MSE)",
}


@dataclass
class InitPredictability:
    """The finding: one :class:`~relustudy.init_predict.CellPrediction` per (data, cell) found.

    cells : (data, label) -> CellPrediction, in table order; notes : cells skipped and why;
    n_features : features per run, n_raw of them the weights and biases themselves;
    key : the cell whose features are examined one by one (the largest posted cell);
    single : :func:`~relustudy.init_predict.group_importance` of gradient boosting on ``key``
    with every feature its own group.
    """

    cells: dict
    notes: list
    n_features: int
    n_raw: int
    key: tuple
    single: pd.DataFrame


def select(ctx: Context) -> list[tuple[str, pd.DataFrame]]:
    """The runs tables to predict from: (data name, runs), the default grid and the remedies experiment."""
    out = [("default", ctx.runs)]
    if "remedies" in ctx.experiments:
        out.append(("remedies", ctx.experiments["remedies"][0]))
    return out


def finding(sources: list[tuple[str, pd.DataFrame]]) -> InitPredictability:
    """Cross-validated prediction of failure from the initial weights, per cell and data set."""
    cells, notes = {}, []
    n_features = n_raw = 0
    for source, runs in sources:
        for label, change in VARIANTS:
            where = {**POSTED, "init_gain": 1.0, **change}  # init_gain: only where the data have it
            sub = analysis.select(runs, {k: v for k, v in where.items() if k in runs.columns})
            if sub.empty:
                notes.append(f"{label} is not in data/{source}")
                continue
            if sub["cell_id"].nunique() != 1:
                notes.append(f"{label} spans {sub['cell_id'].nunique()} cells in data/{source} (several epochs?)")
                continue
            failed = analysis.is_failure(sub)
            if len(sub) < MIN_SEEDS:
                notes.append(f"{label} in data/{source} has {len(sub)} seeds, fewer than {MIN_SEEDS}")
                continue
            if min(failed.sum(), (~failed).sum()) < ip.N_SPLITS:
                notes.append(f"{label} in data/{source}: fewer than {ip.N_SPLITS} seeds fail or fewer solve")
                continue
            first = sub.iloc[0]
            gain = {"init_gain": float(first["init_gain"])} if "init_gain" in sub.columns else {}
            cell = Cell(**{k: str(first[k]) for k in ("activation", "output", "init", "update", "optimizer", "hidden")},
                        lr=float(first["lr"]), epochs=int(first["epochs"]), **gain)
            pred = ip.predict_cell(cell, sub["seed"].to_numpy(), failed, random_state=PREDICT_SEED)
            # The features recompute the init from the seed: they must agree with what training recorded.
            bad = int((pred.dead != sub["output_dead_init"].to_numpy(bool)).sum())
            if bad:
                raise Skip(f"{label} in data/{source}: the initial weights recomputed from the seeds disagree with the "
                           f"recorded output_dead_init on {bad} seeds (data made with other init code?)")
            cells[(source, label)] = pred
            f = ip.cell_init_features(cell, [0])  # the same for every cell here (all 2-4-4-1)
            n_features, n_raw = len(f.names), sum(g.startswith("raw") for g in f.groups)
    if not cells:
        raise Skip("none of the posted ReLU cell's variants is in the data: " + "; ".join(notes))
    key = max(cells, key=lambda k: (k[1] == "posted", cells[k].all_seeds.n))
    p = cells[key]
    single = ip.group_importance(p.cv["boosting"], p.features.values, p.failed, p.features.names,
                                 subsets={"alive": ~p.dead} if p.alive is not None else None,
                                 n_repeats=SINGLE_REPEATS, rng=np.random.default_rng([PREDICT_SEED, 1]))
    return InitPredictability(cells, notes, n_features, n_raw, key, single)


# --------------------------------------------------------------------------- section


def _auc(t) -> str:
    """'0.873 [0.851, 0.894]'."""
    a, lo, hi = t
    return f"{a:.3f} [{lo:.3f}, {hi:.3f}]"


def _dauc(t) -> str:
    """'+0.074 [+0.056, +0.091]'."""
    d, lo, hi = t
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _long(res: InitPredictability) -> pd.DataFrame:
    """One row per (cell, subset, predictor): the AUROCs and their CIs, for the figure."""
    rows = []
    for (source, label), p in res.cells.items():
        for subset, a in (("all seeds", p.all_seeds), ("seeds alive at init", p.alive)):
            if a is None:
                continue
            for k, name in enumerate(a.names):
                rows.append((f"{label} (data/{source})", subset, MODEL_LABELS.get(name, name),
                             a.auroc[k], a.low[k], a.high[k]))
    return pd.DataFrame(rows, columns=["cell", "subset", "predictor", "auroc", "low", "high"])


def _best_model(a: ip.AurocCI) -> str:
    models = [m for m in a.names if m in ip.MODELS]
    return max(models, key=lambda m: a.of(m)[0])


def _verdict(p: ip.CellPrediction) -> str:
    """'drawn at init' / 'partly at init' / 'no more than the dead output', from the CIs."""
    best = _best_model(p.all_seeds)
    au, lo, _ = p.all_seeds.of(best)
    if lo >= DRAWN_AT_INIT:
        return "drawn at init"
    if p.all_seeds.minus(best, ip.DEAD)[1] > 0:
        return "partly at init"
    return "no more than the dead output"


def figures_(res: InitPredictability):
    fig = auroc_panels(_long(res), y="cell", hue="predictor", col="subset",
                       title="Predicting failure from the initial weights alone (out-of-fold, 95% CI)")
    return [Figure("init_predictability.png", fig, "AUROC of init-only predictors of failure per cell")]


def section(res: InitPredictability, v: Verdict, links) -> str:
    models = list(ip.MODELS)
    rows, alive_rows = [], []
    for (source, label), p in res.cells.items():
        a = p.all_seeds
        best = _best_model(a)
        rows.append((f"data/{source}", label, f"{a.n:,}", f"{a.n_pos:,}", _auc(a.of(ip.DEAD)), _auc(a.of(ip.MARGIN)),
                     *[_auc(a.of(m)) for m in models], _dauc(a.minus(best, ip.DEAD)) + f" ({MODEL_LABELS[best]})",
                     _verdict(p)))
        if p.alive is not None:
            b = p.alive
            alive_rows.append((f"data/{source}", label, f"{b.n:,}", f"{b.n_pos:,}", _auc(b.of(ip.MARGIN)),
                               *[_auc(b.of(m)) for m in models]))
    tbl = md_table(pd.DataFrame(rows, columns=[
        "data", "cell", "seeds", "failed", "dead at init", "−output margin", *[MODEL_LABELS[m] for m in models],
        "best model − dead at init", "verdict"]))
    alive_tbl = md_table(pd.DataFrame(alive_rows, columns=[
        "data", "cell", "seeds alive at init", "failed", "−output margin", *[MODEL_LABELS[m] for m in models]]))

    link = links["init_predictability.png"]

    # Feature groups: the largest posted cell (the remedies experiment when loaded).
    key = res.key
    imp = res.cells[key].importance
    piv = imp.assign(col=imp["model"].map(MODEL_LABELS) + ", " + imp["subset"] + " seeds").pivot_table(
        index="group", columns="col", values="drop", sort=False)
    imp_tbl = md_table(pd.DataFrame(
        [(GROUP_LABELS.get(g, g), *[f"{v:+.3f}" for v in r]) for g, r in zip(piv.index, piv.to_numpy())],
        columns=["feature group (permuted together)", *[f"AUROC drop: {c}" for c in piv.columns]]))
    reversed_margin = [f"{label} (data/{source})" for (source, label), p in res.cells.items()
                       if p.alive is not None and p.alive.of(ip.MARGIN)[2] < 0.5]

    return f"""Could one tell from the initial weights alone which seeds will fail? For each cell, every run's initial weights are
recomputed from its seed (the {res.n_raw} weights and biases of the 2-4-4-1 net) and described by {res.n_features} features: the raw
weights and biases, and what they do to the six training inputs (each unit's largest and smallest pre-activation,
the number of dead units per hidden layer, the output unit's pre-activation on each input, whether it is dead, the
initial MSE). Two scikit-learn classifiers predict failure (not solved) from them: {_models_text()}. Each is cross-validated in
{ip.N_SPLITS} folds over seeds, so every seed is scored by a model that never saw it. They are compared with the
single predictor "output dead at init" and with minus the output unit's largest pre-activation (the continuous
version of the same test, no fitting). AUROC: the probability that a failing seed scores above a solved one; 95%
percentile bootstrap CIs over seeds ({ip.N_BOOT:,} replicates), the difference paired (same resampled seeds); all
cells ReLU, randn init, output `same`. Each row names its data.{_overlap(res)}

{tbl}

Verdict: "drawn at init" when the best classifier's CI lies above {DRAWN_AT_INIT}; "partly at init" when it beats
"dead at init" (the difference's CI above 0) but not that; else "no more than the dead output".
{("Not analysed: " + "; ".join(res.notes) + ".") if res.notes else ""}

**Among the seeds whose output unit is alive at init**, "dead at init" says nothing; what the initial weights still
tell:

{alive_tbl}

{link}

**Which features matter** ({key[1]} cell, data/{key[0]}, {res.cells[key].all_seeds.n:,} seeds): drop in out-of-fold
AUROC when a group of features is permuted together across the seeds of each test fold (mean of {ip.N_REPEATS}
permutations; correlated features within a group cannot stand in for each other, across groups they can, so the
drops understate what a group shares with the others).

{imp_tbl}

{_single_text(res)}

Over all {len(res.cells)} cells, the group whose permutation costs gradient boosting the most AUROC is {_top_groups(res)}.
{_reversed(reversed_margin)}

**Answer.** {v.text}
"""


def _single_text(res: InitPredictability, k: int = 5) -> str:
    """The features that matter most one at a time, on all seeds and on those alive at init."""
    parts = []
    for subset, name in (("all", "all seeds"), ("alive", "seeds alive at init")):
        d = res.single[res.single["subset"] == subset].sort_values("drop", ascending=False, kind="stable").head(k)
        if len(d):
            parts.append(f"{name}: " + ", ".join(f"`{g}` {v:+.3f}" for g, v in zip(d["group"], d["drop"])))
    return (
        f"Single features, each permuted alone (gradient boosting, same cell, mean of {SINGLE_REPEATS}; a feature "
        f"whose information others share scores low): " + "; ".join(parts) + ". Names: `W{l}[i,j]`, `b{l}[i]` raw "
        "weights of layer l (3 = output); `max_z{l}[i]`, `min_z{l}[i]` unit i's largest and smallest pre-activation "
        "over the six inputs (`max_z3[0]` is the output's margin); `z_out[s]` the output's pre-activation on input "
        "s; `dead_l{l}` dead units in hidden layer l; `mse_init` the initial MSE."
    )


def _models_text() -> str:
    """The two models and their settings, read from the models themselves."""
    lr = ip.make_model("logistic", PREDICT_SEED).get_params()
    gb = ip.make_model("boosting", PREDICT_SEED).get_params()
    return (f"a logistic regression on standardised features (L2, C = {lr['logisticregression__C']:g}) and gradient-"
            f"boosted trees (HistGradientBoostingClassifier: {gb['max_iter']} trees of at most {gb['max_leaf_nodes']} "
            f"leaves, learning rate {gb['learning_rate']:g}, no early stopping)")


def _top_groups(res: InitPredictability) -> str:
    """'on all seeds output on the data in 6 of 6; on the seeds alive at init ...' (gradient boosting)."""
    parts = []
    for subset, name in (("all", "on all seeds"), ("alive", "on the seeds alive at init")):
        tops = []
        for p in res.cells.values():
            d = p.importance[(p.importance["model"] == "boosting") & (p.importance["subset"] == subset)]
            if len(d):
                tops.append(d.loc[d["drop"].idxmax(), "group"])
        counts = pd.Series(tops, dtype=object).value_counts(sort=True)
        parts.append(f"{name} " + ", ".join(f"{GROUP_LABELS.get(g, g)} in {n} of {len(tops)}" for g, n in counts.items()))
    return "; ".join(parts)


def _reversed(cells: list) -> str:
    if not cells:
        return ""
    return ("On the seeds alive at init, the output margin ranks the wrong way round (AUROC CI below 0.5: a larger "
            f"initial output margin goes with failure) in: {', '.join(cells)}.")


def _overlap(res: InitPredictability) -> str:
    """' The posted cell shares 1,000 seeds between data/default and data/remedies (same outcome on 1,000).'"""
    parts = []
    for label in dict.fromkeys(k[1] for k in res.cells):
        found = [res.cells[k] for k in res.cells if k[1] == label]
        if len(found) == 2:
            a, b = found
            common, ia, ib = np.intersect1d(a.seeds, b.seeds, return_indices=True)
            same = int((a.failed[ia] == b.failed[ib]).sum())
            parts.append(f'"{label}" cell shares {common.size:,} seeds between the two (same outcome on {same:,})')
    return (" The " + "; the ".join(parts) + ": rows of one cell from different data are not independent.") if parts else ""


def verdict(res: InitPredictability) -> Verdict:
    """The plain answer from the per-cell verdicts (:func:`_verdict`: the best classifier's CI
    against :data:`DRAWN_AT_INIT`, its gain over "dead at init"). Training is deterministic, so
    the init always fixes the outcome; what is measured is how much of it these features and
    classifiers recover: an AUROC is a lower bound on what the init determines."""
    verdicts = pd.Series({k: _verdict(p) for k, p in res.cells.items()})
    key = res.key
    p = res.cells[key]
    best = _best_model(p.all_seeds)
    alive = p.alive.of(best) if p.alive is not None else (np.nan, np.nan, np.nan)
    top_key = max(res.cells, key=lambda k: res.cells[k].all_seeds.of(_best_model(res.cells[k].all_seeds))[0])
    top = res.cells[top_key].all_seeds
    counts = ", ".join(f"{v} in {n} of {len(verdicts)}" for v, n in verdicts.value_counts().items())
    if (verdicts == "drawn at init").all():
        label, answer = "drawn", "The lottery is drawn at init and readable from it: these features predict the outcome."
    elif (verdicts == "drawn at init").any():
        label, answer = "mixed", ("The cells differ: in some the outcome is readable from the initial weights, in others "
                                  "these classifiers recover only part of it.")
    else:
        more = (
            f"The initial weights tell more than whether the output unit is dead (on the {key[1]} cell's seeds alive "
            f"at init the classifier ranks a failing seed above a solved one with probability {num(alive[0], 2)}), "
            f"but far from everything"
            if (verdicts == "partly at init").any()
            else "The initial weights tell no more than whether the output unit is dead"
        )
        label = "partly" if (verdicts == "partly at init").any() else "dead-only"
        answer = (
            f"These classifiers do not read the outcome off the initial weights: no cell's CI lies above AUROC "
            f"{DRAWN_AT_INIT} (the highest AUROC is {_auc(top.of(_best_model(top)))}, {top_key[1]}, data/{top_key[0]}). "
            f"{more}. Training is deterministic, so the init does fix the outcome; what these AUROCs bound from below "
            "is how much of it simple features of the init recover, not how much training decides."
        )
    return Verdict(label, (
        f"On the {key[1]} cell (data/{key[0]}, {p.all_seeds.n:,} seeds) the best init-only classifier "
        f"({MODEL_LABELS[best]}) reaches AUROC {_auc(p.all_seeds.of(best))}, against {_auc(p.all_seeds.of(ip.DEAD))} "
        f"for \"output dead at init\" alone ({_dauc(p.all_seeds.minus(best, ip.DEAD))}); on the seeds alive at init, "
        f"{_auc(alive)}. Verdicts over all cells: {counts}. {answer}{_more_seeds(res)}"))


def answer(res: InitPredictability, v: Verdict) -> str:
    return v.text


STUDY = Study(name="init-predictability", title="How much of the lottery is drawn at init?", select=select,
              finding=finding, verdict=verdict, figures=figures_, section=section, answer=answer)


def _more_seeds(res: InitPredictability) -> str:
    """How the best AUROC of one cell moves between data sets of different size: a hint whether it is a bound."""
    for label in dict.fromkeys(k[1] for k in res.cells):
        found = sorted((p.all_seeds for k, p in res.cells.items() if k[1] == label), key=lambda a: a.n)
        if len(found) == 2:
            (small, big) = found
            a0, a1 = small.of(_best_model(small))[0], big.of(_best_model(big))[0]
            return (f" With {big.n:,} instead of {small.n:,} seeds of the {label} cell the best AUROC moves from "
                    f"{a0:.3f} to {a1:.3f}: classifiers trained on more seeds may find more, so these AUROCs are lower "
                    f"bounds on what the initial weights determine (training is deterministic: the outcome is a "
                    f"function of them; how smooth a function, the perturbation experiment says).")
    return ""
