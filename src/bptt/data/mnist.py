"""MNIST as arrays, and the sequence views that make it a recurrent task.

Where the four IDX files come from, in order:

1. ``data_dir`` when given: the files must already be there (raw or ``.gz``); nothing is
   downloaded into a folder the user named.
2. otherwise the cache ``<root>/mnist`` where root is ``cache_dir``, else ``$BPTT_CACHE_DIR``,
   else ``$XDG_CACHE_HOME/bptt``, else ``~/.cache/bptt``. Missing files are downloaded there
   once from public https mirrors, tried in order, and written atomically.

Every file is checked against the MD5 of its unpacked bytes (``verify=True``); a download is
also checked against the MD5 of the ``.gz`` as served by the mirrors.

Sequence views of images (N, H, W) uint8, scaled to [0, 1], time-major:

    rows      xs[t, n, :] = image_n[t, :]            (H, N, W)   28 steps of 28 pixels
    pixels    xs[t, n, 0] = image_n.flat[t]          (H*W, N, 1) 784 steps of 1 pixel
    permuted  xs[t, n, 0] = image_n.flat[perm[t]]    (H*W, N, 1) perm fixed by a seed
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from bptt.checks import check_positive_int, is_integer
from bptt.data.idx import parse_idx, read_idx_bytes
from bptt.io import atomic_write_bytes

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


@dataclass(frozen=True)
class MnistFile:
    name: str  # without .gz
    gz_md5: str  # of the .gz the mirrors serve
    raw_md5: str  # of the unpacked IDX bytes
    ndim: int


FILES = {
    "train_images": MnistFile(
        "train-images-idx3-ubyte",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "6bbc9ace898e44ae57da46a324031adb",
        3,
    ),
    "train_labels": MnistFile(
        "train-labels-idx1-ubyte",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "a25bea736e30d166cdddb491f175f624",
        1,
    ),
    "test_images": MnistFile(
        "t10k-images-idx3-ubyte",
        "9fb629c4189551a2d022fa330f9573f3",
        "2646ac647ad5339dbf082846283269ea",
        3,
    ),
    "test_labels": MnistFile(
        "t10k-labels-idx1-ubyte",
        "ec29112dd5afa0611ce80d1b7f02629c",
        "27ae3e4e09519cfbb04c329615203637",
        1,
    ),
}

VIEWS = ("rows", "pixels", "permuted")


class DatasetNotFoundError(FileNotFoundError):
    """The data files are not on disk and could not be downloaded."""


@dataclass(frozen=True, eq=False)
class MNIST:
    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8 in 0..9
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray  # (10000,) uint8 in 0..9


def default_cache_dir() -> Path:
    """$BPTT_CACHE_DIR, else $XDG_CACHE_HOME/bptt, else ~/.cache/bptt."""
    if os.environ.get("BPTT_CACHE_DIR"):
        return Path(os.environ["BPTT_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "bptt"
    return Path.home() / ".cache" / "bptt"


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    verify: bool = True,
    fetch: Callable[[str], bytes] | None = None,
    mirrors: tuple[str, ...] = MIRRORS,
) -> MNIST:
    """Load the four MNIST arrays; see the module docstring for where they are looked for.

    ``verify=False`` skips the MD5 checks (for small hand-made IDX files in tests).
    ``fetch(url) -> bytes`` replaces the urllib download (tests never touch the network).
    Raises DatasetNotFoundError, listing the files to provide and where, when they are absent
    and cannot be downloaded.
    """
    if data_dir is not None:
        folder, can_download = Path(data_dir).expanduser(), False
    else:
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        folder, can_download = root / "mnist", download
    arrays = {}
    for key, spec in FILES.items():
        data, source = _find(folder, spec)
        if data is None:
            if not can_download:
                _raise_not_found(folder, spec, data_dir is not None, mirrors, [])
            data, source = _download(folder, spec, fetch or _urllib_fetch, mirrors, verify)
        elif verify:
            _check_md5(data, spec.raw_md5, source, "unpacked IDX bytes")
        arrays[key] = parse_idx(data, source, spec.ndim)
    for split in ("train", "test"):
        _check_pair(arrays[f"{split}_images"], arrays[f"{split}_labels"], folder, split)
    return MNIST(**arrays)


def _find(folder: Path, spec: MnistFile) -> tuple[bytes | None, str]:
    for candidate in (folder / spec.name, folder / f"{spec.name}.gz"):
        if candidate.is_file():
            return read_idx_bytes(candidate), str(candidate)
    return None, ""


def _download(
    folder: Path, spec: MnistFile, fetch: Callable[[str], bytes], mirrors, verify: bool
) -> tuple[bytes, str]:
    """Fetch ``spec`` from the first mirror that serves intact bytes; keep its .gz in folder."""
    failures = []
    for mirror in mirrors:
        url = mirror + spec.name + ".gz"
        try:
            packed = fetch(url)
            if verify:
                _check_md5(packed, spec.gz_md5, url, ".gz as downloaded")
            data = gzip.decompress(packed)
            if verify:
                _check_md5(data, spec.raw_md5, url, "unpacked IDX bytes")
            parse_idx(data, url, spec.ndim)
        except Exception as e:  # any failure of one mirror means: try the next
            failures.append(f"{url}: {type(e).__name__}: {e}")
            continue
        path = folder / f"{spec.name}.gz"
        atomic_write_bytes(path, packed)
        return data, str(path)
    _raise_not_found(folder, spec, False, mirrors, failures)


def _urllib_fetch(url: str) -> bytes:
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "bptt"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def _check_md5(data: bytes, expected: str, source: str, what: str) -> None:
    got = hashlib.md5(data).hexdigest()
    if got != expected:
        raise ValueError(
            f"{source}: expected MD5 {expected} of the {what}, got {got}; the file is corrupt "
            f"or not the MNIST file (delete it; for your own IDX files pass verify=False, "
            f"or --no-verify to bptt train)"
        )


def _raise_not_found(
    folder: Path, first_missing: MnistFile, named: bool, mirrors, failures: list[str]
) -> NoReturn:
    missing = [s.name for s in FILES.values() if not _exists(folder, s)] or [first_missing.name]
    lines = [f"MNIST not found: put these files into {folder} (each as .gz or unpacked):"]
    lines += [f"    {name}.gz" for name in missing]
    if named:
        lines.append("(that folder was given as data_dir / --data-dir, so nothing is downloaded)")
    else:
        lines.append(
            "or name a folder that holds all four files (--data-dir DIR; in Python, data_dir=DIR);"
        )
        lines.append("missing files are downloaded from: " + ", ".join(mirrors))
    if failures:
        lines.append("download failed from every mirror:")
        lines += [f"    {f}" for f in failures]
    raise DatasetNotFoundError("\n".join(lines))


def _exists(folder: Path, spec: MnistFile) -> bool:
    return (folder / spec.name).is_file() or (folder / f"{spec.name}.gz").is_file()


def _check_pair(images: np.ndarray, labels: np.ndarray, folder: Path, split: str) -> None:
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST {split} set in {folder}: expected as many labels as images, "
            f"got {images.shape[0]} images and {labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(
            f"MNIST {split} labels in {folder}: expected digits 0..9, got {int(labels.max())}"
        )


def mnist_sequences(
    images: np.ndarray, labels: np.ndarray, view: str = "rows", permutation_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 -> (xs float32 time-major in [0, 1], labels (N,) int64).

    ``view``: "rows" gives (H, N, W); "pixels" and "permuted" give (H*W, N, 1), the latter in
    the fixed order ``numpy.random.default_rng(permutation_seed).permutation(H*W)``. The float
    copy of all 60000 images as pixels is 188 MB: call it per batch when memory matters.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 3 or images.dtype != np.uint8:
        got = (
            f"{images.dtype} array of shape {images.shape}"
            if isinstance(images, np.ndarray)
            else type(images).__name__
        )
        raise TypeError(f"images: expected a uint8 array (N, H, W), got {got}")
    labels = np.asarray(labels)
    N, H, W = images.shape
    if labels.shape != (N,):
        raise ValueError(f"labels: expected shape ({N},) (one per image), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected integers, got dtype {labels.dtype}")
    if view == "rows":
        xs = images.transpose(1, 0, 2)  # (H, N, W)
    elif view in ("pixels", "permuted"):
        xs = images.reshape(N, H * W).T  # (H*W, N)
        if view == "permuted":
            xs = xs[np.random.default_rng(permutation_seed).permutation(H * W)]
        xs = xs[:, :, None]  # (H*W, N, 1)
    else:
        raise ValueError(f"view: expected one of {VIEWS}, got {view!r}")
    xs = np.ascontiguousarray(xs, dtype=np.float32)
    xs /= np.float32(255.0)
    return xs, labels.astype(np.int64)


def train_validation_split(
    n: int, validation_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices 0..n-1 at random into (train_idx, val_idx), each sorted, int64.

    ``validation_size`` examples go to validation; hold them out of the training set (MNIST's
    test set stays untouched for the final number).
    """
    n = check_positive_int("n", n)
    if not is_integer(validation_size) or not 0 <= validation_size < n:
        raise ValueError(
            f"validation_size: expected an integer in [0, {n}) (n = {n}), got {validation_size!r}"
        )
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    order = rng.permutation(n)
    return np.sort(order[validation_size:]), np.sort(order[:validation_size])
