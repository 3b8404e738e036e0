"""The explainer's binary addition: bits of a and b in, bits of a + b out, least significant
first (a tagger with 2 classes per step); the report counts exact sums on held-out pairs.

Shapes: T = bits steps, N pairs, D = 2 (one bit of a and one of b per step).
"""

from __future__ import annotations

import numpy as np

from bptt.data import binary_addition, bits_to_int, int_to_bits
from bptt.nn import Model, SequenceTagger
from bptt.tasks.task import Task, TaskData, split_synthetic
from bptt.train import ArrayBatches

DEFAULTS = {
    "cell": "rnn_tanh",
    "hidden_size": 16,
    "epochs": 20,
    "batch_size": 32,
    "lr": 0.01,
    "train_size": 4000,
    "test_size": 10000,
}


def load(opts: dict, seed: int) -> TaskData:
    bits, dtype = opts["bits"], np.dtype(opts.get("dtype", "float32"))
    parts = split_synthetic(lambda n, r: binary_addition(n, r, bits, dtype), opts, seed)
    sets = [
        ArrayBatches(xs, ys, opts["batch_size"], per_step_targets=True) for xs, ys, _, _ in parts
    ]
    return TaskData(
        *sets, input_size=2, output_size=2, model=SequenceTagger, extra={"test_pairs": parts[2]}
    )


def report(model: Model, data: TaskData) -> dict:
    """Exact sums: the share of held-out pairs whose every output bit is right."""
    xs, ys, a, b = data.extra["test_pairs"]
    model.eval()
    logits, _ = model.logits(xs.astype(model.dtype))
    predicted = bits_to_int(logits.argmax(axis=2))  # (N,)
    return {"exact_sums": float((predicted == a + b).mean()), "pairs": int(len(a))}


def predict_sum(model: Model, a: int, b: int, bits: int) -> int:
    """Run the trained adder on one pair of integers."""
    limit = 2 ** (bits - 1)
    for name, v in (("a", a), ("b", b)):
        if not 0 <= v < limit:
            raise ValueError(
                f"{name}: expected an integer in [0, {limit}) for a model trained "
                f"on {bits} bits, got {v}"
            )
    xs = np.stack([int_to_bits(np.array([a]), bits), int_to_bits(np.array([b]), bits)], axis=-1)
    logits, _ = model.eval().logits(xs.astype(model.dtype))  # (T, 1, 2)
    return int(bits_to_int(logits.argmax(axis=2))[0])


TASK = Task("addition", DEFAULTS, load, report)
