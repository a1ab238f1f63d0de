"""What the engines share besides the math: the curve's epochs and the flat parameter layout.

The fused kernels (numba, CUDA) see a network of any depth as flat arrays, run axis last:

* ``w_flat (PW, R)``: layer l's ``W[j, i]`` at row ``w_off[l] + j * n_in + i``;
* ``b_flat (PB, R)``: layer l's ``b[j]`` at row ``b_off[l] + j``;
* unit buffers ``(2 + PB, B)``: rows 0..1 hold the sample's inputs, layer l's units sit at
  rows ``a_off[l + 1] ..``, so layer l reads its inputs at ``a_off[l]`` whatever l is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relustudy.core.inits import Params

def curve_epochs(epochs: int) -> np.ndarray:
    """Log-spaced epochs 1, 2, 5, 10, 20, 50, ... up to and including ``epochs``.

    >>> curve_epochs(5000).tolist()
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    """
    points = []
    decade = 1
    while decade <= epochs:
        points += [m * decade for m in (1, 2, 5) if m * decade <= epochs]
        decade *= 10
    if points[-1] != epochs:
        points.append(epochs)
    return np.array(points, dtype=np.int64)


@dataclass(frozen=True)
class Layout:
    """Offsets of a 2-h1-...-1 net in the flat arrays (see the module docstring).

    >>> lay = Layout.of((2, 4, 4, 1))
    >>> lay.w_off.tolist(), lay.b_off.tolist(), lay.a_off.tolist()
    ([0, 8, 24, 28], [0, 4, 8, 9], [0, 2, 6, 10, 11])
    """

    sizes: np.ndarray  # (L + 1,) int64 layer sizes, input and output included
    w_off: np.ndarray  # (L + 1,) row where layer l's weights start; last entry = PW
    b_off: np.ndarray  # (L + 1,) row where layer l's biases start; last entry = PB
    a_off: np.ndarray  # (L + 2,) row of layer l's activations in a unit buffer (0: inputs)

    @classmethod
    def of(cls, sizes) -> "Layout":
        sizes = np.asarray(sizes, dtype=np.int64)
        n_in, n_out = sizes[:-1], sizes[1:]
        zero = np.zeros(1, dtype=np.int64)
        return cls(
            sizes=sizes,
            w_off=np.concatenate([zero, np.cumsum(n_in * n_out)]),
            b_off=np.concatenate([zero, np.cumsum(n_out)]),
            a_off=np.concatenate([zero, sizes[0] + np.concatenate([zero, np.cumsum(n_out)])]),
        )

    @property
    def n_units(self) -> int:
        """Rows of a unit buffer: the inputs plus every unit."""
        return int(self.a_off[-1])


def flatten(params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer (W (n_out, n_in, R), b (n_out, R)) -> (w_flat (PW, R), b_flat (PB, R)), C order."""
    w = np.concatenate([w.reshape(-1, w.shape[-1]) for w, _ in params], axis=0)
    b = np.concatenate([b for _, b in params], axis=0)
    return np.ascontiguousarray(w), np.ascontiguousarray(b)


def unflatten_into(params: Params, w_flat: np.ndarray, b_flat: np.ndarray) -> None:
    """Write flat arrays back into ``params`` in place (inverse of :func:`flatten`)."""
    wo = bo = 0
    for w, b in params:
        w[...] = w_flat[wo : wo + w.shape[0] * w.shape[1]].reshape(w.shape)
        b[...] = b_flat[bo : bo + b.shape[0]]
        wo += w.shape[0] * w.shape[1]
        bo += b.shape[0]
