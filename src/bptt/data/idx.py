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

from bptt.bounded import open_regular, read_exactly

UBYTE = 0x08
IDX_LIMIT = 512 << 20  # bytes of payload; MNIST's largest file holds 47,040,000


def read_idx_bytes(path: str | os.PathLike, limit: int = IDX_LIMIT) -> bytes:
    """The raw (unpacked) IDX bytes of ``path``; a name ending in ``.gz`` is decompressed.

    The file must be a regular file; it is read (and decompressed) as a stream only as far as
    its header allows: the header, then the payload size it announces (at most ``limit``
    bytes), then one byte to see that nothing trails. A gzip bomb is refused at that byte."""
    name = os.fspath(path)
    raw = open_regular(path, "IDX file")
    try:
        if not name.endswith(".gz"):  # the whole file, whose size is known, up to the limit
            return read_exactly(raw, min(os.fstat(raw.fileno()).st_size, limit + 1024 + 1), name)
        with gzip.GzipFile(fileobj=raw, mode="rb") as f:
            return _read_stream(f, name, limit)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{name}: expected a valid gzip file, got a corrupt one ({e})") from e
    finally:
        raw.close()


def _read_stream(f, source: str, limit: int) -> bytes:
    """Header, announced payload and a check for trailing bytes, from the stream ``f``."""
    head = f.read(4)
    if len(head) < 4:
        return head  # parse_idx names what is missing
    k = head[3]
    dims = f.read(4 * k)
    if len(dims) < 4 * k:
        return head + dims
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(k))
    size = prod(shape)
    if size > limit:
        raise ValueError(
            f"{source}: expected an IDX payload of at most {limit:,} bytes, got a header "
            f"announcing shape {shape} ({size:,} bytes)"
        )
    # one byte past the payload is enough for parse_idx to call the rest trailing bytes (the
    # count it gives is then the payload's plus one)
    return head + dims + f.read(size + 1)


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
