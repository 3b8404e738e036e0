"""The Adagrad update rule, as torch.optim.Adagrad; notation and saving in ``bptt.optim``."""

from __future__ import annotations

import numpy as np

from bptt.optim.optimizer import Optimizer, _number


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad: each entry's step shrinks with its summed squared gradients.

        g <- g + wd * theta                                  if wd != 0
        lr_t = lr / (1 + (t - 1) * lr_decay)
        sum <- sum + g^2                  (sum starts at initial_accumulator_value)
        theta <- theta - lr_t * g / (sqrt(sum) + eps)
        theta <- theta - lr_t * g / sqrt(sum + eps)        with eps_inside_sqrt (min-char-rnn's
                                                           ``np.sqrt(mem + 1e-8)``)

    State: ``sum``.
    """

    hyperparameter_names = (
        "lr_decay",
        "weight_decay",
        "initial_accumulator_value",
        "eps",
        "eps_inside_sqrt",
    )

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        eps_inside_sqrt: bool = False,
    ) -> None:
        self.lr_decay = _number("lr_decay", lr_decay)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.initial_accumulator_value = _number(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = _number("eps", eps)
        if not isinstance(eps_inside_sqrt, bool):
            raise TypeError(f"eps_inside_sqrt: expected a bool, got {eps_inside_sqrt!r}")
        self.eps_inside_sqrt = eps_inside_sqrt
        super().__init__(params, lr, {"sum": self.initial_accumulator_value})

    def hyperparameters(self) -> dict:
        hp = super().hyperparameters()
        if not self.eps_inside_sqrt:  # torch's form: as saved before the option existed
            del hp["eps_inside_sqrt"]
        return hp

    def _update(self, theta, g, state, t):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        lr_t = self.lr / (1 + (t - 1) * self.lr_decay)
        state["sum"] += g * g
        if self.eps_inside_sqrt:
            std = np.sqrt(state["sum"] + self.eps)
        else:
            std = np.sqrt(state["sum"]) + self.eps
        theta -= lr_t * (g / std)
