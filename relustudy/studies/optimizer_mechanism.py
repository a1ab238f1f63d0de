"""Why momentum changes the failure rate (issue 17.3): the posted bias decay, and inertia.

Data: the momentum probes (``data/optim_probes``, ``python -m relustudy.experiments.probes``): the posted
cell at lr 0.01, init gains 1 and 0.25, 1000 seeds, trained in the NumPy reference engine under
variants of the momentum rule (:mod:`relustudy.experiments.probes`): momentum on the weights only, on the
biases only, on both; dampened momentum with beta 0, 0.5, 0.9, 0.99 at one effective step.
Optionally the forensics replay (``data/forensics``): the margins at which outputs alive at init
die, under SGD and under momentum at the matched step, and traces of typical deaths.

Two rules (named thresholds, tested on both sides):

* **bias decay**: among outputs dead at init, momentum on the biases alone revives (output
  alive at some epoch end) significantly more than SGD (paired CI above 0) and by at least
  :data:`BIAS_SHARE` of full momentum's excess revival, at the gain where full momentum revives
  most. Theory beside it: heavy-ball on ``b -= lr b`` overshoots zero iff it is underdamped
  (:func:`relustudy.experiments.probes.bias_decay_oscillates`);
* **inertia**: at one effective step, dampened momentum at beta 0.9 kills more outputs alive
  at init than SGD (the died-in-training component's CI above 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relustudy.analysis import vocabulary
from relustudy.core.optimizers import MOMENTUM
from relustudy.analysis.optimizers import decomposition_table, run_states
from relustudy.experiments.probes import BIAS_PROBES, INERTIA_PROBES, PROBES, bias_decay_oscillates
from relustudy.studies.common import ci, diff_ci, md_table, num, pct
from relustudy.stats.paired_tests import paired_rate_diff_ci
from relustudy.stats.proportions import proportion_ci
from relustudy.stats import intervals
from relustudy.studies.common import Context, Skip
from relustudy.studies.base import Figure, Study, Verdict
from relustudy.figures.optim import decomposition_bars

BIAS_SHARE = 0.5  # bias decay "explains" revival when biases-only momentum does >= this share of full momentum's
INERTIA_PROBE = "dampened beta 0.9"  # momentum's own beta at SGD's effective step
TRACE_VARIANTS = ("as posted", "momentum, matched step")  # forensics variants whose deaths are compared


@dataclass(frozen=True)
class MechanismFinding:
    rates: pd.DataFrame  # probe, init_gain, n, fail (+ci), n_born, fail_born, n_alive, died_alive (+ci),
    #                      n_out_dead, revived, oscillates
    revival: pd.DataFrame  # probe, init_gain, n (outputs dead at init), diff in revival vs sgd (+ci), n10, n01
    decomposition: pd.DataFrame  # decomposition_table rows; label = "<probe>", plus init_gain
    deaths: pd.DataFrame | None  # forensics: per variant, deaths in training and their margins
    traces: pd.DataFrame | None  # forensics traces of those deaths (variant, seed, step, output_margin)
    n_seeds: int


def select(ctx: Context):
    probes = ctx.extras.get("optim_probes")
    if probes is None:
        raise Skip("no probe data (data/optim_probes); run `python -m relustudy.experiments.probes --out data/optim_probes`",
                   experiment="optim_probes")
    return probes, ctx.extras.get("forensics")


def revived(probes: pd.DataFrame) -> np.ndarray:
    """(R,) bool: the output unit was born dead (:func:`relustudy.analysis.vocabulary.output_born_dead`)
    and alive at some epoch end (SPEC 16.3's ``output_state_changes`` > 0)."""
    return vocabulary.output_born_dead(probes) & (probes["output_state_changes"].to_numpy() > 0)


def _rates(probes: pd.DataFrame) -> pd.DataFrame:
    st = run_states(probes)
    rev = pd.Series(revived(probes), index=probes.index)
    rows = []
    for (probe, gain), idx in probes.groupby(["probe", "init_gain"], sort=False).groups.items():
        s = st.loc[idx]
        born, alive = s["born_dead"], ~s["born_dead"]
        out_dead = probes.loc[idx, "output_dead_init"].to_numpy(bool)
        f = proportion_ci(int(s["failed"].sum()), len(s))
        d = proportion_ci(int(s.loc[alive, "died"].sum()), max(int(alive.sum()), 1))
        p = PROBES[probe]
        rule = p.rule
        beta_b, damp = (0.0, False) if rule is None and p.optimizer == "sgd" else (
            (0.9 if rule is None else rule.beta_b), (False if rule is None else rule.dampened))
        lr = float(probes.loc[idx, "lr"].iloc[0])
        rows.append(dict(probe=probe, init_gain=float(gain), n=len(s), fail=f.rate, fail_low=f.ci_low,
                         fail_high=f.ci_high, n_born=int(born.sum()),
                         fail_born=float(s.loc[born, "failed"].mean()) if born.any() else np.nan,
                         n_alive=int(alive.sum()), died_alive=d.rate, died_low=d.ci_low, died_high=d.ci_high,
                         n_out_dead=int(out_dead.sum()),
                         revived=float(rev.loc[idx][out_dead].mean()) if out_dead.any() else np.nan,
                         oscillates=bias_decay_oscillates(lr, beta_b, dampened=damp)))
    return pd.DataFrame(rows)


def _revival(probes: pd.DataFrame) -> pd.DataFrame:
    """Each probe against SGD on the seeds whose output is dead at init: revival, paired by seed."""
    t = probes.assign(revived=revived(probes))
    rows = []
    for g, sub in t.groupby("init_gain"):
        base = sub[sub["probe"] == "sgd"].set_index("seed")
        for p, other in sub[sub["probe"] != "sgd"].groupby("probe", sort=False):
            o = other.set_index("seed").loc[base.index]
            m = base["output_dead_init"].to_numpy(bool)
            ra, rb = base["revived"].to_numpy()[m], o["revived"].to_numpy()[m]
            n10, n01 = int(np.sum(rb & ~ra)), int(np.sum(ra & ~rb))  # n10: revived by the probe only
            lo, hi = paired_rate_diff_ci(n01, n10, int(m.sum())) if m.any() else (np.nan, np.nan)
            rows.append(dict(probe=p, init_gain=float(g), n=int(m.sum()), diff=(n10 - n01) / max(int(m.sum()), 1),
                             diff_low=lo, diff_high=hi, n10=n10, n01=n01))
    return pd.DataFrame(rows)


def _exact(k: int, n: int) -> tuple[float, float]:
    """The exact 95% CI of k / n."""
    p = proportion_ci(int(k), int(n))
    return p.ci_low, p.ci_high


def _deaths(forensics) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if forensics is None:
        return None, None
    runs, traces = forensics
    rows = []
    for v in TRACE_VARIANTS:
        r = runs[runs["variant"].astype(str) == v]
        d = r[r["output_death_epoch"] > 0]  # alive at init, died in training (at least once)
        rows.append(dict(variant=v, n=len(r), n_died=len(d), margin_before=float(d["output_margin_before"].median()),
                         margin_after=float(d["output_margin_after"].median()),
                         epoch=float(d["output_death_epoch"].median()),
                         revived=float((d["output_revival_epoch"] > 0).mean()) if len(d) else np.nan,
                         n_revived=int((d["output_revival_epoch"] > 0).sum()),
                         margin_before_ci=intervals.median_ci(d["output_margin_before"].to_numpy(float)),
                         margin_after_ci=intervals.median_ci(d["output_margin_after"].to_numpy(float))))
    dying = runs.loc[(runs["output_death_epoch"] > 0) & runs["variant"].astype(str).isin(TRACE_VARIANTS), ["variant", "seed"]]
    tr = traces.merge(dying.astype({"variant": str}), on=["variant", "seed"]) if len(dying) else None
    return pd.DataFrame(rows), tr


def finding(data) -> MechanismFinding:
    probes, forensics = data
    contrasts = {}
    for g in sorted(probes["init_gain"].unique()):
        for p in PROBES:
            if p != "sgd" and p in set(probes["probe"]):
                contrasts[(p, float(g))] = ({"probe": "sgd", "init_gain": g}, {"probe": p, "init_gain": g})
    dec = decomposition_table(probes, {f"{p}|{g}": ab for (p, g), ab in contrasts.items()})
    dec[["probe", "init_gain"]] = dec["label"].str.split("|", expand=True)
    dec["init_gain"] = dec["init_gain"].astype(float)
    deaths, traces = _deaths(forensics)
    return MechanismFinding(_rates(probes), _revival(probes), dec, deaths, traces, int(probes["seed"].nunique()))


def _component(f: MechanismFinding, probe: str, gain: float, comp: str) -> pd.Series:
    d = f.decomposition
    return d[(d["probe"] == probe) & (d["init_gain"] == gain) & (d["component"] == comp)].iloc[0]


def verdict(f: MechanismFinding) -> Verdict:
    """Key ``"<bias>+<inertia>"``: bias in {"bias decay", "not bias decay"}, inertia in
    {"inertia", "not inertia"}; see the module docstring for the rules."""
    rv = f.revival.set_index(["probe", "init_gain"])
    gain = float(f.revival[f.revival["probe"] == "momentum"].sort_values("diff").iloc[-1]["init_gain"])
    full, bias, weights = (rv.loc[(p, gain)] for p in ("momentum", "momentum on biases only", "momentum on weights only"))
    is_bias = bool(full["diff_low"] > 0 and bias["diff_low"] > 0 and bias["diff"] >= BIAS_SHARE * full["diff"])
    born = _component(f, "momentum", gain, "born dead")
    bias_txt = (f"At init gain {gain:g}, of the {int(full['n']):,} outputs dead at init, momentum revives "
                f"{diff_ci(full['diff'], full['diff_low'], full['diff_high'])} more than SGD (paired; its born-dead "
                f"component of the failure rate: {diff_ci(born['contrib'], born['contrib_low'], born['contrib_high'])} of all "
                f"seeds); momentum on the biases alone revives {diff_ci(bias['diff'], bias['diff_low'], bias['diff_high'])} "
                f"more, on the weights alone {diff_ci(weights['diff'], weights['diff_low'], weights['diff_high'])}: ")
    bias_txt += ("the revival is the posted bias decay under momentum. (Why it revives is not observed here: the "
                 "probes do not record the biases' path, so whether they overshoot zero, as heavy-ball theory predicts "
                 "when lr > (1 − √β)², the 'bias decay oscillates' column, is not measured.)" if is_bias else
                 "the posted bias decay under momentum does not account for it.")
    inert = [_component(f, INERTIA_PROBE, g, "alive: died in training") for g in sorted(f.decomposition["init_gain"].unique())]
    is_inertia = any(c["contrib_low"] > 0 for c in inert)
    inert_txt = " ".join(
        f"At gain {c['init_gain']:g} and SGD's effective step, {INERTIA_PROBE} changes deaths in training of outputs "
        f"alive at init by {diff_ci(c['contrib'], c['contrib_low'], c['contrib_high'])} of all seeds." for c in inert)
    inert_txt += (" At the matched step, momentum's extra deaths come from its inertia (the velocity carries a unit "
                  "past zero)." if is_inertia else " Inertia at the same effective step does not add deaths.")
    inert_txt += step_split(f.rates)
    key = f"{'bias decay' if is_bias else 'not bias decay'}+{'inertia' if is_inertia else 'not inertia'}"
    return Verdict(key, bias_txt + " " + inert_txt)


def step_split(rates: pd.DataFrame) -> str:
    """At equal lr, per gain: deaths in training of outputs alive at init under SGD, dampened momentum
    (:data:`INERTIA_PROBE`: SGD's step with momentum's inertia) and full momentum (inertia and a
    1/(1 − β) larger step); the step size's share of momentum's extra deaths is the last minus the
    middle, and the sentence says which part is larger."""
    if rates.empty or not {"probe", "init_gain", "died_alive"} <= set(rates.columns):
        return ""
    r = rates.set_index(["probe", "init_gain"])
    parts = []
    for g in sorted(rates["init_gain"].unique()):
        if not all((p, g) in r.index for p in ("sgd", INERTIA_PROBE, "momentum")):
            continue
        a, b, c = (r.loc[(p, g)] for p in ("sgd", INERTIA_PROBE, "momentum"))
        inertia, step = b["died_alive"] - a["died_alive"], c["died_alive"] - b["died_alive"]
        rates_txt = (f"at gain {g:g}, SGD {pct(a['died_alive'])} {ci(a['died_low'], a['died_high'])}, {INERTIA_PROBE} "
                     f"{pct(b['died_alive'])} {ci(b['died_low'], b['died_high'])}, full momentum {pct(c['died_alive'])} "
                     f"{ci(c['died_low'], c['died_high'])} of {int(c['n_alive']):,}")
        if c["died_low"] <= a["died_high"]:  # full momentum's CI reaches SGD's: nothing to split
            parts.append(f"{rates_txt}: no detectable extra deaths to split")
            continue
        which = "the step size" if step > inertia else "inertia"
        parts.append(f"{rates_txt}: inertia adds {100 * inertia:+.1f} and the larger step {100 * step:+.1f} percentage "
                     f"points, so {which} accounts for more of the {100 * (inertia + step):+.1f}")
    if not parts:
        return ""
    return " At equal lr, deaths in training of outputs alive at init: " + "; ".join(parts) + "."


def figures(f: MechanismFinding):
    import matplotlib.pyplot as plt

    gains = sorted(f.decomposition["init_gain"].unique())
    fig, axes = plt.subplots(1, len(gains), figsize=(4.5 * len(gains) + 2, 3.6), squeeze=False, sharey=True)
    for ax, g in zip(axes[0], gains):
        sub = f.decomposition[f.decomposition["init_gain"] == g].assign(label=lambda d: "sgd → " + d["probe"])
        decomposition_bars(sub, ax=ax)
        ax.set_title(f"posted cell, lr 0.01, init gain {g:g}", fontsize=9)
        if ax is not axes[0][0]:
            ax.tick_params(axis="y", labelleft=False)
            ax.get_legend().remove()
    fig.tight_layout()
    out = [Figure("optim_probes.png", fig, "Change in failure against SGD under each momentum probe, split into "
                                           "born-dead seeds and seeds alive at init.")]
    if f.traces is not None and len(f.traces):
        fig2, axes2 = plt.subplots(1, len(TRACE_VARIANTS), figsize=(10, 3.2), sharey=True)
        for ax, v in zip(axes2, TRACE_VARIANTS):
            t = f.traces[f.traces["variant"] == v]
            for seed, g in t.groupby("seed"):
                ax.plot(g["step"], g["output_margin"], lw=0.9, label=f"seed {seed}")
            ax.axhline(0, color="0.3", lw=0.8)
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(left=0)
            ax.set_title(f"{v}: outputs that die in training", fontsize=9)
            ax.set_xlabel("sample step")
        axes2[0].set_ylabel("output margin (max pre-activation)")
        out.append(Figure("optim_death_traces.png", fig2, "Output margin against sample step for outputs that die "
                                                          "in training, under SGD and momentum at the matched step."))
    return out


def _side(lr: float) -> str:
    return "above" if bias_decay_oscillates(lr, MOMENTUM) else "below"


def section(f: MechanismFinding, v: Verdict, links) -> str:
    r = f.rates
    rates = md_table(pd.DataFrame({
        "gain": r["init_gain"].map(lambda g: f"{g:g}"), "probe": r["probe"],
        "rule": [PROBES[p].note for p in r["probe"]],
        "P(fail) [95% CI]": [f"{pct(a)} {ci(lo, hi)}" for a, lo, hi in zip(r["fail"], r["fail_low"], r["fail_high"])],
        "P(fail | born dead)": [f"{pct(a)} of {n:,}" for a, n in zip(r["fail_born"], r["n_born"])],
        "revived | output dead at init": [f"{pct(a)} of {n:,}" for a, n in zip(r["revived"], r["n_out_dead"])],
        "bias decay oscillates": ["yes" if o else "no" for o in r["oscillates"]],
        "P(died in training | alive at init) [95% CI]": [f"{pct(a)} {ci(lo, hi)} of {n:,}" for a, lo, hi, n in
                                                         zip(r["died_alive"], r["died_low"], r["died_high"], r["n_alive"])],
    }))
    parts = [
        f"Two candidate mechanisms, tested on the posted cell at lr 0.01 ({f.n_seeds:,} seeds per probe, NumPy reference "
        "engine, paired by seed with SGD). (1) The posted bias update `b -= lr b` is a decay that momentum accelerates "
        "tenfold; in theory heavy-ball on that decay is underdamped when lr > (1 − √β)² "
        f"(= {num((1 - np.sqrt(MOMENTUM)) ** 2)} at β {MOMENTUM}: the posted lr 0.01 is "
        f"{_side(0.01)} it, the matched step {num(0.01 * (1 - MOMENTUM))} {_side(0.01 * (1 - MOMENTUM))}), "
        "and then the bias would overshoot zero and could lift a born-dead output back into the active region (the "
        "'bias decay oscillates' column is that theory, not a measurement: the probes record the output's state, not "
        "the biases). Momentum is applied to the "
        f"weights only, the biases only, or both ({', '.join(BIAS_PROBES)}). (2) Momentum's deaths of outputs alive at "
        "init, even at the matched step: overshoot (inertia) or step size? Dampened momentum "
        "v = β v + (1 − β) step has SGD's effective step at any β, so the sweep "
        f"({', '.join(INERTIA_PROBES)}) varies inertia alone (β 0.9 is momentum at the matched step up to rounding).\n",
        rates, "",
        f"**Verdict.** {v.text}\n",
        links.get("optim_probes.png", ""),
    ]
    if f.deaths is not None:
        d = f.deaths
        parts += ["", "Forensics replay (every update watched): outputs alive at init that die in training, and the "
                  "output margin (its largest pre-activation over the six inputs) just before and after the killing "
                  "update (medians).\n",
                  md_table(pd.DataFrame({
                      "variant": d["variant"], "died in training": [f"{a:,} of {n:,}" for a, n in zip(d["n_died"], d["n"])],
                      "margin before, median [95% CI]": [f"{num(m.median)} [{num(m.ci_low)}, {num(m.ci_high)}]"
                                                         for m in d["margin_before_ci"]],
                      "margin after, median [95% CI]": [f"{num(m.median)} [{num(m.ci_low)}, {num(m.ci_high)}]"
                                                        for m in d["margin_after_ci"]],
                      "epoch": [num(x) for x in d["epoch"]],
                      "revived later [95% CI]": [f"{k:,} of {n:,} ({pct(k / n)} {ci(*_exact(k, n))})" if n else "–"
                                                 for k, n in zip(d["n_revived"], d["n_died"])]})),
                  "", links.get("optim_death_traces.png", "")]
    return "\n".join(parts)


def answer(f: MechanismFinding, v: Verdict) -> str:
    return v.text


STUDY = Study(name="optimizer-mechanism", title="Why momentum helps or hurts: the bias decay and inertia",
              select=select, finding=finding, verdict=verdict, figures=figures, section=section, answer=answer)
