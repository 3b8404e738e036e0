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

import json
import math
from collections.abc import Sequence

import numpy as np

from bptt.validation import FLOAT_DTYPES


def _number(name: str, value, low: float = 0.0, high: float | None = None) -> float:
    """A finite real number in [low, high) (or [low, inf) when high is None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    in_range = math.isfinite(value) and low <= value and (high is None or value < high)
    if not in_range:
        expected = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected a finite number {expected}, got {value}")
    return value


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_params(params) -> dict[str, np.ndarray]:
    if not isinstance(params, dict):
        raise TypeError(
            f"params: expected a dict name -> numpy.ndarray, got {type(params).__name__}"
        )
    if not params:
        raise ValueError("params: expected at least one parameter, got an empty dict")
    problems = []
    for name, theta in params.items():
        if not isinstance(name, str):
            problems.append(f"key {name!r}: expected a str name, got {type(name).__name__}")
        elif not isinstance(theta, np.ndarray):
            problems.append(f"{name!r}: expected numpy.ndarray, got {type(theta).__name__}")
        elif theta.dtype not in FLOAT_DTYPES:
            problems.append(f"{name!r}: expected dtype float32 or float64, got {theta.dtype}")
        elif not theta.flags.writeable:
            problems.append(f"{name!r}: expected a writeable array (it is updated in place)")
    if problems:
        raise TypeError("params: " + "; ".join(problems))
    return dict(params)  # our own key set; the arrays stay the caller's live ones


def _array_problems(expected: dict[str, np.ndarray], got: dict, what: str) -> list[str]:
    """Every way ``got`` fails to have exactly ``expected``'s keys, shapes and dtypes."""
    problems = [f"missing {what} {k!r}" for k in expected if k not in got]
    problems += [f"unexpected {what} {k!r}" for k in got if k not in expected]
    for key, target in expected.items():
        value = got.get(key)
        if value is None:
            continue
        if not isinstance(value, np.ndarray):
            problems.append(f"{key!r}: expected numpy.ndarray, got {type(value).__name__}")
        elif value.shape != target.shape:
            problems.append(f"{key!r}: expected shape {target.shape}, got {value.shape}")
        elif value.dtype != target.dtype:
            problems.append(f"{key!r}: expected dtype {target.dtype}, got {value.dtype}")
    return problems


def _json_normal(value):
    """What a value becomes after a JSON round trip (tuples turn into lists)."""
    return json.loads(json.dumps(value))


class Optimizer:
    """Base: the params, the lr, the step count and the per-parameter state arrays.

    A subclass validates its hyperparameters, says which state arrays it keeps (and their
    initial value) through ``super().__init__``, and writes its update rule in ``_update``.
    """

    def __init__(
        self, params: dict[str, np.ndarray], lr: float, state_init: dict[str, float]
    ) -> None:
        self.params = _check_params(params)
        self.lr = lr
        self.step_count = 0
        # state[state_name][param_name], allocated up front so state_dict() has fixed keys
        self.state = {
            s: {name: np.full_like(theta, value) for name, theta in self.params.items()}
            for s, value in state_init.items()
        }

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _number("lr", value)

    hyperparameter_names: tuple[str, ...] = ()  # the attributes that, with lr, fix the update

    def hyperparameters(self) -> dict:
        """Everything but lr that fixes the update rule, JSON-able."""
        return _json_normal({name: getattr(self, name) for name in self.hyperparameter_names})

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict, t: int) -> None:
        """Update one parameter in place; ``state`` maps state name -> this parameter's array."""
        raise NotImplementedError

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """One update of every parameter from ``grads`` (which is never modified)."""
        self._check_grads(grads)
        self.step_count += 1
        for name, theta in self.params.items():
            state = {s: arrays[name] for s, arrays in self.state.items()}
            self._update(theta, grads[name], state, self.step_count)

    def _check_grads(self, grads) -> None:
        if not isinstance(grads, dict):
            raise TypeError(
                f"grads: expected a dict name -> numpy.ndarray, got {type(grads).__name__}"
            )
        problems = _array_problems(self.params, grads, "gradient")
        if problems:
            raise ValueError("grads do not match params: " + "; ".join(problems))

    def state_dict(self) -> dict:
        """``{"meta": {class, hyperparameters, lr, step}, "arrays": {"<state>.<param>": copy}}``."""
        meta = {
            "class": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "lr": self.lr,
            "step": self.step_count,
        }
        arrays = {
            f"{s}.{name}": a.copy()
            for s, per_param in self.state.items()
            for name, a in per_param.items()
        }
        return {"meta": meta, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        """Restore lr, step count and state arrays (copied in place); all problems reported at once.

        The saved class and hyperparameters must equal this optimizer's: build the optimizer
        from the same config, then load. Nothing changes unless everything checks out.
        """
        if not isinstance(state, dict) or set(state) != {"meta", "arrays"}:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"load_state_dict: expected a dict with keys ['arrays', 'meta'], got {got}"
            )
        meta, arrays = state["meta"], state["arrays"]
        if not isinstance(meta, dict) or not isinstance(arrays, dict):
            raise TypeError(
                "load_state_dict: expected dicts under 'meta' and 'arrays', got "
                f"{type(meta).__name__} and {type(arrays).__name__}"
            )
        problems = []
        if meta.get("class") != type(self).__name__:
            problems.append(f"class: expected {type(self).__name__!r}, got {meta.get('class')!r}")
        saved_hp, mine = meta.get("hyperparameters", {}), self.hyperparameters()
        for key in sorted(set(saved_hp) | set(mine)):
            if saved_hp.get(key) != mine.get(key):
                problems.append(
                    f"hyperparameter {key!r}: this optimizer has {mine.get(key)!r}, "
                    f"the saved state {saved_hp.get(key)!r}"
                )
        step, lr = meta.get("step"), meta.get("lr")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            problems.append(f"step: expected a non-negative int, got {step!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf:
            problems.append(f"lr: expected a finite number >= 0, got {lr!r}")
        targets = {
            f"{s}.{n}": a for s, per_param in self.state.items() for n, a in per_param.items()
        }
        problems += _array_problems(targets, arrays, "array")
        if problems:
            raise ValueError("load_state_dict: " + "; ".join(problems))
        for key, target in targets.items():
            np.copyto(target, arrays[key])
        self.step_count = step
        self.lr = lr


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
