"""The time loop: backpropagation through time, written once for any cell, one layer and direction.

Forward runs the cell over t = 0 .. T-1 and keeps every state and the cell's saved activations.
The input side of the gates is one GEMM per block of steps (``block_steps``: about 4 MiB of
gate rows at a time, so that memory does not grow with T beyond what backward needs).
Backward is the explainer's BPTT: the loss of every step is summed, so the gradient reaching
h_t is the error from the output at t plus the error sent back from step t+1; the cell turns
it into gate gradients and the error for step t-1. The per-step weight gradients are
accumulated as one matrix product per block of steps (``Cell.weight_grads``), summed over
blocks.

Ragged batches: ``valid`` (T, N, 1) marks the real steps of each sequence. At a padded step
the state is carried unchanged, so the final state is the state at the last real step, and the
gradient passes straight through it; the output there is zero and its gradient is ignored.

Shapes: T steps, N batch, D input, H hidden, G gates; states are tuples of (N, H) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.nn.cells import Cell, Weights

BLOCK_BYTES = 4 * 2**20  # gate pre-activations or gradients held at once (no tape)


def block_steps(T: int, row_bytes: int) -> int:
    """Steps per block: how many steps of (N, G*H) gate rows fit in BLOCK_BYTES, within [1, T]."""
    return max(1, min(T, BLOCK_BYTES // row_bytes))


@dataclass
class ScanCache:
    """What the backward pass of one layer and direction needs."""

    xs: np.ndarray  # (T, N, D) the inputs
    states: tuple[np.ndarray, ...]  # each (T+1, N, H); states[k][0] is the initial state
    acts: tuple[np.ndarray, ...]  # each (T, N, width) saved by the cell
    valid: np.ndarray | None  # (T, N, 1) bool, None when every sequence has all T steps
    first_padded: int  # first step at which some sequence has ended (T when none)
    for_backward: bool = True  # False: acts hold only the last step

    @property
    def outputs(self) -> np.ndarray:
        """h_t for t = 1..T, zero at padded steps: (T, N, H)."""
        hs = self.states[0][1:]
        return hs if self.valid is None else np.where(self.valid, hs, 0.0).astype(hs.dtype)

    @property
    def final_state(self) -> tuple[np.ndarray, ...]:
        return tuple(s[-1] for s in self.states)

    @property
    def nbytes(self) -> int:
        """The states and activations kept (the inputs are counted by the layer)."""
        return sum(a.nbytes for a in self.states + self.acts)

    def replay(self) -> ScanCache:
        """What backward reads step by step: ``at(t)``; here everything is kept."""
        return self

    def at(self, t: int) -> tuple[tuple[np.ndarray, ...], ...]:
        """(state of step t-1, state of step t, activations of step t), tuples of (N, ...)."""
        s, a = self.states, self.acts
        return tuple(x[t] for x in s), tuple(x[t + 1] for x in s), tuple(x[t] for x in a)


def prepare_weights(w: Weights, T: int) -> Weights:
    """The step multiplies by W_hh^T: stored so (for T > 1), BLAS runs it 1.1-1.4x faster."""
    return w._replace(W_hh=transposed_copy(w.W_hh).T) if T > 1 else w


def transposed_copy(a: np.ndarray, rows: int = 64) -> np.ndarray:
    """a.T (C, R) as a C-contiguous copy of a (R, C), ``rows`` rows of a at a time: numpy's
    one-shot copy of a transposed view reads a column at a time, 6-9x slower at (2048, 512)."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for i in range(0, a.shape[0], rows):
        out[:, i : i + rows] = a[i : i + rows].T
    return out


class InputProjection:
    """The input side of the gates, one GEMM per block of steps aligned at 0 (so a step
    recomputed later gets the same bits): ``at(t)`` (N, G*H)."""

    def __init__(self, cell: Cell, w: Weights, xs: np.ndarray, B: int | None = None):
        T, N, _ = xs.shape
        self.cell, self.w, self.xs, self.block = cell, w, xs, -1
        self.B = B or block_steps(T, N * w.W_ih.shape[0] * xs.itemsize)

    def at(self, t: int) -> np.ndarray:
        if t // self.B != self.block:
            self.block, self.ax = t // self.B, None  # the old block goes before the new comes
            self.ax = self.cell.project_inputs(
                self.w, self.xs[t - t % self.B : t - t % self.B + self.B]
            )
        return self.ax[t % self.B]


