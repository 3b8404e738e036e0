"""The time loop under a memory plan: forward keeps checkpoints, backward recomputes the rest.

``checkpoint_forward`` runs the same steps as ``scan_forward`` (same input-projection blocks,
same weight layout, so the same bits) but keeps only the states at the plan's spine of unit
boundaries (h, and c for LSTM). ``scan_backward`` reads a ``CheckpointCache`` step by step
through its ``replay()``: when step t is not in the unit it holds, the replay runs the plan's
ops (advance to a unit boundary and store a checkpoint; free one; recompute a unit from a
checkpoint, with its activations) until it does. Units are consumed from the last to the
first, so backward's reverse loop, its blocks of weight gradients and its results are those
of full BPTT. See ``bptt.nn.memory_plan`` for the policy.

Shapes: T steps, N batch, D input, H hidden; states are tuples of (N, H) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptt.nn.cells import Cell, Weights
from bptt.nn.functional import dropout_mask
from bptt.nn.memory_plan import MemoryPlan
from bptt.nn.scan import InputProjection, ScanCache, forward_step, padding, prepare_weights


@dataclass
class CheckpointCache:
    """What backward needs of one layer and direction under a plan: the inputs, the
    checkpointed states and what recomputation needs (the weights as forward used them)."""

    xs: np.ndarray  # (T, N, D) the inputs
    checkpoints: dict[int, tuple[np.ndarray, ...]]  # unit -> its start state, each (N, H)
    valid: np.ndarray | None  # (T, N, 1) bool, None when every sequence has all T steps
    first_padded: int  # first step at which some sequence has ended (T when none)
    plan: MemoryPlan
    cell: Cell
    w: Weights  # as forward ran them (W_hh^T contiguous)
    for_backward: bool = True
    used: bool = False  # a backward has run (and freed checkpoints)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for state in self.checkpoints.values() for s in state)

    @property
    def grad_block(self) -> int:
        """Steps per weight-gradient GEMM in backward (the plan's)."""
        return self.plan.blocks[1]

    def replay(self) -> Replay:
        """The steps for one backward, which frees the checkpoints the plan frees (so it
        holds what the plan predicts): a second backward of the same cache is an error."""
        if self.used:
            raise ValueError(
                "cache: expected a forward cache not yet backpropagated, got one whose "
                "checkpoints a backward under memory_budget has used up; run forward again"
            )
        self.used = True
        return Replay(self)


def checkpoint_forward(
    cell: Cell,
    w: Weights,
    xs: np.ndarray,
    state0: tuple[np.ndarray, ...],
    valid: np.ndarray | None,
    plan: MemoryPlan,
) -> tuple[CheckpointCache, np.ndarray, tuple[np.ndarray, ...]]:
    """Run ``cell`` over xs (T, N, D) from state0 -> (cache, outputs (T, N, H), final state).

    h is kept for every step (it is the output); the other states roll in two buffers, the
    activations in one step's buffers."""
    T, N, _ = xs.shape
    H = w.W_hh.shape[1]
    w = prepare_weights(w, T)
    proj = InputProjection(cell, w, xs, plan.blocks[0])
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)  # (T+1, N, H)
    rest = tuple(np.empty((2, N, H), dtype=xs.dtype) for _ in range(cell.num_states - 1))
    acts = tuple(np.empty((N, width), dtype=xs.dtype) for width in cell.act_widths(H))
    hs[0] = state0[0]
    for r, s0 in zip(rest, state0[1:]):
        r[0] = s0
    valid, first_padded = padding(valid, T)
    spine, _ = plan.program()
    at_step = {plan.bounds[u]: u for u in spine}
    checkpoints = {}
    for t in range(T + 1):
        state = (hs[t],) + tuple(r[t % 2] for r in rest)
        if t in at_step:
            checkpoints[at_step[t]] = tuple(s.copy() for s in state)
        if t == T:
            break
        new = (hs[t + 1],) + tuple(r[(t + 1) % 2] for r in rest)
        forward_step(cell, w, proj.at(t), state, new, acts, _valid_at(valid, first_padded, t))
    final = tuple(s.copy() for s in state)
    outputs = hs[1:] if valid is None else np.where(valid, hs[1:], 0.0).astype(hs.dtype)
    cache = CheckpointCache(xs, checkpoints, valid, first_padded, plan, cell, w)
    return cache, outputs, final


def _valid_at(valid, first_padded: int, t: int):
    return valid[t] if t >= first_padded else None


