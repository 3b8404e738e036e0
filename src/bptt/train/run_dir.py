"""Run directories: made without clobbering anything, held by one writer, tidied on resume.

    new_run_dir(path, task)     a new run's directory: ``path`` (missing, or an empty folder)
                                or ``runs/TASK-YYYYmmdd-HHMMSS[-k]``, made with an exclusive
                                mkdir so two runs started in the same second get two folders
    RunLock(run_dir)            an fcntl lock on ``RUN/.lock`` (holding the writer's pid): a
                                second writer is refused with a message naming that pid
    remove_stray_temps(run_dir) the ``.NAME.<hex>.tmp`` files and ``.step-N.tmp-<hex>``
                                folders a killed writer left behind
    cut_metrics(run_dir, step)  metrics.jsonl without the events after ``step`` (the steps a
                                resumed run is about to redo)
    set_aside_newer(ckpt_dir)   a roll-back to ``ckpt_dir``: the checkpoints of later steps
                                moved into a new ``checkpoints/rolled-back-K/``, kept for the
                                user and out of the run's way (never loaded as the latest,
                                replaced by a step redone, or pruned)

A folder is a bptt run when it holds ``config.json``. A new run is never written into a
non-empty folder that is not a run, nor into a run (that is ``--resume``). Nothing here
deletes a file bptt did not write: only the temporary names of ``bptt.io`` and
``bptt.train.checkpoint`` are removed, and metrics.jsonl is rewritten atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from bptt.bounded import JSONL_LIMIT, read_bounded
from bptt.io import atomic_write_bytes, fsync_dir, json_from_bytes
from bptt.train.checkpoint import CHECKPOINTS, LEFTOVER_DIR, STEP_DIR, list_checkpoints

LOCK = ".lock"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
TEMP_FILE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # bptt.io's atomic writes


class RunDirError(ValueError):
    """A run directory cannot be used as asked (it is not empty, in use, or not a run)."""


def is_run(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def _check_new(path: Path) -> None:
    if is_run(path):
        raise RunDirError(
            f"--run-dir: {path} already holds a run; use --resume to continue it "
            "or choose another directory"
        )
    # the lock and a killed writer's temporary files do not make a folder someone else's
    others = sorted(
        p.name for p in path.iterdir() if p.name != LOCK and not TEMP_FILE.fullmatch(p.name)
    )
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise RunDirError(
            f"--run-dir: {path} is not empty and not a bptt run (it holds {shown}); "
            "choose a new or empty directory"
        )


def check_new_run_dir(path: Path | None) -> None:
    """Before any work: refuse a ``--run-dir`` that a new run must not write into."""
    if path is None:
        return
    if isinstance(path, str) and not path.strip():  # Path("") would be the current folder
        raise RunDirError("--run-dir: expected a directory, got an empty path")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--run-dir: {path} exists and is not a directory")
    if path.is_dir():
        _check_new(path)


def new_run_dir(path: Path | None, task: str, root: Path = Path("runs")) -> Path:
    """The new run's directory, created (or found empty); see the module docstring."""
    if path is not None:
        path = Path(path)
        check_new_run_dir(path)
        path.mkdir(parents=True, exist_ok=True)
        return path
    root.mkdir(parents=True, exist_ok=True)
    base = f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 10_000):
        candidate = root / (base if k == 1 else f"{base}-{k}")
        try:
            os.mkdir(candidate)  # exclusive: exactly one process creates each name
        except FileExistsError:
            continue
        return candidate
    raise RunDirError(f"{root}: could not create a new run directory named {base}-*")


class RunLock:
    """Hold ``RUN/.lock`` with ``fcntl.flock`` while writing a run (a no-op without fcntl).
    The lock goes away with the process, however it ends; the file itself stays."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._fd = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{run_dir}: in use by process {holder} (another bptt train or --resume of "
                "this run); wait for it to end or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def remove_stray_temps(run_dir: Path) -> list[Path]:
    """Remove what a killed writer left under temporary names; returns what was removed."""
    removed = []
    for folder in (Path(run_dir), Path(run_dir) / CHECKPOINTS):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if TEMP_FILE.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                p.unlink()
                removed.append(p)
            elif LEFTOVER_DIR.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
                removed.append(p)
    return removed


def cut_metrics(run_dir: Path, step: int) -> int:
    """Drop the events of metrics.jsonl after ``step`` (and a last line cut short by a
    crash); returns how many lines were dropped."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return 0
    lines = read_bounded(path, JSONL_LIMIT, "metrics").split(b"\n")
    kept, dropped = [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            event = json_from_bytes(line, f"{path}, line {i + 1}")
        except ValueError:
            if i == len(lines) - 1:  # a write cut short by a crash
                dropped += 1
                continue
            raise
        if isinstance(event, dict) and isinstance(event.get("step"), int) and event["step"] > step:
            dropped += 1
            continue
        kept.append(line + b"\n")
    if dropped:
        atomic_write_bytes(path, b"".join(kept))
    return dropped


def set_aside_newer(ckpt_dir: Path) -> tuple[Path | None, list[str]]:
    """(the folder, the names moved) of the checkpoints newer than ``ckpt_dir``, moved into a
    new ``checkpoints/rolled-back-K/``; (None, []) when there are none."""
    ckpt_dir = Path(ckpt_dir)
    step = int(STEP_DIR.fullmatch(ckpt_dir.name)[1])
    newer = [
        p
        for p in list_checkpoints(ckpt_dir.parent.parent)
        if int(STEP_DIR.fullmatch(p.name)[1]) > step
    ]
    if not newer:
        return None, []
    k = 1
    while True:
        aside = ckpt_dir.parent / f"rolled-back-{k}"
        try:
            os.mkdir(aside)  # exclusive: an earlier roll-back's folder is never mixed into
            break
        except FileExistsError:
            k += 1
    # oldest first: latest.json names the newest, which stays in place until the last move,
    # so a crash midway leaves a run that resumes from where it was
    for p in newer:
        os.replace(p, aside / p.name)
    fsync_dir(aside)
    fsync_dir(ckpt_dir.parent)
    return aside, [p.name for p in newer]
