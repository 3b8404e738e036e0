"""Level 6: optimizers — SGD, Adagrad, RMSprop, Adam, AdamW with torch.optim's update rules.

An optimizer holds a flat dict ``params`` (name -> array, the model's live arrays) and updates
it IN PLACE from a grads dict with exactly the same keys, shapes and dtypes:

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

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bptt.optim_base import Optimizer, _flag, _number

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "make_optimizer",
]


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


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad: each entry's step shrinks with its summed squared gradients.

        g <- g + wd * theta                                  if wd != 0
        lr_t = lr / (1 + (t - 1) * lr_decay)
        sum <- sum + g^2                  (sum starts at initial_accumulator_value)
        theta <- theta - lr_t * g / (sqrt(sum) + eps)

    State: ``sum``.
    """

    hyperparameter_names = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        self.lr_decay = _number("lr_decay", lr_decay)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.initial_accumulator_value = _number(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = _number("eps", eps)
        super().__init__(params, lr, {"sum": self.initial_accumulator_value})

    def _update(self, theta, g, state, t):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        lr_t = self.lr / (1 + (t - 1) * self.lr_decay)
        state["sum"] += g * g
        std = np.sqrt(state["sum"]) + self.eps
        theta -= lr_t * (g / std)


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


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: Adam with the weight decay decoupled from the gradient.

        theta <- theta * (1 - lr * wd)
        then Adam's update with wd = 0 (see ``Adam``).

    State: as Adam.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


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
