"""The runnable Examples in the package's docstrings are tests too (fast: a few seconds in all)."""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import relustudy


def _modules():
    return sorted(m.name for m in pkgutil.walk_packages(relustudy.__path__, "relustudy."))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # an optional engine whose dependency is not installed here
        pytest.skip(f"{name} not importable here: {e}")
    tests = doctest.DocTestFinder().find(module, name, globs={"np": np, **vars(module)})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"


def test_the_examples_are_collected():
    found = sum(
        len([t for t in doctest.DocTestFinder().find(importlib.import_module(n)) if t.examples])
        for n in ("relustudy.stats.proportions", "relustudy.stats.paired_tests", "relustudy.stats.unpaired_tests", "relustudy.stats.intervals",
                  "relustudy.core.diagnostics", "relustudy.analysis.theory")
    )
    assert found >= 20
