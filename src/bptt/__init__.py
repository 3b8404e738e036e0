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

from bptt import data as data  # noqa: E402  (after __version__, which the subpackages may read)
from bptt import insight as insight  # noqa: E402
from bptt import nn as nn  # noqa: E402
from bptt import optim as optim  # noqa: E402
from bptt import tasks as tasks  # noqa: E402
from bptt import train as train  # noqa: E402
from bptt.nn import GRU as GRU  # noqa: E402
from bptt.nn import LSTM as LSTM  # noqa: E402
from bptt.nn import RNN as RNN  # noqa: E402
