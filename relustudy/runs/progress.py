"""The grid runner's progress bar: it counts runs, and its ETA comes from a cost model, so the
estimate holds whatever mix of cells is left (a tanh cell costs ~2x a ReLU one)."""
from __future__ import annotations

import time
from typing import Callable, Hashable, Sequence


class NoBar:
    """The bar when progress is off: ``update`` does nothing."""

    def update(self, shard) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class CostBar(NoBar):
    """A tqdm bar of runs done (finished shards included) with an ETA from the work's cost:
    the remaining cost (``cost_of(shard)`` each) at the rate the cost has been done since the
    first finished shard. The clock starts there, after the kernels are compiled.

    ``shards`` : every shard of the grid (each with ``n`` runs); ``todo`` : those still to train.
    """

    FORMAT = "{percentage:3.0f}%|{bar}| {n:,}/{total:,} runs [{elapsed} elapsed{postfix}]"

    def __init__(self, shards: Sequence[Hashable], todo: Sequence[Hashable], cost_of: Callable[[object], float]) -> None:
        cost = {s: cost_of(s) for s in shards}
        self.total_runs = sum(s.n for s in shards)
        self.runs = self.total_runs - sum(s.n for s in todo)
        self.total_cost = sum(cost.values())
        self.done = self.total_cost - sum(cost[s] for s in todo)  # cost of the finished shards
        self.cost, self.started = cost, False
        self.bar = self._bar(leave=False)  # shown while the kernels compile; replaced at the first shard

    def _bar(self, leave: bool):
        """A bar whose clock starts now, at the runs done so far."""
        from tqdm.auto import tqdm

        bar = tqdm(total=self.total_runs, initial=self.runs, bar_format=self.FORMAT, dynamic_ncols=True, leave=leave)
        self.clock, self.done_at_clock = time.monotonic(), self.done
        bar.set_postfix_str("ETA ?", refresh=True)
        return bar

    def eta(self) -> float | None:
        """Seconds left: the remaining cost at the cost rate since the clock started; None before any."""
        done_since = self.done - self.done_at_clock
        if done_since <= 0:
            return None
        return max(0.0, self.total_cost - self.done) * (time.monotonic() - self.clock) / done_since  # 0, not -1e-20, at the end

    def update(self, shard) -> None:
        self.runs += shard.n
        self.done += self.cost[shard]
        if not self.started:  # restart the clock: the compile is not training
            self.started = True
            self.bar.close()
            self.bar = self._bar(leave=True)
            return
        eta = self.eta()
        self.bar.set_postfix_str("ETA ?" if eta is None else f"ETA {self.bar.format_interval(eta)}", refresh=False)
        self.bar.update(self.runs - self.bar.n)

    def __exit__(self, *exc) -> None:
        self.bar.close()
