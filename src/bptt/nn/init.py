"""Initialisations beyond PyTorch's defaults, for porting programs that chose their own.

    init_params(params, scheme, scale, rng)   every parameter of a model, in place:
        "torch"     leave the layers' own init (PyTorch's: U(-1/sqrt(H), 1/sqrt(H)), ...)
        "uniform"   weights U(-scale, scale), biases 0   (iamtrask: 2 * random - 1, scale 1)
        "normal"    weights N(0, scale^2), biases 0      (min-char-rnn: randn * 0.01)
    set_forget_bias(lstm, value)   b_ih + b_hh of every LSTM forget gate = value

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
            p[...] = rng.uniform(-scale, scale, p.shape)
        else:
            p[...] = scale * rng.standard_normal(p.shape)


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
