"""Gradient clipping over a whole grads dict, with torch.nn.utils' rules.

Norm clipping treats every gradient array as one long vector g (all entries of all arrays):

    total_norm = (sum_i |g_i|^p) ** (1/p)         p = norm_type;  max_i |g_i| for p = inf
    clip_coef  = max_norm / (total_norm + 1e-6)
    g         <- g * clip_coef                     only when clip_coef < 1

so the direction is kept and the norm becomes (just under) max_norm. Value clipping clamps
each entry to [-clip_value, clip_value]. Both work in place on the caller's arrays.

Norms are summed in float64 whatever the gradients' dtype, so float32 gradients with entries
near 1e20 still give a finite norm (torch, summing in float32, reports inf there).
"""

from __future__ import annotations

import math

import numpy as np

from bptt.checks import FLOAT_DTYPES


def _check_grads(grads) -> None:
    if not isinstance(grads, dict):
        raise TypeError(f"grads: expected a dict name -> numpy.ndarray, got {type(grads).__name__}")
    for name, g in grads.items():
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{name!r}]: expected numpy.ndarray, got {type(g).__name__}")
        if g.dtype not in FLOAT_DTYPES:
            raise TypeError(f"grads[{name!r}]: expected dtype float32 or float64, got {g.dtype}")


def _check_non_negative(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value}")
    return float(value)


def _total_norm(grads: dict[str, np.ndarray], p: float) -> float:
    if p == math.inf:
        return max((float(np.max(np.abs(g))) for g in grads.values() if g.size), default=0.0)
    if p == 2.0:
        total = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())
        return math.sqrt(total)
    total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** p)) for g in grads.values())
    return total ** (1.0 / p)


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """The 2-norm of all gradient entries together (0.0 for an empty dict); nothing is changed."""
    _check_grads(grads)
    return _total_norm(grads, 2.0)


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients in place so their total p-norm is at most ``max_norm``.

    Returns the total norm BEFORE clipping (as torch.nn.utils.clip_grad_norm_ does), so a
    caller can log it or skip a step whose norm is not finite. A nan or inf norm leaves the
    gradients as they are (torch would scale them by nan or 0, wiping out the evidence).
    """
    _check_grads(grads)
    max_norm = _check_non_negative("max_norm", max_norm)
    if isinstance(norm_type, str) and norm_type == "inf":
        norm_type = math.inf
    if isinstance(norm_type, (bool, np.bool_)) or not isinstance(
        norm_type, (int, float, np.number)
    ):
        raise TypeError(f"norm_type: expected a number > 0 or inf, got {norm_type!r}")
    if not norm_type > 0:
        raise ValueError(f"norm_type: expected a number > 0 or inf, got {norm_type}")
    total_norm = _total_norm(grads, float(norm_type))
    clip_coef = max_norm / (total_norm + 1e-6)
    if math.isfinite(total_norm) and clip_coef < 1.0:
        for g in grads.values():
            g *= clip_coef
    return total_norm


def clip_grad_value(grads: dict[str, np.ndarray], clip_value: float) -> None:
    """Clamp every gradient entry in place to [-clip_value, clip_value]."""
    _check_grads(grads)
    clip_value = _check_non_negative("clip_value", clip_value)
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)
