"""Elman RNN cell (PyTorch's nn.RNN), one time step.

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          (N, H)
    h_t = act(a_t)                     act = tanh, relu or sigmoid

PyTorch's nn.RNN has tanh and relu only; sigmoid is the explainer's (iamtrask's) hidden
layer, with the same parameters and names, so its state_dict still loads into a torch.nn.RNN
(which would then run tanh: the names match, the nonlinearity does not).

Backward, with dh = dL/dh_t (from the output at t and from step t+1):

    da_t     = dh * act'(a_t)          written from h_t
    dh_{t-1} = da_t W_hh

Gates: G = 1. State: (h,). Nothing extra is saved: the derivative comes from h_t itself.
"""

from __future__ import annotations

import numpy as np

from bptt.nn.cells.base import Cell, Pointwise, Weights
from bptt.nn.functional import ACTIVATIONS


def _pointwise(nonlinearity: str) -> Pointwise:
    """The elementwise half of the step, forward and backward, for one nonlinearity.

    Two NumPy calls each way, so there is nothing to fuse: every backend runs these.
    """
    act, act_grad = ACTIVATIONS[nonlinearity]

    def forward(h, ax_t):  # h holds h_prev W_hh^T on entry
        h += ax_t
        act(h, out=h)

    def backward(dh, h, d_ax_t):
        np.multiply(dh, act_grad(h), out=d_ax_t)

    return Pointwise(forward, backward)


class RNNCell(Cell):
    num_gates = 1
    num_states = 1

    def __init__(self, nonlinearity: str = "tanh"):
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(
                f"unknown nonlinearity: expected one of {sorted(ACTIVATIONS)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.name = f"rnn_{nonlinearity}"
        self.pointwise = _pointwise(nonlinearity)

    def step_forward(self, w: Weights, ax_t, state_prev, state_out, acts_out) -> None:
        """ax_t (N, H), state_prev (h_prev,) -> h (N, H) into state_out; nothing is saved."""
        (h_prev,), (h,) = state_prev, state_out
        np.matmul(h_prev, w.W_hh.T, out=h)  # (N, H)
        self.pointwise.forward(h, ax_t)

    def step_backward(self, w: Weights, d_state, state_prev, state_t, acts_t, d_ax_t, d_ah_t):
        """d_state (dh,) and state_t (h,), each (N, H) -> da_t into d_ax_t (N, H);
        returns (dh_prev,) (N, H)."""
        (dh,), (h,) = d_state, state_t
        self.pointwise.backward(dh, h, d_ax_t)  # da_t (N, H)
        return (d_ax_t @ w.W_hh,)  # dh_{t-1} (N, H)
