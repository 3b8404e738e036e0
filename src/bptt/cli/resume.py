"""``bptt train --resume``: which run and checkpoint it names, and restoring a trainer from it
(tidying the run directory first: stray temporary files, events after the checkpoint)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bptt.cli.options import UsageError
from bptt.train import (
    CheckpointError,
    Trainer,
    complete_checkpoints,
    cut_metrics,
    list_checkpoints,
    point_latest,
    remove_stray_temps,
    set_aside_newer,
)
from bptt.train.checkpoint import CHECKPOINTS, STEP_DIR


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def resume_target(path: Path) -> tuple[Path, Path | None]:
    """(run directory, checkpoint or None for its latest) of ``--resume RUN`` or of
    ``--resume RUN/checkpoints/step-N`` (a roll-back to an older checkpoint)."""
    if STEP_DIR.fullmatch(path.name) and path.parent.name == CHECKPOINTS:
        return path.parent.parent, path
    return path, None


def restore_run(
    trainer: Trainer, args: argparse.Namespace, run_dir: Path, tidy: bool = True
) -> None:
    """Tidy the run (stray temporary files, events after the checkpoint; with ``tidy``, rank 0
    of a job) and restore its checkpoint; a run stopped before its first checkpoint starts
    afresh from its config."""
    if tidy:
        remove_stray_temps(run_dir)
    _, chosen = resume_target(args.resume)
    if chosen is None and not list_checkpoints(run_dir):
        if not tidy:
            return
        _stderr(f"{run_dir}: no checkpoint saved yet; starting the run afresh from its config")
        cut_metrics(run_dir, 0)
        for name in ("model.safetensors", "summary.json"):  # a previous try's, not this one's
            (run_dir / name).unlink(missing_ok=True)
        return
    try:
        trainer.restore(chosen or run_dir)
    except CheckpointError as e:
        intact = [p.name for p in complete_checkpoints(run_dir) if p != chosen]
        if intact:
            older = f"{run_dir / CHECKPOINTS / intact[-1]}"
            raise CheckpointError(
                f"{e}; intact checkpoints: {', '.join(intact)}; resume from one with "
                f"--resume {older}"
            ) from e
        raise
    c, done = trainer.config, trainer.counters
    if c.epochs < done["epoch"] or (c.max_steps is not None and c.max_steps < done["step"]):
        raise UsageError(
            f"--resume: the checkpoint is at epoch {done['epoch']}, step {done['step']}; "
            f"expected --epochs and --max-steps at least that, got {c.epochs} and "
            f"{c.max_steps or 0}"
        )
    if not tidy:
        return
    if chosen is not None:
        aside, moved = set_aside_newer(chosen)
        if moved:
            _stderr(
                f"rolled back to {chosen.name}: the newer checkpoints {', '.join(moved)} "
                f"moved to {aside} (kept; this run will not use them)"
            )
        point_latest(chosen)
    dropped = cut_metrics(run_dir, trainer.counters["step"])
    if dropped:
        _stderr(f"metrics.jsonl: dropped {dropped} events after step {trainer.counters['step']}")
