"""bptt: recurrent networks trained with backpropagation through time written out by hand.

    bptt.nn        the engine: cells, the time loop, RNN / LSTM / GRU, layers, losses, models
    bptt.data      arrays: MNIST, text streams, synthetic tasks
    bptt.optim     optimizers, schedules, clipping (torch.optim's rules)
    bptt.train     the trainer, truncated BPTT, checkpoints, the flow monitor
    bptt.tasks     the classic tasks and run directories
    bptt.insight   gradient checks, per-step records, explain, plots, reports
    bptt.cli       the ``bptt`` command line

The layers are here too: ``bptt.RNN``, ``bptt.LSTM``, ``bptt.GRU`` are ``bptt.nn``'s.
"""

__version__ = "0.1.0"

from bptt import data, insight, nn, optim, tasks, train  # noqa: E402
from bptt.nn import GRU, LSTM, RNN  # noqa: E402

__all__ = ["GRU", "LSTM", "RNN", "data", "insight", "nn", "optim", "tasks", "train", "__version__"]
