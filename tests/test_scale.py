"""Issue 11: the init_gain factor, the RAI and small-bias inits, and the experiments
million, phase and depth_width (registry, compact output, the phase diagram's posted point)."""
from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.stats

from relustudy import Cell, load_runs
from relustudy.runs import catalog as experiments
from relustudy.runs.cli import main, resolve
from relustudy.core.checks import check_init_gain
from relustudy.runs.content import frame_digest
from relustudy.runs.dataset import COMPACT_COLUMNS
from relustudy.runs.spec import Grid, GridUnion
from relustudy.runs.grid import run_grid
from relustudy.core.inits import RAI_SIGMA, draw_normals, init_params, rai_row
from relustudy.runs.paths import DEFAULT_GRID_DIR, RUNS_FILE, CURVES_FILE
from relustudy.core.schema import cell_id
from relustudy.core.train import train

# The posted cell's JSON before init_gain existed: its name, and so its id, must not change.
POSTED_JSON = (
    '{"activation":"relu","epochs":5000,"hidden":"4-4","init":"randn","lr":0.01,'
    '"optimizer":"sgd","output":"same","update":"as_posted"}'
)


# --------------------------------------------------------------------------- init_gain


def test_default_gain_leaves_cell_names_and_ids_unchanged():
    assert Cell().to_json() == POSTED_JSON and Cell(init_gain=1).to_json() == POSTED_JSON
    assert cell_id(Cell()) == hashlib.sha256(POSTED_JSON.encode()).hexdigest()[:12]
    assert "init_gain" not in Cell(init="he", lr=0.1).to_dict()
    c = Cell(init_gain=2.0)
    assert c.to_dict()["init_gain"] == 2.0 and cell_id(c) != cell_id(Cell())
    assert Cell.from_dict(c.to_dict()) == c and Cell.from_dict(Cell().to_dict()).init_gain == 1.0


def test_default_grid_config_and_cells_are_unchanged():
    g = Grid()
    assert "init_gains" not in g.to_config() and "columns" not in g.to_config()
    assert "--init-gains" not in g.command() and "--columns" not in g.command()
    assert {c.init_gain for c in g.cells()} == {1.0} and len(g.cells()) == 288
    g2 = Grid(activations=("relu",), init_gains=(0.5, 1.0))
    assert len(g2.cells()) == 2 * len(Grid(activations=("relu",)).cells())
    assert g2.to_config()["init_gains"] == [0.5, 1.0] and "--init-gains 0.5,1.0" in g2.command()


@pytest.mark.skipif(not (DEFAULT_GRID_DIR / RUNS_FILE).exists(), reason="no shipped default dataset")
def test_shipped_cell_ids_are_cells_of_the_default_grid():
    shipped = set(pq.read_table(DEFAULT_GRID_DIR / RUNS_FILE, columns=["cell_id"]).column(0).to_pylist())
    assert shipped and shipped <= {cell_id(c) for c in Grid().cells()}


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, math.nan, math.inf, -math.inf, "2", True, None, [1.0]])
def test_bad_gains_are_one_line_errors_listing_what_is_allowed(bad):
    with pytest.raises(ValueError, match=r"invalid init_gain .*; allowed: a finite number > 0") as info:
        Cell(init_gain=bad)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="invalid init_gain"):
        Grid(init_gains=(1.0, bad))
    assert check_init_gain(np.float32(0.5)) == 0.5  # numpy scalars are numbers


def test_gain_multiplies_weights_and_biases_of_every_scheme():
    seeds, sizes = range(7), (2, 4, 4, 1)
    for name in ("randn", "he", "xavier", "rai", "he_b0.1"):
        base = init_params(name, seeds, sizes)
        assert all(np.array_equal(w1, w2) and np.array_equal(b1, b2)  # gain 1: the very same bits
                   for (w1, b1), (w2, b2) in zip(base, init_params(name, seeds, sizes, 1.0)))
        for (w, b), (wg, bg) in zip(base, init_params(name, seeds, sizes, 2.5)):
            assert np.array_equal(wg, w * 2.5) and np.array_equal(bg, b * 2.5)
    (w, b), *_ = init_params("randn", seeds, sizes, 3.0)
    assert np.array_equal(w, 3.0 * draw_normals(seeds, sizes)[0][0])  # randn: N(0, gain^2)
    assert not init_params("he", seeds, sizes, 3.0)[0][1].any()  # He biases stay 0


