"""Ctrl-C and SIGTERM for the command-line runners: one line, an exit code, workers ended.

A batch scheduler stops a job with SIGTERM, whose default action ends Python at once: no
``finally`` runs, so joblib never stops its loky workers, which live on for minutes.
:func:`handle_signals` makes SIGTERM raise :class:`Terminated` (a ``KeyboardInterrupt``), so
both signals unwind the same way: joblib aborts its workers, the lock is released, and the
command prints one line and exits with :func:`exit_code` (130 for SIGINT, 143 for SIGTERM:
128 + the signal's number, the shell's convention).

:func:`critical` defers both signals over a step that must not be cut in half (writing the
dataset's two files), then delivers them.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM once :func:`handle_signals` is installed."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def handle_signals() -> None:
    """Make SIGTERM raise :class:`Terminated`, as SIGINT raises KeyboardInterrupt (Python's default).

    Main thread only (where Python runs signal handlers). A SIGTERM this process was started
    ignoring (``nohup``-like launchers) stays ignored.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 143 for SIGTERM (:class:`Terminated`), 130 for SIGINT."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


@contextmanager
def critical() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block; deliver the first that came when it ends.

    Outside the main thread (no signal handlers there) the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(pending[0])  # the default action, now restored
