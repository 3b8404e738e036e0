"""The copy (memory) task: reproduce a string of symbols after a delay (a tagger whose input
symbols go through an embedding).

Shapes: T = length + delay + length steps, N sequences; symbols + 2 input ids (the
alphabet, a blank and the delimiter), symbols + 1 output classes.
"""

from __future__ import annotations

from bptt.data import copy_task
from bptt.nn import SequenceTagger
from bptt.tasks.task import Task, TaskData, split_synthetic
from bptt.train import ArrayBatches

DEFAULTS = {
    "cell": "lstm",
    "hidden_size": 64,
    "epochs": 20,
    "batch_size": 64,
    "lr": 2e-3,
    "train_size": 10000,
    "test_size": 1000,
    "length": 10,
    "clip_norm": 1.0,
}


def load(opts: dict, seed: int) -> TaskData:
    def make(n, rng):
        return copy_task(n, rng, opts["delay"], opts["length"], opts["symbols"])

    parts = split_synthetic(make, opts, seed)
    sets = [ArrayBatches(x, y, opts["batch_size"], per_step_targets=True) for x, y in parts]
    return TaskData(
        *sets,
        input_size=opts["embedding_dim"],
        output_size=opts["symbols"] + 1,
        model=SequenceTagger,
        vocab_size=opts["symbols"] + 2,
    )


TASK = Task("copy", DEFAULTS, load)
