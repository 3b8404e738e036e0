"""The RMSprop update rule, as torch.optim.RMSprop; notation and saving in ``bptt.optim``."""

from __future__ import annotations

import numpy as np

from bptt.optim.optimizer import Optimizer, _flag, _number


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop: divide by a running RMS of the gradient.

        g <- g + wd * theta                                  if wd != 0
        v <- alpha * v + (1 - alpha) * g^2
        centered:  g_avg <- alpha * g_avg + (1 - alpha) * g,    avg = sqrt(v - g_avg^2) + eps
        else:                                                   avg = sqrt(v) + eps
        momentum > 0:  b <- momentum * b + g / avg,    theta <- theta - lr * b
        else:                                          theta <- theta - lr * g / avg

    State: ``square_avg``, ``grad_avg`` (centered), ``momentum_buffer`` (momentum > 0).
    """

    hyperparameter_names = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        self.alpha = _number("alpha", alpha)
        self.eps = _number("eps", eps)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.momentum = _number("momentum", momentum)
        self.centered = _flag("centered", centered)
        state_init = {"square_avg": 0.0}
        if self.centered:
            state_init["grad_avg"] = 0.0
        if self.momentum > 0:
            state_init["momentum_buffer"] = 0.0
        super().__init__(params, lr, state_init)

    def _update(self, theta, g, state, t):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        if self.centered:
            g_avg = state["grad_avg"]
            g_avg += (1 - self.alpha) * (g - g_avg)  # torch's lerp form of the running mean
            avg = np.sqrt(v - g_avg * g_avg)
        else:
            avg = np.sqrt(v)
        avg += self.eps
        if self.momentum > 0:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += g / avg
            theta -= self.lr * b
        else:
            theta -= self.lr * (g / avg)
