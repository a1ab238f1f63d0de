"""The generated report: key numbers against an independent pandas computation,
byte-identical regeneration, and graceful handling of missing data."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from relustudy.studies import common
from relustudy.report import document
from relustudy.runs.content import content_hash
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.report.cli import main


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    """A tiny default grid in STUDY/default, with tiny experiments beside it (STUDY/<name>)."""
    study = tmp_path_factory.mktemp("study")
    out = study / "default"
    quiet = dict(jobs=2, progress=False, log=lambda m: None)
    run_grid(Grid(seeds=(0, 10), activations=("tanh", "sigmoid"), outputs=("same", "identity"), inits=("randn",),
                  updates=("as_posted", "corrected"), optimizers=("sgd",), lrs=(0.1,), epochs=(300,),
                  out=study / "q1_long"), **quiet)
    run_grid(Grid(seeds=(0, 20), activations=("relu",), outputs=("same", "identity"), inits=("randn", "he"),
                  updates=("corrected",), optimizers=("sgd",), lrs=(0.01,), epochs=(100,),
                  hidden=((2,), (2, 2, 2), (4, 4)), out=study / "born_dead"), **quiet)
    run_grid(Grid(seeds=(0, 24), activations=("relu", "leaky_relu"), outputs=("same", "identity"),
                  inits=("randn", "he", "xavier"), updates=("as_posted",), optimizers=("sgd", "momentum"),
                  lrs=(0.01,), epochs=(300,), out=study / "remedies"), **quiet)
    grid = Grid(
        seeds=(0, 24),
        activations=("relu", "tanh", "sigmoid"),
        outputs=("same", "identity"),
        inits=("randn", "he"),
        updates=("as_posted", "corrected"),
        optimizers=("sgd", "momentum"),
        lrs=(0.01, 0.1, 0.001),
        epochs=(300,),
        out=out,
    )
    run_grid(grid, **quiet)
    return out


@pytest.fixture(scope="module")
def rendered(small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["--data", str(small_dataset), "--out", str(out)]) == 0
    return out, (out / "REPORT.md").read_text()


POSTED = dict(activation="relu", output="same", init="randn", update="as_posted", optimizer="sgd")


def _cell(runs, **factors):
    """Rows of one cell, by plain pandas comparisons (independent of relustudy's selectors)."""
    mask = runs["lr"] == factors.pop("lr", 0.01)
    for col, val in {**POSTED, **factors}.items():
        mask &= runs[col].astype(str) == val
    return runs[mask]


@pytest.mark.slow
def test_key_numbers_match_an_independent_pandas_computation(small_dataset, rendered):
    _, text = rendered
    runs = pd.read_parquet(small_dataset / "runs.parquet")  # plain pandas, not relustudy's loader
    post = _cell(runs)
    fail = post["outcome"] != "solved"
    m = re.search(r"The posted program fails in ([\d.]+)% of the default grid's seeds 0–\d+\*\* \((\d+) of (\d+)", text)
    assert m, text[:2000]
    assert float(m.group(1)) == round(100 * fail.mean(), 1)
    assert (int(m.group(2)), int(m.group(3))) == (int(fail.sum()), len(post))
    dead = post["output_dead_init"].astype(bool)
    m = re.search(r"P\(fail \| output dead at init\) = ([\d.]+)%", text)
    assert float(m.group(1)) == round(100 * fail[dead].mean(), 1)
    m = re.search(r"P\(fail \| alive at init\) = ([\d.]+)%", text)
    assert float(m.group(1)) == round(100 * fail[~dead].mean(), 1)
    # Momentum's paired counts on the posted cell, at equal lr and at the matched step lr (1 - 0.9).
    a = post.set_index("seed")["outcome"] != "solved"
    for family, lr_b in (("equal lr", 0.01), ("matched step", 0.001)):
        b = _cell(runs, optimizer="momentum", lr=lr_b).set_index("seed")["outcome"] != "solved"
        m = re.search(rf"\| {family} \| sgd 0.01 vs momentum {lr_b:g} \| (\d+) \| ([\d.]+)% \| ([\d.]+)% \| "
                      r"([+-][\d.]+) pp \[([+-][\d.]+), ([+-][\d.]+)\] \| (\d+) / (\d+) \|", text)
        assert m, f"momentum row {family} missing"
        assert int(m.group(1)) == len(a)
        assert float(m.group(4)) == round(100 * (b.mean() - a.mean()), 1)
        assert float(m.group(5)) <= float(m.group(4)) <= float(m.group(6))
        assert (int(m.group(7)), int(m.group(8))) == (int((a & ~b).sum()), int((~a & b).sum()))
    assert f"{len(runs):,} training runs" in text


@pytest.mark.slow
def test_new_findings_match_an_independent_pandas_computation(small_dataset, rendered):
    """Failure modes, zero gradients, the predictor's accuracy, linearity, kappa: recomputed in plain pandas."""
    _, text = rendered
    runs = pd.read_parquet(small_dataset / "runs.parquet")
    post = _cell(runs)
    fail = post["outcome"] != "solved"
    born = (post["output_dead_init"].astype(bool) | (post["dead_frac_init_l1"] == 1) | (post["dead_frac_init_l2"] == 1))
    died = ~born & (post["output_dead_final"].astype(bool) | (post["dead_frac_final_l1"] == 1)
                    | (post["dead_frac_final_l2"] == 1))
    m = re.search(r"Of all its runs: born dead ([\d.]+)%, died in training ([\d.]+)%", text)
    assert m, "failure modes missing"
    assert float(m.group(1)) == round(100 * (fail & born).mean(), 1)
    assert float(m.group(2)) == round(100 * (fail & died & (post["outcome"] != "diverged")).mean(), 1)
    dead = post["output_dead_init"].astype(bool)
    acc = ((dead & fail) | (~dead & ~fail)).mean()
    m = re.search(r"\"output dead at init → fails\" is right for ([\d.]+)% of the seeds", text)
    assert m, "predictor accuracy missing"
    assert float(m.group(1)) == round(100 * acc, 1)
    m = re.search(r"The rule misclassifies (\d+) seeds born dead that end solved and\s+(\d+) alive at init that fail", text)
    assert (int(m.group(1)), int(m.group(2))) == (int((dead & ~fail).sum()), int((~dead & fail).sum()))
    # Exactly-zero gradients per outcome, among the failing ReLU-output runs.
    relu = runs[(runs["activation"] == "relu") & (runs["output"] == "same") & (runs["outcome"] != "solved")]
    for outcome, g in relu.groupby("outcome", observed=True):
        n0 = int((g["grad_norm_final"] == 0).sum())
        assert f"| {outcome} | {len(g):,} | {n0:,} ({100 * n0 / len(g):.1f}%) |" in text
    # The pace of the descent: the solved posted runs' median fall between the first two recorded
    # epochs, in decades of epoch error per 100 epochs, and how many solved runs it covers.
    curves = pd.read_parquet(small_dataset / "curves.parquet")
    solved = post.loc[~fail, ["cell_id", "seed"]]
    c = curves.merge(solved, on=["cell_id", "seed"]).pivot_table(index="seed", columns="epoch", values="epoch_error")
    e0, e1 = sorted(c.columns)[:2]
    rate = ((np.log10(c[e0].clip(lower=1e-300)) - np.log10(c[e1].clip(lower=1e-300))) / (e1 - e0) * 100).median()
    assert f"| relu, lr 0.01 | {e0:,}–{e1:,} | {len(solved):,} | {rate:.3g} [" in text
    # Seed lottery: Cohen's kappa of the five outcomes, posted vs he init.
    he = _cell(runs, init="he").set_index("seed")["outcome"].astype(str)
    ct = pd.crosstab(post.set_index("seed")["outcome"].astype(str), he).reindex(
        index=sorted(set(he) | set(post["outcome"].astype(str))), columns=sorted(set(he) | set(post["outcome"].astype(str))),
        fill_value=0).to_numpy() / len(he)
    po, pe = np.trace(ct), ct.sum(axis=1) @ ct.sum(axis=0)
    m = re.search(r"\| he \| (\d+) \| ([\d.]+)% \| (-?[\d.]+) \[", text)
    assert m, "seed lottery row missing"
    assert float(m.group(2)) == round(100 * po, 1)
    assert float(m.group(3)) == round((po - pe) / (1 - pe), 2)


@pytest.mark.slow
def test_experiment_sections_and_remedy_counts(small_dataset, rendered):
    _, text = rendered
    for heading in ("## Q1 at the asker's scale", "## Born dead: depth and width", "## Remedies on the failing seeds"):
        assert heading in text
    skipped = text.split("## Skipped sections")[1] if "## Skipped sections" in text else ""
    assert "experiment:" not in skipped
    runs = pd.read_parquet(small_dataset.parent / "remedies" / "runs.parquet")
    a = _cell(runs).set_index("seed")["outcome"] != "solved"
    b = _cell(runs, activation="leaky_relu").set_index("seed")["outcome"] != "solved"
    m = re.search(r"\| leaky_relu \| \d+ \(`\w+`\) \| (\d+) of (\d+) \|", text)
    assert m, "leaky_relu remedy row missing"
    assert (int(m.group(1)), int(m.group(2))) == (int((a & ~b).sum()), int(a.sum()))
    # Born dead at init, recomputed from the per-layer dead fractions.
    bd = pd.read_parquet(small_dataset.parent / "born_dead" / "runs.parquet")
    bd = bd[(bd["hidden"].astype(str) == "2-2-2") & (bd["init"].astype(str) == "he") & (bd["output"].astype(str) == "identity")]
    dead = (bd[["dead_frac_init_l1", "dead_frac_init_l2", "dead_frac_init_l3"]] == 1).any(axis=1).mean()
    assert f"| he | identity | 2-2-2 | 20 | {100 * dead:.1f}%" in text


@pytest.mark.slow
def test_report_is_byte_identical_when_regenerated(small_dataset, rendered, tmp_path):
    # `rendered` used the default, one forked worker per core; this rerun renders in one process
    out, text = rendered
    assert main(["--data", str(small_dataset), "--out", str(tmp_path), "--jobs", "1"]) == 0
    assert (tmp_path / "REPORT.md").read_text() == text
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert figs and figs == sorted(p.name for p in (tmp_path / "figures").iterdir())
    for name in figs:
        assert (out / "figures" / name).read_bytes() == (tmp_path / "figures" / name).read_bytes(), name
    assert main(["--data", str(small_dataset), "--out", str(tmp_path / "three"), "--jobs", "3"]) == 0
    assert (tmp_path / "three" / "REPORT.md").read_text() == text


def test_bad_jobs_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "rep"), "--jobs", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--jobs must be >= 1; got 0" in err
    assert not (tmp_path / "rep").exists()


