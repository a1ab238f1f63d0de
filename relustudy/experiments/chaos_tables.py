"""The perturbation experiment's compact tables, flip rates with seed-clustered CIs, the exponent, the verdict.

Tables (written by :func:`consolidate`, read by :func:`load_chaos`), all small:

- ``counts``: one row per (cell, eps): pairs, seeds, flips, label changes, quantiles of
  |Δ final weights| over the non-flipped pairs and of |Δ final MSE| / final MSE over those that solve.
- ``flips``: one row per flipped pair (cell, seed, k, eps): outcomes short and long
  (``LONG_FACTOR`` x epochs, with the unperturbed run), ``permanent`` = still flipped then.
- ``response``: non-flipped pairs of the first seeds: base outcome and MSE, |Δ final MSE|,
  |Δ final weights| (float32).
- ``base``: the unperturbed outcome of every (cell, seed).

Pure functions below; randomness only through ``rng``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relustudy.runs.cards import write_card
from relustudy.stats import curves as curve_stats
from relustudy.runs import sharded

TABLES = ("counts", "flips", "response", "base")
CHAOS_FILE = "counts.parquet"  # the table whose presence says the experiment was run
MAKE = "python scripts/run_chaos.py"
FIT_MAX_RATE = 0.05  # the power law is fitted where P(flip) <= this (above, the rate saturates)
MIN_FLIPS_FIT = 5  # fewer flips in the fitted range: no exponent
N_BOOT = 1000  # cluster (seed) bootstrap replicates of the exponent
# Verdict thresholds on the exponent alpha of P(flip) ~ eps^alpha (a smooth boundary crossed along a
# random ray gives alpha = 1; a fractal boundary alpha = its co-dimension < 1; chaos alpha -> 0).
NON_VANISHING = 0.1  # alpha's CI entirely below: the flip rate does not vanish as eps -> 0
FRACTAL = 0.5  # alpha's CI entirely below: a rough (fractal-like) boundary, far from smooth
SMOOTH = 0.8  # alpha's CI entirely above: consistent with a smooth boundary (alpha ~ 1)
# The small-eps end: are the flips at eps <= EPS_SMALL more than the power law of the larger eps
# predicts there? (Its CI's lower end above the extrapolation: a floor, the rate does not vanish.)
EPS_SMALL = 1e-8


def consolidate(out: Path, names: dict, K: int, response_seeds: int, prov: dict) -> None:
    """Write the four tables from the shards listed in ``names`` (label -> cell, base, pert, long paths)."""
    counts, flips, response, base = [], [], [], []
    for label, d in names.items():
        b = pd.concat([pd.read_parquet(p, columns=["seed", "outcome"]) for p in d["base"]], ignore_index=True)
        base.append(b.assign(cell=label))
        start = int(b["seed"].min())
        bo = dict(zip(b["seed"].tolist(), b["outcome"].astype(str).tolist()))
        per_eps = {}
        for eps, p in d["pert"]:
            per_eps.setdefault(eps, []).append(pd.read_parquet(p))
        long = pd.read_parquet(d["long"]) if d["long"] is not None else None
        for eps, parts in sorted(per_eps.items()):
            g = pd.concat(parts, ignore_index=True)
            base_out = g["seed"].map(bo).astype(str)
            calm = g[~g["flipped"]]
            # |Δ final MSE| relative to the unperturbed MSE, over the runs that solve: dead and collapsed runs end at
            # exactly mean(Y^2) whatever eps, and the solved ones' MSE spans decades, so absolute values mix scales
            solved = calm[(base_out[~g["flipped"]] == "solved").to_numpy() & calm["base_mse"].gt(0).to_numpy()]
            rel = solved["dmse"] / solved["base_mse"]
            q = {f"dweights_q{int(100 * x)}": _quantile(calm["dweights"], x) for x in (0.1, 0.5, 0.9)}
            q.update({f"dmse_rel_q{int(100 * x)}": _quantile(rel, x) for x in (0.1, 0.5, 0.9)})
            f = g[g["flipped"]].assign(eps=eps, base_outcome=base_out[g["flipped"]].to_numpy())
            counts.append(dict(cell=label, eps=eps, pairs=len(g), seeds=int(g["seed"].nunique()), perturbations=K,
                               flips=len(f), to_fail=int((f["base_outcome"] == "solved").sum()),
                               label_changed=int((g["outcome"].astype(str) != base_out).sum()), **q))
            if len(f):
                flips.append(f[["seed", "k", "eps", "outcome", "base_outcome"]].assign(cell=label))
            keep = (calm["seed"] < start + response_seeds).to_numpy()
            r = calm[keep]
            response.append(pd.DataFrame({"cell": label, "eps": eps, "seed": r["seed"].astype(np.uint32),
                                          "k": r["k"].astype(np.uint16), "base_outcome": base_out[~g["flipped"]][keep].to_numpy(),
                                          "base_mse": r["base_mse"].astype(np.float32),
                                          "dmse": r["dmse"].astype(np.float32),
                                          "dweights": r["dweights"].astype(np.float32)}))
    fl = pd.concat(flips, ignore_index=True) if flips else pd.DataFrame(
        columns=["seed", "k", "eps", "outcome", "base_outcome", "cell"])
    if len(fl):
        longs = [pd.read_parquet(d["long"]).assign(cell=lab) for lab, d in names.items() if d["long"] is not None]
        fl = fl.merge(pd.concat(longs, ignore_index=True), on=["cell", "seed", "k", "eps"], how="left")
        fl["permanent"] = (fl["long_outcome"] == "solved") != (fl["long_base_outcome"] == "solved")
    else:
        fl = fl.assign(long_outcome=pd.Series(dtype=str), long_base_outcome=pd.Series(dtype=str),
                       permanent=pd.Series(dtype=bool))
    tables = {"counts": pd.DataFrame(counts), "flips": fl.astype({"seed": np.uint32, "k": np.uint16}),
              "response": pd.concat(response, ignore_index=True),
              "base": pd.concat(base, ignore_index=True).astype({"seed": np.uint32})}
    for name, df in tables.items():
        for c in ("cell", "outcome", "base_outcome", "long_outcome", "long_base_outcome"):
            if c in df.columns:
                df[c] = df[c].astype("category")
        sharded.write_frame(df, Path(out) / f"{name}.parquet", {"kind": f"chaos_{name}", "provenance": prov})
    write_card(out)


def _quantile(v: pd.Series, x: float) -> float:
    """Quantile x of the finite values of v; NaN if there are none (e.g. every base run reused)."""
    v = v[np.isfinite(v)]
    return float(v.quantile(x)) if len(v) else np.nan


def load_chaos(path) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`relustudy.experiments.chaos.run_chaos` into folder ``path``."""
    return {k: sharded.read_frame(Path(path) / f"{k}.parquet", f"chaos_{k}", MAKE) for k in TABLES}


