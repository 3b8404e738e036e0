"""The Adam update rule, as torch.optim.Adam; notation and saving in ``bptt.optim``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bptt.optim.optimizer import Optimizer, _flag, _number


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay added to the gradient, i.e. an L2 penalty).

        g <- g + wd * theta                                  if wd != 0
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v);  v <- v_max                  if amsgrad
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State: ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (v_max, amsgrad only).
    """

    hyperparameter_names = ("betas", "eps", "weight_decay", "amsgrad")
    fused_rule = "adam_update"
    decoupled_weight_decay = False

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _number("betas[0]", betas[0], 0.0, 1.0),
            _number("betas[1]", betas[1], 0.0, 1.0),
        )
        self.eps = _number("eps", eps)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.amsgrad = _flag("amsgrad", amsgrad)
        state_init = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.amsgrad:
            state_init["max_exp_avg_sq"] = 0.0
        super().__init__(params, lr, state_init)

    def _update(self, theta, g, state, t):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                theta *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * theta
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)  # torch's lerp form of the running mean
        v *= beta2
        v += (1 - beta2) * g * g
        if self.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + self.eps
        theta -= (self.lr / bias_correction1) * (m / denom)
