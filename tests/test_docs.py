"""The Python examples in README.md, docs/ and the data card run as written, on the shipped data,
and print what the text says they print."""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import pytest

from relustudy import load_runs
from relustudy.runs.paths import ROOT

DOCS = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# A ```python block, then optionally one line ending in ':' (e.g. "prints:"), then a ```text
# block: the text block is what the code prints.
_BLOCK = re.compile(r"^```python\n(.*?)^```\n(?:\n?(?:[^`\n][^\n]*:\n\n)?^```text\n(.*?)^```)?", re.S | re.M)


def python_blocks(path) -> list[tuple[str, str | None]]:
    """The ```python fenced blocks of a markdown file, in order, each with its printed output or None."""
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))]


EXAMPLES = [(doc, k, code, out) for doc in DOCS for k, (code, out) in enumerate(python_blocks(doc))]
IDS = [f"{d.parent.name}/{d.name}#{k}" for d, k, _, _ in EXAMPLES]


def test_every_doc_has_examples():
    assert {ROOT / "README.md", ROOT / "data" / "README.md"} <= {doc for doc, _, _, _ in EXAMPLES}
    assert len(EXAMPLES) >= 5
    # The README's quickstart and its dataset example show their output.
    assert sum(out is not None for doc, _, _, out in EXAMPLES if doc.name == "README.md" and doc.parent == ROOT) >= 2


@pytest.mark.parametrize("doc, k, code, expected", EXAMPLES, ids=IDS)
def test_example_runs_as_written(doc, k, code, expected, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository, e.g. data/default
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"{doc.relative_to(ROOT)} example {k}", "exec"), {"__name__": "__doc_example__"})
    if expected is not None:  # the output the text shows is what the code prints, line for line
        assert printed.getvalue().rstrip("\n").splitlines() == expected.rstrip("\n").splitlines()


@pytest.mark.parametrize("doc, k, code", [e[:3] for e in EXAMPLES], ids=IDS)
def test_examples_select_columns_with_brackets(doc, k, code):
    # DataFrame attributes shadow columns (`update`); `.update` in an example's code is the trap.
    statements = re.sub(r"#.*$", "", code, flags=re.M)  # comments may mention it
    assert not re.search(r"\.update\b", statements), f"{doc.name} example {k} uses .update; write [\"update\"]"


def test_the_documented_update_trap_is_real():
    """What README and the data card say `runs.update` does, so the warning stays true."""
    runs = load_runs()
    assert (runs.update == "corrected") is False  # a method compared with a string
    with pytest.raises(KeyError):
        runs[runs.update == "corrected"]
    assert runs[(runs.update == "corrected") & (runs["init"] == "he")].empty
    assert (runs["update"] == "corrected").sum() == len(runs) // 2


def test_the_posted_program_example_runs_and_is_the_posted_cell():
    """examples/posted_program.py prints the posted lines, and its prediction is the core's for the seed."""
    from relustudy import Cell, train

    out = subprocess.run([sys.executable, str(ROOT / "examples" / "posted_program.py"), "--seed", "2",
                          "--epochs", "50", "--every", "10"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert [l.split(",")[0] for l in lines[:-1]] == ["0/50", "10/50", "20/50", "30/50", "40/50", "49/50"]
    pred = train(Cell(epochs=50), [2]).metrics["pred_test"][0]
    assert lines[-1] == "Prediction = %f" % pred


# Files outside the repository that its text must not point to: a clone does not have them.
OUTSIDE = ("shared/seed", "shared/perf", "STUDY.md", "STYLE.md", "../shared")


def test_no_file_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    # reports/ is generated: its generator's source is checked here, the report follows when regenerated.
    texts = [p for p in tracked if p.endswith((".md", ".py", ".toml", ".sh", ".txt")) and (ROOT / p).exists()
             and p != "tests/test_docs.py" and not p.startswith("reports/")]
    bad = [(p, s) for p in texts for s in OUTSIDE if s in (ROOT / p).read_text(encoding="utf-8", errors="replace")]
    assert bad == []
    assert "docs/question.md" in (ROOT / "relustudy" / "report" / "document.py").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "question.md").exists() and (ROOT / "examples" / "posted_program.py").exists()


def test_readme_names_every_factor_and_level():
    """The README's factor list follows the factor registry: a new factor or level must be listed."""
    from relustudy.core.config import FACTOR_REGISTRY

    text = (ROOT / "README.md").read_text()
    factors = text[text.index("- **Factors**"):text.index("- **Results:**")]
    for name, factor in FACTOR_REGISTRY.items():
        assert f"`{name}`" in factors, name
        for level in factor.levels or ():
            assert str(level) in factors, f"{name}: {level}"
