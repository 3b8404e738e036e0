"""Turning a task's arrays into the minibatches the trainer feeds a model.

    ArrayBatches    a fixed set of M sequences, shuffled each epoch by a seeded permutation
                    inputs (T, M, D) or token ids (T, M); targets (M, ...) per sequence or
                    (T, M, ...) per step; lengths (M,) optional
    StreamBatches   one long token stream laid out as N contiguous streams, read in order, so
                    the recurrent state flows from one batch to the next (``stateful``)

Both yield ``bptt.nn.models.Batch`` objects, time-major. The epoch's order depends only on
(seed, epoch), so a resumed run sees exactly the batches it would have seen. ``part=(r, K)``
yields rank r's rows of every batch (``bptt.train.distributed.share``): the batches are the
same global batches in the same order, each rank reading its slice of the streams or rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import numpy as np

from bptt.checks import check_positive_int
from bptt.data import count_stream_batches, stream_batches
from bptt.nn import Batch
from bptt.train.distributed import share


def epoch_order(M: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of M items for one epoch, a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(M)


class ArrayBatches:
    stateful = False

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        *,
        lengths: np.ndarray | None = None,
        per_step_targets: bool = False,
    ):
        M = inputs.shape[1]
        t_axis = 1 if per_step_targets else 0
        if targets.shape[t_axis] != M:
            raise ValueError(
                f"targets: expected {M} items along axis {t_axis} (as the inputs' "
                f"batch axis 1), got shape {targets.shape}"
            )
        if lengths is not None and len(lengths) != M:
            raise ValueError(f"lengths: expected {M} lengths, got {len(lengths)}")
        check_positive_int("batch_size", batch_size)
        self.inputs, self.targets, self.lengths = inputs, targets, lengths
        self.batch_size, self.per_step_targets = batch_size, per_step_targets
        self.size = M

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def batch(self, idx: np.ndarray) -> Batch:
        targets = self.targets[:, idx] if self.per_step_targets else self.targets[idx]
        lengths = None if self.lengths is None else self.lengths[idx]
        return Batch(self.inputs[:, idx], targets, lengths)

    def epoch(
        self, seed: int | None = None, epoch: int = 0, start: int = 0, part=None
    ) -> Iterator[Batch]:
        """Batches of one epoch, shuffled by (seed, epoch) or in order when seed is None;
        ``start`` skips the first batches (resuming inside an epoch); ``part`` (rank, K): that
        rank's rows of each (they may be none, in a last batch of fewer than K rows)."""
        order = np.arange(self.size) if seed is None else epoch_order(self.size, seed, epoch)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            if part is not None:
                lo, hi = share(len(idx), *part)
                idx = idx[lo:hi]
            yield self.batch(idx)


class StreamBatches:
    """Batches (T, N) of token ids over N contiguous streams (layout: bptt.data.text)."""

    stateful = True

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, keep_partial=False):
        stream_batches(ids, batch_size, seq_len, keep_partial)  # validates now, not on first use
        self.ids, self.batch_size, self.seq_len = ids, batch_size, seq_len
        self.keep_partial = bool(keep_partial)  # the last, shorter window too (get_batch's)
        self.size = batch_size

    def __len__(self) -> int:
        return count_stream_batches(len(self.ids), self.batch_size, self.seq_len, self.keep_partial)

    def epoch(
        self, seed: int | None = None, epoch: int = 0, start: int = 0, part=None
    ) -> Iterator[Batch]:
        """Consecutive windows of seq_len steps; the order never changes, so state can flow.
        ``part`` (rank, K): that rank's streams (columns) of every window."""
        windows = stream_batches(self.ids, self.batch_size, self.seq_len, self.keep_partial)
        lo, hi = (0, self.batch_size) if part is None else share(self.batch_size, *part)
        for inputs, targets in islice(windows, start, None):
            yield Batch(inputs[:, lo:hi], targets[:, lo:hi])