def padding(valid: np.ndarray | None, T: int) -> tuple[np.ndarray | None, int]:
    """(valid or None when no sequence ends early, the first step at which one has ended)."""
    if valid is None:
        return None, T
    full_steps = valid.all(axis=(1, 2))  # (T,) True until the first sequence ends
    if full_steps.all():
        return None, T
    return valid, int(np.argmin(full_steps))


def forward_step(cell: Cell, w: Weights, ax_t, prev, new, acts_t, valid_t) -> None:
    """One step into ``new``; a padded row (valid_t (N, 1) False) carries its state unchanged."""
    cell.step_forward(w, ax_t, prev, new, acts_t)
    if valid_t is not None:
        for s_new, s_prev in zip(new, prev):
            np.copyto(s_new, s_prev, where=~valid_t)


def scan_forward(
    cell: Cell,
    w: Weights,
    xs: np.ndarray,
    state0: tuple[np.ndarray, ...],
    valid: np.ndarray | None = None,
    for_backward: bool = True,
) -> ScanCache:
    """Run ``cell`` over xs (T, N, D) from state0 (tuple of (N, H)); see the module docstring.

    With ``for_backward=False`` the cell's activations live in one step's buffers, reused at
    every step (they stay in cache): faster, but the result cannot be backpropagated.
    """
    T, N, _ = xs.shape
    H = w.W_hh.shape[1]
    w = prepare_weights(w, T)
    proj = InputProjection(cell, w, xs)
    states = tuple(np.empty((T + 1, N, H), dtype=xs.dtype) for _ in range(cell.num_states))
    for s, s0 in zip(states, state0):
        s[0] = s0
    kept = T if for_backward else 1
    acts = tuple(np.empty((kept, N, width), dtype=xs.dtype) for width in cell.act_widths(H))
    valid, first_padded = padding(valid, T)
    for t in range(T):
        prev = tuple(s[t] for s in states)
        new = tuple(s[t + 1] for s in states)
        acts_t = tuple(a[t if for_backward else 0] for a in acts)
        forward_step(
            cell, w, proj.at(t), prev, new, acts_t, valid[t] if t >= first_padded else None
        )
    return ScanCache(xs, states, acts, valid, first_padded, for_backward)


@dataclass
class Tape:
    """Per-step gradients of one layer and direction, recorded by backward only on request.

    d_states[k][t] is the whole error reaching state k at step t (dL/dh_t, and dL/dc_t for
    LSTM): from the output at t and from step t+1. d_ax[t] and d_ah[t] are the gate gradients
    of step t, so step t's own contribution to each weight gradient is

        dW_ih[t] = d_ax[t]^T x_t      dW_hh[t] = d_ah[t]^T h_{t-1}
        db_ih[t] = sum_n d_ax[t]      db_hh[t] = sum_n d_ah[t]

    and these sum over t to the gradients ``backward`` returns.
    """

    d_states: tuple[np.ndarray, ...] = ()  # each (T, N, H)
    d_ax: np.ndarray | None = None  # (T, N, G*H)
    d_ah: np.ndarray | None = None  # (T, N, G*H)


