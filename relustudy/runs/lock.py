"""One writer per output folder: a lock file that a killed process cannot leave stuck.

``run_grid`` holds ``DIR/.lock`` while it scans, trains and writes ``DIR``. The file
names its holder (pid, host, start time, command) for the error message a second run
prints. Holding is an exclusive ``flock`` on the file, not the file's existence: the
kernel drops the lock when its process dies, however it dies (``kill -9`` included),
so a lock file left by a killed run is taken over, with a message, by the next run. No
guess from a pid is needed, which a reused pid, another host or another pid namespace
would fool. Released cleanly, the file is removed.

On platforms without ``fcntl`` (Windows) the folder is not locked.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"  # gitignored (/data/**/.lock)
_RETRIES = 20  # only when the file is replaced between our open and our lock (a race with a release)


class FolderLocked(RuntimeError):
    """Another live process holds the output folder's lock; the message names it (one line)."""


class FolderUnwritable(RuntimeError):
    """The output folder cannot be created or written (one line, naming the folder)."""


def unwritable(path: Path, error: OSError) -> FolderUnwritable:
    """The one-line error for an OSError met creating or writing ``path``."""
    return FolderUnwritable(f"cannot write {path}: {error.strerror or error}; "
                            "allowed: an output folder you can write (--out DIR)")


@contextmanager
def folder_lock(folder: Path, log: Callable[[str], None], command: str | None = None) -> Iterator[Path]:
    """Hold ``folder/.lock`` for the ``with`` block; FolderLocked if a live process holds it.

    ``folder`` must exist. A lock file left by a process that died is taken over, and ``log``
    says whose it was.
    """
    path = Path(folder) / LOCK_FILE
    if fcntl is None:
        yield path
        return
    fd = _acquire(path)
    try:
        previous = _read(fd)
        if previous is not None:
            log(f"taking over {path}, left by {describe(previous)}, which is no longer running")
        _write(fd, holder(command))
        yield path
    finally:
        _release(path, fd)


def holder(command: str | None = None) -> dict:
    """Who holds a lock: this process's pid, host, start time (UTC) and command."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
    }


def describe(info: dict | None) -> str:
    """``"pid 123 on HOST (started 2026-01-01T00:00:00+00:00)"``, or "another process (not yet identified)"."""
    if not info:
        return "another process (not yet identified)"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} (started {info.get('started', '?')})"


def _acquire(path: Path) -> int:
    """Open ``path`` and lock it exclusively without waiting; the locked descriptor."""
    for _ in range(_RETRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a read-only folder, or a lock file we may not open
            raise unwritable(path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(fd)
            os.close(fd)
            raise FolderLocked(
                f"{path.parent} is in use by another run, {describe(info)}; wait for it to finish or stop it"
            ) from None
        if _is_current(fd, path):
            return fd
        os.close(fd)  # we locked a file its holder had just removed; lock the current one
    raise FolderLocked(f"could not lock {path}: it keeps being replaced; is another run starting and stopping?")


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not one unlinked since we opened it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _read(fd: int) -> dict | None:
    """The holder recorded in the lock file, or None if it is empty or unreadable."""
    raw = os.pread(fd, 1 << 16, 0)
    try:
        info = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def _write(fd: int, info: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info, sort_keys=True).encode() + b"\n", 0)


def _release(path: Path, fd: int) -> None:
    """Remove the file while still holding it, then unlock: a waiter that opened it re-checks."""
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing drops the flock
