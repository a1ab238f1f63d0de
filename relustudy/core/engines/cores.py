"""How many CPU cores this process may use (the engines' and runners' default parallelism)."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
