"""LSTM cell (PyTorch's nn.LSTM), one time step. Gate order i, f, g, o.

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh       (N, 4H)
    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Backward, with dh = dL/dh_t and dc = dL/dc_t arriving from the output and from step t+1:

    dc  += dh * o * (1 - tanh(c_t)^2)
    do   = dh * tanh(c_t)        di = dc * g        dg = dc * i        df = dc * c_{t-1}
    da   = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]       (N, 4H)
    dc_{t-1} = dc * f
    dh_{t-1} = da W_hh

Saved per step: the four activated gates (N, 4H) and tanh(c_t) (N, H). The elementwise part
is ``forward_pointwise`` / ``backward_pointwise`` below
(fused into compiled loops by ``bptt.nn.kernels.lstm`` under the numba backend).
"""

from __future__ import annotations

import numpy as np

from bptt.nn.cells.base import Cell, Pointwise, Weights
from bptt.nn.functional import sigmoid


def forward_pointwise(gates, ax_t, c_prev, c, tanh_c, h) -> None:
    """gates (N, 4H) holds h_prev W_hh^T on entry, the activated i, f, g, o on exit."""
    H = h.shape[1]
    gates += ax_t
    sigmoid(gates[:, : 2 * H], out=gates[:, : 2 * H])  # i, f
    np.tanh(gates[:, 2 * H : 3 * H], out=gates[:, 2 * H : 3 * H])  # g
    sigmoid(gates[:, 3 * H :], out=gates[:, 3 * H :])  # o
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    np.multiply(f, c_prev, out=c)
    c += i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def backward_pointwise(dh, dc_next, gates, c_prev, tanh_c, d_ax_t, dc_prev) -> None:
    """Gate gradients into d_ax_t (N, 4H) and dc_{t-1} into dc_prev (N, H)."""
    H = dh.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)  # (N, H)
    np.multiply(dc * g, i * (1.0 - i), out=d_ax_t[:, :H])
    np.multiply(dc * c_prev, f * (1.0 - f), out=d_ax_t[:, H : 2 * H])
    np.multiply(dc * i, 1.0 - g * g, out=d_ax_t[:, 2 * H : 3 * H])
    np.multiply(dh * tanh_c, o * (1.0 - o), out=d_ax_t[:, 3 * H :])
    np.multiply(dc, f, out=dc_prev)


class LSTMCell(Cell):
    name = "lstm"
    gate_names = ("i", "f", "g", "o")
    num_gates = 4
    pointwise = Pointwise(forward_pointwise, backward_pointwise)
    num_states = 2

    def act_widths(self, H: int) -> tuple[int, ...]:
        return (4 * H, H)

    def step_forward(self, w: Weights, ax_t, state_prev, state_out, acts_out) -> None:
        """ax_t (N, 4H), state_prev (h_prev, c_prev) -> (h, c) into state_out, each (N, H);
        saves the activated gates (N, 4H) and tanh(c_t) (N, H) into acts_out."""
        (h_prev, c_prev), (h, c), (gates, tanh_c) = state_prev, state_out, acts_out
        np.matmul(h_prev, w.W_hh.T, out=gates)  # (N, 4H)
        self.pointwise.forward(gates, ax_t, c_prev, c, tanh_c, h)

    def step_backward(self, w: Weights, d_state, state_prev, state_t, acts_t, d_ax_t, d_ah_t):
        """d_state (dh, dc), state_prev (h_prev, c_prev), acts_t (gates, tanh_c) -> da into
        d_ax_t (N, 4H) (d_ah_t is the same array); returns (dh_prev, dc_prev), each (N, H)."""
        (dh, dc_next), (_, c_prev), (gates, tanh_c) = d_state, state_prev, acts_t
        dc_prev = np.empty_like(dc_next)  # (N, H)
        self.pointwise.backward(dh, dc_next, gates, c_prev, tanh_c, d_ax_t, dc_prev)
        return d_ax_t @ w.W_hh, dc_prev  # dh_{t-1}, dc_{t-1}
