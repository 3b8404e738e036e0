"""Numerically stable elementwise math and the derivatives the cells need.

Every derivative is written from the function's *saved output*, which is what the backward
pass keeps:

    sigmoid(a) = (1 + tanh(a / 2)) / 2        sigmoid'(a) = s * (1 - s)      (s = sigmoid(a))
    tanh(a)                                    tanh'(a)    = 1 - t ** 2       (t = tanh(a))
    relu(a)    = max(a, 0)                     relu'(a)    = [r > 0]          (r = relu(a))

Sigmoid goes through tanh so that it never evaluates exp of a large number: it is exact at
a = +-1000 with floating point errors raised. log_softmax subtracts the row maximum first.

Functions taking ``out=`` write into a preallocated buffer (which may alias the input) and
return it, so the time loop allocates nothing per step.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function through tanh: no overflow for any finite input."""
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def tanh(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.tanh(a, out=out)


def relu(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(a, 0.0, out=out)


def tanh_grad_from_output(t: np.ndarray) -> np.ndarray:
    """d tanh / d a written with t = tanh(a)."""
    return 1.0 - t * t


def sigmoid_grad_from_output(s: np.ndarray) -> np.ndarray:
    """d sigmoid / d a written with s = sigmoid(a)."""
    return s * (1.0 - s)


def relu_grad_from_output(r: np.ndarray) -> np.ndarray:
    """d relu / d a written with r = relu(a); the kink at 0 takes derivative 0, as PyTorch."""
    return (r > 0).astype(r.dtype)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(logits)) by log-sum-exp with the maximum subtracted: finite at +-1000."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):  # exp of a very negative number is rightly 0
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def dropout_mask(shape, p: float, rng, dtype, training: bool = True):
    """Inverted dropout: keep each entry with probability 1 - p, scaled by 1 / (1 - p), so the
    expectation is unchanged; None when there is nothing to drop (p = 0 or not training)."""
    if not training or p == 0:
        return None
    return ((rng.random(shape) >= p) / (1.0 - p)).astype(dtype)


def one_hot(ids: np.ndarray, V: int, dtype) -> np.ndarray:
    """ids (...) ints in [0, V) -> (..., V) floats, min-char-rnn's ``xs[t][inputs[t]] = 1``."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids: expected integer indices, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(
            f"ids: expected values in [0, {V}), got min {ids.min()} and max {ids.max()}"
        )
    return np.eye(V, dtype=dtype)[ids]


ACTIVATIONS = {
    "tanh": (tanh, tanh_grad_from_output),
    "relu": (relu, relu_grad_from_output),
    "sigmoid": (sigmoid, sigmoid_grad_from_output),
}
