"""What a task is: a name, its default options, a function from options to data, a report.

    Task(name, defaults, load, report=None)
        defaults   model and training options the task sets under the user's own values
        load       (options, seed) -> TaskData: the three splits and the model that fits them
        report     (model, data) -> dict of extra test metrics (exact sums, ...), or None

    build_model(data, options, rng)      the TaskData's model class with the model options

A task is built from one flat options dict, so a run directory's ``config.json`` is enough to
rebuild its model for ``eval``, ``sample`` and ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bptt.data import Vocabulary
from bptt.nn import Model


@dataclass
class TaskData:
    """The splits (``bptt.train`` batch sources) and the model's shape; ``test`` is held out."""

    train: object
    validation: object
    test: object
    input_size: int
    output_size: int
    model: type[Model]  # SequenceClassifier, SequenceTagger or SequenceRegressor
    model_kwargs: dict = field(default_factory=dict)  # e.g. readout="last"
    vocab_size: int | None = None
    vocabulary: Vocabulary | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    name: str
    defaults: dict
    load: Callable[[dict, int], TaskData]
    report: Callable[[Model, TaskData], dict] | None = None


def split_synthetic(make, opts: dict, seed: int) -> tuple:
    """Train / validation / test draws from independent generators derived from the seed."""
    n_train, n_test = opts["train_size"], opts["test_size"]
    rngs = [np.random.default_rng([seed, 1000 + k]) for k in range(3)]
    return make(n_train, rngs[0]), make(max(n_test // 5, 1), rngs[1]), make(n_test, rngs[2])


# the model options added for porting classic programs; older runs' config.json lack them
PORTING_OPTIONS = (
    "output",
    "reduction",
    "bias",
    "init",
    "init_scale",
    "embedding_dropout",
    "output_dropout",
    "tie_weights",
)


def build_model(data: TaskData, opts: dict, rng: np.random.Generator) -> Model:
    """The model for a task's data, from the model options."""
    return data.model(
        opts["cell"],
        data.input_size,
        opts["hidden_size"],
        data.output_size,
        num_layers=opts["num_layers"],
        bidirectional=opts["bidirectional"],
        dropout=opts["dropout"],
        vocab_size=data.vocab_size,
        dtype=np.dtype(opts["dtype"]),
        rng=rng,
        backend=opts.get("backend", "auto"),  # runs saved before it existed have none
        **{k: opts[k] for k in PORTING_OPTIONS if k in opts},  # so have these
        forget_bias=opts.get("forget_bias") or None,
        memory_budget=opts.get("memory_budget") or None,  # "": full BPTT
        **data.model_kwargs,
    )
