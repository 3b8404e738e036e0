"""A training run killed at any file-system step (an ``os.replace`` or an ``os.fsync`` of an
atomic write or a checkpoint) leaves a run directory that loads and resumes: no file under a
final name is half-written, and the resumed run logs every step exactly once.

Each kill is real: a forked child runs ``bptt train`` and ``os._exit``s at the k-th call, so
no cleanup code of bptt runs, as after a SIGKILL or a power cut."""

import json
import os

import pytest

from bptt.cli import main
from bptt.io import read_jsonl
from bptt.train import find_checkpoint, load_checkpoint

TINY = ["train", "addition", "--train-size", "32", "--test-size", "16", "--hidden-size", "4",
        "--batch-size", "16", "--epochs", "1", "--eval-every", "1", "--quiet"]  # fmt: skip
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _killed_at(run, call: str, k: int) -> int:
    """Run TINY in a forked child that dies at the k-th ``os.<call>``; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: count, then die without cleaning anything up
        try:
            original, seen = getattr(os, call), [0]

            def dying(*args, **kwargs):
                seen[0] += 1
                if seen[0] == k:
                    os._exit(9)
                return original(*args, **kwargs)

            setattr(os, call, dying)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            main([*TINY, "--run-dir", str(run)])
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize(
    ("call", "points"), [("replace", range(1, 12)), ("fsync", range(1, 22, 4))]
)
def test_a_run_killed_at_any_file_system_step_stays_loadable_and_resumable(tmp_path, call, points):
    killed = 0
    for k in points:
        run = tmp_path / f"{call}-{k}"
        if _killed_at(run, call, k) != 9:
            continue  # the run made fewer calls than k
        killed += 1
        assert run.is_dir()
        if (run / "checkpoints").is_dir() and list((run / "checkpoints").glob("step-*")):
            load_checkpoint(find_checkpoint(run))  # verified against its manifest
        for name in ("config.json", "summary.json"):
            if (run / name).exists():
                json.loads((run / name).read_text())
        argv = ["train", "--resume", str(run), "--quiet"]
        if not (run / "config.json").exists():  # killed before config.json: start it again
            argv = [*TINY, "--run-dir", str(run)]
        assert main(argv) == 0, (call, k)
        steps = [e["step"] for e in read_jsonl(run / "metrics.jsonl") if e["event"] == "train"]
        assert steps == [1, 2], (call, k, steps)
        assert not [p for p in run.rglob("*.tmp")], (call, k)
    assert killed >= 3