def test_gain_cells_train_in_one_batch_as_alone():
    a, b = Cell(epochs=30, init_gain=0.5), Cell(epochs=30, init_gain=2.0)
    assert a.structure == b.structure
    from relustudy.core.train import train_group

    together = train_group([a, b], range(5))
    for cell, res in zip((a, b), together):
        alone = train(cell, range(5))
        assert np.array_equal(alone.metrics["final_mse"], res.metrics["final_mse"], equal_nan=True)
    assert not np.array_equal(together[0].init_params[0][0], together[1].init_params[0][0])


def test_tables_without_init_gain_load_with_gain_1_and_the_same_digest(tmp_path):
    grid = Grid(seeds=(0, 4), activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",),
                optimizers=("sgd",), lrs=(0.01,), epochs=(20,), out=tmp_path / "d")
    run_grid(grid, jobs=1, progress=False, log=lambda m: None)
    runs = load_runs(grid.out)
    assert list(runs.columns).index("init_gain") == list(runs.columns).index("hidden") + 1
    table = pq.read_table(grid.out / RUNS_FILE)
    old = table.drop_columns(["init_gain"]).replace_schema_metadata(table.schema.metadata)
    pq.write_table(old, grid.out / RUNS_FILE)  # a table made before init_gain existed
    assert "init_gain" not in pq.read_schema(grid.out / RUNS_FILE).names
    again = load_runs(grid.out)
    assert (again["init_gain"] == 1.0).all() and frame_digest(again) == frame_digest(runs)


