"""Level 3: the public layers, with PyTorch's constructors: ``RNN``, ``LSTM``, ``GRU``.

Each is ``Recurrent`` (stacked layers and directions over the time loop, ``bptt.stacked``)
with its cell. The arguments and their order are ``torch.nn.RNN``'s, ``torch.nn.LSTM``'s and
``torch.nn.GRU``'s, plus keyword-only ``dtype``, ``rng`` and ``backend`` (see ``bptt.stacked``).
"""

from __future__ import annotations

import numpy as np

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.stacked import Recurrent


class RNN(Recurrent):
    """Elman RNN, h_t = tanh or relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); see the module doc."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        dtype=np.float32,
        rng=None,
        backend="auto",
    ):
        super().__init__(
            RNNCell(nonlinearity),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            rng=rng,
            backend=backend,
        )
        self.nonlinearity = nonlinearity


class LSTM(Recurrent):
    """Long short-term memory, gates i, f, g, o; state (h, c); see ``bptt.cells.lstm``."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        dtype=np.float32,
        rng=None,
        backend="auto",
    ):
        super().__init__(
            LSTMCell(),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            rng=rng,
            backend=backend,
        )


class GRU(Recurrent):
    """Gated recurrent unit, gates r, z, n (b_hn inside the reset product); see bptt.cells.gru."""

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        dtype=np.float32,
        rng=None,
        backend="auto",
    ):
        super().__init__(
            GRUCell(),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            rng=rng,
            backend=backend,
        )
