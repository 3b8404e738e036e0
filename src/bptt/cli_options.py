"""Options of ``bptt train``: built-in defaults, the task's defaults, a TOML file, the flags.

    resolved = defaults < TASK_DEFAULTS[task] < --config FILE.toml < flags given

Every option has one name (the TrainConfig field, the model option or the task option); the
flag is that name with dashes, the TOML key that name with underscores.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from pathlib import Path

MODEL_OPTIONS = {
    "cell": ("lstm", "recurrent cell: rnn_tanh, rnn_relu, lstm or gru"),
    "hidden_size": (128, "hidden units per layer and direction"),
    "num_layers": (1, "stacked recurrent layers"),
    "bidirectional": (False, "read the sequence in both directions"),
    "dropout": (0.0, "dropout between recurrent layers, in training only"),
    "dtype": ("float32", "float32 or float64"),
    "backend": (
        "auto",
        "elementwise kernels of LSTM and GRU: numpy, numba (fused; needs "
        "numba), or auto (numba for float32 when installed)",
    ),
    "batch_size": (64, "sequences per minibatch"),
}
TASKS = ("addition", "adding", "copy", "mnist", "text")
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class UsageError(Exception):
    """Bad arguments: reported on one line, exit status 2."""


def train_options() -> dict:
    from bptt.train import TrainConfig

    helps = {
        "epochs": "passes over the training set",
        "max_steps": "stop after this many optimizer steps (0: no limit)",
        "optimizer": "sgd, adagrad, rmsprop, adam or adamw",
        "lr": "learning rate (the peak rate with a schedule)",
        "weight_decay": "L2 penalty (decoupled for adamw)",
        "momentum": "momentum for sgd and rmsprop",
        "schedule": "constant, step, exponential or cosine_warmup",
        "warmup_steps": "linear warm-up steps of cosine_warmup",
        "step_size": "steps between decays of the step schedule",
        "gamma": "decay factor of the step and exponential schedules",
        "min_lr": "final learning rate of cosine_warmup",
        "clip_norm": "clip the global gradient norm to this (0: off)",
        "clip_value": "clip every gradient entry to +-this (0: off)",
        "k1": "truncated BPTT: new steps per update (0: whole batch)",
        "k2": "truncated BPTT: steps backpropagated through, >= k1 (0: k1)",
        "eval_every": "optimizer steps between evaluations (0: once per epoch)",
        "early_stopping_metric": "validation metric for the best model: loss or accuracy",
        "patience": "evaluations without improvement before stopping (0: never stop)",
        "seed": "seed of data, initialisation, shuffling and dropout",
        "keep_checkpoints": "checkpoints kept in the run directory",
        "diagnostics_every": "record the gradient flow (dL/dh_t norms over t, gradient norms, "
        "update ratios) in metrics.jsonl every N optimizer steps; --diagnostics N for short "
        "(0: off)",
    }
    out = {}
    for f in dataclasses.fields(TrainConfig):
        # An off-by-None field is shown as 0; its type must stay float where the field is one,
        # or --clip-norm 0.5 would be refused as "invalid int value".
        off = 0.0 if str(f.type).startswith("float") else 0
        default = f.default if f.default is not None else off
        out[f.name] = (default, helps[f.name])
    return out


def all_options() -> dict:
    from bptt.tasks import TASK_OPTIONS

    return {**MODEL_OPTIONS, **train_options(), **TASK_OPTIONS}


def resolve_options(task: str, args: argparse.Namespace) -> dict:
    """Defaults < the task's defaults < the TOML file < flags given on the command line."""
    from bptt.tasks import TASK_DEFAULTS

    options = {name: default for name, (default, _) in all_options().items()}
    options.update(TASK_DEFAULTS[task])
    if args.config is not None:
        options.update(load_toml(args.config, options))
    given = {k: v for k, v in vars(args).items() if k in options and v is not None}
    options.update(given)
    return options


def load_toml(path: Path, known: dict) -> dict:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config: {path} is not valid TOML: {e}") from None
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"--config: unknown keys in {path}: {', '.join(unknown)}")
    for key, value in values.items():
        # an integer is a fine float (lr = 1), but a bool is not a number here (lr = true)
        if isinstance(known[key], float) and type(value) is int:
            values[key] = value = float(value)
        if type(value) is not type(known[key]):
            raise UsageError(
                f"--config: {key} in {path}: expected {type(known[key]).__name__}, got {value!r}"
            )
    return values


def train_config(options: dict):
    from bptt.train import TrainConfig

    values = {}
    for f in dataclasses.fields(TrainConfig):
        v = options.get(f.name, f.default)  # a run saved before the field existed
        values[f.name] = None if f.default is None and v == 0 else v
    return TrainConfig(**values)
