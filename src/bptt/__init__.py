"""bptt: recurrent networks trained with backpropagation through time written out by hand."""

from bptt.recurrent_layers import GRU, LSTM, RNN
from bptt.stacked import Recurrent, RecurrentCache

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "Recurrent", "RecurrentCache", "__version__"]
