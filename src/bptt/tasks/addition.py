"""The explainer's binary addition: bits of a and b in, bits of a + b out, least significant
first (a tagger with 2 classes per step); the report counts exact sums on held-out pairs.

Held out means never trained on: the validation pairs are drawn from the pairs outside the
training set, the test pairs from those outside both (``binary_addition(..., exclude=)``), so
the three splits share no pair (of the 16,384 at 8 bits). Each split may repeat a pair within
itself (every draw is uniform, as the explainer's training stream); the report says how many
distinct pairs each split has.

Shapes: T = bits steps, N pairs, D = 2 (one bit of a and one of b per step).
"""

from __future__ import annotations

import numpy as np

from bptt.data import binary_addition, bits_to_int, int_to_bits, pair_codes
from bptt.nn import Model, SequenceTagger
from bptt.tasks.task import Task, TaskData
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
    parts, seen = [], np.empty(0, dtype=np.int64)  # pair codes of the splits drawn so far
    sizes = (opts["train_size"], max(opts["test_size"] // 5, 1), opts["test_size"])
    for k, n in enumerate(sizes):  # train, validation, test
        rng = np.random.default_rng([seed, 1000 + k])
        part = binary_addition(n, rng, bits, dtype, exclude=seen if k else None)
        parts.append(part)
        seen = np.concatenate([seen, pair_codes(part[2], part[3], bits)])
    sets = [
        ArrayBatches(xs, ys, opts["batch_size"], per_step_targets=True) for xs, ys, _, _ in parts
    ]
    distinct = {
        name: int(np.unique(pair_codes(a, b, bits)).size)
        for name, (_, _, a, b) in zip(("train", "validation", "test"), parts)
    }
    extra = {"test_pairs": parts[2], "distinct_pairs": distinct}
    # a softmax over the two values of each bit, or one sigmoid output per bit
    C = 2 if opts.get("output", "softmax") == "softmax" else 1
    return TaskData(*sets, input_size=2, output_size=C, model=SequenceTagger, extra=extra)


def report(model: Model, data: TaskData) -> dict:
    """Exact sums: the share of held-out pairs whose every output bit is right."""
    xs, ys, a, b = data.extra["test_pairs"]
    model.eval()
    logits, _ = model.logits(xs.astype(model.dtype))
    predicted = bits_to_int(model.labels(logits))  # (N,)
    return {
        "exact_sums": float((predicted == a + b).mean()),
        "pairs": int(len(a)),
        "distinct_pairs": data.extra["distinct_pairs"],
    }


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
    return int(bits_to_int(model.labels(logits))[0])


TASK = Task("addition", DEFAULTS, load, report)
