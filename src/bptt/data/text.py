"""Character-level text as integer ids, and the streams of truncated BPTT.

A Vocabulary is the sorted set of characters of a text (min-char-rnn, makemore); id i is the
i-th character in code-point order, so the same text always gives the same ids.

Streams (Karpathy's char-rnn, PyTorch's word_language_model ``batchify``): the ids are trimmed
to N equal parts of L = len(ids) // N and part n becomes stream n, column n of

    data[l, n] = ids[n * L + l]                       (L, N)

Batch b is the window of T rows starting at row b*T; the targets are the next characters:

    inputs_b  = data[b*T     : (b+1)*T]               (T, N)
    targets_b = data[b*T + 1 : (b+1)*T + 1]           (T, N)

so batch b+1 continues every stream exactly where batch b stopped, and the final hidden state
of one batch is the right initial state of the next. By default only full windows are
yielded: (L - 1) // T batches. ``keep_partial=True`` also yields the last, shorter window of
the (L - 1) % T remaining steps, as PyTorch's word_language_model ``get_batch`` does
(``seq_len = min(bptt, len(source) - 1 - i)``): ceil((L - 1) / T) batches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptt.bounded import TEXT_LIMIT, read_bounded
from bptt.checks import check_nonnegative_int, check_positive_int

SAMPLE_TEXT = Path(__file__).with_name("sample.txt")  # the Shakespeare sample the package ships


@dataclass(frozen=True)
class Vocabulary:
    """The characters of a text in sorted order; ``chars[i]`` has id i."""

    chars: tuple[str, ...]

    def __post_init__(self):
        chars = tuple(self.chars)
        if not chars:
            raise ValueError("chars: expected at least one character, got none")
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars: expected single characters, got {c!r}")
        if list(chars) != sorted(set(chars)):
            raise ValueError("chars: expected distinct characters in sorted order, got otherwise")
        object.__setattr__(self, "chars", chars)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str -> ids (len(text),) int64; a character outside the vocabulary is an error."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        codes = _code_points(text)  # (len,)
        table = _code_points("".join(self.chars))  # (V,) increasing
        ids = np.searchsorted(table, codes)
        known = ids < len(table)
        known[known] = table[ids[known]] == codes[known]
        if not known.all():
            unknown = sorted({chr(c) for c in codes[~known]})
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            first = int(np.argmin(known))
            raise ValueError(
                f"text: expected only characters of the vocabulary ({len(self)} characters), "
                f"got {len(unknown)} unknown: {shown}{more} (first at index {first})"
            )
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """ids (any shape, flattened) -> str."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids: expected integers, got dtype {ids.dtype}")
        ids = ids.reshape(-1).astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"ids: expected values in [0, {len(self)}) (the vocabulary size), "
                f"got min {ids.min()} and max {ids.max()}"
            )
        return "".join([self.chars[i] for i in ids.tolist()])

    def to_json(self) -> str:
        return json.dumps({"chars": "".join(self.chars)}, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"vocabulary JSON: expected valid JSON, got an error: {e}") from e
        if not isinstance(obj, dict) or not isinstance(obj.get("chars"), str):
            raise ValueError(
                f'vocabulary JSON: expected an object {{"chars": "<characters>"}}, got {obj!r:.80}'
            )
        return cls(tuple(obj["chars"]))


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def load_text(path: str | os.PathLike, limit: int = TEXT_LIMIT) -> str:
    """The UTF-8 text of ``path``, exactly as stored (no newline translation); a regular file
    of at most ``limit`` bytes (``bptt.bounded.TEXT_LIMIT``, 256 MiB, by default)."""
    raw = read_bounded(path, limit, "text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{os.fspath(path)}: expected UTF-8 text, got invalid bytes {raw[e.start : e.end]!r} "
            f"at byte offset {e.start}"
        ) from e
    if not text:
        raise ValueError(f"{os.fspath(path)}: expected some text, got an empty file")
    return text


def split_text(ids: np.ndarray, validation_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: the first (1 - fraction) of ids for training, the rest for validation."""
    train, val, _ = split_text_three_ways(ids, validation_fraction, 0.0)
    return train, val


def split_text_three_ways(
    ids: np.ndarray, validation_fraction: float = 0.1, test_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contiguous train / validation / test parts, in that order (as word_language_model's
    train.txt, valid.txt, test.txt): the last ``test_fraction`` of the ids is the test part,
    the ``validation_fraction`` before it the validation part. A test_fraction of 0 gives an
    empty test part."""
    ids = _check_ids(ids)
    for name, value, low in (
        ("validation_fraction", validation_fraction, 0),
        ("test_fraction", test_fraction, -1),
    ):
        if isinstance(value, bool) or not isinstance(value, (float, int)) or not low < value < 1:
            interval = "(0, 1)" if low == 0 else "[0, 1)"
            raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
    n_test = int(round(len(ids) * test_fraction))
    n_val = int(round(len(ids) * validation_fraction))
    n_train = len(ids) - n_val - n_test
    if n_val < 1 or n_train < 1 or (test_fraction > 0 and n_test < 1):
        parts = "train, validation and test" if test_fraction > 0 else "train and validation"
        raise ValueError(
            f"ids: expected enough ids for a non-empty {parts} part at validation_fraction "
            f"{validation_fraction} and test_fraction {test_fraction}, got {len(ids)} ids "
            f"({n_train} train, {n_val} validation, {n_test} test)"
        )
    return ids[:n_train], ids[n_train : n_train + n_val], ids[n_train + n_val :]


def count_stream_batches(
    n_ids: int, batch_size: int, seq_len: int, keep_partial: bool = False
) -> int:
    """How many (T, N) batches ``stream_batches`` yields for n_ids ids: (n_ids // N - 1) // T,
    rounded up instead with ``keep_partial``."""
    N = check_positive_int("batch_size", batch_size)
    T = check_positive_int("seq_len", seq_len)
    check_nonnegative_int("n_ids", n_ids)
    steps = max(n_ids // N - 1, 0)
    return -(-steps // T) if keep_partial else steps // T


def stream_batches(
    ids: np.ndarray, batch_size: int, seq_len: int, keep_partial: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inputs (T, N), targets (T, N)) int64 over N contiguous streams; see the docstring.
    With ``keep_partial`` the last window may be shorter than seq_len.

    Raises ValueError at the call when the ids are too short for a single batch.
    """
    ids = _check_ids(ids)
    count = count_stream_batches(len(ids), batch_size, seq_len, keep_partial)
    N, T = int(batch_size), int(seq_len)
    if count == 0:
        need = "2 * batch_size" if keep_partial else "batch_size * (seq_len + 1)"
        raise ValueError(
            f"ids: expected at least {need} = {N * 2 if keep_partial else N * (T + 1)} ids "
            f"for one batch, got {len(ids)}"
        )
    L = len(ids) // N
    data = np.ascontiguousarray(ids[: N * L].reshape(N, L).T, dtype=np.int64)  # (L, N)
    return _windows(data, count, T)


def _windows(data: np.ndarray, count: int, T: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for b in range(count):
        start = b * T
        t = min(T, len(data) - 1 - start)  # T, or fewer in a kept partial window
        yield data[start : start + t].copy(), data[start + 1 : start + t + 1].copy()  # (t, N)


def _check_ids(ids) -> np.ndarray:
    if not isinstance(ids, np.ndarray):
        raise TypeError(f"ids: expected a numpy.ndarray of integer ids, got {type(ids).__name__}")
    if ids.ndim != 1:
        raise ValueError(f"ids: expected a 1-D array, got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids: expected integer ids, got dtype {ids.dtype}")
    return ids
