"""Initialisations beyond PyTorch's defaults, for porting programs that chose their own.

    init_params(params, scheme, scale, rng)   every parameter of a model, in place:
        "torch"     leave the layers' own init (PyTorch's: U(-1/sqrt(H), 1/sqrt(H)), ...)
        "uniform"   weights U(-scale, scale), biases 0   (iamtrask: 2 * random - 1, scale 1)
        "normal"    weights N(0, scale^2), biases 0      (min-char-rnn: randn * 0.01)
    set_forget_bias(lstm, value)   b_ih + b_hh of every LSTM forget gate = value
    uniform(rng, bound, shape, dtype), normal(rng, shape, dtype, scale)   draws made directly
        in ``dtype``: float64 is numpy's ``rng.uniform`` / ``rng.standard_normal`` bit for bit;
        float32 draws float32 (``rng.random(dtype=float32)``, scaled in float32), so no float64
        copy is ever made (half the memory at construction; other values than a float64 draw)

A forget bias set at initialisation is TensorFlow's ``forget_bias=1.0`` exactly: TF adds the
constant to the forget gate's pre-activation of a bias that starts at 0, and a constant plus
a learned bias is one learned bias starting at the constant, with the same gradient.
"""

from __future__ import annotations

import numpy as np

INITS = ("torch", "uniform", "normal")


def init_params(params: dict, scheme: str, scale: float, rng: np.random.Generator) -> None:
    """Re-draw ``params`` (name -> array) in place, in their order, by ``scheme``."""
    if scheme not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {scheme!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"init_scale: expected a positive number, got {scale!r}")
    if scheme == "torch":
        return
    for name, p in params.items():
        if name.rsplit(".", 1)[-1].startswith("bias"):
            p[...] = 0
        elif scheme == "uniform":
            p[...] = uniform(rng, scale, p.shape, p.dtype)
        else:
            p[...] = normal(rng, p.shape, p.dtype, scale)


def uniform(rng: np.random.Generator, bound: float, shape: tuple, dtype) -> np.ndarray:
    """U(-bound, bound) drawn in ``dtype`` (float64: ``rng.uniform(-bound, bound)`` exactly)."""
    dt = np.dtype(dtype)
    if dt == np.float64:
        return rng.uniform(-bound, bound, shape)
    u = rng.random(shape, dtype=dt)  # [0, 1) in float32: no float64 copy of the parameter
    u *= dt.type(2 * bound)
    u -= dt.type(bound)
    return u


def normal(rng: np.random.Generator, shape: tuple, dtype, scale: float = 1.0) -> np.ndarray:
    """N(0, scale^2) drawn in ``dtype`` (float64: ``scale * rng.standard_normal()`` exactly)."""
    dt = np.dtype(dtype)
    z = rng.standard_normal(shape, dtype=dt)  # float32: numpy's float32 ziggurat, no copy
    if scale != 1:
        z *= dt.type(scale)
    return z


def set_forget_bias(lstm, value: float) -> None:
    """b_ih + b_hh of every forget gate = value (b_ih holds it, b_hh's share is zeroed)."""
    if lstm.cell.name != "lstm":
        raise ValueError(f"forget_bias: expected an LSTM layer, got a {lstm.cell.name} layer")
    if not lstm.bias:
        raise ValueError("forget_bias: expected an LSTM with biases, got bias=False")
    H = lstm.hidden_size
    for name, p in lstm.params.items():
        if name.startswith("bias_"):
            p[H : 2 * H] = value if name.startswith("bias_ih") else 0.0
