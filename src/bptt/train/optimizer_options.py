"""``optimizer_kwargs``: the TrainConfig fields an optimizer takes, under its own names.

    sgd       weight_decay, momentum
    adagrad   weight_decay, eps, initial_accumulator_value (TrainConfig's initial_accumulator),
              eps_inside_sqrt
    rmsprop   weight_decay, momentum, eps
    adam(w)   weight_decay, eps

An eps of None (0 on the command line) leaves the optimizer's own default, torch's.
"""

from __future__ import annotations


def optimizer_kwargs(config) -> dict:
    """The keyword arguments of ``make_optimizer(config.optimizer, params, lr=...)``."""
    c = config
    kw = {"weight_decay": c.weight_decay}
    if c.optimizer in ("sgd", "rmsprop"):
        kw["momentum"] = c.momentum
    if c.optimizer != "sgd" and c.eps is not None:
        kw["eps"] = c.eps
    if c.optimizer == "adagrad":
        kw["initial_accumulator_value"] = c.initial_accumulator
        kw["eps_inside_sqrt"] = c.eps_inside_sqrt
    return kw