def _per_seed(tables: dict, cell: str, eps: float, col: str = "flipped") -> tuple[np.ndarray, np.ndarray]:
    """(G,) flips per seed and (G,) pairs per seed at one eps (every seed of the cell's range)."""
    c = tables["counts"]
    row = c[(c["cell"] == cell) & (c["eps"] == eps)].iloc[0]
    G, K = int(row["seeds"]), int(row["perturbations"])
    f = tables["flips"]
    f = f[(f["cell"] == cell) & (f["eps"] == eps)]
    if col == "permanent":
        f = f[f["permanent"].astype(bool)]
    k = np.zeros(G)
    per = f.groupby("seed").size().to_numpy()
    k[: per.size] = per  # order is irrelevant to the estimator: only the multiset of cluster counts
    return k, np.full(G, K)


def flip_rates(tables: dict, cell: str) -> pd.DataFrame:
    """P(flip) per eps of one cell, with 95 % CIs clustered by seed (Korn-Graubard), and the permanent share.

    Returns
    -------
    One row per eps: pairs, seeds, flips, rate, ci_low, ci_high, deff, permanent, perm_rate,
    perm_low, perm_high, to_fail (flips of solved runs to failure), label_changed.
    """
    c = tables["counts"]
    c = c[c["cell"] == cell].sort_values("eps")
    if c.empty:
        raise ValueError(f"cell {cell!r} is not in the perturbation tables; allowed: {', '.join(map(str, tables['counts']['cell'].unique()))}")
    rows = []
    for _, r in c.iterrows():
        k, m = _per_seed(tables, cell, r["eps"])
        a = curve_stats.clustered_proportion_ci(k, m)
        kp, _ = _per_seed(tables, cell, r["eps"], "permanent")
        p = curve_stats.clustered_proportion_ci(kp, m)
        rows.append(dict(eps=r["eps"], pairs=int(r["pairs"]), seeds=int(r["seeds"]), flips=a.k, rate=a.rate,
                         ci_low=a.ci_low, ci_high=a.ci_high, deff=a.deff, permanent=p.k, perm_rate=p.rate,
                         perm_low=p.ci_low, perm_high=p.ci_high, to_fail=int(r["to_fail"]),
                         label_changed=int(r["label_changed"])))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FlipExponent:
    """P(flip) = A eps^alpha over eps in [eps_low, eps_high]; alpha's 95 % CI from a seed bootstrap.

    alpha is NaN (and the range empty) when fewer than MIN_FLIPS_FIT flips or fewer than two eps
    values lie in the range where flips are seen and the rate is <= FIT_MAX_RATE.
    """

    A: float
    alpha: float
    low: float
    high: float
    eps_low: float
    eps_high: float
    points: int
    flips: int