@pytest.mark.slow
def test_report_names_the_data_by_content_not_file_bytes(small_dataset, rendered, tmp_path):
    """Rewritten files with other metadata (a rerun's creation time) give the same report."""
    _, text = rendered
    study = tmp_path / "study"
    shutil.copytree(small_dataset.parent, study)
    runs_file = study / "default" / "runs.parquet"
    table = pq.read_table(runs_file)
    info = json.loads(table.schema.metadata[b"relustudy"])
    info["provenance"]["created"] = "2000-01-01T00:00:00+00:00"
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"relustudy": json.dumps(info).encode()}),
                   runs_file, compression="snappy")
    assert runs_file.read_bytes() != (small_dataset / "runs.parquet").read_bytes()
    assert main(["--data", str(study / "default"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "REPORT.md").read_text() == text
    assert f"`default/runs.parquet`: content sha256 `{content_hash(runs_file)}`" in text


@pytest.mark.slow
def test_figures_are_written_and_linked(rendered):
    out, text = rendered
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", text)
    assert len(links) >= 6
    for link in links:
        png = (out / link).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no runs table" in err and "run_grid.py" in err
    assert not (tmp_path / "rep").exists()


def test_foreign_file_is_rejected(tmp_path, capsys):
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "runs.parquet")
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a relustudy dataset file" in err and "\n" not in err


@pytest.mark.slow
def test_sections_without_their_cells_are_listed_as_skipped(small_dataset, tmp_path):
    from relustudy.runs.dataset import load_curves, load_runs

    runs = load_runs(small_dataset)
    only_tanh = runs[runs["activation"] == "tanh"]
    ctx = common.Context(runs=only_tanh, curves=load_curves(small_dataset), figures_dir=tmp_path / "f", report_dir=tmp_path)
    text = document.build(ctx)
    assert "## Skipped sections" in text
    skipped = text.split("## Skipped sections")[1]
    assert "Q2. How often and how the posted ReLU program fails" in skipped and "posted ReLU cell" in skipped
    assert "## Q1. Why are tanh and sigmoid so slow?" not in skipped
    assert "## Methods" in text


def test_formatting_helpers():
    assert common.pct(0.4321) == "43.2%"
    assert common.pct(float("nan")) == "n/a"
    assert common.pval(0.0) == "p < 1e-300"
    assert common.pval(0.0312) == "p = 0.031"
    assert common.pval(3.1e-8) == "p = 3.1e-08"
    assert common.md_table(pd.DataFrame({"a": [1], "b": ["x"]})) == "| a | b |\n|---|---|\n| 1 | x |"
    assert common.md_table(pd.DataFrame({"P(a | b)": ["|x|"]})) == "| P(a \\| b) |\n|---|\n| \\|x\\| |"
    from relustudy.studies.common import diff_ci, mse_at, pp

    assert pp(0.136) == "+13.6 pp" and pp(-0.104) == "-10.4 pp" and pp(float("nan")) == "n/a"
    assert diff_ci(0.136, 0.106, 0.165) == "+13.6 pp [+10.6, +16.5]"
    assert mse_at(-4.0) == "0.0001" and mse_at(-12.0) == "≤ 1e-12" and mse_at(-15.0) == "≤ 1e-12"
    assert mse_at(float("inf")) == "n/a"


@pytest.mark.slow
def test_dataset_without_curves_renders_and_lists_what_it_skipped(small_dataset, tmp_path):
    import shutil

    data = tmp_path / "only_runs"
    data.mkdir()
    shutil.copy(small_dataset / "runs.parquet", data / "runs.parquet")
    assert main(["--data", str(data), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "REPORT.md").read_text()
    skipped = text.split("## Skipped sections")[1]
    assert "no learning curves" in skipped
    assert "## Q2. How often and how the posted ReLU program fails" in text


@pytest.mark.parametrize("jobs", [1, 2])
def test_studies_draw_under_the_theme_whatever_ran_before(tmp_path, jobs):
    """A figure whose axes are made before its drawing helper sets the theme (as the optimizer
    mechanism's are) must not depend on which studies its process drew before it."""
    import matplotlib
    import matplotlib.pyplot as plt

    from relustudy.report.document import render_studies
    from relustudy.studies.base import Figure, Study

    def figures(found):
        fig, ax = plt.subplots()  # axes made at once: they take the style in force now
        return [Figure("toy.png", fig, "toy")]

    toy = Study(name="toy", title="Toy", select=lambda ctx: 1, finding=lambda x: x,
                section=lambda found, verdict, links: f"grid {plt.rcParams['axes.grid']}", figures=figures)
    matplotlib.rcdefaults()  # as a fresh process that drew nothing else
    ctx = common.Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path)
    [(_, rendered)] = render_studies([toy], ctx, jobs=jobs)
    assert rendered.section.strip().endswith("grid True")  # seaborn's whitegrid, the study's theme
    assert (tmp_path / "figures" / "toy.png").exists()
