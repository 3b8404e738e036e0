"""``RunLog``: the lines a run prints on stderr when no progress bar shows what it is doing.

    step 500 epoch 1 | train loss 0.4321 accuracy 0.8750 | validation loss 0.3012 accuracy
    0.9100 | lr 1.00e-03 | 12.3 s, 40.6 steps/s                      (one line per evaluation)
    saved checkpoint step 500
    resumed from step 500 of runs/text-20261202-101500

The train figures are the means over the updates since the previous evaluation; steps/s is
measured over the same updates. Nothing is printed when the log is off (a progress bar is
shown, or ``--quiet``); metrics.jsonl has every figure either way.
"""

from __future__ import annotations

import sys
import time


class RunLog:
    def __init__(self, enabled: bool, stream=None):
        self.enabled = bool(enabled)
        self.stream = stream
        self.start = self.mark = time.perf_counter()
        self._train: list[dict] = []  # the train events since the last evaluation line

    def _print(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream or sys.stderr, flush=True)

    def train(self, event: dict) -> None:
        self._train.append(event)

    def evaluation(self, counters: dict, metrics: dict, lr: float) -> None:
        now = time.perf_counter()
        parts = [f"step {counters['step']} epoch {counters['epoch']}"]
        if self._train:
            parts.append("train " + _figures(self._train))
        parts.append("validation " + _figures([metrics]))
        rate = len(self._train) / max(now - self.mark, 1e-9)
        parts += [f"lr {lr:.2e}", f"{now - self.start:.1f} s, {rate:.1f} steps/s"]
        self._print(" | ".join(parts))
        self._train, self.mark = [], now

    def saved(self, step: int) -> None:
        self._print(f"saved checkpoint step {step}")

    def resumed(self, step: int, run) -> None:
        self._print(f"resumed from step {step} of {run}")


def _figures(events: list[dict]) -> str:
    """The mean loss (and accuracy, where every event has one) of events."""
    text = f"loss {sum(e['loss'] for e in events) / len(events):.4f}"
    if all("accuracy" in e for e in events):
        text += f" accuracy {sum(e['accuracy'] for e in events) / len(events):.4f}"
    return text
