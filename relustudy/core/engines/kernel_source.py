"""Source of one specialised CPU training kernel: text generated per structure.

:mod:`.numba_cpu` writes this text to a module file and imports it, so numba compiles (and
caches: ``cache=True`` needs a real file) one kernel per :class:`KernelSpec`. What made it
fast, measured on the posted cell on one thread (CPU time, a shared 2-core machine; the old
runtime-generic engine ran at 0.38x *the probe*, a kernel hand-specialised to the posted cell, same bits;
``benchmarks/bench_engines.py --probe PATH`` measures against one):

* each unit's sum over its inputs written out in the reference's order
  ``((w0 a0 + w1 a1) + ...) + b`` inside *one* lane loop, the running sum in a register,
  the activation in the same loop (the old engine made one pass over the lanes per term,
  through memory), with the block of 32 runs a compile-time constant: 0.70x the probe
  (16 lanes: 0.45x; 64 lanes: as 32);
* per-lane values that every statement of a lane loop reads (the unit's gradient, lr)
  loaded once into locals: LLVM cannot prove the weight stores leave those arrays alone
  and reloads them after each store otherwise: +20 %;
* fewer lane loops per sample: the bias step in its weights' loop (+20 %), a one-unit
  layer's step and pass-down in one loop (+4 %): 0.9x the probe.

Layer sizes, activations, optimizer, data order and output-death tracking are constants.
Two factors that every study grid crosses are chosen at run time instead, each by one
loop-invariant branch: the update rule (both backward passes are in the source, the argument
``posted`` picks one per sample step) and, with ``output_choice``, the output unit's
activation (the hidden one, or identity: the argument ``out_same``). One kernel then serves
four cells of the grid: measured on 2-4-4-1 ReLU momentum kernels (CPU time after a first
kernel), four kernels each with one rule and one output took 4 x 2.3 s to compile, one with
both choices 3.4 s; run speed the same within 1-3 % in alternated runs of the four cells;
the default grid compiles 8 kernels instead of 32 (a cold `run_grid.py` 148 s -> 123 s wall,
its data unchanged). Wide layers are summed in chunks of
:data:`CHUNK` terms per lane loop, which keeps the source and the compile time linear in
the width.

Compile time: on a cold cache a kernel costs numba's front end, which types and lowers every
operation of the source, then LLVM. Measured as CPU time per 2-4-4-1 kernel (mean of five
default-grid structures after a first kernel in the process, old and new code in alternated
processes, numba 0.68): 6.7 / 5.3 s before, 2.9 / 2.4 s after, with the run speed the same or
better (posted cell 0.77x / 0.81x the probe before, 0.85x / 0.88x after). What cut it:

* one generated function with the block loop inside it: a separate per-block function called
  from ``train_blocks`` was optimised and emitted by LLVM twice (numba re-optimises a
  callee's IR in its caller's linked module): 6.2 -> 4.1 s;
* the data order and the tracking as constants of the kernel instead of run-time flags: a
  fixed-order untracked kernel (the default grid) holds neither the shuffle nor the
  tracking's extra forward pass (~0.5 and ~0.7 s), and with the order fixed the first layer
  reads the sample as scalars (10 % faster, see ``inp``) without a second, per-lane copy of its
  forward and update; a cell that needs them compiles its own kernel;
* a unit's first weight and bias index computed once per unit (``wp``, ``bq``), not per
  term: ~5 %. With tracking, epoch 0 (the initial weights) runs in the epoch loop, so the
  tracking's forward pass is written once.

Measured and left: reading the fixed order's sample from the per-lane buffers as the
shuffled order does (one forward for both, -0.7 s) cost 12 % of the posted cell's speed;
one allocation per element type with the buffers as views instead of ~20 ``np.zeros``, and
``next_order`` compiled apart instead of inlined: no gain beyond noise. What remains is
mostly a fixed frame (a 2-1-1 kernel: ~1.4 s, 2-4-4-1: ~2.4 s, 2-8-8-1: ~2.8 s), of which
LLVM ~1 s, and ~1 s more for the first kernel of a process (numba's own start-up).

The arithmetic itself is not here: every activation, derivative and optimizer step is a
call into :mod:`.formulas` (bound into the generated module's globals); the generated text
only fixes which formula runs on which element and the order of the sums, which is
:mod:`.reference`'s.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from relustudy.core.activations import RELU_FAMILY, WHOLE_LAYER
from relustudy.core.engines.layout import Layout

# Terms of a sum written out per lane loop; wider sums loop over chunks (the same order, so the
# same bits). 16 rather than 8: 32-32 nets per parameter update 0.56-0.86x the 4-4 net against
# 0.48-0.73x (five alternated pairs of processes), for ~30 % more compile time of wide kernels.
CHUNK = 16


# Batches of up to FUSED_MAX samples step fused (see generate's fused_step): per weight, the
# batch's sum in a register and the step in the same lane loop, the batch's samples written
# out. A full batch of the posted six measured 1.18x per-sample SGD's rate per sample step,
# against 0.90-0.99x when every sample's term went through the DW array (one thread, three
# alternations, the machine's other core busy). Larger batches keep the DW array: the source
# grows with the batch (a 64-sample batch would write out 64 terms per weight).
FUSED_MAX = 8


@dataclass(frozen=True)
class KernelSpec:
    """Everything a kernel is specialised to (one compiled kernel per distinct value)."""

    sizes: tuple  # (L + 1,) layer sizes, input and output included
    acts: tuple  # (L,) activation names per layer
    optimizer: str  # "sgd", "momentum" or "adam"
    lanes: int  # runs per block, a compile-time constant
    dtype: str = "float64"
    shuffled: bool = False  # data order: shuffled (a per-lane order each epoch) or fixed
    track: bool = False  # record the output unit's death epoch and state changes (ReLU-family output only)
    # The output unit's activation chosen when the kernel runs: acts[-1] if the argument
    # out_same is true, else identity (the grid's two outputs, one kernel; see generate).
    output_choice: bool = False
    # Samples per update (issue 27): 1 is the per-sample loop (the source is what it was before
    # batches existed); m > 1 stores the m samples' Z, A and G rows and updates once per batch.
    batch: int = 1
    # The task's sample count is not a multiple of the batch, so an epoch's last batch is
    # smaller: a kernel with a fused batch step (FUSED_MAX) then also holds the general one.
    ragged: bool = False

    def name(self) -> str:
        """A file-name-safe id (the module also carries a hash of the engine sources)."""
        acts = "_".join(self.acts)
        opts = f"{self.optimizer}_B{self.lanes}_{self.dtype}"
        opts += "_shuffled" * self.shuffled + "_track" * self.track + "_outchoice" * self.output_choice
        opts += f"_batch{self.batch}" * (self.batch != 1) + "_ragged" * self.ragged
        return f"k_{'x'.join(map(str, self.sizes))}_{acts}_{opts}"


class _Out:
    """Indented source lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, *lines: str) -> None:
        self.lines += ["    " * self.depth + s for s in lines]

    def block(self, header: str):
        out = self

        class _Block:
            def __enter__(self):
                out(header)
                out.depth += 1

            def __exit__(self, *exc):
                out.depth -= 1

        return _Block()


