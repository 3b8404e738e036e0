"""The cell contract: what every cell provides, and the parts all cells share.

A cell is the math of ONE time step, forward and backward. The time loop
(``bptt.nn.scan``) runs any cell over time without knowing which one it runs.

Shapes: T time steps, N batch, D input features, H hidden units, G gates; B steps of a block
(the time loop works in blocks of about 4 MiB of gate rows, ``bptt.nn.scan.block_steps``).

    project_inputs(w, xs)          xs (B, N, D) -> ax (B, N, G*H)    one GEMM per block of steps
    step_forward(w, ax_t, state_prev, state_out, acts_out)           one step, into buffers
    step_backward(w, d_state, state_prev, state_t, acts_t, d_ax_t, d_ah_t) -> d_state_prev
    weight_grads(w, xs, h_prevs, d_ax, d_ah) -> grads      one GEMM per weight and block
    input_grads(w, d_ax, out)                  d_xs (B, N, D) into out, one GEMM per block

``state`` is a tuple of (N, H) arrays: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM.
``acts`` is a tuple of (N, width) arrays the cell saves for its backward pass; their widths
are ``act_widths(H)``.

The elementwise half of a step lives in the cell's ``pointwise`` pair (forward, backward):
NumPy functions by default; ``bptt.nn.kernels.with_backend(cell, "numba")`` swaps in fused kernels.
``gate_names`` lists the gates in the order of the G blocks of every (N, G*H) array.

``d_ax_t`` is the gradient of the loss with respect to the input-side pre-activations of
step t, ``d_ah_t`` with respect to the hidden-side ones (``h_prev @ W_hh.T + b_hh``). They are
the same array for RNN and LSTM; GRU keeps two because its reset gate multiplies the hidden
side of the candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Weights(NamedTuple):
    """The four tensors of one layer and direction, under PyTorch's names and shapes."""

    W_ih: np.ndarray  # (G*H, D)
    W_hh: np.ndarray  # (G*H, H)
    b_ih: np.ndarray | None  # (G*H,)
    b_hh: np.ndarray | None  # (G*H,)


class Pointwise(NamedTuple):
    """The elementwise half of a cell's step: ``forward_pointwise`` and ``backward_pointwise``."""

    forward: Callable
    backward: Callable


class Cell:
    """Shared parts of the contract; subclasses define the step math."""

    name: str = ""
    num_gates: int = 1  # G
    gate_names: tuple[str, ...] = ()  # the G blocks of the gate arrays, in PyTorch's order
    num_states: int = 1  # 1 for (h,), 2 for (h, c)
    separate_hidden_grads: bool = False  # True when d_ah differs from d_ax (GRU)
    pointwise: Pointwise  # (forward_pointwise, backward_pointwise)

    def act_widths(self, H: int) -> tuple[int, ...]:
        """Widths of the per-step arrays saved for the backward pass."""
        return ()

    def input_bias(self, w: Weights) -> np.ndarray | None:
        """The bias added once to the input projection: both biases, for RNN and LSTM."""
        if w.b_ih is None:
            return None
        return w.b_ih + w.b_hh

    def project_inputs(self, w: Weights, xs: np.ndarray) -> np.ndarray:
        """Input half of every gate for the steps of xs as one matrix product: (T, N, G*H)."""
        T, N, D = xs.shape
        ax = xs.reshape(T * N, D) @ w.W_ih.T  # (T*N, G*H)
        bias = self.input_bias(w)
        if bias is not None:
            ax += bias
        return ax.reshape(T, N, -1)

    def step_forward(self, w, ax_t, state_prev, state_out, acts_out) -> None:
        """Forward pass of one time step, into preallocated buffers.

        - w: the layer's ``Weights``
        - ax_t: input half of the gates, x_t W_ih^T plus ``input_bias``, of shape (N, G*H)
        - state_prev: the state of step t-1, a tuple of (N, H) arrays (read only)
        - state_out: the tuple of (N, H) buffers that receive the state of step t
        - acts_out: the tuple of (N, width) buffers (``act_widths``) that receive what the
          backward pass needs from this step
        Returns nothing: everything is written into state_out and acts_out.
        """
        raise NotImplementedError

    def step_backward(self, w, d_state, state_prev, state_t, acts_t, d_ax_t, d_ah_t):
        """Backward pass of one time step.

        - w: the layer's ``Weights``
        - d_state: dL/d(state of step t), a tuple of (N, H) arrays: for h the error from the
          output at t plus the error sent back from step t+1
        - state_prev, state_t: the states of steps t-1 and t, tuples of (N, H) arrays
        - acts_t: what ``step_forward`` saved at step t, a tuple of (N, width) arrays
        - d_ax_t, d_ah_t: (N, G*H) buffers that receive the gate gradients of the input side
          and of the hidden side (the same array unless ``separate_hidden_grads``)
        Returns dL/d(state of step t-1) from this step, a tuple of (N, H) arrays.
        """
        raise NotImplementedError

    def weight_grads(
        self,
        w: Weights,
        xs: np.ndarray,
        h_prevs: np.ndarray,
        d_ax: np.ndarray,
        d_ah: np.ndarray,
    ) -> Weights:
        """Every step's contribution summed as one GEMM per weight.

        xs (T, N, D), h_prevs (T, N, H), d_ax and d_ah (T, N, G*H); T may be a block of steps.
        """
        T, N, D = xs.shape
        d_ax2 = d_ax.reshape(T * N, -1)  # (T*N, G*H)
        d_ah2 = d_ah.reshape(T * N, -1)  # (T*N, G*H)
        dW_ih = d_ax2.T @ xs.reshape(T * N, D)  # (G*H, D)
        dW_hh = d_ah2.T @ h_prevs.reshape(T * N, -1)  # (G*H, H)
        db_ih = db_hh = None
        if w.b_ih is not None:
            db_ih = d_ax2.sum(axis=0)
            db_hh = d_ah2.sum(axis=0) if d_ah is not d_ax else db_ih.copy()
        return Weights(dW_ih, dW_hh, db_ih, db_hh)

    def input_grads(self, w: Weights, d_ax: np.ndarray, out: np.ndarray) -> None:
        """dL/dx_t = d_ax[t] W_ih for every step, into out (T, N, D), a C-ordered block."""
        T, N, D = out.shape
        if not out.flags.c_contiguous:
            raise ValueError(
                f"out: expected a C-contiguous (T, N, D) array, got strides {out.strides}"
            )
        np.matmul(d_ax.reshape(T * N, -1), w.W_ih, out=out.reshape(T * N, D))
