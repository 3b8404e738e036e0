"""What a checkpoint must hold before a trainer continues from it.

    check_resumable(checkpoint, run_id)

- the run's id: a checkpoint records the ``run_id`` of the run that wrote it (in its config);
  one copied in from another run (other options, another seed) is refused;
- the counters the trainer goes on from (step, epoch, batch, ...), each of the right kind;
  the divergence check's losses (``first_loss``, ``best_loss``; older checkpoints have only
  the first, or neither) a number or null.
"""

from __future__ import annotations

from numbers import Real

from bptt.checks import is_integer
from bptt.train.checkpoint import STATE, Checkpoint, CheckpointError

REQUIRED_COUNTERS = ("step", "epoch", "batch", "bad_evals", "last_eval")
LOSS_COUNTERS = ("first_loss", "best_loss")


def check_resumable(checkpoint: Checkpoint, run_id: str | None) -> None:
    """CheckpointError naming the checkpoint when this run cannot continue from it."""
    theirs = checkpoint.config.get("run_id")
    if run_id is not None and theirs is not None and run_id != theirs:
        raise CheckpointError(
            f"{checkpoint.path}: a checkpoint of run {theirs}, not of this run ({run_id}); "
            "it was copied from another run"
        )
    counters = checkpoint.counters
    bad = [k for k in REQUIRED_COUNTERS if not is_integer(counters.get(k)) or counters[k] < 0]
    if bad:
        raise CheckpointError(
            f"{checkpoint.path / STATE}: expected the non-negative integer counters "
            f"{', '.join(REQUIRED_COUNTERS)}, got {', '.join(bad)} missing or invalid"
        )
    bad = [
        k
        for k in LOSS_COUNTERS
        if counters.get(k) is not None
        and (isinstance(counters[k], bool) or not isinstance(counters[k], Real))
    ]
    if bad:
        raise CheckpointError(
            f"{checkpoint.path / STATE}: expected the counters {', '.join(bad)} to be numbers "
            f"or null, got {', '.join(repr(counters[k]) for k in bad)}"
        )
