"""The output heads of the classifier and the tagger: which loss turns logits into a loss,
and which labels the logits predict.

    "softmax"       C classes, integer targets, softmax cross-entropy; label = argmax
    "sigmoid_mse"   bits: sigmoid of each output, squared error (the explainer's adder)
    "sigmoid_bce"   bits: sigmoid of each output, binary cross-entropy

For the sigmoid heads an item is C bits (one output and one 0/1 target per bit, C = 1 for a
single bit); an item is correct when every bit is (p > 1/2 where the target is 1).

    head_loss(head, logits, targets, mask, reduction) -> (loss, d_logits, correct (...))
    head_labels(head, logits) -> labels (...) int: a class, or with C = 1 the bit
"""

from __future__ import annotations

import numpy as np

from bptt.nn.losses import (
    sigmoid_binary_cross_entropy,
    sigmoid_squared_error,
    softmax_cross_entropy,
)

HEADS = {
    "softmax": softmax_cross_entropy,
    "sigmoid_mse": sigmoid_squared_error,
    "sigmoid_bce": sigmoid_binary_cross_entropy,
}


def check_head(head: str) -> str:
    if head not in HEADS:
        raise ValueError(f"output: expected one of {tuple(HEADS)}, got {head!r}")
    return head


def head_loss(head: str, logits: np.ndarray, targets, mask=None, reduction: str = "mean"):
    """logits (..., C), targets (...) classes or (..., C) / (...) bits, mask (...) ->
    (loss, d_logits (..., C), correct (...) bool per item)."""
    loss, d_logits = HEADS[check_head(head)](logits, targets, mask, reduction)
    if head == "softmax":
        correct = logits.argmax(axis=-1) == np.asarray(targets)
    else:
        bits = np.asarray(targets).reshape(logits.shape)
        correct = ((logits > 0) == (bits > 0.5)).all(axis=-1)
    return loss, d_logits, correct


def head_labels(head: str, logits: np.ndarray) -> np.ndarray:
    """What the logits predict: the argmax class, or for one sigmoid output its bit."""
    if check_head(head) == "softmax":
        return logits.argmax(axis=-1)
    if logits.shape[-1] != 1:
        raise ValueError(f"logits: expected one output per item for bit labels, got {logits.shape}")
    return (logits[..., 0] > 0).astype(np.int64)
