"""Losses, each returning ``(loss, d_input)`` so the backward pass starts from it.

Softmax cross-entropy over C classes, on logits z (..., C) with integer targets y (...):

    loss = -(1/M) * sum over unmasked items of log_softmax(z)[y]       M = number of unmasked items
    dL/dz = (softmax(z) - onehot(y)) / M      on unmasked items, 0 elsewhere

Mean squared error on predictions p and targets q of the same shape:

    loss = (1/M) * sum of (p - q)^2         dL/dp = 2 (p - q) / M

``reduction="sum"`` drops the 1/M, which is the explainer's summed per-step loss. Stable at
logits of +-1000: log-softmax subtracts the row maximum.
"""

from __future__ import annotations

import numpy as np

from bptt.nn.functional import log_softmax

REDUCTIONS = ("mean", "sum")


def _item_weights(mask, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Mask (shape) of 0/1 or bools -> float weights; all ones when mask is None."""
    if mask is None:
        return np.ones(shape, dtype=dtype)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask: expected shape {shape} (one entry per item), got {mask.shape}")
    return mask.astype(dtype)


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
