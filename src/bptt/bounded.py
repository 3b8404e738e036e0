"""Bounded reads: every file bptt reads is a regular file, read up to a limit set by its format.

    read_bounded(path, limit, what)   the bytes of a regular file of at most ``limit`` bytes
    open_regular(path, what)          a binary file object, after checking it is a regular file
    read_exactly(f, n, source)        n bytes from a stream, an error naming source if it ends early

A FIFO, a device (``/dev/zero``, ``/dev/urandom``), a socket or a directory is refused with a
ValueError before a byte is read; the open itself never blocks (``O_NONBLOCK``, so a FIFO
without a writer cannot hang). A file over its limit is refused from its size, and the read
stops at ``limit + 1`` bytes in case the file grows meanwhile. The limits, per format:

    JSON_LIMIT   64 MiB   config.json, state.json, latest.json, manifest.json, vocabulary.json
    TOML_LIMIT    1 MiB   --config FILE.toml
    TEXT_LIMIT  256 MiB   --text FILE (the encoded ids take about 8 bytes per character)
    JSONL_LIMIT   1 GiB   metrics.jsonl
    safetensors: a header of at most 100 MB (safetensors' own limit) and a file exactly as long
                 as its header says; IDX: the size its header announces (``bptt.data.idx``).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

MiB = 1 << 20
JSON_LIMIT = 64 * MiB
TOML_LIMIT = 1 * MiB
TEXT_LIMIT = 256 * MiB
JSONL_LIMIT = 1024 * MiB

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike, what: str = "file") -> io.BufferedReader:
    """``path`` opened for binary reading; ValueError naming it unless it is a regular file
    (FileNotFoundError when it does not exist)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise ValueError(f"{what} {path}: expected a regular file, got a directory") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path}: no such file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{what} {path}: expected a regular file, got {_kind(mode)}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """All bytes of the regular file ``path``; ValueError naming it when it holds more than
    ``limit`` bytes (see the module docstring for the limits)."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ValueError(
                f"{what} {path}: expected at most {limit:,} bytes, got a file of {size:,} bytes"
            )
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} {path}: expected at most {limit:,} bytes, got more")
    return data


def read_exactly(f, n: int, source: str) -> bytes:
    """``n`` bytes read from the stream ``f`` in chunks; ValueError naming ``source`` when the
    stream ends first."""
    chunks, left = [], n
    while left > 0:
        chunk = f.read(min(left, 16 * MiB))
        if not chunk:
            raise ValueError(f"{source}: expected {n:,} bytes, got {n - left:,} (truncated)")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
