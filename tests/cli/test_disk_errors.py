"""A write the file system refuses (disk full, read-only, permission denied) ends ``bptt train``
with one line naming the file and the system's reason, no traceback, no temporary file left,
and the previous checkpoint intact: the run resumes once the disk has room again."""

import errno
import os
import re

import pytest

from bptt.train import find_checkpoint, load_checkpoint

SMALL = ["--train-size", 64, "--test-size", 20, "--hidden-size", 4, "--batch-size", 16]


def _refusing(monkeypatch, call: str, code: int):
    """``os.<call>`` raises OSError(code) when it would write under a checkpoints/ folder,
    naming the files as the real call does (fsync, on a descriptor, names none)."""
    original = getattr(os, call)

    def refused(*args, **kwargs):
        if call == "fsync":
            paths = [os.readlink(f"/proc/self/fd/{args[0]}")]
        else:
            paths = [os.fspath(a) for a in args[:2] if isinstance(a, (str, os.PathLike))]
        writes = call != "open" or args[1] & os.O_CREAT  # reading a checkpoint still works
        if writes and any("checkpoints" in p for p in paths):
            raise OSError(code, os.strerror(code), *([] if call == "fsync" else paths))
        return original(*args, **kwargs)

    monkeypatch.setattr(os, call, refused)


def assert_one_error_line(err: str) -> None:
    """The progress log may precede it: one 'bptt: error:' line, the last, no traceback."""
    assert "Traceback" not in err, err
    assert [line for line in err.splitlines() if "error" in line] == [err.strip().splitlines()[-1]]
    assert err.strip().splitlines()[-1].startswith("bptt: error: "), err


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ("replace", errno.ENOSPC),
        ("replace", errno.EROFS),
        ("open", errno.EACCES),
        ("open", errno.ENOSPC),
        ("mkdir", errno.EDQUOT),
        pytest.param(
            "fsync",
            errno.EIO,
            marks=pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc"),
        ),
    ],
)
def test_a_refused_checkpoint_write_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path, cli, monkeypatch, call, code
):
    run = tmp_path / "run"
    rc, _, err = cli("train", "addition", *SMALL, "--epochs", 1, "--run-dir", run)
    assert rc == 0, err
    before = load_checkpoint(find_checkpoint(run))
    with monkeypatch.context() as m:
        _refusing(m, call, code)
        rc, _, err = cli("train", "--resume", run, "--epochs", 2)
    assert rc == (2 if code == errno.EACCES else 1)  # a full or broken disk: the run failed
    assert_one_error_line(err)
    assert re.search(rf"{re.escape(str(run))}/checkpoints/step-\d+\S*: {os.strerror(code)}$", err)
    assert ".tmp" not in err  # the checkpoint's name, not a temporary one
    assert not [p for p in run.rglob("*") if p.name.endswith((".tmp", ".old"))]
    after = load_checkpoint(find_checkpoint(run))
    assert after.step == before.step
    rc, _, err = cli("train", "--resume", run, "--epochs", 2)  # room again: it goes on
    assert rc == 0, err


def test_a_refused_write_of_the_metrics_log_names_it(tmp_path, cli, monkeypatch):
    import bptt.io

    run = tmp_path / "run"

    def full(path, mode="r", *args, **kwargs):
        if "metrics.jsonl" in str(path) and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(bptt.io, "open", full, raising=False)
    rc, _, err = cli("train", "addition", *SMALL, "--epochs", 1, "--run-dir", run)
    assert rc == 1
    assert_one_error_line(err)
    assert err.strip().endswith(f"{run / 'metrics.jsonl'}: No space left on device"), err
