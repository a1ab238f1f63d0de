"""Stored results: what is expensive to compute is computed once by a step that writes it
under ``data/stored/``, and the report only reads it.

A stored result is a DataFrame named by ``name`` and a key (the arguments it depends on,
JSON-able): ``data/stored/<name>-<hash of the key>.parquet``, the key kept in the file's
metadata and checked on reading. :func:`frame` returns the stored table when there is one;
otherwise it computes it, and writes it only while writing is switched on
(``python scripts/make_report.py --store``, which is how the stored results are made), so
the report never changes ``data/`` on its own. A missing stored result costs time, never
correctness: the report computes it the same way.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from relustudy.runs.paths import DATA_DIR
from relustudy.runs.dataset import read_info
from relustudy.runs.sharded import write_frame

STORE_DIR = DATA_DIR / "stored"
_state = {"dir": STORE_DIR, "write": False, "computed": [], "used": []}


def key_hash(key: Mapping) -> str:
    """16 hex digits of the sha256 of the key's canonical JSON."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def path_of(name: str, key: Mapping) -> Path:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"invalid stored-result name {name!r}; allowed: letters, digits and '_'")
    return Path(_state["dir"]) / f"{name}-{key_hash(key)}.parquet"


def frame(name: str, key: Mapping, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The stored table ``name`` for ``key``, or ``compute()`` (written when writing is on)."""
    path = path_of(name, key)
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    if path.exists():

        if read_info(path).get("key") == canonical:
            return pd.read_parquet(path)
    df = compute()
    _state["computed"].append(path.name)
    if _state["write"]:

        path.parent.mkdir(parents=True, exist_ok=True)
        write_frame(df.reset_index(drop=True), path, {"kind": "stored", "name": name, "key": canonical})
    return df


def computed() -> list[str]:
    """The stored results this process had to compute (not found under the store folder)."""
    return list(_state["computed"])


def note_computed(names) -> None:
    """Add stored results computed elsewhere (a forked report worker) to :func:`computed`."""
    _state["computed"].extend(names)


def writing() -> bool:
    """Whether missing results are being written (``make_report.py --store``)."""
    return bool(_state["write"])


@contextmanager
def configure(folder: Path | None = None, *, write: bool = False):
    """Use ``folder`` as the store (default ``data/stored``) and write missing results if ``write``."""
    old = dict(_state)
    _state.update(dir=Path(folder) if folder is not None else STORE_DIR, write=write, computed=[], used=[])
    try:
        yield
    finally:
        _state.update(old)


# --------------------------------------------------------------------------- code keys
# A stored result is keyed by the source it was computed with, so that other code computes it
# afresh. Only the code its computation can reach counts: an edit to a figure, a sentence or an
# unrelated module leaves it valid. What counts (``source_key``):
#   * each given function's source, and, recursively, the functions, classes and constants of
#     its own module that it names, when that module is a study (relustudy.studies.*), whose
#     modules also hold sentences and figures;
#   * every other package module it names, as its whole source, plus the package modules those
#     import, transitively (module-level and function-level imports alike);
#   * never the layers that only present results: relustudy.figures and relustudy.report.
PRESENTATION = ("relustudy.figures", "relustudy.report")
_FINE_GRAINED = "relustudy.studies"


def source_key(*functions: Callable) -> str:
    """16 hex digits over the source the functions' computation can reach (see above)."""
    parts: dict[str, str] = {}
    modules: set[str] = set()
    todo = [f for f in functions]
    seen: set[int] = set()
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        module = getattr(obj, "__module__", None) or ""
        if not module.startswith(_FINE_GRAINED):
            if module.startswith("relustudy"):
                modules.add(module)
            continue
        where = f"{module}:{getattr(obj, '__qualname__', '?')}"
        parts[where] = _source_of(obj)
        for name, value in _referenced(obj):
            if inspect.ismodule(value):
                if value.__name__.startswith(_FINE_GRAINED):
                    continue  # a study module: only what is named from it counts (its attributes)
                if value.__name__.startswith("relustudy"):
                    modules.add(value.__name__)
            elif inspect.isfunction(value) or inspect.isclass(value):
                todo.append(value)
            elif getattr(value, "finding", None) is not None and getattr(value, "select", None) is not None:
                todo += [value.select, value.finding]  # another study, whose finding this one reads
            elif _plain(value):
                parts[f"{where}:{name}"] = repr(value)
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(name.encode() + b"\0" + parts[name].encode() + b"\0")
    for name in sorted(_module_closure(frozenset(modules))):
        h.update(name.encode() + b"\0" + _module_source(name) + b"\0")
    return h.hexdigest()[:16]


def _source_of(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # a builtin or a function made at run time: its bytecode stands in
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


def _plain(value) -> bool:
    """A constant whose repr is its value (no addresses): numbers, strings and their containers."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return True
    if isinstance(value, (tuple, list, frozenset)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def _referenced(obj) -> list[tuple[str, object]]:
    """(name, object) for what a function (or a class's methods) names: its module's globals and
    its closure cells."""
    out = []
    funcs = [obj] if inspect.isfunction(obj) else [v for v in vars(obj).values() if inspect.isfunction(v)]
    for f in funcs:
        names = set()
        codes = [f.__code__]
        while codes:
            code = codes.pop()
            names.update(code.co_names)
            codes += [c for c in code.co_consts if inspect.iscode(c)]
        g = f.__globals__
        out += [(n, g[n]) for n in sorted(names) if n in g]
        out += [(n, c.cell_contents) for n, c in zip(f.__code__.co_freevars, f.__closure__ or ()) if _filled(c)]
    return out


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


@lru_cache(maxsize=None)
def _module_closure(modules: frozenset) -> frozenset:
    """The package modules reachable from ``modules`` by imports, without the presentation layers."""
    done: set[str] = set()
    todo = [m for m in modules if not m.startswith(PRESENTATION)]
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        todo += [m for m in _imports_of(name) if m not in done and not m.startswith(PRESENTATION)]
    return frozenset(done)


@lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # "relustudy.x.name" where relustudy.x is a module, not a package
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _module_source(name: str) -> bytes:
    path = _module_file(name)
    return path.read_bytes() if path is not None else b""


@lru_cache(maxsize=None)
def _imports_of(name: str) -> tuple[str, ...]:
    """The package modules ``name``'s source imports (``from relustudy.x import y`` counts
    ``relustudy.x.y`` when that is a module, else ``relustudy.x``)."""
    path = _module_file(name)
    if path is None:
        return ()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("relustudy"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _module_file(sub) is not None else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("relustudy"))
    return tuple(sorted(found))


def prune(prefix: str) -> list[Path]:
    """Remove the stored results named ``prefix...`` that this process neither read nor wrote
    (results for data or code that is gone; run by ``make_report.py --store`` after a full
    report). Returns the removed files."""
    folder = Path(_state["dir"])
    used = set(_state["used"])
    gone = []
    for path in sorted(folder.glob(f"{prefix}*")) if folder.is_dir() else []:
        stem = path.name.split(".")[0]
        if stem not in used:
            path.unlink()
            gone.append(path)
    return gone


def pickled(name: str, key: Mapping, compute: Callable[[], object]) -> object:
    """Like :func:`frame` for a Python object (e.g. a finding of named results and arrays),
    stored with pickle as ``<name>-<hash>.pkl`` beside its key (``.key.json``)."""
    import pickle

    path = path_of(name, key).with_suffix(".pkl")
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    key_file = path.with_suffix(".key.json")
    _state["used"].append(path.name.split(".")[0])
    if path.exists() and key_file.exists() and key_file.read_text() == canonical:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:  # e.g. pickled by another pandas version: costs time, never correctness
            pass
    obj = compute()
    _state["computed"].append(path.name)
    if _state["write"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=5)
        tmp.replace(path)
        key_file.write_text(canonical)
    return obj
