"""The engine: one step of each cell, the time loop, the layers, losses and models.

    cells/         the math of ONE step (RNN, LSTM, GRU), the cell contract, ``CELLS``
    kernels/       optional fused numba loops for the LSTM's and GRU's elementwise step
    functional.py  sigmoid, tanh, relu and their derivatives from saved outputs; log-softmax
    memory_plan.py ``memory_plan``: which states to keep under a memory budget (Gruslys et
                   al.'s dynamic program, every-k checkpointing) and what it costs
    recompute.py   the time loop under a plan: checkpoints forward, recomputation backward
    scan.py        the one time loop: BPTT for one layer and direction, blocks, ragged
                   lengths, the per-step ``Tape``
    recurrent.py   ``Recurrent`` and ``RNN``, ``LSTM``, ``GRU``: PyTorch's arguments, names and
                   init; stacking, directions, dropout, ``batch_first``; ``make_recurrent``
    layers.py      ``Linear``, ``Embedding``
    losses.py      ``softmax_cross_entropy``, ``mean_squared_error``, the sigmoid losses of
                   bits: ``(loss, d_input)``, reduction "mean" or "sum"
    init.py        ``init_params`` (torch, uniform, normal), ``set_forget_bias``
    heads.py       ``HEADS``: softmax, sigmoid_mse, sigmoid_bce (a loss and the labels)
    models.py      ``Batch`` and the sequence models with one flat parameter dict

Forward returns ``(out, cache)``, backward takes ``(d_out, cache)``; nothing is kept on an
object between the two. The engine needs NumPy alone.
"""

from bptt.nn import functional as functional
from bptt.nn import scan as scan
from bptt.nn.cells import ALIASES as ALIASES
from bptt.nn.cells import CELLS as CELLS
from bptt.nn.cells import GATE_NAMES as GATE_NAMES
from bptt.nn.cells import Cell as Cell
from bptt.nn.cells import GRUCell as GRUCell
from bptt.nn.cells import LSTMCell as LSTMCell
from bptt.nn.cells import RNNCell as RNNCell
from bptt.nn.cells import Weights as Weights
from bptt.nn.cells import cell_name as cell_name
from bptt.nn.cells import make_cell as make_cell
from bptt.nn.directions import direction_name as direction_name
from bptt.nn.directions import direction_names as direction_names
from bptt.nn.heads import HEADS as HEADS
from bptt.nn.init import INITS as INITS
from bptt.nn.init import init_params as init_params
from bptt.nn.init import set_forget_bias as set_forget_bias
from bptt.nn.kernels import BACKENDS as BACKENDS
from bptt.nn.kernels import numba_available as numba_available
from bptt.nn.kernels import resolve_backend as resolve_backend
from bptt.nn.layers import Embedding as Embedding
from bptt.nn.layers import Linear as Linear
from bptt.nn.losses import REDUCTIONS as REDUCTIONS
from bptt.nn.losses import mean_squared_error as mean_squared_error
from bptt.nn.losses import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from bptt.nn.losses import sigmoid_squared_error as sigmoid_squared_error
from bptt.nn.losses import softmax_cross_entropy as softmax_cross_entropy
from bptt.nn.memory_plan import MemoryPlan as MemoryPlan
from bptt.nn.memory_plan import every_k_plan as every_k_plan
from bptt.nn.memory_plan import memory_plan as memory_plan
from bptt.nn.memory_plan import minimum_budget as minimum_budget
from bptt.nn.models import Batch as Batch
from bptt.nn.models import Model as Model
from bptt.nn.models import SequenceClassifier as SequenceClassifier
from bptt.nn.models import SequenceRegressor as SequenceRegressor
from bptt.nn.models import SequenceTagger as SequenceTagger
from bptt.nn.recurrent import GRU as GRU
from bptt.nn.recurrent import LSTM as LSTM
from bptt.nn.recurrent import RNN as RNN
from bptt.nn.recurrent import Recurrent as Recurrent
from bptt.nn.recurrent import RecurrentCache as RecurrentCache
from bptt.nn.recurrent import make_recurrent as make_recurrent
from bptt.nn.scan import ScanCache as ScanCache
from bptt.nn.scan import Tape as Tape
from bptt.nn.scan import reverse_time as reverse_time
