"""The IDX file format of MNIST (LeCun et al.), gzipped or raw.

Layout (all integers big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 = unsigned byte (the only one MNIST uses)
    byte  3     number of dimensions K
    4*K bytes   the K sizes d_1 .. d_K as uint32
    d_1*...*d_K bytes of payload, row-major

So the magic number is 0x00000803 for images (N, rows, cols) and 0x00000801 for labels (N,).
The payload must have exactly the announced length: a truncated download or trailing bytes
is an error, never a silently short or padded array.
"""

from __future__ import annotations

import gzip
import os
import zlib
from math import prod

import numpy as np

UBYTE = 0x08


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The raw (unpacked) IDX bytes of ``path``; a name ending in ``.gz`` is decompressed."""
    path = os.fspath(path)
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: expected a valid gzip file, got a corrupt one ({e})") from e


def parse_idx(data: bytes, source: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Decode the unpacked IDX bytes ``data`` into a uint8 array; ``source`` names it in errors.

    With ``ndim`` given, the magic number must be exactly 0x0000080{ndim}.
    """
    if len(data) < 4:
        raise ValueError(f"{source}: expected an IDX header of 4 bytes, got {len(data)} bytes")
    zero, dtype_code, k = data[0:2], data[2], data[3]
    magic = int.from_bytes(data[0:4], "big")
    if zero != b"\x00\x00" or dtype_code != UBYTE:
        raise ValueError(
            f"{source}: expected an IDX magic number 0x000008NN (uint8 data), got 0x{magic:08x}"
        )
    if ndim is not None and k != ndim:
        raise ValueError(
            f"{source}: expected magic number 0x{0x800 + ndim:08x} ({ndim}-D data), "
            f"got 0x{magic:08x} ({k}-D)"
        )
    if k == 0:
        raise ValueError(f"{source}: expected at least one dimension, got 0")
    header = 4 + 4 * k
    if len(data) < header:
        raise ValueError(
            f"{source}: expected a header of {header} bytes for {k} dimensions, "
            f"got a file of {len(data)} bytes"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(k))
    expected = header + prod(shape)
    if len(data) != expected:
        raise ValueError(
            f"{source}: expected {expected} bytes for shape {shape} "
            f"({header} header + {prod(shape)} payload), got {len(data)} bytes "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    # Copy so that the array is writable and does not keep the (large) bytes object alive.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a uint8 array of the shape its header states."""
    return parse_idx(read_idx_bytes(path), os.fspath(path), ndim)
