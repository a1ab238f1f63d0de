"""The Python examples in README.md and the data card run as written, on the shipped data."""
from __future__ import annotations

import re

import pytest

from relustudy import load_runs
from relustudy.runs.paths import ROOT

DOCS = [ROOT / "README.md", ROOT / "data" / "README.md"]


def python_blocks(path) -> list[str]:
    """The ```python fenced blocks of a markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


EXAMPLES = [(doc, k, code) for doc in DOCS for k, code in enumerate(python_blocks(doc))]


def test_every_doc_has_examples():
    assert {doc for doc, _, _ in EXAMPLES} == set(DOCS)
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("doc, k, code", EXAMPLES, ids=[f"{d.parent.name}/{d.name}#{k}" for d, k, _ in EXAMPLES])
def test_example_runs_as_written(doc, k, code, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository, e.g. data/default
    exec(compile(code, f"{doc.relative_to(ROOT)} example {k}", "exec"), {"__name__": "__doc_example__"})


@pytest.mark.parametrize("doc, k, code", EXAMPLES, ids=[f"{d.parent.name}/{d.name}#{k}" for d, k, _ in EXAMPLES])
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