def _sum(o: _Out, n: int, term, finish) -> None:
    """Emit lane loops computing t = term(0) + term(1) + ... + term(n-1) (in that order), then finish(t).

    ``term(i)`` gets an index expression (a literal or ``c * CHUNK + m``) and returns the
    term's source; ``finish`` is a list of lines that use ``t`` inside the last lane loop.
    """
    if n <= CHUNK:
        with o.block("for k in range(B):"):
            o(f"t = {term(0)}", *[f"t = t + {term(i)}" for i in range(1, n)], *finish)
        return
    full = n // CHUNK
    with o.block("for k in range(B):"):
        o(f"t = {term(0)}", *[f"t = t + {term(i)}" for i in range(1, CHUNK)], "ACC[k] = t")
    if full > 1:
        with o.block(f"for c in range(1, {full}):"):
            with o.block("for k in range(B):"):
                o("t = ACC[k]", *[f"t = t + {term(f'c * {CHUNK} + {m}')}" for m in range(CHUNK)], "ACC[k] = t")
    with o.block("for k in range(B):"):
        o("t = ACC[k]", *[f"t = t + {term(i)}" for i in range(full * CHUNK, n)], *finish)


def _each(o: _Out, n: int, body, prologue=(), epilogue=()) -> None:
    """Emit lane loops running ``body(i)`` (a list of lines using k) for i in 0..n-1, chunked like
    :func:`_sum`, then ``epilogue`` in the last lane loop.

    Each lane loop starts with ``prologue``: values read once into locals, which LLVM then
    keeps in registers (it cannot prove that the stores of ``body`` leave the arrays they
    come from alone, so an array read in every statement is re-read after every store:
    measured -20 % on the posted cell).
    """
    full = n // CHUNK if n > CHUNK else 0
    if full:
        with o.block(f"for c in range({full}):"):
            with o.block("for k in range(B):"):
                o(*prologue)
                for m in range(CHUNK):
                    o(*body(f"c * {CHUNK} + {m}"))
    with o.block("for k in range(B):"):
        o(*prologue)
        for i in range(full * CHUNK, n):
            o(*body(i))
        o(*epilogue)


