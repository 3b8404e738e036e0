"""The data files a run was trained on, pinned: absolute paths, sizes and SHA-256.

    absolute_data_paths(options)      --text and --data-dir made absolute, as config.json keeps them
    fingerprints(task, options)       {"text": {"path", "size", "sha256"}} for a text run on a file
    check_fingerprints(saved, what)   the files are still there, with that size and hash

A run directory records its data this way in ``config.json`` (key ``"data"``), so ``eval``
from another directory finds the same file, and ``--resume`` or ``eval`` of a file that has
changed since is an error rather than a silently different run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bptt.bounded import TEXT_LIMIT, open_regular

PATH_OPTIONS = ("text", "data_dir")


def absolute_data_paths(options: dict) -> dict:
    """``options`` with each non-empty path option made absolute."""
    out = dict(options)
    for name in PATH_OPTIONS:
        if out.get(name):
            out[name] = os.path.abspath(os.path.expanduser(out[name]))
    return out


def _fingerprint(path: str) -> dict:
    digest, size = hashlib.sha256(), 0
    with open_regular(path, "data file") as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
            if size > TEXT_LIMIT:
                raise ValueError(f"data file {path}: expected at most {TEXT_LIMIT:,} bytes")
            digest.update(chunk)
    return {"path": path, "size": size, "sha256": digest.hexdigest()}


def fingerprints(task: str, options: dict) -> dict:
    """The pinned data files of a run (none for the shipped sample and synthetic tasks)."""
    if task == "text" and options.get("text"):
        return {"text": _fingerprint(options["text"])}
    return {}


def check_fingerprints(saved: dict, what: str) -> None:
    """ValueError naming the file when a pinned data file is gone or has changed."""
    for name, pinned in (saved or {}).items():
        if not isinstance(pinned, dict) or not {"path", "size", "sha256"} <= set(pinned):
            raise ValueError(f"{what}: expected data.{name} with path, size and sha256")
        path = pinned["path"]
        if not Path(path).is_file():
            raise ValueError(f"{what}: the run was trained on {path} (--{name}), which is gone")
        now = _fingerprint(path)
        if (now["size"], now["sha256"]) != (pinned["size"], pinned["sha256"]):
            raise ValueError(
                f"{what}: the run was trained on {path} (--{name}) of {pinned['size']} bytes, "
                f"sha256 {pinned['sha256'][:12]}...; it has changed since (now {now['size']} "
                f"bytes, sha256 {now['sha256'][:12]}...)"
            )
