"""The randomness-sources study: selection from the noise/million tables, the finding by hand, the verdict
rules on both sides of every threshold, the figure, the section."""
import numpy as np
import pandas as pd
import pytest

from relustudy.analysis.disagreement import CrossedResult, DisagreementResult
from relustudy.stats.proportions import ProportionResult
from relustudy.studies import randomness as R
from relustudy.studies.common import Context, Skip


def _runs(seeds, fails, **factors) -> pd.DataFrame:
    base = dict(activation="relu", output="same", init="randn", update="as_posted", optimizer="sgd", lr=0.01,
                hidden="4-4", epochs=5000, dtype="float64", data_order="fixed", order_seed=0, init_perturb="none")
    base.update(factors)
    return pd.DataFrame({"seed": seeds, "outcome": np.where(fails, "dead_output", "solved"),
                         "final_mse": np.where(fails, 0.6, 1e-6), **base})


def _ctx(noise: pd.DataFrame, million: pd.DataFrame | None = None) -> Context:
    ex = {"noise": (noise, None)}
    if million is not None:
        ex["million"] = (million, None)
    return Context(runs=pd.DataFrame(), curves=None, figures_dir=None, report_dir=None, experiments=ex)


def _noise_tables(rng, n=400, k=8, flip32=0.0, flipulp=0.0, p=0.4):
    fail64 = rng.random(n) < p
    flip = lambda q: rng.random(n) < q  # noqa: E731
    q = np.where(rng.random(n) < 0.7, fail64, rng.random(n) < p)  # seeds whose outcome follows the init 70 %
    crossed = rng.random((n, k)) < np.where(q, 0.9, 0.1)[:, None]
    seeds = np.arange(n)
    parts = [
        _runs(seeds, fail64 ^ flip(flip32), dtype="float32"),
        _runs(seeds, fail64 ^ flip(flipulp), init_perturb="one_ulp"),
        *[_runs(seeds, crossed[:, j], data_order="shuffled", order_seed=j) for j in range(k)],
    ]
    return pd.concat(parts, ignore_index=True), _runs(seeds, fail64), fail64, crossed


def test_select_pairs_by_seed_and_takes_float64_from_million():
    noise, million, fail64, crossed = _noise_tables(np.random.default_rng(0))
    data = R.select(_ctx(noise, million))
    posted = data["posted"]
    assert posted.fixed64_source == "million" and np.array_equal(posted.fixed64.to_numpy(), fail64)
    assert np.array_equal(posted.crossed.to_numpy(bool), crossed) and posted.crossed.shape == (400, 8)
    assert data["lr 0.1"].crossed is None and data["lr 0.1"].fixed64 is None  # not in the tables
    short = R.select(_ctx(noise, million.assign(epochs=200)))  # another budget is another cell: not paired
    assert short["posted"].fixed64 is None and short["posted"].fixed64_source == ""
    with pytest.raises(Skip, match="experiment 'noise'"):
        R.select(Context(runs=pd.DataFrame(), curves=None, figures_dir=None, report_dir=None))


def test_finding_rates_by_hand():
    rng = np.random.default_rng(1)
    noise, million, fail64, crossed = _noise_tables(rng, flip32=0.05)
    f = R.finding(R.select(_ctx(noise, million)))
    f32 = f.row("posted", "float32")
    flipped = noise[(noise["dtype"] == "float32")]["outcome"].ne("solved").to_numpy() != fail64
    assert f32["rate"] == pytest.approx(flipped.mean()) and f32["n_pairs"] == 400
    k, n = fail64.sum(), 400
    init = f.row("posted", "init")
    assert init["rate"] == pytest.approx(2 * k * (n - k) / (n * (n - 1))) and init["ratio"] == 1.0
    assert f32["ratio"] == pytest.approx(flipped.mean() / init["rate"])
    assert f.moved["posted"]["float32"] == pytest.approx(flipped.mean())  # the fake MSE moves with the outcome
    kk = crossed.sum(axis=1)
    assert f.row("posted", "order")["rate"] == pytest.approx(np.mean(2 * kk * (8 - kk) / 56))
    assert f.crossed["posted"].n_seeds == 400 and set(f.table["cell"]) == {"posted"}


def _result(table_rows, crossed=None) -> "R.RandomnessFinding":
    cols = ["cell", "source", "ratio_low", "ratio_high"]
    t = pd.DataFrame(table_rows, columns=cols)
    t["label"] = [R.SOURCES[s][0] for s in t["source"]]
    t["rate"] = t["ci_low"] = 0.0
    t["ci_high"] = 0.001
    t["ratio"] = (t["ratio_low"] + t["ratio_high"]) / 2
    t["n_pairs"] = 1000
    return R.RandomnessFinding(t, crossed or {}, {}, {})


def _crossed(icc_low, icc_high) -> CrossedResult:
    d = DisagreementResult(0.1, 0.09, 0.11, 10, 10, "cluster bootstrap", 0.5, 0.4, 0.6)
    return CrossedResult(10, 4, 0.4, d, d, d, (icc_low + icc_high) / 2, icc_low, icc_high, 0.0, 0.5,
                         ProportionResult(5, 10, 0.5, 0.2, 0.8, "exact"))


