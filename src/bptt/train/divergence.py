"""When training has failed numerically, and what the message says about the run's files.

    check_update(loss, grads, step, best_loss, first_loss, factor, run_dir)    before an update
    check_validation(metrics, step, run_dir)                        after an evaluation

Training stops with ``NonFiniteError`` (the command line's exit status 1) when

- a training loss or any gradient entry is NaN or infinite,
- a validation loss is NaN or infinite (it could neither be compared nor written as JSON),
- a training loss exceeds ``factor`` times the best (lowest) training loss the run has seen
  so far, and is worse than its first loss too (``TrainConfig.divergence_factor``, 100 by
  default; 0 turns this check off). The best, not the first: a run that learned (2.3 -> 0.01)
  and then blew up to 5 has diverged although 5 is nowhere near 100 times 2.3. Worse than the
  first too: an untrained model's loss is the worst a sane run sees, so a batch 100 times a
  lucky best but still below the untrained loss is noise, not divergence.

The message names the step and says which checkpoint the run directory holds, if any, and
the command that resumes from it; it never claims a checkpoint that does not exist.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bptt.train import checkpoint as ckpt


class NonFiniteError(FloatingPointError):
    """Training diverged: a loss or gradient became NaN, infinite or far too large; the
    message names the step, the parameter and the checkpoint to resume from."""


def resume_hint(run_dir: Path | None) -> str:
    """Which checkpoint exists (if any) and how to resume from it."""
    if run_dir is None:
        return "nothing was saved (no run directory)"
    try:
        path = ckpt.find_checkpoint(run_dir)
    except (ckpt.CheckpointError, OSError):
        return f"no checkpoint has been saved in {run_dir} yet"
    return (
        f"the last checkpoint is {path}; resume from it with: bptt train --resume {run_dir} "
        "(the same settings may diverge again)"
    )


def _fail(step: int, what: str, run_dir: Path | None):
    raise NonFiniteError(f"step {step}: {what}; {resume_hint(run_dir)}")


def check_update(
    loss: float,
    grads: dict,
    step: int,
    best_loss: float | None,
    first_loss: float | None,
    factor: float,
    run_dir: Path | None,
) -> None:
    """Before update ``step``: the loss and gradients are finite and the loss has not grown
    more than ``factor`` times over ``best_loss`` past ``first_loss`` (the module docstring)."""
    if not math.isfinite(loss):
        _fail(step, f"the loss is {loss}", run_dir)
    for name, g in grads.items():
        if not np.isfinite(g).all():
            _fail(step, f"non-finite gradient in parameter {name!r}", run_dir)
    if not factor or best_loss is None or best_loss <= 0:
        return
    first = best_loss if first_loss is None else first_loss
    if loss > factor * best_loss and loss > first:
        _fail(
            step,
            f"the training loss {loss:.4g} is over {factor:g} times the run's best loss so far "
            f"{best_loss:.4g} (first loss {first:.4g}): training has diverged (lower --lr, "
            "clip with --clip-norm, or turn this check off with --divergence-factor 0)",
            run_dir,
        )


def check_validation(metrics: dict, step: int, run_dir: Path | None) -> None:
    """After the evaluation at ``step``: the validation loss is finite."""
    loss = metrics.get("loss")
    if loss is not None and not math.isfinite(loss):
        _fail(step, f"the validation loss is {loss}", run_dir)
