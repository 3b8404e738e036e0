"""The SGD update rule, as torch.optim.SGD; notation and saving in ``bptt.optim``."""

from __future__ import annotations

import numpy as np

from bptt.optim.optimizer import Optimizer, _flag, _number


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD.

        g <- g + wd * theta                                  if wd != 0
        b <- g                          on step 1            if momentum != 0
        b <- momentum * b + (1 - dampening) * g   after
        g <- g + momentum * b   if nesterov, else   g <- b
        theta <- theta - lr * g

    State: ``momentum_buffer`` (only when momentum != 0).
    """

    hyperparameter_names = ("momentum", "dampening", "nesterov", "weight_decay")
    fused_rule = "sgd_update"

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.momentum = _number("momentum", momentum)
        self.dampening = _number("dampening", dampening)
        self.nesterov = _flag("nesterov", nesterov)
        self.weight_decay = _number("weight_decay", weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov: Nesterov momentum needs momentum > 0 and dampening == 0, "
                f"got momentum={self.momentum} and dampening={self.dampening}"
            )
        super().__init__(params, lr, {"momentum_buffer": 0.0} if self.momentum != 0 else {})

    def _update(self, theta, g, state, t):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        if self.momentum != 0:
            b = state["momentum_buffer"]
            if t == 1:
                b[...] = g
            else:
                b *= self.momentum
                b += (1 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        theta -= self.lr * g
