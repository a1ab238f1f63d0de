"""A report on a dataset of one's own (a folder not named like data/default): a generic part
with numbers, question sections only where their cells are, no verdict without data, skipped
sections in one line naming what is actually missing, and a title naming the data."""
import re

import pandas as pd
import pytest

from relustudy.studies import common
from relustudy.runs.spec import Grid
from relustudy.runs.grid import run_grid
from relustudy.studies.common import Skip
from relustudy.report.document import skipped_line
from relustudy.report.cli import main

QUIET = {"jobs": 1, "progress": False, "log": lambda m: None, "engine": "numpy"}


@pytest.fixture(scope="module")
def mygrid(tmp_path_factory):
    """16 cells x 12 seeds x 60 epochs, without any ReLU (so without the posted cell)."""
    out = tmp_path_factory.mktemp("own") / "mygrid"
    run_grid(Grid(seeds=(0, 12), activations=("leaky_relu", "elu"), outputs=("same",), inits=("he", "xavier"),
                  updates=("corrected",), optimizers=("sgd", "momentum"), lrs=(0.01, 0.1), epochs=(60,), out=out),
             **QUIET)
    return out


@pytest.fixture(scope="module")
def own_report(mygrid, tmp_path_factory):
    out = tmp_path_factory.mktemp("own_report")
    assert main(["--data", str(mygrid), "--out", str(out), "--jobs", "1"]) == 0
    return out, (out / "REPORT.md").read_text()


def test_title_names_the_folder_and_the_factors_it_varies(own_report):
    _, text = own_report
    lines = text.splitlines()
    assert lines[0] == ("# `mygrid`: activation ∈ {leaky_relu, elu} × init ∈ {he, xavier} × optimizer ∈ {sgd, momentum}"
                        " × lr ∈ {0.01, 0.1}")
    assert "fixed: output same, update corrected, epochs 60, hidden 4-4." in lines[2]
    assert "ReLU network" not in lines[0]


def test_generic_part_has_every_cell_with_numbers(mygrid, own_report):
    _, text = own_report
    runs = pd.read_parquet(mygrid / "runs.parquet")
    cell = runs[(runs["activation"].astype(str) == "elu") & (runs["init"].astype(str) == "xavier")
                & (runs["optimizer"].astype(str) == "sgd") & (runs["lr"] == 0.1)]
    fail = (cell["outcome"].astype(str) != "solved").mean()
    assert "## Every cell: failure, outcomes, final error and paired contrasts" in text
    assert f"| elu / xavier / sgd / 0.1 | 12 | {100 * fail:.1f}% [" in text
    rows = [ln for ln in text.split("## Every cell")[1].splitlines() if ln.startswith(("| leaky_relu", "| elu"))]
    assert len(rows) >= 16  # every cell, then stratum contrasts
    # the contrasts: one summary row per factor level against its reference, with a stated Holm family
    assert "Holm family: one per\nfactor" in text or "Holm family: one per factor" in text
    assert "| optimizer: sgd → momentum | 8 | 96 |" in text
    assert "| lr: 0.01 → 0.1 | 8 | 96 |" in text
    assert "![failure rate per cell with 95% CIs](figures/cells_failure.png)" in text


def test_no_verdict_without_data(own_report):
    _, text = own_report
    assert "**Verdict:**" not in text
    assert "not in this dataset" not in text
    assert "## Claim 3 of the posted answer" not in text  # momentum on the posted cell: no posted cell here
    answers = text.split("## Findings, section by section")[1].split("## Glossary")[0]
    assert re.findall(r"^- \*\*\[(.*?)\]", answers, re.MULTILINE) == ["Every cell: failure, outcomes, final error and paired contrasts"]


def test_skipped_sections_are_one_line_naming_what_is_missing(mygrid, own_report):
    _, text = own_report
    body = [ln for ln in text.split("## Skipped sections")[1].splitlines() if ln.strip()]
    assert len(body) == 1
    line = body[0]
    assert "Claim 3 of the posted answer" in line and "posted ReLU cell" in line
    assert "lacks the momentum cell" not in text  # the momentum cells are there: the posted cell is not
    assert "scripts/run_grid.py --experiment" not in line  # no instructions to run the study's experiments
    # every "no runs for ... (k=v, ...)" names a selection that is indeed empty
    runs = pd.read_parquet(mygrid / "runs.parquet")
    named = re.findall(r"no runs for [^;]*?\(([^()]*=[^()]*)\)", line)
    assert named
    for cond in named:
        mask = pd.Series(True, index=runs.index)
        for part in cond.split(", "):
            k, v = part.split("=")
            mask &= runs[k].astype(str).isin(v.split("/"))
        assert not mask.any(), cond


