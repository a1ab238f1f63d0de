"""The package's layers (pyproject.toml's import-linter contract): imports only go down, never in a
cycle. CI runs the suite, so this is where the contract is enforced."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_layers_contract_is_kept():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]' installs import-linter")
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def _package_imports() -> dict[str, set[str]]:
    """{module: the package modules it imports}, function-level imports included."""
    mods = {}
    for p in (ROOT / "relustudy").rglob("*.py"):
        if "__pycache__" in p.parts:
            continue
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {}
    for name, path in mods.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relustudy"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in mods else node.module)
        graph[name] = found - {"relustudy"}
    return graph


def test_no_import_cycle_even_through_function_level_imports():
    graph = _package_imports()
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_function_level_imports_only_for_optional_engines():
    """Imports inside functions dodge cycles; they are allowed only where an optional or heavy
    engine module (numba, numba-cuda) must not load with the package."""
    allowed = {"relustudy.core.engines.cuda_gpu", "relustudy.core.engines.numba_cpu", "relustudy.core.engines.reference"}
    found = []
    for p in (ROOT / "relustudy").rglob("*.py"):
        if "__pycache__" in p.parts:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.col_offset > 0 and (node.module or "").startswith("relustudy"):
                if node.module not in allowed:
                    found.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert found == []
