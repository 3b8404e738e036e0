"""Loss reached by each optimizer after the same number of steps (a benchmark, not a test).

An LSTM tagger learns the copy task (remember 5 symbols across a delay of 10 steps) with every
optimizer of ``bptt.optim`` at its usual learning rate, from the same initial weights, on the
same batches. Prints the training loss (mean of the last 20 steps) and the test loss.

    python benchmarks/optimizers.py [--steps 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bptt.data import copy_task
from bptt.io import read_jsonl
from bptt.nn import SequenceTagger
from bptt.train import ArrayBatches, TrainConfig, Trainer, evaluate

SETTINGS = {  # optimizer -> (learning rate, extra TrainConfig fields)
    "sgd": (0.5, {"momentum": 0.9}),
    "adagrad": (0.05, {}),
    "rmsprop": (2e-3, {}),
    "adam": (2e-3, {}),
    "adamw": (2e-3, {"weight_decay": 1e-2}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    args = parser.parse_args()

    train_x, train_y = copy_task(4096, np.random.default_rng([args.seed, 1]), delay=10, length=5)
    test_x, test_y = copy_task(1024, np.random.default_rng([args.seed, 2]), delay=10, length=5)
    train = ArrayBatches(train_x, train_y, 64, per_step_targets=True)
    test = ArrayBatches(test_x, test_y, 256, per_step_targets=True)
    print(
        f"copy task: 5 symbols of 8, delay 10 (T = 20); LSTM(64) tagger; {args.steps} steps "
        f"of batch 64; clip 1.0; baseline loss (no memory) {5 * np.log(8) / 20:.3f}"
    )
    print(
        f"{'optimizer':10s} {'lr':>7s} {'train loss':>11s} {'test loss':>10s} "
        f"{'test acc':>9s} {'seconds':>8s}"
    )
    for name, (lr, extra) in SETTINGS.items():
        model = SequenceTagger(
            "lstm", 16, 64, 9, vocab_size=10, rng=np.random.default_rng([args.seed, 3])
        )
        epochs = -(-args.steps // len(train))
        config = TrainConfig(
            epochs=epochs,
            max_steps=args.steps,
            optimizer=name,
            lr=lr,
            clip_norm=1.0,
            seed=args.seed,
            **extra,
        )
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            Trainer(model, config, train, run_dir=run_dir, progress=False).fit()
            seconds = time.perf_counter() - start
            events = read_jsonl(Path(run_dir) / "metrics.jsonl")
        losses = [e["loss"] for e in events if e["event"] == "train"]
        result = evaluate(model, test)
        print(
            f"{name:10s} {lr:7.0e} {np.mean(losses[-20:]):11.4f} {result['loss']:10.4f} "
            f"{result['accuracy']:9.4f} {seconds:8.1f}"
        )


if __name__ == "__main__":
    main()
