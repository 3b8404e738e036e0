"""``evaluate``: a model's mean loss (and accuracy) over a whole dataset, in eval mode."""

from __future__ import annotations


def evaluate(model, data) -> dict:
    """Mean loss per item (and accuracy where defined) over a dataset, in eval mode, state
    carried for stateful streams; the same figure for a model whose loss is summed."""
    was_training = model.rnn.training
    model.eval()
    total, count, correct, state, m = 0.0, 0, 0, None, {}
    for batch in data.epoch(None):
        loss, final, m = model.loss(batch, state if data.stateful else None)
        state = final
        # a summed loss is already a total; the mean is per item either way
        total += loss if getattr(model, "reduction", "mean") == "sum" else loss * m["count"]
        count += m["count"]
        correct += m.get("correct", 0)
    model.train(was_training)
    out = {"loss": total / max(count, 1)}
    if "correct" in m:
        out["accuracy"] = correct / max(count, 1)
    return out
