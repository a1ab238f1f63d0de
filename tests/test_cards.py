"""Data cards: each dataset folder's README.md agrees with the folder's own files."""
import json
import re

import pyarrow.parquet as pq
import pytest

from relustudy.runs import cards
from relustudy.runs.paths import DATA_DIR

SHIPPED = cards.dataset_folders(DATA_DIR)


def test_every_shipped_dataset_folder_is_found():
    names = {p.name for p in SHIPPED}
    assert {"default", "million", "remedies", "noise", "chaos", "forensics"} <= names
    assert "stored" not in names  # the report's cache changes with the code: no card


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_card_is_current(folder):
    """The committed card is what the generator writes from the files (rerun scripts/write_cards.py)."""
    assert (folder / cards.CARD_FILE).read_text(encoding="utf-8") == cards.card_text(folder), \
        f"{folder.name}'s card is stale: run python scripts/write_cards.py"


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_card_states_the_files_rows_columns_and_commit(folder):
    """Read back independently of the generator: pyarrow's row counts and schema, our metadata's commit."""
    text = (folder / cards.CARD_FILE).read_text(encoding="utf-8")
    for path in sorted(folder.glob("*.parquet")):
        meta = pq.read_metadata(path)
        assert re.search(rf"^\| `{re.escape(path.name)}` \| `[^`]+` \| {meta.num_rows:,} \|", text, re.M), path.name
        section = text.split(f"## Columns of `{path.name}`", 1)[1].split("\n## ", 1)[0]
        listed = re.findall(r"^\| `([^`]+)` \|", section, re.M)
        assert listed == meta.schema.to_arrow_schema().names
        prov = json.loads(meta.schema.to_arrow_schema().metadata[b"relustudy"]).get("provenance") or {}
        if prov.get("git_commit"):
            assert f"| git commit | `{prov['git_commit']}` |" in text
    commits = set(re.findall(r"\| git commit \| `([0-9a-f]+)` \|", text))
    recorded = {json.loads(pq.read_schema(p).metadata[b"relustudy"]).get("provenance", {}).get("git_commit")
                for p in folder.glob("*.parquet")}
    assert commits == recorded - {None}  # no commit the files do not record


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_column_has_a_meaning(folder):
    for f in cards.read_folder(folder):
        assert [c for c, _ in f.columns if not cards.column_meaning(c)] == [], f.name


def test_default_card_names_every_factor_and_its_values():
    text = (DATA_DIR / "default" / cards.CARD_FILE).read_text(encoding="utf-8")
    assert "| `init_perturb` | none |" in text
    assert "| `activation` | relu, leaky_relu, tanh, sigmoid |" in text
    assert "288 cells" in text and "```bash\npython scripts/run_grid.py\n```" in text


def test_compact_card_gives_the_compact_types():
    text = (DATA_DIR / "million" / cards.CARD_FILE).read_text(encoding="utf-8")
    assert "| `seed` | uint32 |" in text and "| `final_mse` | float32 |" in text
    assert "| `epochs_to_1e-3` | int32 |" in text and "**Compact columns**" in text


def test_the_grid_runner_writes_the_card(tiny_dataset):
    text = (tiny_dataset / cards.CARD_FILE).read_text(encoding="utf-8")
    assert text == cards.card_text(tiny_dataset)
    assert f"| `runs.parquet` | `runs` | {pq.read_metadata(tiny_dataset / 'runs.parquet').num_rows:,} |" in text


def test_write_card_leaves_a_current_card_untouched(tiny_dataset_copy):
    path = tiny_dataset_copy / cards.CARD_FILE
    cards.write_card(tiny_dataset_copy)  # the copy's card names its own folder in the regenerate command
    assert f"--out {tiny_dataset_copy}" in path.read_text(encoding="utf-8")
    stamp = path.stat().st_mtime_ns
    assert cards.write_card(tiny_dataset_copy) is False and path.stat().st_mtime_ns == stamp
    path.write_text("stale", encoding="utf-8")
    assert cards.write_card(tiny_dataset_copy) is True and path.read_text(encoding="utf-8") != "stale"


def test_cli_rewrites_cards_and_refuses_a_foreign_folder(tiny_dataset_copy, tmp_path, capsys):
    (tiny_dataset_copy / cards.CARD_FILE).unlink()
    assert cards.main([str(tiny_dataset_copy)]) == 0
    assert (tiny_dataset_copy / cards.CARD_FILE).exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cards.main([str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no relustudy Parquet file" in err


def test_the_data_documentation_leaves_commits_to_the_cards():
    """data/README.md states no commit: each folder's card reads it from the files' metadata."""
    text = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"commit `?[0-9a-f]{7,40}\b", text)
    assert "init_perturb" in text and "uint32" in text and "Int32" in text
