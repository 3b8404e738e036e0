"""Truncated backpropagation through time with separate forward and backward lengths.

Williams & Peng's BPTT(k2; k1): every k1 new steps, one update whose gradient is the gradient
of the loss on those k1 steps, sent back through the last k2 steps only (k2 >= k1):

    stream:   ... | s0 ............ | e-k1 ...... e |
                    <---- k2 - k1 --><---- k1 ----->
                    context           new (loss)
    window    = [e - k2, e),   started from the state at e - k2, held as a value (no gradient)
    gradient  = d/dtheta  sum_{tau in [e-k1, e)} loss_tau,  truncated at e - k2

When the batch length is not a multiple of k1, its last run of m < k1 new steps goes back
through those m steps and the k2 - k1 steps of context (k2 - k1 + m in all).

The window is recomputed from the state saved at its start with the current weights, so a
window always uses one set of weights. The state carried to the next window is read off the
same forward pass. k1 = k2 = T is full BPTT; k1 = k2 = k is training on chunks of k with the
state carried between them.

Streams: a ``TruncatedBPTT`` keeps the last k2 - k1 steps and the state before them across
calls, so a window may reach back into the previous batch of a stateful stream.

Shapes: batches are time-major, inputs (T, N, D) or token ids (T, N), targets (T, N[, O]).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bptt.checks import is_integer
from bptt.nn import Batch


class TruncatedBPTT:
    """BPTT(k2; k1) over one long batch or a stream of batches; see the module docstring."""

    def __init__(self, k1: int, k2: int | None = None):
        k2 = k1 if k2 is None else k2
        for name, k in (("k1", k1), ("k2", k2)):
            if not is_integer(k) or k < 1:
                raise ValueError(f"{name}: expected a positive number of steps, got {k!r}")
        if k2 < k1:
            raise ValueError(
                f"k2: expected k2 >= k1 = {k1} (steps backpropagated through "
                f"include the k1 new ones), got {k2}"
            )
        self.k1, self.k2 = int(k1), int(k2)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next batch starts from the zero state (or the given one)."""
        self.context: Batch | None = None  # the last <= k2 - k1 steps already trained on
        self.state = None  # the state before ``context`` (None = zeros)

    def num_windows(self, batch: Batch) -> int:
        """Updates that ``updates`` yields for this batch: one per k1 new steps, rounded up."""
        return -(-len(batch.inputs) // self.k1)

    def updates(
        self, model, batch: Batch, state=None, skip: int = 0
    ) -> Iterator[tuple[float, dict, dict]]:
        """Yield (loss, grads, metrics) for each run of k1 new steps of ``batch``.

        ``state`` (optional) replaces the carried state when the stream has no context yet.
        Apply each update before asking for the next: the next window uses the new weights.
        ``skip`` windows are left out: a run resumed inside this batch already applied them,
        and the state and context they left are this object's.
        """
        if not model.per_step_loss:
            raise ValueError(
                f"model: truncated BPTT needs a loss at every step, got "
                f"{type(model).__name__}, whose loss is on the last step only"
            )
        if batch.lengths is not None:
            raise ValueError(
                "lengths: truncated BPTT runs over contiguous streams, "
                "expected lengths=None, got an array"
            )
        if self.context is None and state is not None:
            self.state = state
        T = len(batch.inputs)
        for start in range(skip * self.k1, T, self.k1):
            new = _slice(batch, start, min(start + self.k1, T))
            window = new if self.context is None else _concat(self.context, new)
            n_context = 0 if self.context is None else len(self.context.inputs)
            loss_mask = np.ones(window.inputs.shape[:2], dtype=bool)  # (Tw, N)
            loss_mask[:n_context] = False
            if window.mask is not None:
                loss_mask &= np.asarray(window.mask, dtype=bool)
            loss, grads, final, metrics = model.loss_and_grads(
                Batch(window.inputs, window.targets, None, loss_mask), self.state
            )
            self._advance(model, window, final)
            yield loss, grads, metrics

    def _advance(self, model, window: Batch, final) -> None:
        """Keep the last k2 - k1 steps as context and the state just before them."""
        keep = min(self.k2 - self.k1, len(window.inputs))
        drop = len(window.inputs) - keep
        if keep == 0:
            self.state, self.context = final, None
            return
        if drop > 0:
            self.state = model.advance_state(window.inputs[:drop], self.state)
        self.context = _slice(window, drop, len(window.inputs))


def _slice(batch: Batch, a: int, b: int) -> Batch:
    mask = None if batch.mask is None else batch.mask[a:b]
    return Batch(batch.inputs[a:b], batch.targets[a:b], None, mask)


def _concat(first: Batch, second: Batch) -> Batch:
    def cat(x, y):
        return np.concatenate([x, y], axis=0)

    mask = None
    if first.mask is not None or second.mask is not None:
        ones = [np.ones(b.inputs.shape[:2], dtype=bool) for b in (first, second)]
        mask = cat(*(o if b.mask is None else b.mask for o, b in zip(ones, (first, second))))
    return Batch(cat(first.inputs, second.inputs), cat(first.targets, second.targets), None, mask)
