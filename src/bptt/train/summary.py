"""``run_summary``: what ``summary.json`` says at the end of a run, each figure with its split.

    {"status", "steps", "epochs", "best_step",
     "best":  {"split": "validation", "loss", ...}   the validation metrics of the best weights
     "final": {"split": "validation", "loss", ...}   those of the weights when training stopped
     "test":  {"split": "test", ...}                 added by the caller: the held-out split}

The best weights are chosen on the validation split, so only "test" is held out from both
training and that choice.
"""

from __future__ import annotations


def _on_split(metrics: dict | None, split: str) -> dict | None:
    return None if metrics is None else {"split": split, **metrics}


def run_summary(status: str, counters: dict) -> dict:
    """The summary of a run that ended with ``status``, from the trainer's counters."""
    return {
        "status": status,
        "steps": counters["step"],
        "epochs": counters["epoch"],
        "best_step": counters["best_step"],
        "best": _on_split(counters["best_metrics"], "validation"),
        "final": _on_split(counters["final_metrics"], "validation"),
    }