def flip_exponent(tables: dict, cell: str, *, n_boot: int = N_BOOT, rng: np.random.Generator,
                  above: float = 0.0) -> FlipExponent:
    """The log-log slope of P(flip) against eps where flips are seen (Poisson likelihood, seed bootstrap).

    above : only eps > above enter (e.g. :data:`EPS_SMALL`: the rise above a floor).
    """
    rates = flip_rates(tables, cell)
    rates = rates[rates["eps"] > above]
    seen = rates[rates["flips"] > 0]
    nan = FlipExponent(np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 0, int(rates["flips"].sum()))
    if seen.empty:
        return nan
    fit = rates[(rates["eps"] >= seen["eps"].min()) & (rates["rate"] <= FIT_MAX_RATE)]
    if len(fit) < 2 or fit["flips"].sum() < MIN_FLIPS_FIT:
        return nan
    eps, k, n = fit["eps"].to_numpy(), fit["flips"].to_numpy(float), fit["pairs"].to_numpy(float)
    A, alpha = curve_stats.fit_power_law(eps, k, n)
    # Bootstrap over seeds: the seeds with any flip in range carry their counts at every eps together.
    f = tables["flips"]
    f = f[(f["cell"] == cell) & f["eps"].isin(eps)]
    tab = f.groupby(["seed", "eps"]).size().unstack("eps", fill_value=0).reindex(columns=eps, fill_value=0)
    G, K = int(fit["seeds"].iloc[0]), int(n[0] / fit["seeds"].iloc[0])
    reps = curve_stats.poisson_bootstrap_rates(tab.to_numpy(float), np.full(len(tab), K), G - len(tab), K,
                                               n_boot=n_boot, rng=rng)
    alphas = []
    for r in reps:
        kk = r * n  # expected-count scale; the slope does not depend on the common denominator
        if kk.sum() > 0 and (kk > 0).sum() >= 1:
            alphas.append(curve_stats.fit_power_law(eps, kk, n)[1])
    lo, hi = np.percentile(alphas, [2.5, 97.5])
    return FlipExponent(A, alpha, float(lo), float(hi), float(eps.min()), float(eps.max()), len(fit), int(k.sum()))


@dataclass(frozen=True)
class SmallEpsFlips:
    """The flips at eps <= eps_small pooled: pairs, flips, distinct seeds, seeds flipping at more than
    one of these eps, the rate with its seed-clustered 95 % CI, and ``predicted``: the mean over these
    eps of A eps^alpha from a fit above eps_small (NaN without one)."""

    eps_small: float
    pairs: int
    flips: int
    seeds: int
    multi_eps_seeds: int
    rate: float
    low: float
    high: float
    predicted: float

    @property
    def floor(self) -> bool:
        """Flips here beyond what the larger eps' power law predicts (CI's lower end above it)."""
        return self.flips > 0 and (not np.isfinite(self.predicted) or self.low > self.predicted)