def test_cli_init_gains_flag(tmp_path, capsys):
    grid, _ = resolve(["--init-gains", "0.5,2", "--activations", "relu", "--out", str(tmp_path)])
    assert grid.init_gains == (0.5, 2.0)
    for bad, msg in (("0", "invalid init_gain 0.0"), ("x", "invalid init_gain 'x'"), ("nan", "invalid init_gain nan")):
        assert main(["--init-gains", bad, "--out", str(tmp_path / "n")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and msg in err and "allowed: a finite number > 0" in err
    assert not (tmp_path / "n").exists()


# --------------------------------------------------------------------------- RAI and bias inits


def _rai_layer(n_runs: int, fan_in: int, fan_out: int):
    """RAI's first layer for seeds 0..n_runs-1 of a 2-input net (fan_in must be 2) or, for other
    fan_in, a hidden layer: (rows (fan_out, fan_in + 1, R), k, p, the normals)."""
    sizes = (2, fan_in, fan_out, 1) if fan_in != 2 else (2, fan_out, 1)
    layer = 1 if fan_in != 2 else 0
    normals = draw_normals(range(n_runs), sizes)[layer]
    w, b = init_params("rai", range(n_runs), sizes)[layer]
    rows = np.concatenate([w, b[:, None, :]], axis=1)
    k, p = rai_row(normals[1], fan_in)
    return rows, k, p, normals


def test_rai_rows_have_one_beta_entry_and_the_weight_normals_in_order():
    rows, k, p, (zw, zb) = _rai_layer(500, 4, 3)
    sigma = RAI_SIGMA / np.sqrt(4)
    for j in range(3):
        for r in range(500):
            row = rows[j, :, r]
            assert row[k[j, r]] == p[j, r] and 0 < p[j, r] < 1
            assert np.array_equal(np.delete(row, k[j, r]), zw[j, :, r] * sigma)


def test_rai_matches_the_papers_construction_in_distribution():
    """Lu et al. 2019: per row, a uniform position among fan_in + 1 gets Beta(2, 1), the other
    entries N(0, 0.36 / fan_in), all independent. Checked on 40,000 rows against the
    construction itself (scipy's distributions) and against an independent sampler."""
    n, fan_in = 20_000, 3
    rows, k, p, _ = _rai_layer(n, fan_in, 2)
    k, p = k.ravel(), p.ravel()
    counts = np.bincount(k, minlength=fan_in + 1)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3 and len(counts) == fan_in + 1
    assert scipy.stats.kstest(p, scipy.stats.beta(2, 1).cdf).pvalue > 1e-3
    sym = np.array([np.delete(rows[j, :, r], kk) for j in range(2) for r, kk in enumerate(np.ravel(k.reshape(2, n)[j]))])
    sigma = RAI_SIGMA / np.sqrt(fan_in)
    assert scipy.stats.kstest(sym.ravel(), scipy.stats.norm(scale=sigma).cdf).pvalue > 1e-3
    for kk in range(fan_in + 1):  # the Beta entry does not depend on where it sits
        assert scipy.stats.ks_2samp(p[k == kk], p[k != kk]).pvalue > 1e-3
    # An independent sampler of the paper's construction, entry by entry.
    rng = np.random.default_rng(11)
    ref = rng.normal(scale=sigma, size=(2 * n, fan_in + 1))
    pos = rng.integers(0, fan_in + 1, size=2 * n)
    ref[np.arange(2 * n), pos] = rng.beta(2, 1, size=2 * n)
    ours = rows.transpose(0, 2, 1).reshape(-1, fan_in + 1)
    for col in range(fan_in + 1):
        assert scipy.stats.ks_2samp(ours[:, col], ref[:, col]).pvalue > 1e-3, col
    # Asymmetric: every row has a positive entry, so P(entry > 0) = 1/2 + 1/(2 (n + 1)) per position.
    assert abs((ours > 0).mean() - (0.5 + 0.5 / (fan_in + 1))) < 0.01


def test_rai_first_layer_units_are_born_dead_less_often_than_he():
    dead = {}
    for name in ("he", "rai"):
        w, b = init_params(name, range(20_000), (2, 4, 1))[0]
        x = np.array([[0.1, 0.2], [0.5, 0.3], [0.2, 0.4], [0.3, 0.7], [0.5, 0.5], [0.4, 0.3]])
        z = np.einsum("jir,si->jsr", w, x) + b[:, None, :]
        dead[name] = (z <= 0).all(axis=1).mean()
    assert dead["rai"] < dead["he"] - 0.05


def test_small_bias_inits_are_he_weights_with_a_constant_bias():
    he = init_params("he", range(5), (2, 4, 4, 1))
    for name, value in (("he_b0.01", 0.01), ("he_b0.1", 0.1)):
        for (w, b), (hw, _) in zip(init_params(name, range(5), (2, 4, 4, 1)), he):
            assert np.array_equal(w, hw) and (b == value).all()


# --------------------------------------------------------------------------- the experiments


def test_phase_grid_spans_the_issue_ranges_and_holds_the_posted_cell():
    g = experiments.get("phase")
    assert len(g.lrs) >= 13 and min(g.lrs) <= 1e-3 and max(g.lrs) >= 1.0 and 0.01 in g.lrs
    assert len(g.init_gains) >= 9 and min(g.init_gains) <= 0.25 and max(g.init_gains) >= 4 and 1.0 in g.init_gains
    assert set(g.updates) == {"as_posted", "corrected"} and set(g.optimizers) == {"sgd", "momentum"}
    assert g.seeds[1] - g.seeds[0] >= 500 and g.hidden == ((4, 4),) and g.activations == ("relu",)
    ratios = np.diff(np.log10(g.lrs))
    assert np.allclose(ratios, ratios[0], atol=2e-3)  # log-spaced
    assert Cell() in g.cells()  # the posted program, with its default-grid id


def test_phase_posted_point_equals_the_default_grid_bit_for_bit():
    posted = next(c for c in experiments.get("phase").cells() if c == Cell())
    seeds = range(12)
    mine = train(posted, seeds).metrics
    if (DEFAULT_GRID_DIR / RUNS_FILE).exists():
        shipped = load_runs(DEFAULT_GRID_DIR)
        ref = shipped[(shipped["cell_id"] == cell_id(posted)) & shipped["seed"].isin(list(seeds))].sort_values("seed")
        assert len(ref) == len(seeds)
        for col in ("final_mse", "last_epoch_error", "pred_test", "dead_frac_init", "dead_frac_final"):
            assert np.array_equal(mine[col], ref[col].to_numpy(), equal_nan=True), col
        assert list(mine["outcome"]) == list(ref["outcome"].astype(str))
    else:  # no shipped data: the default grid's cell trained on its own
        default = next(c for c in Grid().cells() if c == posted)
        assert np.array_equal(train(default, seeds).metrics["final_mse"], mine["final_mse"])


def test_depth_width_and_million_grids():
    dw = experiments.get("depth_width")
    widths = {h[0] for h in dw.hidden}
    depths = {len(h) for h in dw.hidden}
    assert min(widths) == 2 and max(widths) == 32 and min(depths) == 1 and max(depths) == 10
    assert {"randn", "he", "rai", "he_b0.01", "he_b0.1"} <= set(dw.inits)
    assert set(dw.updates) == {"as_posted", "corrected"} and dw.epochs == (5000,)
    m = experiments.get("million")
    assert isinstance(m, GridUnion) and m.columns == "compact"
    cells = {c: p.seeds for p in m.parts for c in p.cells()}
    assert cells[Cell()] == (0, 1_000_000)
    assert cells[Cell(update="corrected")][1] >= 100_000 and cells[Cell(optimizer="momentum", lr=0.001)][1] >= 100_000


def test_reduced_million_is_compact_and_agrees_with_the_full_columns(tmp_path):
    small = experiments.get("million", reduced=True, out=tmp_path / "m")
    run_grid(small, jobs=1, progress=False, log=lambda m: None)
    runs = load_runs(small.out)
    assert not (small.out / CURVES_FILE).exists() and len(runs) == small.n_runs
    assert set(runs.columns) - {c for c in runs.columns if c.startswith("dead_frac_")} <= set(COMPACT_COLUMNS)
    assert runs["final_mse"].dtype == np.float32 and "pred_test" not in runs.columns
    meta = pq.ParquetFile(small.out / RUNS_FILE).metadata
    seed_col = meta.schema.names.index("seed")
    assert "DELTA_BINARY_PACKED" in meta.row_group(0).column(seed_col).encodings  # consecutive seeds ~ free
    assert list(runs["cell_id"].cat.categories) == [cell_id(c) for c in small.cells()]
    full = dataclasses.replace(small, columns="full", out=tmp_path / "f")
    log = []
    run_grid(full, jobs=1, progress=False, log=log.append)
    ref = load_runs(full.out)
    assert (full.out / CURVES_FILE).exists() and "pred_test" in ref.columns
    assert np.array_equal(runs["final_mse"].to_numpy(), ref["final_mse"].to_numpy().astype(np.float32))
    assert (runs["outcome"] == ref["outcome"]).all() and (runs["seed"].to_numpy() == ref["seed"].to_numpy()).all()
    # Compact over full in one folder: the stale curves file goes.
    run_grid(dataclasses.replace(small, out=full.out), jobs=1, progress=False, log=lambda m: None)
    assert not (full.out / CURVES_FILE).exists() and load_runs(full.out)["final_mse"].dtype == np.float32


def test_grid_union_refuses_shared_cells():
    g = Grid(activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",), optimizers=("sgd",),
             lrs=(0.01,))
    with pytest.raises(ValueError, match="share a cell"):
        GridUnion((g, dataclasses.replace(g, seeds=(0, 5))))


# --------------------------------------------------------------------------- the report sections


@pytest.fixture(scope="module")
def reduced_scale(tmp_path_factory):
    """The reduced million, phase and depth_width datasets, loaded as the report loads them."""
    parent = tmp_path_factory.mktemp("scale")
    loaded = {}
    for name in ("million", "phase", "depth_width"):
        grid = experiments.get(name, reduced=True, out=parent / name)
        run_grid(grid, jobs=1, progress=False, log=lambda m: None)
        loaded[name] = (load_runs(grid.out), None)
    return loaded


def _context(tmp_path, experiments_loaded, default=None):
    from relustudy.studies.common import Context

    runs = default if default is not None else experiments_loaded["phase"][0].iloc[:0]
    return Context(runs=runs, curves=None, figures_dir=tmp_path / "figures", report_dir=tmp_path,
                   experiments=experiments_loaded)


def test_sections_say_not_generated_yet_without_data(tmp_path):
    import pandas as pd

    from relustudy.studies.common import Context, Skip
    from relustudy.studies import STUDIES
    from relustudy.studies.base import render

    ctx = Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path / "f", report_dir=tmp_path)
    by_name = {s.name: s for s in STUDIES}
    for study, name in (("million", "million"), ("phase", "phase"), ("depth-width", "depth_width")):
        with pytest.raises(Skip, match=rf"not generated yet.*--experiment {name}"):
            render(by_name[study], ctx)
    assert not (tmp_path / "f").exists()  # no figures for missing data


@pytest.mark.slow
def test_scale_sections_render_from_reduced_data(tmp_path, reduced_scale, monkeypatch):
    from relustudy.studies import STUDIES
    from relustudy.studies.base import render
    from relustudy.studies import depth_width
    from relustudy.studies import million
    from relustudy.studies import phase

    monkeypatch.setattr(million, "THEORY_DRAWS", 2_000)
    monkeypatch.setattr(depth_width, "DEPTH_WIDTH_DRAWS", 500)
    ctx = _context(tmp_path, reduced_scale)
    by_name = {s.name: s for s in STUDIES}
    texts = [render(by_name[n], ctx).section for n in ("million", "phase", "depth-width")]
    assert all("Not generated" not in t for t in texts)
    assert {p.name for p in ctx.figure_files} == {
        "million_outcomes.png", "phase_fail.png", "phase_modes.png", "depth_width_fail.png",
        "depth_width_born_dead.png", "depth_width_modes.png",
    }
    # The numbers are the data's: the posted cell's failure rate, by an independent pandas computation.
    runs = reduced_scale["million"][0]
    posted = runs[runs["cell_id"].astype(str) == cell_id(dataclasses.replace(Cell(), epochs=200))]
    m = ctx.finding(million.STUDY)
    assert m.cells.iloc[0]["n"] == len(posted) and m.cells.iloc[0]["k"] == int((posted["outcome"] != "solved").sum())
    dead = posted["output_dead_init"].to_numpy(bool)
    assert m.cells.iloc[0]["fail_dead"] == pytest.approx((posted["outcome"][dead] != "solved").mean())
    ph = ctx.finding(phase.STUDY)
    assert len(ph.rates) == len(experiments.get("phase", reduced=True).cells())
    assert ph.posted["n"] == 8 and set(ph.moves["direction"]) <= {"lr up", "lr down", "gain up", "gain down"}
    assert ph.bitwise is None  # no default grid loaded: nothing to compare with
    dw = ctx.finding(depth_width.STUDY)
    assert len(dw) == len(experiments.get("depth_width", reduced=True).cells()) and dw["theory"].notna().all()


def test_phase_finding_compares_the_posted_point_with_the_default_grid(tmp_path, reduced_scale):
    """The report's check: the map's posted point (compact, float32) against a full table of the same cell."""
    from relustudy.studies import phase

    phase_grid = experiments.get("phase", reduced=True)
    assert phase_grid.columns == "compact" and experiments.get("phase").columns == "compact"
    posted = dataclasses.replace(Cell(), epochs=phase_grid.epochs[0])
    ref = Grid(seeds=phase_grid.seeds, activations=("relu",), outputs=("same",), inits=("randn",), updates=("as_posted",),
               optimizers=("sgd",), lrs=(0.01,), epochs=phase_grid.epochs, out=tmp_path / "default")
    assert ref.cells() == [posted]
    run_grid(ref, jobs=1, progress=False, log=lambda m: None)
    ctx = _context(tmp_path, {"phase": reduced_scale["phase"]}, default=load_runs(ref.out))
    n = phase_grid.seeds[1] - phase_grid.seeds[0]
    assert ctx.finding(phase.STUDY).bitwise == (n, n, "float32")
