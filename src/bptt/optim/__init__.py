"""Optimizers, learning-rate schedules and gradient clipping, with torch.optim's rules.

    optimizer.py   ``Optimizer``: the params, the lr, the per-parameter state, saving, loading
    sgd.py         ``SGD`` (momentum, Nesterov)
    adagrad.py     ``Adagrad``
    rmsprop.py     ``RMSprop`` (centered, momentum)
    adam.py        ``Adam`` (amsgrad)
    adamw.py       ``AdamW``
    fused.py       SGD's and Adam's (and AdamW's) rule as one numba loop per parameter, the
                   default when numba is installed (``opt.fused = False``: the NumPy rule)
    schedules.py   ``ConstantLR``, ``StepLR``, ``ExponentialLR``, ``CosineWarmup``: pure
                   functions of the step count; the ``SCHEDULES`` registry
    clip.py        ``global_norm``, ``clip_grad_norm``, ``clip_grad_value``

Everything here works over a flat dict of arrays and knows nothing of models. An optimizer
holds ``params`` (name -> array, the model's live arrays) and updates it IN PLACE from a grads
dict with exactly the same keys, shapes and dtypes:

    opt = Adam(model.params, lr=1e-3)
    for step in range(num_steps):
        opt.lr = schedule(step)        # optional: ``lr`` is a public, mutable attribute
        opt.step(grads)

Notation in the docstrings (every operation is elementwise, per parameter):

    theta  the parameter        g  its gradient        lr  the current learning rate
    t      the step number, 1 on the first step        wd  weight_decay

Shapes: every state array (momentum buffer, moment estimates, ...) has its parameter's shape
and dtype, so a float32 model keeps float32 state, as torch does.

Saving: ``state_dict()`` is ``{"meta": JSON-able dict, "arrays": {"<state>.<param>": array}}``,
e.g. ``"exp_avg.weight_ih_l0"``. Loading it into an optimizer built with the same class and
hyperparameters over the same params and stepping on is bit-for-bit the same as never stopping.
"""

import numpy as np

from bptt.optim.adagrad import Adagrad as Adagrad
from bptt.optim.adam import Adam as Adam
from bptt.optim.adamw import AdamW as AdamW
from bptt.optim.clip import clip_grad_norm as clip_grad_norm
from bptt.optim.clip import clip_grad_value as clip_grad_value
from bptt.optim.clip import global_norm as global_norm
from bptt.optim.optimizer import Optimizer as Optimizer
from bptt.optim.rmsprop import RMSprop as RMSprop
from bptt.optim.schedules import SCHEDULES as SCHEDULES
from bptt.optim.schedules import ConstantLR as ConstantLR
from bptt.optim.schedules import CosineWarmup as CosineWarmup
from bptt.optim.schedules import ExponentialLR as ExponentialLR
from bptt.optim.schedules import Schedule as Schedule
from bptt.optim.schedules import StepLR as StepLR
from bptt.optim.schedules import make_schedule as make_schedule
from bptt.optim.sgd import SGD as SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}


def make_optimizer(name: str, params: dict[str, np.ndarray], **kwargs) -> Optimizer:
    """``make_optimizer("adam", model.params, lr=1e-3)``; kwargs go to the class."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](params, **kwargs)