class Replay:
    """Steps of a CheckpointCache for backward, recomputed unit by unit in reverse order."""

    def __init__(self, cache: CheckpointCache):
        self.c = cache
        T, N, _ = cache.xs.shape
        H, dtype = cache.w.W_hh.shape[1], cache.xs.dtype
        L = cache.plan.segment
        self.proj = InputProjection(cache.cell, cache.w, cache.xs, cache.plan.blocks[0])
        self.held = cache.checkpoints  # the ops store and free here
        self.ops = iter(cache.plan.program()[1])
        widths = cache.cell.act_widths(H)
        self.states = tuple(np.empty((L + 1, N, H), dtype) for _ in range(cache.cell.num_states))
        self.acts = tuple(np.empty((L, N, width), dtype) for width in widths)
        self.unit = (T, T)  # the steps [a, b) the buffers hold

    def at(self, t: int):
        """(state of step t-1, state of step t, activations of step t), as ScanCache.at."""
        while not self.unit[0] <= t < self.unit[1]:
            self._next_op()
        i = t - self.unit[0]
        s, a = self.states, self.acts
        return tuple(x[i] for x in s), tuple(x[i + 1] for x in s), tuple(x[i] for x in a)

    def _next_op(self) -> None:
        op = next(self.ops)
        if op[0] == "free":
            del self.held[op[1]]
            return
        _, c, k = op
        bounds = self.c.plan.bounds
        start = self._advance(bounds[c], bounds[k], self.held[c])
        if op[0] == "store":
            self.held[k] = tuple(s.copy() for s in start)
            return
        a, b = bounds[k], bounds[k + 1]
        for buf, s in zip(self.states, start):
            buf[0] = s  # (a copy onto itself when the advance ended in row 0)
        for t in range(a, b):
            prev = tuple(x[t - a] for x in self.states)
            new = tuple(x[t - a + 1] for x in self.states)
            acts_t = tuple(x[t - a] for x in self.acts)
            self._step(t, prev, new, acts_t)
        self.unit = (a, b)

    def _advance(self, t0: int, t1: int, state: tuple[np.ndarray, ...]):
        """The state of step t1 from that of t0 (rows 0 and 1 of the buffers, in turn)."""
        for buf, s in zip(self.states, state):
            buf[0] = s
        acts = tuple(x[0] for x in self.acts)
        for t in range(t0, t1):
            i = t - t0
            prev = tuple(x[i % 2] for x in self.states)
            new = tuple(x[(i + 1) % 2] for x in self.states)
            self._step(t, prev, new, acts)
        return tuple(x[(t1 - t0) % 2] for x in self.states)

    def _step(self, t: int, prev, new, acts_t) -> None:
        c = self.c
        valid_t = _valid_at(c.valid, c.first_padded, t)
        forward_step(c.cell, c.w, self.proj.at(t), prev, new, acts_t, valid_t)


@dataclass
class MaskDraw:
    """A dropout mask kept as the generator state that draws it (under a memory budget)."""

    state: dict  # the bit generator's state before the draw
    shape: tuple[int, ...]
    p: float
    dtype: np.dtype

    def mask(self) -> np.ndarray:
        rng = np.random.Generator(getattr(np.random, self.state["bit_generator"])())
        rng.bit_generator.state = self.state
        return dropout_mask(self.shape, self.p, rng, self.dtype)


@dataclass
class RecurrentCache:
    """Everything backward needs; the layer itself keeps nothing between the two calls."""

    scans: list[ScanCache | CheckpointCache]  # one per layer and direction, index l * K + k
    dropout_masks: list[np.ndarray | MaskDraw | None]  # on the output of layer l (l < L-1)
    reverse_index: np.ndarray | None  # (T, N) time index that reverses each sequence in place
    batch_first: bool
    plan: MemoryPlan | None = None  # None: full BPTT, every step kept
    input_bytes: int = 0  # the inputs forward made and keeps (layers above the first, copies)
    cell: str = ""  # the name of the cell that made it: another cell's cache is refused

    @property
    def nbytes(self) -> int:
        """Bytes this cache keeps for backward (not counting the caller's x)."""
        masks = sum(m.nbytes for m in self.dropout_masks if isinstance(m, np.ndarray))
        return sum(s.nbytes for s in self.scans) + masks + self.input_bytes

    def mask(self, layer: int) -> np.ndarray | None:
        m = self.dropout_masks[layer]
        return m.mask() if isinstance(m, MaskDraw) else m
