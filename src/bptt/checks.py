"""Checks on user input. Each error names what was expected and what was got."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def is_integer(value) -> bool:
    """A Python or NumPy integer, and not a bool (True is an int to Python, never to us)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def check_positive_int(name: str, value) -> int:
    if not is_integer(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_nonnegative_int(name: str, value) -> int:
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def check_probability(name: str, value) -> float:
    """A dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{name}: expected a float in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1), got {value}")
    return float(value)


BYTE_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(name: str, value) -> int | None:
    """A size in bytes: an integer, or a string "67108864", "64MiB", "512 KiB", "1.5GiB";
    None or "" (or "none") is None: no limit."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if is_integer(value):
        number, unit = value, ""
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", value)
        number, unit = (float(match[1]), match[2].lower()) if match else (None, "")
    else:
        number, unit = None, ""
    if number is None or unit not in BYTE_UNITS or number <= 0:
        raise ValueError(
            f"{name}: expected a positive number of bytes, optionally with a suffix B, KiB, "
            f"MiB or GiB (e.g. 64MiB), got {value!r}"
        )
    return int(number * BYTE_UNITS[unit])


def check_array(name: str, a, ndim: int, legend: str, dtype: np.dtype) -> np.ndarray:
    """An ndarray of ``ndim`` dimensions and exactly ``dtype`` (never cast silently)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray {legend}, got {type(a).__name__}")
    if a.ndim != ndim:
        raise ValueError(
            f"{name}: expected a {ndim}-D array {legend}, got {a.ndim}-D with shape {a.shape}"
        )
    if a.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} (the parameters' dtype), got {a.dtype}; "
            f"convert it with .astype(np.{dtype})"
        )
    return a


def check_shape(name: str, a: np.ndarray, expected: tuple[int, ...], legend: str) -> None:
    if a.shape != expected:
        raise ValueError(f"{name}: expected shape {expected} {legend}, got {a.shape}")


def check_lengths(lengths, T: int, N: int) -> np.ndarray | None:
    """Sequence lengths -> valid mask (T, N, 1) bool, or None when every sequence is full."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.shape[0] != N:
        raise ValueError(
            f"lengths: expected one length per sequence, shape ({N},), got shape {lengths.shape}"
        )
    if not np.issubdtype(lengths.dtype, np.integer):
        raise TypeError(f"lengths: expected integers, got dtype {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(
            f"lengths: expected values in [1, {T}] (the number of time steps), "
            f"got min {lengths.min()} and max {lengths.max()}"
        )
    return (np.arange(T)[:, None] < lengths[None, :])[:, :, None]  # (T, N, 1)


def array_dict_problems(
    expected: dict, got: dict, *, what: str = "key", quote: bool = False, convert: bool = False
):
    """Every way ``got`` fails to have exactly ``expected``'s keys, and arrays of its shapes and
    dtypes (with ``convert``, of any real number dtype); one message each (names shown with
    quotes when ``quote``)."""
    problems = [f"missing {what} {k!r}" for k in expected if k not in got]
    problems += [f"unexpected {what} {k!r}" for k in got if k not in expected]
    for key, target in expected.items():
        if key not in got:
            continue
        value, name = got[key], repr(key) if quote else key
        if not isinstance(value, np.ndarray):
            problems.append(f"{name}: expected numpy.ndarray, got {type(value).__name__}")
        elif value.shape != target.shape:
            problems.append(f"{name}: expected shape {target.shape}, got {value.shape}")
        elif convert and not (value.dtype.kind in "fiu" or value.dtype == bool):
            problems.append(f"{name}: expected real numbers to convert, got dtype {value.dtype}")
        elif not convert and value.dtype != target.dtype:
            problems.append(f"{name}: expected dtype {target.dtype}, got {value.dtype}")
    return problems


def load_arrays_into(params: dict, state_dict: dict) -> None:
    """Copy ``state_dict`` into the arrays of ``params`` in place (references stay valid), after
    checking keys and shapes; every problem is reported at once and nothing is copied.

    Values of another real dtype are converted to the parameter's, as torch's
    ``load_state_dict`` does (``param.copy_(value)``): float64 values loaded into a float32
    layer are rounded to float32, float32 values into a float64 layer widened exactly."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict: expected a dict of name -> array, got {type(state_dict).__name__}"
        )
    problems = array_dict_problems(params, state_dict, convert=True)
    if problems:
        raise ValueError("load_state_dict: " + "; ".join(problems))
    for name, target in params.items():
        np.copyto(target, state_dict[name], casting="unsafe")


def assert_grads_match(grads: dict, params: dict) -> None:
    """The one choke point: gradients have exactly the parameters' keys, shapes and dtypes."""
    assert grads.keys() == params.keys(), sorted(set(grads) ^ set(params))
    for name, p in params.items():
        g = grads[name]
        assert g.shape == p.shape and g.dtype == p.dtype, (name, g.shape, g.dtype, p.shape, p.dtype)


def check_memory(name: str, value, entries: int, dtype) -> None:
    """Refuse, before allocating, parameters that would not fit in this machine's memory."""
    need = int(entries) * np.dtype(dtype).itemsize
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no figure to compare with
        return
    if need > have:
        raise ValueError(
            f"{name}: expected a size whose parameters fit in memory, got {value}: "
            f"{need / 1e9:.1f} GB of parameters, more than this machine's {have / 1e9:.1f} GB"
        )
