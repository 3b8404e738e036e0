"""Learning-rate schedules — pure functions of the optimizer step count.

A schedule is a small frozen dataclass. Called with t, the number of optimizer steps already
taken (0 before the first), it returns the lr for the next step; it keeps no state, so
resuming a run needs nothing but the step count:

    for t in range(num_steps):
        optimizer.lr = schedule(t)
        optimizer.step(grads)

    ConstantLR      lr_t = lr
    StepLR          lr_t = lr * gamma ** floor(t / step_size)
    ExponentialLR   lr_t = lr * gamma ** t
    CosineWarmup    lr_t = lr * (t + 1) / (W + 1)                               t <  W
                    lr_t = min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,       W <= t <= T
                           with p = (t - W) / (T - W)
                    lr_t = min_lr                                                t >  T

(W = warmup_steps, T = total_steps.) StepLR and ExponentialLR give the values of
torch.optim.lr_scheduler.StepLR / ExponentialLR stepped once per optimizer step (those multiply
the lr step by step; the closed forms here agree to rounding). ``ConstantLR`` is NOT torch's
ConstantLR (which scales the lr by a factor for a first few steps): it is simply constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bptt.checks import is_integer


def _check_number(name: str, value, low: float, low_open: bool = False) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    ok = math.isfinite(value) and (value > low if low_open else value >= low)
    if not ok:
        raise ValueError(
            f"{name}: expected a finite number {'>' if low_open else '>='} {low}, got {value}"
        )


def _check_int(name: str, value, low: int) -> None:
    if not is_integer(value):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")


class Schedule:
    """Base: ``schedule(t) -> lr`` for t = 0, 1, 2, ... optimizer steps taken."""

    def __call__(self, step: int) -> float:
        _check_int("step", step, 0)
        return float(self._lr_at(int(step)))

    def _lr_at(self, t: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class ConstantLR(Schedule):
    """lr_t = lr."""

    lr: float

    def __post_init__(self) -> None:
        _check_number("lr", self.lr, 0.0)

    def _lr_at(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepLR(Schedule):
    """lr_t = lr * gamma ** floor(t / step_size): multiply by gamma every step_size steps."""

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _check_number("lr", self.lr, 0.0)
        _check_int("step_size", self.step_size, 1)
        _check_number("gamma", self.gamma, 0.0, low_open=True)

    def _lr_at(self, t: int) -> float:
        return self.lr * self.gamma ** (t // self.step_size)


@dataclass(frozen=True)
class ExponentialLR(Schedule):
    """lr_t = lr * gamma ** t."""

    lr: float
    gamma: float

    def __post_init__(self) -> None:
        _check_number("lr", self.lr, 0.0)
        _check_number("gamma", self.gamma, 0.0, low_open=True)

    def _lr_at(self, t: int) -> float:
        return self.lr * self.gamma**t


@dataclass(frozen=True)
class CosineWarmup(Schedule):
    """Linear warm-up to lr at step warmup_steps, cosine down to min_lr at total_steps, then flat.

    The warm-up starts at lr / (warmup_steps + 1) rather than 0, so no step is wasted.
    """

    lr: float
    total_steps: int
    warmup_steps: int = 0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        _check_number("lr", self.lr, 0.0)
        _check_int("total_steps", self.total_steps, 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        if self.warmup_steps >= self.total_steps:
            raise ValueError(
                f"warmup_steps: expected fewer than total_steps={self.total_steps}, "
                f"got {self.warmup_steps}"
            )
        _check_number("min_lr", self.min_lr, 0.0)
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr: expected at most lr={self.lr}, got {self.min_lr}")

    def _lr_at(self, t: int) -> float:
        W, T = self.warmup_steps, self.total_steps
        if t < W:
            return self.lr * (t + 1) / (W + 1)
        p = min(1.0, (t - W) / (T - W))
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": ConstantLR,
    "step": StepLR,
    "exponential": ExponentialLR,
    "cosine_warmup": CosineWarmup,
}


def make_schedule(name: str, lr: float, **kwargs) -> Schedule:
    """``make_schedule("cosine_warmup", 1e-3, total_steps=1000, warmup_steps=100)``."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](lr, **kwargs)
