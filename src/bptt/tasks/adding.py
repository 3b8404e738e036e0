"""The adding problem of length T: the sum of the two marked numbers of a sequence, read out
at the last step (a regressor, mean squared error).

Shapes: T = length steps, N sequences, D = 2 (a value and its marker).
"""

from __future__ import annotations

import numpy as np

from bptt.data import adding_problem
from bptt.nn import SequenceRegressor
from bptt.tasks.task import Task, TaskData, split_synthetic
from bptt.train import ArrayBatches

DEFAULTS = {
    "cell": "lstm",
    "hidden_size": 128,
    "epochs": 10,
    "batch_size": 64,
    "lr": 1e-2,
    "train_size": 20000,
    "test_size": 2000,
    "clip_norm": 1.0,
}


def load(opts: dict, seed: int) -> TaskData:
    dtype = np.dtype(opts.get("dtype", "float32"))
    parts = split_synthetic(lambda n, r: adding_problem(n, opts["length"], r, dtype), opts, seed)
    sets = [ArrayBatches(xs, ys[:, None], opts["batch_size"]) for xs, ys in parts]
    return TaskData(
        *sets,
        input_size=2,
        output_size=1,
        model=SequenceRegressor,
        model_kwargs={"readout": "last"},
    )


TASK = Task("adding", DEFAULTS, load)
