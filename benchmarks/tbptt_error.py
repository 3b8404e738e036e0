"""How far truncated BPTT's gradient is from full BPTT's (a measurement, not a test).

A 1-layer LSTM character model (float64) reads a T-step window of text. Full BPTT gives the
gradient of the loss on the last k1 steps through all T steps; BPTT(k2; k1) gives the gradient
of the same loss through the last k2 steps only, from the state at T - k2 held as a constant.
Printed: the relative error ||g_trunc - g_full|| / ||g_full|| of the recurrent weights, for
untrained weights and after a short training run (memory reaches further back once trained).

    python benchmarks/tbptt_error.py [--steps 300] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bptt.data import Vocabulary
from bptt.nn import Batch, SequenceTagger
from bptt.train import StreamBatches, TrainConfig, Trainer

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "bptt" / "sample.txt"
T, K1, K2S = 100, 10, (10, 20, 40, 70, 100)


def window_grads(model, ids: np.ndarray, k2: int) -> dict:
    """Gradient of the loss on the last K1 steps of ids[:T], sent back through k2 steps."""
    inputs, targets = ids[:T, None], ids[1 : T + 1, None]  # (T, 1)
    state = model.advance_state(inputs[: T - k2]) if k2 < T else None
    mask = np.zeros((k2, 1), dtype=bool)
    mask[-K1:] = True
    window = Batch(inputs[T - k2 :], targets[T - k2 :], None, mask)
    return model.loss_and_grads(window, state)[1]


def report(model, ids: np.ndarray, label: str) -> None:
    names = [k for k in model.params if k.startswith("rnn.weight_hh")]
    full = window_grads(model, ids, T)
    norm = np.sqrt(sum(np.sum(full[k] ** 2) for k in names))
    errors = []
    for k2 in K2S:
        g = window_grads(model, ids, k2)
        errors.append(np.sqrt(sum(np.sum((g[k] - full[k]) ** 2) for k in names)) / norm)
    print(f"{label:9s} " + " ".join(f"{e:10.2e}" for e in errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default: 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    args = parser.parse_args()
    text = SAMPLE.read_text(encoding="utf-8")
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    model = SequenceTagger(
        "lstm",
        32,
        128,
        len(vocab),
        vocab_size=len(vocab),
        dtype=np.float64,
        rng=np.random.default_rng(args.seed),
    )
    probe = ids[len(ids) // 2 : len(ids) // 2 + T + 1]
    print(f"LSTM(128) character model, window T = {T}, loss on the last k1 = {K1} steps;")
    print("relative error of dL/dW_hh under BPTT(k2; k1) against full BPTT through T steps")
    print(f"{'k2':9s} " + " ".join(f"{k2:10d}" for k2 in K2S))
    report(model, probe, "untrained")
    config = TrainConfig(epochs=100, max_steps=args.steps, lr=2e-3, clip_norm=5.0, k1=25, k2=50)
    Trainer(model, config, StreamBatches(ids[: len(ids) // 2], 32, 50), progress=False).fit()
    report(model, probe, f"{args.steps} steps")


if __name__ == "__main__":
    main()
