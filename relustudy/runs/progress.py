"""The grid runner's progress bar: work done in units of cost, so its rate and ETA hold
whatever mix of cells is left (a tanh cell costs ~4x a ReLU one), with the runs as postfix."""
from __future__ import annotations

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
    """A tqdm bar in units of work (``cost_of(shard)`` each; the grid's unit is one posted-cell
    run), so its rate and ETA hold whatever mix of cells is left; the runs count is its postfix.
    Its clock starts at the first finished shard, after the kernels are compiled.

    ``shards`` : every shard of the grid (each with ``n`` runs); ``todo`` : those still to train.
    """

    def __init__(self, shards: Sequence[Hashable], todo: Sequence[Hashable], cost_of: Callable[[object], float]) -> None:
        cost = {s: cost_of(s) for s in shards}
        self.total_runs = sum(s.n for s in shards)
        self.runs = self.total_runs - sum(s.n for s in todo)
        self.initial = sum(cost.values()) - sum(cost[s] for s in todo)
        self.cost, self.started = cost, False
        self.bar = self._bar(leave=False)  # shown while the kernels compile; replaced at the first shard

    def _bar(self, leave: bool):
        """A bar whose clock starts now, at the work done so far (tqdm's rate counts from ``initial``)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=round(sum(self.cost.values())), initial=round(self.initial), unit="posted-run",
                   smoothing=0.05, dynamic_ncols=True, leave=leave)
        bar.set_postfix_str(f"{self.runs:,}/{self.total_runs:,} runs", refresh=True)
        return bar

    def update(self, shard) -> None:
        self.runs += shard.n
        self.initial += self.cost[shard]
        if not self.started:  # restart the clock: the compile is not training
            self.started = True
            self.bar.close()
            self.bar = self._bar(leave=True)
            return
        self.bar.set_postfix_str(f"{self.runs:,}/{self.total_runs:,} runs", refresh=False)
        self.bar.update(round(self.initial) - self.bar.n)

    def __exit__(self, *exc) -> None:
        self.bar.close()
