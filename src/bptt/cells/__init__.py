"""Level 2: the equations of one time step for each cell, forward and backward."""

from bptt.cells.base import Cell, Weights
from bptt.cells.gru import GRUCell
from bptt.cells.lstm import LSTMCell
from bptt.cells.rnn import RNNCell

__all__ = ["Cell", "Weights", "RNNCell", "LSTMCell", "GRUCell"]
