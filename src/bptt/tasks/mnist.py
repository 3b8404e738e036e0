"""MNIST read row by row (28 steps of 28 pixels), pixel by pixel (784 x 1) or in a permuted
pixel order: one class per image (a classifier on the last state). Validation images are
held out of the training set; the test split is the 10,000 test images.
"""

from __future__ import annotations

import numpy as np

from bptt.data import load_mnist, mnist_sequences, train_validation_split
from bptt.nn import SequenceClassifier
from bptt.tasks.task import Task, TaskData
from bptt.train import ArrayBatches

DEFAULTS = {
    "cell": "lstm",
    "hidden_size": 128,
    "epochs": 30,
    "batch_size": 128,
    "lr": 2e-3,
    "schedule": "cosine_warmup",
    "warmup_steps": 500,
    "clip_norm": 1.0,
}


def load(opts: dict, seed: int) -> TaskData:
    dtype = np.dtype(opts.get("dtype", "float32"))
    data = load_mnist(opts["data_dir"] or None, verify=opts.get("verify", True))
    for split, images in (("train", data.train_images), ("test", data.test_images)):
        if images.shape[1:] != (28, 28):  # found here, not at the first step of training
            raise ValueError(
                f"MNIST {split} images in {opts['data_dir'] or 'the cache'}: expected 28 x 28 "
                f"pixels, got {images.shape[1]} x {images.shape[2]}"
            )
    tr, va = train_validation_split(
        len(data.train_labels), opts["validation_size"], np.random.default_rng([seed, 2000])
    )
    sets = []
    for images, labels in (
        (data.train_images[tr], data.train_labels[tr]),
        (data.train_images[va], data.train_labels[va]),
        (data.test_images, data.test_labels),
    ):
        xs, ys = mnist_sequences(images, labels, opts["view"], permutation_seed=seed)
        sets.append(ArrayBatches(xs.astype(dtype, copy=False), ys, opts["batch_size"]))
    D = 28 if opts["view"] == "rows" else 1
    return TaskData(*sets, input_size=D, output_size=10, model=SequenceClassifier)


TASK = Task("mnist", DEFAULTS, load)
