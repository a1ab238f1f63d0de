"""How the grid runs its tasks: the backends (joblib's loky on this machine, a dask.distributed
cluster), the check of the run options, and the connection to a dask scheduler."""
from __future__ import annotations

from relustudy.core.checks import check_choice

BACKENDS = ("loky", "dask")
CONNECT_TIMEOUT = "5s"  # how long to wait for a dask scheduler before giving up


class SchedulerError(ConnectionError):
    """The dask scheduler could not be reached (raised before anything is written)."""


def check_run_options(jobs: int | None, backend: str, scheduler: str | None, **_) -> None:
    """Validate how to run: workers (None or >= 1), backend, and a scheduler iff dask."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"invalid jobs {jobs!r}; allowed: an integer >= 1")
    check_choice("backend", backend, BACKENDS)
    if backend == "dask" and not scheduler:
        raise ValueError("backend dask needs a scheduler address; allowed: e.g. --scheduler tcp://HOST:8786")
    if backend == "loky" and scheduler:
        raise ValueError("a scheduler address only applies to backend dask; allowed: --backend dask --scheduler ADDRESS")


def connect(address: str):
    """A dask.distributed Client for ``address``; ConnectionError (one line) if unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("backend dask needs dask.distributed; install it with: pip install 'relustudy[cluster]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except Exception as e:  # OSError/TimeoutError when unreachable, ValueError for a bad address
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SchedulerError(f"cannot reach dask scheduler {address!r} ({reason}); allowed: a running scheduler address, e.g. tcp://HOST:8786") from None