def _at(base: str, i) -> str:
    """The index expression ``base + i``, without the addition when i is 0."""
    return base if i == 0 else f"{base} + {i}"


def _row(off: int, j: str, n: int) -> str:
    """Source of ``off + j * n`` with the products by 0 and 1 left out."""
    s = j if n == 1 else f"{j} * {n}"
    return s if off == 0 else f"{off} + {s}"


def generate(spec: KernelSpec) -> str:
    """The kernel module's source (see the module docstring); entry point ``train_blocks``."""
    if spec.output_choice and spec.track:
        raise ValueError("a kernel with a run-time output choice does not track the output (its activation is not fixed)")
    lay = Layout.of(spec.sizes)
    sizes, L = spec.sizes, len(spec.sizes) - 1
    PW, PB = int(lay.w_off[-1]), int(lay.b_off[-1])
    opt = spec.optimizer
    o = _Out()
    o('"""Generated by relustudy.core.engines.kernel_source: do not edit (see that module)."""',
      "import numpy as np",
      "from numba import njit",
      "from relustudy.core.engines.numba_cpu import formulas_for, next_order",
      f"globals().update(vars(formulas_for({spec.dtype!r})))  # f_relu, d_relu, sgd, adam, BETA1, ...",
      f"DT = np.{spec.dtype}",
      f"B = {spec.lanes}",
      "ZERO = DT(0.0)",
      "")

    shuffled = spec.shuffled
    MB = spec.batch
    batched = MB > 1
    fused = batched and MB <= FUSED_MAX
    sums = batched and (not fused or spec.ragged)  # the DW, DB arrays are used

    def R(l: int, i) -> str:
        """Row of unit i of layer l in Z{l}, A{l}, G{l}: with a batch, sample ib's rows start at
        ``o{l} = ib * width`` (the per-sample kernel's source has no offset at all)."""
        return f"o{l} + {i}" if batched else f"{i}"

    def inp(l: int, i, shuffled: bool = shuffled) -> str:
        """Source of input i of layer l inside a lane loop: the layer below's activation, or the
        sample's input (a per-lane array in the shuffled order, a scalar in the fixed one:
        measured 10 % faster than reading it from an array)."""
        return f"A{l - 1}[{R(l - 1, i)}, k]" if l > 0 else (f"XS[{R('x', i)}, k]" if shuffled else f"x{i}")

    def forward(inputs, output_finish: list[str], layers=None) -> None:
        for l in range(L) if layers is None else layers:
            n_in, n_out = sizes[l], sizes[l + 1]
            wo, bo = int(lay.w_off[l]), int(lay.b_off[l])
            big = spec.acts[l] in WHOLE_LAYER  # applied by a separate whole-layer loop (rows_<act>)
            with o.block(f"for j in range({n_out}):"):
                # the unit's first weight and its bias as locals: the index arithmetic once per
                # unit instead of once per term (numba types and lowers every operation of the
                # source: fewer of them compile faster, and LLVM hoists them either way)
                o(f"wp = {_row(wo, 'j', n_in)}", f"bq = {_row(bo, 'j', 1)}")
                finish = [f"t = t + Bb[bq, k]", f"Z{l}[{R(l, 'j')}, k] = t"]
                if not big:
                    chosen = l == L - 1 and spec.output_choice
                    finish.append(f"A{l}[{R(l, 'j')}, k] = f_{spec.acts[l]}(t) if out_same else t" if chosen
                                  else f"A{l}[{R(l, 'j')}, k] = f_{spec.acts[l]}(t)")
                    if l == L - 1:
                        finish += output_finish
                _sum(o, n_in, lambda i, l=l, wo=wo, n_in=n_in: f"W[{_at('wp', i)}, k] * {inputs(l, i)}",
                     finish)
            if big:
                # a batch: only this sample's rows (views)
                rows = f"Z{l}[o{l}:o{l} + {n_out}], A{l}[o{l}:o{l} + {n_out}]" if batched else f"Z{l}, A{l}"
                if l == L - 1 and spec.output_choice:
                    with o.block("if out_same:"):
                        o(f"rows_{spec.acts[l]}({rows})")
                    with o.block("else:"):
                        with o.block("for k in range(B):"):
                            o(f"A{l}[{R(l, 0)}, k] = Z{l}[{R(l, 0)}, k]")
                else:
                    o(f"rows_{spec.acts[l]}({rows})")
                if l == L - 1:
                    with o.block("for j in range(1):"):
                        with o.block("for k in range(B):"):
                            o(f"t = Z{l}[{R(l, 'j')}, k]", *output_finish)

    def pass_down(l: int) -> None:
        """G_{l-1} = W_l^T G_l (summed over units in order), times layer l-1's derivative."""
        n_in, n_out, wo = sizes[l], sizes[l + 1], int(lay.w_off[l])
        with o.block(f"for i in range({n_in}):"):
            o(f"wp = {_row(wo, 'i', 1)}")
            _sum(o, n_out, lambda j: f"W[{_at('wp', n_in * j if isinstance(j, int) else f'{n_in} * ({j})')}, k] * G{l}[{R(l, j)}, k]",
                 [f"G{l - 1}[{R(l - 1, 'i')}, k] = d_{spec.acts[l - 1]}(t, Z{l - 1}[{R(l - 1, 'i')}, k], A{l - 1}[{R(l - 1, 'i')}, k])"])

    # the per-lane values every step of one lane loop reads, loaded once (see _each)
    rates = ["lr = LR[k]"] if opt != "adam" else ["lrb = LRB[k]", "sqb = SQB[k]"]

    def step(arr: str, p: str, d: str) -> str:
        if opt == "sgd":
            return f"{arr}[{p}, k] = sgd({arr}[{p}, k], {d}, lr)"
        if opt == "momentum":
            return f"{arr}[{p}, k], V{arr}[{p}, k] = momentum({arr}[{p}, k], V{arr}[{p}, k], {d}, lr)"
        return (f"{arr}[{p}, k], M{arr}[{p}, k], V{arr}[{p}, k] = "
                f"adam({arr}[{p}, k], M{arr}[{p}, k], V{arr}[{p}, k], {d}, lrb, sqb)")

    def update(l: int, posted: bool, fused_pass: bool = False) -> None:
        """Step layer l's parameters; with ``fused_pass`` (a one-unit layer) also pass the gradient
        down in the same lane loop, before the step (corrected) or after it (as posted)."""
        n_in, n_out = sizes[l], sizes[l + 1]
        wo, bo = int(lay.w_off[l]), int(lay.b_off[l])

        def body(i):
            p = _at("wp", i)
            lines = [step("W", p, f"{inp(l, i)} * g")]
            if fused_pass:
                down = f"G{l - 1}[{i}, k] = d_{spec.acts[l - 1]}(W[{p}, k] * g, Z{l - 1}[{i}, k], A{l - 1}[{i}, k])"
                lines = lines + [down] if posted else [down] + lines
            return lines

        with o.block(f"for j in range({n_out}):"):
            o(f"wp = {_row(wo, 'j', n_in)}", f"bq = {_row(bo, 'j', 1)}")
            # weights: direction (input * g) for W[j, i]; every element's step is independent
            # bias (in the last lane loop): the posted rule decays b (direction b), the
            # corrected one follows dL/db = g
            _each(o, n_in, body,
                  [f"g = G{l}[j, k]", *rates], [step("Bb", "bq", "Bb[bq, k]" if posted else "g")])

    def output_dead() -> None:
        """DEADNOW[k] = 1 if the output's pre-activation is <= 0 on every sample (current weights)."""
        with o.block("for k in range(B):"):
            o("DEADNOW[k] = 1")
        with o.block("for s in range(ns):"):
            o("x0 = x[s, 0]", "x1 = x[s, 1]")
            if batched:
                offsets("0")  # the first sample's rows as scratch
            forward(lambda l, i: inp(l, i, False),
                    [f"if not (t <= ZERO):", "    DEADNOW[k] = 0"])

    def backward(posted: bool) -> None:
        """Every layer's step and the gradient passed down, top layer first, under one update rule."""
        for l in range(L - 1, -1, -1):
            if sizes[l + 1] == 1 and l > 0:
                update(l, posted, fused_pass=True)  # one unit: its pass-down is one product per input
                continue
            if not posted and l > 0:
                pass_down(l)  # corrected: through the old W
            update(l, posted)
            if posted and l > 0:
                pass_down(l)  # as posted: through the *updated* W

    def offsets(ib: str) -> None:
        """The rows of batch position ``ib`` in every layer's Z, A, G (and XS): o{l} = ib * width."""
        o(*[f"o{l} = {ib} * {sizes[l + 1]}" for l in range(L)])
        if shuffled:
            o(f"ox = {ib} * 2")

    def each_sample(body, first_apart: bool = False, inputs: bool = False) -> None:
        """Emit ``body(first)`` once per sample of the batch, in batch order, with its rows set (and
        with ``inputs``, in the fixed order, its inputs as the scalars x0, x1); ``first_apart``:
        sample 0 on its own (``body(True)``, a sum's first term) before a loop over the rest."""
        for first in ((True, False) if first_apart else (None,)):
            ib = "0" if first else "ib"
            head = (contextlib.nullcontext() if first else
                    o.block("for ib in range(1, mb):" if first is False else "for ib in range(mb):"))
            with head:
                offsets(ib)
                if inputs and not shuffled:
                    o(f"x0 = x[s0 + {ib}, 0]", f"x1 = x[s0 + {ib}, 1]")
                body(first)

    def accumulate(l: int, posted: bool, first: bool) -> None:
        """DW = sum over the batch of input * g per weight (DB: of g per bias, corrected only), in
        batch order: the first sample writes, the others add (reference.sgd's batch_update)."""
        n_in, n_out = sizes[l], sizes[l + 1]
        wo, bo = int(lay.w_off[l]), int(lay.b_off[l])

        def body(i):
            p = _at("wp", i)
            return [f"DW[{p}, k] = {inp(l, i)} * g" if first else f"DW[{p}, k] = DW[{p}, k] + {inp(l, i)} * g"]

        with o.block(f"for j in range({n_out}):"):
            o(f"wp = {_row(wo, 'j', n_in)}", f"bq = {_row(bo, 'j', 1)}")
            bias = [] if posted else ["DB[bq, k] = g" if first else "DB[bq, k] = DB[bq, k] + g"]
            _each(o, n_in, body, [f"g = G{l}[{R(l, 'j')}, k]"], bias)

    def step_mean(l: int, posted: bool) -> None:
        """Step layer l by the batch's mean direction, DW / mb (DB / mb; as posted, b itself)."""
        n_in, n_out = sizes[l], sizes[l + 1]
        wo, bo = int(lay.w_off[l]), int(lay.b_off[l])
        with o.block(f"for j in range({n_out}):"):
            o(f"wp = {_row(wo, 'j', n_in)}", f"bq = {_row(bo, 'j', 1)}")
            _each(o, n_in, lambda i: [step("W", _at("wp", i), f"DW[{_at('wp', i)}, k] / MBF")], rates,
                  [step("Bb", "bq", "Bb[bq, k]" if posted else "DB[bq, k] / MBF")])

    def fused_step(l: int, posted: bool) -> None:
        """:func:`accumulate` and :func:`step_mean` in one lane loop per unit, for a batch of exactly
        MB samples (a constant): each weight's sum over the batch, its terms written out in batch
        order (the same order, so the same bits), stays in a register up to its step; no DW array."""
        n_in, n_out = sizes[l], sizes[l + 1]
        wo, bo = int(lay.w_off[l]), int(lay.b_off[l])
        if l == 0 and not shuffled:  # the batch's inputs as scalars, like the per-sample x0, x1
            o(*[f"xb{ib}_{i} = x[s0 + {ib}, {i}]" for ib in range(MB) for i in range(n_in)])

        def term(ib: int, i) -> str:  # input i of layer l for batch position ib, times its g
            if l > 0:
                row = f"{ib * n_in} + {i}" if isinstance(i, str) else f"{ib * n_in + i}"
                return f"A{l - 1}[{row}, k] * g{ib}"
            return f"XS[{2 * ib + i}, k] * g{ib}" if shuffled else f"xb{ib}_{i} * g{ib}"

        def body(i):
            return [f"t = {term(0, i)}", *[f"t = t + {term(ib, i)}" for ib in range(1, MB)],
                    step("W", _at("wp", i), "t / MBF")]

        bias = ([step("Bb", "bq", "Bb[bq, k]")] if posted else
                ["t = g0", *[f"t = t + g{ib}" for ib in range(1, MB)], step("Bb", "bq", "t / MBF")])
        with o.block(f"for j in range({n_out}):"):
            o(f"wp = {_row(wo, 'j', n_in)}", f"bq = {_row(bo, 'j', 1)}")
            _each(o, n_in, body, [*[f"g{ib} = G{l}[{_row(ib * n_out, 'j', 1)}, k]" for ib in range(MB)], *rates], bias)

    def backward_batch(posted: bool, fused: bool = False) -> None:
        """reference.sgd's batch_update: per layer, top first, (corrected) every sample's pass-down
        through the old W, the sums, one step, (as posted) every sample's pass-down through the new W."""
        for l in range(L - 1, -1, -1):
            if not posted and l > 0:
                each_sample(lambda first, l=l: pass_down(l))
            if fused:
                fused_step(l, posted)
            else:
                each_sample(lambda first, l=l: accumulate(l, posted, first), first_apart=True, inputs=l == 0)
                step_mean(l, posted)
            if posted and l > 0:
                each_sample(lambda first, l=l: pass_down(l))

    def backward_batches() -> None:
        """The batch's update under the run-time rule: fused (a batch of MB <= FUSED_MAX samples)
        or through the DW array (larger batches, and a ragged epoch's smaller last batch)."""
        kinds = ((True,) if not spec.ragged else (True, False)) if fused else (False,)
        for kind in kinds:
            with (o.block(f"if mb == {MB}:" if kind else "else:") if len(kinds) > 1 else contextlib.nullcontext()):
                with o.block("if posted:"):
                    backward_batch(True, kind)
                with o.block("else:"):
                    backward_batch(False, kind)

    o("@njit(cache=True, nogil=True, error_model='numpy', boundscheck=False)",
      "def train_blocks(w, b, lrs, order, k0, k1, x, y, epochs, points, curve, first_below, last_err, death,",
      "                 changes, out_same, posted):")
    o.depth += 1
    o("R = w.shape[1]")
    if fused and not spec.ragged:  # its batches are all MB samples: another task's would not be
        with o.block(f"if y.shape[0] % {MB} != 0:"):
            o(f"raise ValueError('this kernel takes whole batches of {MB} samples')")
    o("for kb in range(k0, k1):")
    o.depth += 1
    o("r0 = kb * B", "n = min(B, R - r0)")
    o("ns = y.shape[0]",
      "NS = DT(ns)",
      f"W = np.zeros(({PW}, B), DT)",
      f"Bb = np.zeros(({PB}, B), DT)",
      "LR = np.zeros(B, DT)")
    vel = {"sgd": [], "momentum": ["V"], "adam": ["M", "V"]}[opt]
    for pre in vel:
        o(f"{pre}W = np.zeros(({PW}, B), DT)", f"{pre}Bb = np.zeros(({PB}, B), DT)")
    for l in range(L):  # with a batch, MB samples' rows (see R)
        o(*[f"{buf}{l} = np.zeros(({MB * sizes[l + 1]}, B), DT)" for buf in "ZAG"])
    if sums:  # the batch's direction sums
        o(f"DW = np.zeros(({PW}, B), DT)", f"DB = np.zeros(({PB}, B), DT)")
    o("ACC = np.zeros(B, DT)", "ERR = np.zeros(B, DT)", "FIRST = np.full(B, -1, np.int64)")
    if opt == "adam":
        o("LRB = np.zeros(B, DT)", "SQB = np.zeros(B, DT)", "b1t = DT(1.0)", "b2t = DT(1.0)")
    # the inputs and target each lane visits at the current step: a per-lane permutation of
    # the samples in the shuffled order (in the fixed one they are scalars, see inp)
    if shuffled:
        o(f"XS = np.zeros(({2 * MB}, B), DT)", "YS = np.zeros(B, DT)", "PERM = np.zeros((ns, B), np.int64)",
          "ST = np.zeros(B, np.uint64)")
    with o.block("for r in range(n):"):
        o("LR[r] = lrs[r0 + r]")
        if shuffled:
            o("ST[r] = order[r0 + r]")
        with o.block(f"for p in range({PW}):"):
            o("W[p, r] = w[p, r0 + r]")
        with o.block(f"for p in range({PB}):"):
            o("Bb[p, r] = b[p, r0 + r]")
    # only a ReLU-family output can die; for any other the caller reports -1 / 0
    track = spec.track and spec.acts[L - 1] in RELU_FAMILY
    o("DEATH = np.full(B, -1, np.int64)", "CHANGES = np.zeros(B, np.int64)")
    if track:
        o("DEADNOW = np.zeros(B, np.int64)", "DEADPREV = np.zeros(B, np.int64)")
    o("next_point = 0")
    # with tracking, epoch 0 only tracks the output at the initial weights: one copy of
    # output_dead's forward pass in the source instead of two (compile time)
    with o.block("for epoch in range(epochs + 1):" if track else "for epoch in range(1, epochs + 1):"):
        with o.block("if epoch > 0:") if track else contextlib.nullcontext():
            with o.block("for k in range(B):"):
                o("ERR[k] = ZERO")
            if shuffled:
                with o.block("for k in range(B):"):
                    o("ST[k] = next_order(ST[k], PERM, k, ns)")
            if batched:  # consecutive batches of the visiting order; the last one smaller
                o(f"for s0 in range(0, ns, {MB}):")
                o.depth += 1
                o(f"mb = min({MB}, ns - s0)", "MBF = DT(mb)", "for ib in range(mb):")
                o.depth += 1
                o("s = s0 + ib")
                offsets("ib")
                in_x = ("XS[ox, k]", "XS[ox + 1, k]")
            else:
                o("for s in range(ns):")
                o.depth += 1
                in_x = ("XS[0, k]", "XS[1, k]")
            if shuffled:
                with o.block("for k in range(B):"):
                    o("q = PERM[s, k]", f"{in_x[0]} = x[q, 0]", f"{in_x[1]} = x[q, 1]", "YS[k] = y[q]")
            else:
                o("x0 = x[s, 0]", "x1 = x[s, 1]", "ys = y[s]")
            ys = "YS[k]" if shuffled else "ys"
            if opt == "adam" and not batched:  # one step counter per run, shared by every parameter
                o("b1t = b1t * BETA1", "b2t = b2t * BETA2")
                with o.block("for k in range(B):"):
                    o("LRB[k], SQB[k] = adam_scales(LR[k], b1t, b2t)")
            # ---- forward and loss: (out - y)^2 summed in visiting order; dL/dout = 2 (out - y)
            out_act = spec.acts[L - 1]
            oj = R(L - 1, "j")
            loss = [f"d = A{L - 1}[{oj}, k] - {ys}", "ERR[k] = ERR[k] + d * d"]
            if spec.output_choice:  # identity's derivative passes loss_grad(d) through
                loss += ["g = loss_grad(d)", f"G{L - 1}[{oj}, k] = d_{out_act}(g, t, A{L - 1}[{oj}, k]) if out_same else g"]
            else:
                loss += [f"G{L - 1}[{oj}, k] = d_{out_act}(loss_grad(d), t, A{L - 1}[{oj}, k])"]
            forward(inp, loss)
            if batched:  # the batch's update, after its samples' forward passes
                o.depth -= 1
                if opt == "adam":  # one step counter per update
                    o("b1t = b1t * BETA1", "b2t = b2t * BETA2")
                    with o.block("for k in range(B):"):
                        o("LRB[k], SQB[k] = adam_scales(LR[k], b1t, b2t)")
                backward_batches()
            else:
                # ---- backward, top layer first: both update rules are in the source and the
                # argument ``posted`` picks one (a branch per sample step; the same operations
                # per lane as a kernel with one rule)
                with o.block("if posted:"):
                    backward(True)
                with o.block("else:"):
                    backward(False)
            o.depth -= 1
            with o.block("for k in range(B):"):
                o("ERR[k] = ERR[k] / NS")
            with o.block("if next_point < points.shape[0] and epoch == points[next_point]:"):
                with o.block("for r in range(n):"):
                    o("curve[next_point, r0 + r] = ERR[r]")
                o("next_point += 1")
            with o.block("for k in range(B):"):  # NaN compares False: a diverged run never counts as below
                o("if ERR[k] < TARGET and FIRST[k] < 0:", "    FIRST[k] = epoch")
        if track:
            output_dead()
            with o.block("for k in range(B):"):
                o("if DEADNOW[k] != DEADPREV[k] and epoch > 0:", "    CHANGES[k] += 1",
                  "if DEADNOW[k] and DEATH[k] < 0:", "    DEATH[k] = epoch", "DEADPREV[k] = DEADNOW[k]")
    with o.block("for r in range(n):"):
        o("last_err[r0 + r] = ERR[r]", "first_below[r0 + r] = FIRST[r]")
        o("death[r0 + r] = DEATH[r]", "changes[r0 + r] = CHANGES[r]")
        with o.block(f"for p in range({PW}):"):
            o("w[p, r0 + r] = W[p, r]")
        with o.block(f"for p in range({PB}):"):
            o("b[p, r0 + r] = Bb[p, r]")
    o.depth -= 2
    o("")
    return "\n".join(o.lines)
