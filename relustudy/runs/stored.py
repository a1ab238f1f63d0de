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

import hashlib
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from relustudy.runs.paths import DATA_DIR

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
        from relustudy.runs.dataset import read_info

        if read_info(path).get("key") == canonical:
            return pd.read_parquet(path)
    df = compute()
    _state["computed"].append(path.name)
    if _state["write"]:
        from relustudy.runs.sharded import write_frame

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


def package_hash() -> str:
    """16 hex digits over the source of every module of the package: part of the key of a
    result whose code path is too wide to name (a study's finding), so any code change
    recomputes it."""
    return _package_hash(Path(__file__).resolve().parent)


@lru_cache(maxsize=None)
def _package_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue  # generated kernels
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


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
