"""GRU cell (PyTorch's nn.GRU), one time step. Gate order r, z, n.

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate multiplies the hidden side of the candidate, so the gradient reaching the input
side (d_ax) and the hidden side (d_ah) differ in the n block. Backward, with dh = dL/dh_t:

    dn  = dh * (1 - z)                 dz = dh * (h_{t-1} - n)
    da_n = dn * (1 - n^2)              d(hn) = da_n * r         dr = da_n * hn
    d_ax = [dr * r(1-r), dz * z(1-z), da_n]
    d_ah = [dr * r(1-r), dz * z(1-z), da_n * r]                  hn = W_hn h_{t-1} + b_hn
    dh_{t-1} = dh * z + d_ah W_hh

Saved per step: r, z, n (N, 3H) and hn (N, H). The elementwise part is ``forward_pointwise`` /
``backward_pointwise`` below.
"""

from __future__ import annotations

import numpy as np

from bptt.nn.cells.base import Cell, Pointwise, Weights
from bptt.nn.functional import sigmoid


def forward_pointwise(gates, ax_t, b_hn, h_prev, hn, h) -> None:
    """gates (N, 3H) holds h_prev W_hh^T on entry, the activated r, z, n on exit."""
    H = h.shape[1]
    np.add(gates[:, 2 * H :], b_hn, out=hn)
    gates[:, : 2 * H] += ax_t[:, : 2 * H]
    sigmoid(gates[:, : 2 * H], out=gates[:, : 2 * H])  # r, z
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    np.multiply(r, hn, out=n)
    n += ax_t[:, 2 * H :]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n


def backward_pointwise(dh, gates, hn, h_prev, d_ax_t, d_ah_t, dh_direct) -> None:
    """Gate gradients into d_ax_t and d_ah_t (N, 3H); dh * z into dh_direct (N, H)."""
    H = dh.shape[1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    da_n = dh * (1.0 - z) * (1.0 - n * n)  # (N, H)
    np.multiply(da_n * hn, r * (1.0 - r), out=d_ax_t[:, :H])
    np.multiply(dh * (h_prev - n), z * (1.0 - z), out=d_ax_t[:, H : 2 * H])
    d_ax_t[:, 2 * H :] = da_n
    d_ah_t[:, : 2 * H] = d_ax_t[:, : 2 * H]
    np.multiply(da_n, r, out=d_ah_t[:, 2 * H :])
    np.multiply(dh, z, out=dh_direct)


class GRUCell(Cell):
    name = "gru"
    gate_names = ("r", "z", "n")
    num_gates = 3
    pointwise = Pointwise(forward_pointwise, backward_pointwise)
    num_states = 1
    separate_hidden_grads = True

    def act_widths(self, H: int) -> tuple[int, ...]:
        return (3 * H, H)

    def input_bias(self, w: Weights) -> np.ndarray | None:
        """b_ih for all gates, plus b_hh for r and z only: b_hn stays inside the reset product."""
        if w.b_ih is None:
            return None
        H = w.b_ih.shape[0] // 3
        bias = w.b_ih.copy()
        bias[: 2 * H] += w.b_hh[: 2 * H]
        return bias

    def step_forward(self, w: Weights, ax_t, state_prev, state_out, acts_out) -> None:
        """ax_t (N, 3H), state_prev (h_prev,) -> (h,) into state_out (N, H); saves the
        activated r, z, n (N, 3H) and hn = h_prev W_hn^T + b_hn (N, H) into acts_out."""
        (h_prev,), (h,), (gates, hn) = state_prev, state_out, acts_out
        H = h.shape[1]
        np.matmul(h_prev, w.W_hh.T, out=gates)  # (N, 3H): hidden side of r, z, n
        b_hn = w.b_hh[2 * H :] if w.b_hh is not None else np.zeros(H, dtype=h.dtype)
        self.pointwise.forward(gates, ax_t, b_hn, h_prev, hn, h)

    def step_backward(self, w: Weights, d_state, state_prev, state_t, acts_t, d_ax_t, d_ah_t):
        """d_state (dh,), state_prev (h_prev,), acts_t (gates, hn) -> the input-side and
        hidden-side gate gradients into d_ax_t and d_ah_t (N, 3H); returns (dh_prev,) (N, H)."""
        (dh,), (h_prev,), (gates, hn) = d_state, state_prev, acts_t
        dh_prev = np.empty_like(dh)  # (N, H): dh * z first, then + d_ah W_hh
        self.pointwise.backward(dh, gates, hn, h_prev, d_ax_t, d_ah_t, dh_prev)
        dh_prev += d_ah_t @ w.W_hh
        return (dh_prev,)
