"""Files on disk — atomic writes, JSON / JSONL, and safetensors weights.

Every whole-file write takes one path, so a reader sees the old file or the new one, never half:

    bytes -> temp file ".<name>.<random>.tmp" in the target's directory
          -> flush -> fsync -> os.replace(temp, target) -> fsync(directory)

JSON files are standard JSON: sorted keys, indent 2, a trailing newline, and no NaN or
infinity (``allow_nan=False``); numpy scalars are written as plain numbers. Metrics are JSONL,
one compact object per line, appended and flushed.

Weights are safetensors (https://github.com/huggingface/safetensors), readable by
``safetensors.torch.load_file``:

    [8 bytes: n, little-endian u64] [n bytes: JSON header] [raw little-endian array bytes]
    header = {"<name>": {"dtype": "F32", "shape": [G*H, D], "data_offsets": [begin, end]}, ...,
              "__metadata__": {"<key>": "<str>"}}

safetensors is optional (the ``train`` extra) and imported only when weights are read or
written. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bptt.bounded import JSON_LIMIT, JSONL_LIMIT, open_regular, read_bounded, read_exactly

# safetensors refuses a header over 100 MB; so does bptt, before reading it
SAFETENSORS_HEADER_LIMIT = 100_000_000

# The dtypes that safetensors, numpy and torch all share.
WEIGHT_DTYPES = frozenset(
    map(
        np.dtype,
        "bool int8 uint8 int16 uint16 int32 uint32 int64 uint64 float16 float32 float64".split(),
    )
)


class CorruptFileError(ValueError):
    """A file is incomplete, truncated, corrupted or edited (``bptt.train.CheckpointError``
    is the checkpoint's own kind)."""


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename or a new entry in directory ``path`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return  # Windows cannot open a directory to fsync it
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def _open_temp(path: Path) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any new file (mkstemp would force 0o600).
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def naming(error: OSError, path: str | os.PathLike) -> OSError:
    """``error`` (same errno, same class: PermissionError, ...) naming ``path``, the file the
    user knows: a failed write or fsync names no file, a failed rename names a temporary."""
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror, str(path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating parent directories; returns the path.
    An OSError (disk full, read-only, permission denied) names ``path``; no temp file stays."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _open_temp(path)
    except OSError as e:
        raise naming(e, path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise naming(e, path) from e
        raise
    fsync_dir(path.parent)
    return path


def _json_default(obj):
    if isinstance(obj, np.generic) and not isinstance(obj, (np.void, np.datetime64)):
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _find_unencodable(obj, where: str = "$", seen: frozenset = frozenset()):
    """(location, description) of the first value JSON cannot hold, or None."""
    if isinstance(obj, np.generic) and not isinstance(obj, (np.void, np.datetime64)):
        obj = obj.item()
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where, f"the non-finite number {obj!r}")
    if obj is None or isinstance(obj, (str, int)):
        return None
    if id(obj) in seen:
        return (where, "a reference back to a containing object (a cycle)")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float))):
                return (where, f"a key of type {type(k).__name__}")
            found = _find_unencodable(v, f"{where}[{k!r}]", seen | {id(obj)})
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _find_unencodable(v, f"{where}[{i}]", seen | {id(obj)})
            if found:
                return found
        return None
    return (where, f"a value of type {type(obj).__name__}")


def json_text(obj, *, what: str = "value", indent: int | None = 2) -> str:
    """Standard JSON for ``obj``: sorted keys, no NaN/inf. ``what`` names it in errors."""
    try:
        return json.dumps(
            obj, sort_keys=True, indent=indent, allow_nan=False, default=_json_default
        )
    except (TypeError, ValueError) as e:
        found = _find_unencodable(obj)
        detail = f"{found[1]} at {found[0]}" if found else str(e)
        raise type(e)(
            f"{what}: cannot write as JSON: {detail}; expected dicts, lists, strings, "
            "finite numbers, booleans and None"
        ) from e


def json_bytes(obj, *, what: str = "value") -> bytes:
    """The bytes of a JSON file: ``json_text`` plus a trailing newline, UTF-8."""
    return (json_text(obj, what=what) + "\n").encode("utf-8")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not standard JSON")


def json_from_bytes(data: bytes, source: str | os.PathLike = "<bytes>"):
    """Parse a JSON document; errors name ``source`` and the line and column."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as e:
        raise ValueError(f"{source}: not valid JSON: not UTF-8 text ({e.reason})") from e
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{source}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from e
    except RecursionError:
        raise ValueError(f"{source}: not valid JSON for bptt: nested too deeply") from None
    except ValueError as e:
        raise ValueError(f"{source}: not valid JSON: {e}") from e


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as JSON atomically; nothing on disk changes if it cannot be encoded."""
    path = Path(path)
    return atomic_write_bytes(path, json_bytes(obj, what=str(path)))


def read_json(path: str | os.PathLike, limit: int = JSON_LIMIT):
    """Read a JSON file of at most ``limit`` bytes; ValueError naming the file when it is not
    a regular file, too large, or not valid JSON."""
    path = Path(path)
    return json_from_bytes(read_bounded(path, limit, "JSON file"), path)


def _drop_cut_line(f, path: Path) -> None:
    """End the file on a newline: a last line without one is a write a crash cut short."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return
    f.seek(end - 1)
    if f.read(1) == b"\n":
        return
    start = end
    while start > 0:
        start = max(0, start - 4096)
        f.seek(start)
        cut = f.read(end - start).rfind(b"\n")
        if cut >= 0:
            start += cut + 1
            break
    f.seek(start)
    try:
        json_from_bytes(f.read(end - start), path)
        f.write(b"\n")  # a complete record that only lacks its newline is kept
    except ValueError:
        f.truncate(start)


def append_jsonl(path: str | os.PathLike, obj: Mapping) -> None:
    """Append ``obj`` as one compact JSON line to ``path`` (created if missing) and flush."""
    path = Path(path)
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"obj: expected a dict (one JSON object per line), got {type(obj).__name__}"
        )
    line = (json_text(dict(obj), what=str(path), indent=None) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as f:
            _drop_cut_line(f, path)
            f.write(line)  # cut short by a full disk: the next append drops the partial line
            f.flush()
    except OSError as e:
        raise naming(e, path) from e


def read_jsonl(path: str | os.PathLike) -> list:
    """All records of a JSONL file. A last line without its newline that does not parse is a
    write cut short by a crash and is skipped; any other bad line is an error naming it."""
    path = Path(path)
    data = read_bounded(path, JSONL_LIMIT, "JSONL file")
    lines = data.split(b"\n")
    records = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json_from_bytes(line, f"{path}, line {i}"))
        except ValueError:
            if i == len(lines):
                break
            raise
    return records


def require_safetensors():
    """The safetensors module, or an ImportError that says how to install it."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            "reading and writing weights needs the safetensors package, "
            'which is not installed; install it with: pip install "bptt[train]"'
        ) from e
    return safetensors


def weights_bytes(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None):
    """The bytes of a safetensors file holding ``arrays`` (any layout; stored C-contiguous,
    little-endian) and the string-to-string ``metadata``."""
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"arrays: expected a dict of name -> numpy.ndarray, got {type(arrays).__name__}"
        )
    tensors = {}
    for name, a in arrays.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(
                f"arrays: expected non-empty string names other than '__metadata__', got {name!r}"
            )
        if not isinstance(a, np.ndarray):
            raise TypeError(f"arrays[{name!r}]: expected a numpy.ndarray, got {type(a).__name__}")
        if a.dtype.newbyteorder("=") not in WEIGHT_DTYPES:
            raise TypeError(
                f"arrays[{name!r}]: expected a bool, integer or float16/32/64 dtype, got {a.dtype}"
            )
        # np.asarray, not np.ascontiguousarray, which turns a 0-d array into shape (1,).
        tensors[name] = np.asarray(a, dtype=a.dtype.newbyteorder("<"), order="C")
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError(f"metadata: expected a dict of str -> str, got {metadata!r}")
        metadata = dict(metadata)
    return require_safetensors().numpy.save(tensors, metadata=metadata)


def weights_from_bytes(data: bytes, source: str | os.PathLike = "<bytes>") -> dict[str, np.ndarray]:
    """Arrays from the bytes of a safetensors file, each a fresh writable copy, sorted by name.
    CorruptFileError naming ``source`` when the bytes are not a whole safetensors file."""
    st = require_safetensors()
    try:
        loaded = st.numpy.load(bytes(data))
    except (st.SafetensorError, KeyError, ValueError, TypeError) as e:
        raise CorruptFileError(
            f"{source}: not a readable safetensors file ({e}); it is truncated or corrupted"
        ) from e
    return {name: np.array(loaded[name], copy=True) for name in sorted(loaded)}


def save_weights(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``arrays`` to a safetensors file atomically; returns the path."""
    return atomic_write_bytes(path, weights_bytes(arrays, metadata))


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file; CorruptFileError naming it when it is truncated or corrupted.
    (A changed byte inside an array's data is only caught by a checkpoint's manifest.)"""
    require_safetensors()  # the install hint before any read
    path = Path(path)
    return weights_from_bytes(read_weights_file(path), path)


def read_weights_file(path: Path) -> bytes:
    """The bytes of a safetensors file, read only as far as its header allows: a regular file,
    a header of at most 100 MB, and a file exactly as long as the header's last offset says."""
    with open_regular(path, "weights file") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 2 <= n <= min(SAFETENSORS_HEADER_LIMIT, size - 8):
            raise CorruptFileError(
                f"{path}: not a readable safetensors file (header size {n} in a file of "
                f"{size} bytes); it is truncated or corrupted"
            )
        header = f.read(n)
        try:
            entries = json.loads(header.decode("utf-8"))
            end = max(
                [int(e["data_offsets"][1]) for k, e in entries.items() if k != "__metadata__"],
                default=0,
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            raise CorruptFileError(
                f"{path}: not a readable safetensors file (its header is not valid); "
                "it is truncated or corrupted"
            ) from None
        if size != 8 + n + end:
            raise CorruptFileError(
                f"{path}: not a readable safetensors file ({size} bytes, but its header "
                f"says {8 + n + end}); it is truncated or has trailing bytes"
            )
        return head + header + read_exactly(f, end, str(path))
