"""The math of ONE time step for each cell, forward and backward; the one registry of cells.

    base.py   the cell contract (project_inputs, step_forward, step_backward, weight_grads,
              input_grads), ``Weights`` and ``Pointwise``
    rnn.py    Elman RNN, tanh, relu or sigmoid: ``RNNCell``
    lstm.py   LSTM, gates i, f, g, o: ``LSTMCell``
    gru.py    GRU, gates r, z, n: ``GRUCell``

``CELLS`` maps every cell name the library, the command line and the tests use to a function
that makes the cell; ``ALIASES`` the other names accepted for them everywhere (``rnn`` is
``rnn_tanh``, torch's default nonlinearity), ``cell_name`` gives the one name of either;
``GATE_NAMES`` maps a gate count G to the gate names (read off the cells).
"""

from collections.abc import Callable

from bptt.nn.cells.base import Cell as Cell
from bptt.nn.cells.base import Pointwise as Pointwise
from bptt.nn.cells.base import Weights as Weights
from bptt.nn.cells.gru import GRUCell as GRUCell
from bptt.nn.cells.lstm import LSTMCell as LSTMCell
from bptt.nn.cells.rnn import RNNCell as RNNCell

CELLS: dict[str, Callable[[], Cell]] = {
    "rnn_tanh": lambda: RNNCell("tanh"),
    "rnn_relu": lambda: RNNCell("relu"),
    "rnn_sigmoid": lambda: RNNCell("sigmoid"),
    "lstm": LSTMCell,
    "gru": GRUCell,
}
ALIASES: dict[str, str] = {"rnn": "rnn_tanh"}
GATE_NAMES: dict[int, tuple[str, ...]] = {
    make().num_gates: make().gate_names for make in CELLS.values()
}


def cell_name(name: str) -> str:
    """A name of CELLS or ALIASES -> its name in CELLS ('rnn' -> 'rnn_tanh')."""
    name = ALIASES.get(name, name) if isinstance(name, str) else name
    if name not in CELLS:
        raise ValueError(f"cell: expected one of {(*CELLS, *ALIASES)}, got {name!r}")
    return name


def make_cell(name: str) -> Cell:
    """'rnn_tanh' (alias 'rnn') | 'rnn_relu' | 'rnn_sigmoid' | 'lstm' | 'gru' -> a new cell."""
    return CELLS[cell_name(name)]()
