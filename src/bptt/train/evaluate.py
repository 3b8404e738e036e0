"""``evaluate``: a model's mean loss (and accuracy) over a whole dataset, in eval mode.

The mean loss weighs each batch by the items its mean is over (``metrics["items"]`` where a
model gives it, else ``metrics["count"]``), so it is the mean over the whole dataset however
it is cut into batches. With a communicator, each rank evaluates its share of every batch and
one all-reduce of [total, items, count, correct, has_correct] gives every rank the figures of
the whole dataset.
"""

from __future__ import annotations

import numpy as np


def evaluate(model, data, comm=None) -> dict:
    """Mean loss per item (and accuracy where defined) over a dataset, in eval mode, state
    carried for stateful streams; the same figure for a model whose loss is summed."""
    was_training = model.rnn.training
    model.eval()
    part = None if comm is None or comm.size == 1 else (comm.rank, comm.size)
    mean = getattr(model, "reduction", "mean") == "mean"
    total, items, count, correct, state, m = 0.0, 0, 0, 0, None, {}
    for batch in data.epoch(None, **({} if part is None else {"part": part})):
        if batch.inputs.shape[1] == 0:  # this rank's share of a batch of fewer rows than ranks
            continue
        loss, final, m = model.loss(batch, state if data.stateful else None)
        state = final
        # a summed loss is already a total (per row in the end); a mean, one over its items
        weight = m.get("items", m["count"]) if mean else m["count"]
        total += loss * weight if mean else loss
        items += weight
        count += m["count"]
        correct += m.get("correct", 0)
    model.train(was_training)
    has_correct = "correct" in m
    if part is not None:
        sums = np.array([total, items, count, correct, has_correct], dtype=np.float64)
        total, items, count, correct, has_correct = comm.allreduce_(sums)
        items, count, correct = round(items), round(count), round(correct)
    out = {"loss": float(total) / max(items, 1)}
    if has_correct:
        out["accuracy"] = correct / max(count, 1)
    return out