def test_own_report_is_byte_identical_when_regenerated(mygrid, own_report, tmp_path):
    out, text = own_report
    assert main(["--data", str(mygrid), "--out", str(tmp_path), "--jobs", "2"]) == 0
    assert (tmp_path / "REPORT.md").read_text() == text
    for name in ("cells_failure.png", "failure_rates.png"):
        assert (tmp_path / "figures" / name).read_bytes() == (out / "figures" / name).read_bytes()


@pytest.fixture(scope="module")
def posted_grid(tmp_path_factory):
    """The posted cell and momentum at the same lr (not at the matched step), at two depths."""
    out = tmp_path_factory.mktemp("posted") / "deeper"
    run_grid(Grid(seeds=(0, 8), activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",),
                  optimizers=("sgd", "momentum"), lrs=(0.01,), epochs=(40,), hidden=((4, 4), (2, 2)), out=out),
             **QUIET)
    return out


def test_missing_comparison_names_its_cell_and_gets_no_verdict(posted_grid, tmp_path):
    assert main(["--data", str(posted_grid), "--out", str(tmp_path), "--jobs", "1"]) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert text.startswith("# `deeper`: optimizer ∈ {sgd, momentum} × hidden ∈ {4-4, 2-2}\n")
    momentum = text.split("## Claim 3 of the posted answer")[1].split("\n## ")[0]
    assert "The dataset has no momentum cell at lr 0.001 on the posted stratum" in momentum
    verdict = momentum.split("**Verdict:**")[1].splitlines()[0]
    assert "equal lr" in verdict and "matched step" not in verdict
    # the failure-rate heatmap tells the two depths apart (it used to fail on duplicate squares)
    assert "## Failure rate in every cell" in text and "/hidden 2-2:" in text


def test_study_dataset_keeps_its_title(tmp_path):
    from relustudy.report.document import section_title

    runs = pd.DataFrame({"activation": ["relu"], "cell_id": ["a"]})
    ctx = common.Context(runs=runs, curves=None, figures_dir=tmp_path, report_dir=tmp_path)
    assert section_title(ctx).startswith("# Why does a tiny ReLU network sometimes never learn to add two numbers?")
    ctx.dataset = "mine"
    assert section_title(ctx).startswith("# `mine`: one cell\n")


def test_skipped_line_groups_by_reason(tmp_path):
    ctx = common.Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path, report_dir=tmp_path)
    skipped = [("A", Skip("no posted cell")), ("B", Skip("no tanh")), ("C", Skip("no posted cell")),
               ("D", Skip("no data/million; run X", experiment="million"))]
    assert skipped_line(skipped, ctx) == ("4 sections skipped: *A*, *C* (no posted cell); *B* (no tanh); "
                                          "not generated yet: *D* (no data/million; run X).")
    ctx.dataset = "mine"
    assert skipped_line(skipped, ctx).endswith("not part of this dataset: *D* (`million`).")
    assert skipped_line([("A", Skip("why"))], ctx) == "1 section skipped: *A* (why)."


def test_cells_finding_holm_family_per_factor_and_references(mygrid):
    import numpy as np

    from relustudy.stats import proportions as stats
    from relustudy.runs.dataset import load_runs
    from relustudy.studies import cells

    runs = load_runs(mygrid)
    found = cells.finding((runs, "mygrid"))
    # the posted value where the dataset has it (sgd, lr 0.01), else the first level (no relu, no randn)
    assert found.references == {"activation": "leaky_relu", "init": "he", "optimizer": "sgd", "lr": "0.01"}
    assert set(found.contrasts["family"]) == {"activation", "init", "optimizer", "lr"}
    for _, fam in found.contrasts.groupby("family"):
        assert len(fam) == 8  # 16 cells: every factor has two levels, so 8 strata of the other three
        np.testing.assert_array_equal(fam["p_fail_holm"], stats.holm(fam["p_fail"].to_numpy(float)))
    assert len(found.cells) == 16 and (found.cells["n"] == 12).all()
    shares = found.cells[[f"{o}_rate" for o in ("solved", "dead_output", "collapsed", "slow", "diverged")]]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(found.cells["rate"], 1 - found.cells["solved_rate"])


def test_momentum_verdict_says_nothing_of_a_missing_comparison():
    from types import SimpleNamespace

    from relustudy.studies import momentum

    post = pd.DataFrame({"family": ["equal lr"], "lr": [0.01], "lr_momentum": [0.01], "rate_a": [0.38],
                         "rate_b": [0.5], "rate_diff": [0.12], "diff_low": [0.1], "diff_high": [0.14],
                         "p_fail_holm": [1e-6], "n_pairs": [1000]})
    v = momentum.verdict(SimpleNamespace(posted=post, largest=None))
    assert v.key == "equal lr:hurts,matched step:missing"
    assert "matched step" not in v.text and "not in this dataset" not in v.text