def test_share_class_thresholds_both_sides():
    assert R.share_class(R.NEAR_FULL, 1.0) == "nearly all"
    assert R.share_class(R.NEAR_FULL - 1e-9, 1.0) == "part"
    assert R.share_class(0.0, R.SMALL) == "small"
    assert R.share_class(0.0, R.SMALL + 1e-9) == "part"


def test_decider_thresholds_both_sides():
    assert R.decider(_crossed(R.INIT_DECIDES, 0.9)) == "init seed"
    assert R.decider(_crossed(R.INIT_DECIDES - 1e-9, 0.9)) == "both"
    assert R.decider(_crossed(0.1, R.INIT_DECIDES - 1e-9)) == "order seed"
    assert R.decider(_crossed(0.1, R.INIT_DECIDES)) == "both"


def test_verdict_keys():
    small = [("posted", "float32", 0.0, 0.01), ("posted", "ulp", 0.0, 0.001)]
    v = R.verdict(_result(small, {"posted": _crossed(0.6, 0.7)}))
    assert v.key == "arithmetic-negligible/init seed" and "barely matters" in v.text
    full = [("posted", "float32", 0.9, 1.1), ("posted", "ulp", 0.85, 1.0)]
    assert R.verdict(_result(full, {"posted": _crossed(0.1, 0.2)})).key == "arithmetic-full/order seed"
    mixed = [("posted", "float32", 0.9, 1.1), ("posted", "ulp", 0.0, 0.01)]
    two = {"posted": _crossed(0.6, 0.7), "lr 0.1": _crossed(0.1, 0.2)}
    assert R.verdict(_result(mixed, two)).key == "arithmetic-mixed/mixed"


def test_paper_comparisons_both_sides():
    full = [("posted", "float32", 0.9, 1.1), ("posted", "ulp", 0.85, 1.0), ("posted", "order", 0.8, 1.0)]
    assert R.compare_all_sources_alike(_result(full)) == "agrees" and R.compare_one_ulp(_result(full)) == "agrees"
    some = full[:2] + [("posted", "order", 0.3, 0.6)]
    assert R.compare_all_sources_alike(_result(some)) == "partly"
    none = [("posted", "float32", 0.0, 0.01), ("posted", "ulp", 0.0, 0.01)]
    assert R.compare_all_sources_alike(_result(none)) == "differs" and R.compare_one_ulp(_result(none)) == "differs"
    # comparable: ratios of init (same order seed), order seed and float32 within a factor COMPARABLE
    ok = [("c", "init_shuffled", 1.0, 1.0), ("c", "order", 0.5, 0.5), ("c", "float32", 0.6, 0.6)]
    assert R.compare_comparable(_result(ok)) == "agrees"
    far = [("c", "init_shuffled", 1.0, 1.0), ("c", "order", 0.5, 0.5), ("c", "float32", 0.49, 0.49)]
    assert R.compare_comparable(_result(far)) == "differs"
    assert R.compare_comparable(_result(ok[:2])) == "n/a"


def test_figure_and_section_render():
    rng = np.random.default_rng(2)
    noise, million, *_ = _noise_tables(rng, n=200, k=4, flip32=0.02)
    f = R.finding(R.select(_ctx(noise, million)))
    figs = R.figures(f)
    ax = figs[0].draw.axes[0]
    assert len(ax.patches) == len(f.table)  # one bar per cell x source
    text = R.section(f, R.verdict(f), {"randomness_sources.png": "![x](figures/randomness_sources.png)"})
    assert "arXiv:2103.04514" in text and "arXiv:2103.03098" in text and "--order-seeds 0:16" in text
    assert "(reference)" in text and "icc" in text
    import matplotlib.pyplot as plt

    plt.close("all")


def test_reduced_noise_and_million_render_end_to_end(tmp_path):
    """The reduced experiments through the runner (numpy engine: every factor), then the study as the report runs it."""
    from relustudy import load_runs
    from relustudy.runs import catalog as experiments
    from relustudy.runs.grid import run_grid
    from relustudy.studies.base import render

    quiet = dict(jobs=1, progress=False, log=lambda m: None, engine="numpy")
    for name in ("noise", "million"):
        run_grid(experiments.get(name, reduced=True, out=tmp_path / name), **quiet)
    ex = {n: (load_runs(tmp_path / n), None) for n in ("noise", "million")}
    ctx = Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path, experiments=ex)
    out = render(R.STUDY, ctx)
    f = ctx.finding(R.STUDY)
    assert len(f.table) == 3 * len(R.SOURCES)  # every cell x source measured
    assert set(f.fixed64_source.values()) == {"million", "noise"}  # lr 0.1's float64 runs are the experiment's own
    assert f.crossed["posted"].n_seeds == 40 and f.crossed["posted"].n_orders == 4
    assert out.verdict.key.startswith("arithmetic-") and (tmp_path / "figures" / "randomness_sources.png").exists()