def small_eps_flips(tables: dict, cell: str, rise: FlipExponent, eps_small: float = EPS_SMALL) -> SmallEpsFlips:
    """Pool the flips at eps <= eps_small (clusters: seeds, each with its pairs at every such eps)."""
    c = tables["counts"]
    c = c[(c["cell"] == cell) & (c["eps"] <= eps_small)]
    if c.empty:
        return SmallEpsFlips(eps_small, 0, 0, 0, 0, np.nan, np.nan, np.nan, np.nan)
    G, K = int(c["seeds"].iloc[0]), int(c["perturbations"].iloc[0])
    f = tables["flips"]
    f = f[(f["cell"] == cell) & (f["eps"] <= eps_small)]
    per_seed = f.groupby("seed").size().to_numpy()
    eps_per_seed = f.groupby("seed")["eps"].nunique().to_numpy()
    k = np.zeros(G)
    k[: per_seed.size] = per_seed
    a = curve_stats.clustered_proportion_ci(k, np.full(G, K * len(c)))
    eps = c["eps"].to_numpy(float)
    predicted = float(np.mean(rise.A * eps ** rise.alpha)) if np.isfinite(rise.alpha) else np.nan
    return SmallEpsFlips(eps_small, int(c["pairs"].sum()), int(a.k), int(per_seed.size), int((eps_per_seed > 1).sum()),
                         a.rate, a.ci_low, a.ci_high, predicted)


def chaos_verdict(rates: pd.DataFrame, fit: FlipExponent, small: SmallEpsFlips | None = None) -> tuple[str, str]:
    """(key, sentence) for one cell, chosen by rules on the CIs (thresholds named above).

    keys: "no flips", "not vanishing", "rough", "smooth", "undetermined"; with ``small`` showing a
    floor (:attr:`SmallEpsFlips.floor`; then ``fit`` is the fit above ``small.eps_small``),
    "floor, " + the key of the rise above it.
    """
    if small is not None and small.floor:
        pred = (f"the power law of the larger eps predicts {small.predicted:.1e} there" if np.isfinite(small.predicted)
                else "too few flips above to extrapolate")
        lowest = float(rates["eps"].min())
        head = (f"a floor of about {small.rate:.0e} between eps {lowest:.0e} and {small.eps_small:.0e} ({small.flips} "
                f"flip{'s' if small.flips != 1 else ''} of {small.pairs:,} pairs from {small.seeds} "
                f"seed{'s' if small.seeds != 1 else ''}; {small.rate:.1e} [{small.low:.1e}, {small.high:.1e}], clustered; "
                f"{small.multi_eps_seeds} of the seeds flip at more than one of these eps), while {pred}")
        above = rates[rates["eps"] > small.eps_small]
        key, text = chaos_verdict(above, fit) if len(above) else ("undetermined", "")
        return f"floor, {key}", f"{head}; above {small.eps_small:.0e}: {text}" if text else head
    if rates["flips"].sum() == 0:
        return "no flips", (f"no outcome flips in {int(rates['pairs'].sum()):,} perturbed runs up to eps = "
                            f"{rates['eps'].max():.0e}: smooth at this resolution")
    first = rates[rates["flips"] > 0].iloc[0]
    seen = f"flips seen from eps = {first['eps']:.0e} on ({int(first['flips'])} of {int(first['pairs']):,})"
    if not np.isfinite(fit.alpha):
        return "undetermined", f"{seen}; too few flips to fit an exponent"
    exp = f"P(flip) ~ eps^{fit.alpha:.2f} [{fit.low:.2f}, {fit.high:.2f}] over eps {fit.eps_low:.0e}..{fit.eps_high:.0e}"
    if fit.high < NON_VANISHING:
        return "not vanishing", f"{seen}; {exp}: the flip rate does not vanish as eps -> 0 (chaotic)"
    if fit.high < FRACTAL:
        return "rough", f"{seen}; {exp}: it falls far slower than eps, a rough (fractal-like) boundary"
    if fit.low > SMOOTH:
        return "smooth", f"{seen}; {exp}: about proportional to eps, as for a smooth boundary between basins"
    # The CI straddles a bound (or lies between FRACTAL and SMOOTH): name the readings it allows.
    if fit.low <= SMOOTH <= fit.high:
        both = (f"its CI straddles the bound {SMOOTH} (alpha {fit.alpha:.2f} is {abs(fit.alpha - SMOOTH):.2f} "
                f"{'above' if fit.alpha > SMOOTH else 'below'} it): it reads as a smooth boundary or as a rougher one")
    elif fit.low <= FRACTAL <= fit.high:
        both = (f"its CI straddles the bound {FRACTAL} (alpha {fit.alpha:.2f} is {abs(fit.alpha - FRACTAL):.2f} "
                f"{'above' if fit.alpha > FRACTAL else 'below'} it): it reads as a rough boundary or as a smoother one")
    else:
        both = f"its CI lies between the bounds {FRACTAL} (rough) and {SMOOTH} (smooth): neither reading"
    return "undetermined", f"{seen}; {exp}: undetermined, {both}"