def scan_backward(
    cell: Cell,
    w: Weights,
    cache: ScanCache,
    d_outputs: np.ndarray | None,
    d_final: tuple[np.ndarray | None, ...],
    tape: Tape | None = None,
    input_grad: bool = True,
) -> tuple[np.ndarray | None, tuple[np.ndarray, ...], Weights]:
    """Gradients given dL/d outputs (T, N, H) and dL/d final state (tuple of (N, H) or None).

    Returns d_xs (T, N, D), or None with ``input_grad=False`` (its GEMM is then skipped),
    the gradient of the initial state (tuple of (N, H)) and the weight gradients. A ``tape``
    given is filled with the per-step gradients (see Tape).

    The gate gradients of a block of B steps are turned into weight gradients as soon as the
    block is done (one GEMM per weight and block, summed over blocks), so at most B steps of
    them are held: about 4 MiB, instead of T steps. With a tape, B = T.
    """
    xs, valid = cache.xs, cache.valid
    T, N, D = xs.shape
    H = w.W_hh.shape[1]
    GH = cell.num_gates * H
    row_bytes = N * GH * xs.itemsize * (2 if cell.separate_hidden_grads else 1)
    B = T if tape is not None else getattr(cache, "grad_block", 0) or block_steps(T, row_bytes)
    d_ax = np.empty((B, N, GH), dtype=xs.dtype)  # (B, N, G*H) gate gradients of one block
    d_ah = np.empty_like(d_ax) if cell.separate_hidden_grads else d_ax
    d_xs = np.empty(xs.shape, xs.dtype) if input_grad else None  # (T, N, D), C order
    grads = None
    d_state = tuple(
        np.zeros((N, H), dtype=xs.dtype) if d is None else d for d in d_final
    )  # error arriving from step t+1 (here: from the final state)
    if tape is not None:
        tape.d_states = tuple(np.empty((T, N, H), dtype=xs.dtype) for _ in d_state)
    steps = cache.replay()  # a checkpointed cache recomputes the steps it did not keep
    h_block = None if steps is cache else np.empty((B, N, H), dtype=xs.dtype)  # h_{t-1}
    for t in reversed(range(T)):
        start = t - t % B  # first step of this block
        prev, now, acts_t = steps.at(t)
        if h_block is not None:
            h_block[t - start] = prev[0]
        dh = d_state[0] if d_outputs is None else d_state[0] + d_outputs[t]
        d_ax_t, d_ah_t = d_ax[t - start], d_ah[t - start]
        if t < cache.first_padded:
            d_in = (dh,) + d_state[1:]
            d_state = cell.step_backward(w, d_in, prev, now, acts_t, d_ax_t, d_ah_t)
        else:
            keep = valid[t]  # (N, 1): the step is real for these rows
            d_in = (dh * keep,) + tuple(d * keep for d in d_state[1:])
            d_prev = cell.step_backward(w, d_in, prev, now, acts_t, d_ax_t, d_ah_t)
            # a padded step copied the state, so its gradient passes through unchanged
            d_state = tuple(dp + d * ~keep for dp, d in zip(d_prev, d_state))
        if tape is not None:
            for recorded, d in zip(tape.d_states, d_in):
                recorded[t] = d
        if t == start:  # the block [start, stop) is complete
            stop = min(start + B, T)
            block = slice(start, stop)
            block_ax = d_ax[: stop - start]  # (stop - start, N, G*H)
            block_ah = d_ah[: stop - start] if cell.separate_hidden_grads else block_ax
            h_prevs = cache.states[0][block] if h_block is None else h_block[: stop - start]
            block_grads = cell.weight_grads(w, xs[block], h_prevs, block_ax, block_ah)
            if input_grad:
                cell.input_grads(w, block_ax, out=d_xs[block])
            grads = block_grads if grads is None else add_weights(grads, block_grads)
    if tape is not None:
        tape.d_ax, tape.d_ah = d_ax, d_ah
    return d_xs, d_state, grads


def add_weights(total: Weights, more: Weights) -> Weights:
    """total += more, array by array (None stays None); returns total."""
    for a, b in zip(total, more):
        if a is not None:
            a += b
    return total


def reverse_time(a: np.ndarray, reverse_index: np.ndarray | None) -> np.ndarray:
    """Reverse the time axis of a (T, N, ...), each sequence within its own length.

    ``reverse_index`` (T, N) maps step t of sequence n to its mirror inside the sequence's
    length (padding stays in place); None reverses all T steps."""
    if reverse_index is None:
        return a[::-1]
    return a[reverse_index, np.arange(a.shape[1])[None, :]]


def natural_order(tape: Tape, reverse_index: np.ndarray | None) -> Tape:
    """A reverse direction's tape runs backwards in time; the same tape in natural order."""
    d_ax = reverse_time(tape.d_ax, reverse_index)
    d_ah = d_ax if tape.d_ah is tape.d_ax else reverse_time(tape.d_ah, reverse_index)
    return Tape(tuple(reverse_time(d, reverse_index) for d in tape.d_states), d_ax, d_ah)
