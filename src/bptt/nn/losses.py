"""Losses, each returning ``(loss, d_input)`` so the backward pass starts from it.

Softmax cross-entropy over C classes, on logits z (..., C) with integer targets y (...):

    loss = -(1/M) * sum over unmasked items of log_softmax(z)[y]       M = number of unmasked items
    dL/dz = (softmax(z) - onehot(y)) / M      on unmasked items, 0 elsewhere

Mean squared error on predictions p and targets q of the same shape:

    loss = (1/M) * sum of (p - q)^2         dL/dp = 2 (p - q) / M

Sigmoid outputs for bits (targets y in {0, 1}, p = sigmoid(z), M unmasked entries):

    squared error         loss = (1/M) sum (p - y)^2                 dL/dz = 2 (p - y) p (1 - p) / M
    binary cross-entropy  loss = -(1/M) sum y log p + (1-y) log(1-p)  dL/dz = (p - y) / M

the cross-entropy computed as softplus(z) - y z, finite at z = +-1000.

``reduction="sum"`` drops the 1/M, which is the explainer's summed per-step loss (and
min-char-rnn's). Stable at logits of +-1000: log-softmax subtracts the row maximum.
"""

from __future__ import annotations

import numpy as np

from bptt.nn.functional import log_softmax, sigmoid

REDUCTIONS = ("mean", "sum")


def _item_weights(mask, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Mask (shape) of 0/1 or bools (or non-negative weights) -> float weights; all ones when
    mask is None. A negative weight would reward a wrong prediction; NaN poisons the loss."""
    if mask is None:
        return np.ones(shape, dtype=dtype)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask: expected shape {shape} (one entry per item), got {mask.shape}")
    if mask.dtype != bool and not (
        np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)
    ):
        raise TypeError(f"mask: expected bools or real weights, got dtype {mask.dtype}")
    weights = mask.astype(dtype)  # (...)
    if weights.size and not (np.isfinite(weights).all() and weights.min() >= 0):
        bad = weights[~(np.isfinite(weights) & (weights >= 0))]
        raise ValueError(
            f"mask: expected finite non-negative weights (0/1 or bools), got {bad.size} "
            f"entries that are not, the first {float(bad[0])}"
        )
    return weights


def _scale(weights: np.ndarray, reduction: str) -> float:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "sum":
        return 1.0
    count = weights.sum()
    return 1.0 / count if count > 0 else 0.0  # an all-masked batch contributes nothing


def softmax_cross_entropy(
    logits: np.ndarray, targets: np.ndarray, mask=None, reduction: str = "mean"
) -> tuple[float, np.ndarray]:
    """logits (..., C), targets (...) ints in [0, C), mask (...) -> (loss, d_logits (..., C))."""
    if not isinstance(logits, np.ndarray) or logits.ndim < 1:
        raise TypeError(f"logits: expected a numpy.ndarray (..., C), got {logits!r:.60}")
    targets = np.asarray(targets)
    C = logits.shape[-1]
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets: expected shape {logits.shape[:-1]} (logits without the class "
            f"axis), got {targets.shape}"
        )
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets: expected integer class indices, got dtype {targets.dtype}")
    weights = _item_weights(mask, targets.shape, logits.dtype)  # (...)
    if targets.size and (targets.min() < 0 or targets.max() >= C):
        raise ValueError(
            f"targets: expected class indices in [0, {C}), "
            f"got min {targets.min()} and max {targets.max()}"
        )
    scale = _scale(weights, reduction)
    # a tiny probability rounding to 0 (or to a subnormal) is the right answer, not an error
    with np.errstate(under="ignore"):
        logp = log_softmax(logits)  # (..., C)
        picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (...)
        loss = -float((picked * weights).sum() * scale)
        d_logits = np.exp(logp)  # softmax (..., C)
        np.put_along_axis(
            d_logits,
            targets[..., None],
            np.take_along_axis(d_logits, targets[..., None], axis=-1) - 1.0,
            axis=-1,
        )
        d_logits *= (weights * scale)[..., None]
    return loss, d_logits.astype(logits.dtype, copy=False)


def mean_squared_error(
    predictions: np.ndarray, targets: np.ndarray, mask=None, reduction: str = "mean"
) -> tuple[float, np.ndarray]:
    """predictions and targets of one shape, mask of that shape -> (loss, d_predictions)."""
    if not isinstance(predictions, np.ndarray):
        raise TypeError(f"predictions: expected a numpy.ndarray, got {type(predictions).__name__}")
    targets = np.asarray(targets)
    if targets.shape != predictions.shape:
        raise ValueError(
            f"targets: expected shape {predictions.shape} (as the predictions), got {targets.shape}"
        )
    weights = _item_weights(mask, predictions.shape, predictions.dtype)
    scale = _scale(weights, reduction)
    diff = (predictions - targets) * weights
    loss = float((diff * diff).sum() * scale)
    return loss, (2.0 * scale * diff).astype(predictions.dtype, copy=False)


def _check_bits(logits: np.ndarray, targets) -> np.ndarray:
    """0/1 targets of the logits' shape (or of that shape without a trailing axis of 1)."""
    if not isinstance(logits, np.ndarray):
        raise TypeError(f"logits: expected a numpy.ndarray, got {type(logits).__name__}")
    targets = np.asarray(targets)
    if targets.shape != logits.shape and logits.shape[-1:] == (1,):
        if targets.shape == logits.shape[:-1]:
            targets = targets[..., None]
    if targets.shape != logits.shape:
        raise ValueError(
            f"targets: expected shape {logits.shape} (as the logits, or without a last axis "
            f"of 1), got {targets.shape}"
        )
    if targets.size and not np.isin(targets, (0, 1)).all():
        raise ValueError("targets: expected bits (0 and 1 only) for a sigmoid output, got others")
    return targets.astype(logits.dtype)


def _bit_weights(mask, logits: np.ndarray) -> np.ndarray:
    if mask is not None and np.shape(mask) == logits.shape[:-1]:
        mask = np.broadcast_to(np.asarray(mask)[..., None], logits.shape)
    return _item_weights(mask, logits.shape, logits.dtype)


def sigmoid_squared_error(
    logits: np.ndarray, targets, mask=None, reduction: str = "mean"
) -> tuple[float, np.ndarray]:
    """Squared error of p = sigmoid(logits) against 0/1 targets -> (loss, d_logits)."""
    y = _check_bits(logits, targets)
    weights = _bit_weights(mask, logits)
    scale = _scale(weights, reduction)
    p = sigmoid(logits)
    diff = (p - y) * weights
    loss = float((diff * diff).sum() * scale)
    return loss, (2.0 * scale * diff * p * (1.0 - p)).astype(logits.dtype, copy=False)


def sigmoid_binary_cross_entropy(
    logits: np.ndarray, targets, mask=None, reduction: str = "mean"
) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of sigmoid(logits) against 0/1 targets -> (loss, d_logits)."""
    y = _check_bits(logits, targets)
    weights = _bit_weights(mask, logits)
    scale = _scale(weights, reduction)
    with np.errstate(under="ignore", over="ignore"):
        softplus = np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits)))
    loss = float(((softplus - y * logits) * weights).sum() * scale)
    return loss, (scale * weights * (sigmoid(logits) - y)).astype(logits.dtype, copy=False)
