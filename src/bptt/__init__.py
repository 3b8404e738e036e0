"""bptt: recurrent networks trained with backpropagation through time written out by hand."""

from bptt.stacked import GRU, LSTM, RNN, Recurrent, RecurrentCache

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "Recurrent", "RecurrentCache", "__version__"]
