"""``TrainConfig``: every training option, its default and its help text in one place.

Each field is an option of ``bptt train`` (the flag is its name with dashes, the TOML key its
name); its help lives in the field's metadata, so the command line reads it from here. A field
whose default is None is "off", shown and given as 0 on the command line:

    option_table()            name -> (default as the command line shows it, help)
    TrainConfig.from_options  a resolved options dict (0 meaning off) -> TrainConfig
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from bptt.checks import check_nonnegative_int, check_positive_int, is_integer


def _finite(value, low: float) -> bool:
    """A real number (not a bool) that is finite and above ``low``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return ok and math.isfinite(value) and value > low


def _option(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _option(10, "passes over the training set")
    max_steps: int | None = _option(None, "stop after this many optimizer steps (0: no limit)")
    optimizer: str = _option("adam", "sgd, adagrad, rmsprop, adam or adamw")
    lr: float = _option(1e-3, "learning rate (the peak rate with a schedule)")
    weight_decay: float = _option(0.0, "L2 penalty (decoupled for adamw)")
    momentum: float = _option(0.0, "momentum for sgd and rmsprop")
    eps: float | None = _option(
        None, "eps of adagrad, rmsprop, adam and adamw (0: each one's torch default)"
    )
    initial_accumulator: float = _option(0.0, "adagrad: the starting value of the squares' sum")
    eps_inside_sqrt: bool = _option(
        False,
        "adagrad: g / sqrt(sum + eps), min-char-rnn's form (default: torch's sqrt(sum) + eps)",
    )
    schedule: str = _option("constant", "constant, step, exponential or cosine_warmup")
    warmup_steps: int = _option(
        0, "linear warm-up steps of cosine_warmup"
    )  # capped below the total
    step_size: int = _option(1000, "steps between decays of the step schedule")
    gamma: float = _option(0.5, "decay factor of the step and exponential schedules")
    min_lr: float = _option(0.0, "final learning rate of cosine_warmup")
    clip_norm: float | None = _option(None, "clip the global gradient norm to this (0: off)")
    clip_value: float | None = _option(None, "clip every gradient entry to +-this (0: off)")
    k1: int | None = _option(None, "truncated BPTT: new steps per update (0: whole batch)")
    k2: int | None = _option(None, "truncated BPTT: steps backpropagated through, >= k1 (0: k1)")
    eval_every: int | None = _option(
        None, "optimizer steps between evaluations (0: once per epoch)"
    )
    early_stopping_metric: str = _option(
        "loss", "validation metric for the best model: loss or accuracy"
    )
    patience: int | None = _option(
        None, "evaluations without improvement before stopping (0: never stop)"
    )
    seed: int = _option(0, "seed of data, initialisation, shuffling and dropout")
    keep_checkpoints: int = _option(3, "checkpoints kept in the run directory")
    diagnostics_every: int | None = _option(
        None,
        "record the gradient flow (dL/dh_t norms over t, gradient norms, update ratios) in "
        "metrics.jsonl every N optimizer steps; --diagnostics N for short (0: off)",
    )

    divergence_factor: float = _option(
        100.0,
        "stop with an error when a training loss exceeds this many times the run's best "
        "loss so far (and its first loss too) (0: off)",
    )

    def __post_init__(self):
        if self.early_stopping_metric not in ("loss", "accuracy"):
            raise ValueError(
                "early_stopping_metric: expected 'loss' or 'accuracy', "
                f"got {self.early_stopping_metric!r}"
            )
        check_positive_int("epochs", self.epochs)
        check_positive_int("keep_checkpoints", self.keep_checkpoints)
        check_positive_int("step_size", self.step_size)
        check_nonnegative_int("seed", self.seed)  # numpy's generators take no other
        if not is_integer(self.warmup_steps) or self.warmup_steps < 0:  # checked with any schedule
            raise ValueError(f"warmup_steps: expected an integer >= 0, got {self.warmup_steps!r}")
        for name in ("max_steps", "k1", "k2", "eval_every", "patience", "diagnostics_every"):
            value = getattr(self, name)
            if value is not None and (not is_integer(value) or value < 0):
                raise ValueError(f"{name}: expected an integer >= 0 (0: off), got {value!r}")
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and not _finite(value, 0.0):
                raise ValueError(f"{name}: expected a finite number > 0 (0: off), got {value!r}")
        if not _finite(self.lr, 0.0):
            raise ValueError(f"lr: expected a finite number > 0, got {self.lr!r}")
        for name in ("weight_decay", "momentum", "min_lr", "initial_accumulator"):
            value = getattr(self, name)
            if not (_finite(value, 0.0) or value == 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
        if not (_finite(self.divergence_factor, 1.0) or self.divergence_factor == 0):
            raise ValueError(
                f"divergence_factor: expected a finite number > 1 (0: off), "
                f"got {self.divergence_factor!r}"
            )

    @classmethod
    def from_options(cls, options: dict) -> TrainConfig:
        """The config of a resolved options dict: 0 turns an off-by-None field off, and a
        field missing from ``options`` (a run saved before it existed) takes its default."""
        values = {}
        for f in dataclasses.fields(cls):
            v = options.get(f.name, f.default)
            values[f.name] = None if f.default is None and v == 0 else v
        return cls(**values)


def option_table() -> dict[str, tuple[object, str]]:
    """name -> (default, help) of every field; an off-by-None field shows 0 (0.0 for a float,
    so that --clip-norm 0.5 parses as a float)."""
    out = {}
    for f in dataclasses.fields(TrainConfig):
        off = 0.0 if str(f.type).startswith("float") else 0
        out[f.name] = (f.default if f.default is not None else off, f.metadata["help"])
    return out
