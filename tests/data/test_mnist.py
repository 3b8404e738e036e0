"""IDX parsing, MNIST lookup/download/verification (never over the network), sequence views."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from bptt.data import (
    DatasetNotFoundError,
    default_cache_dir,
    load_mnist,
    mnist_sequences,
    read_idx,
    train_validation_split,
)
from helpers import NAMES, idx_bytes, skip_or_fail_in_ci

# The project's read-only shared/ beside the checkout (there in CI too).
REAL_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def fake_mnist(rng, n_train=6, n_test=4):
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_mnist(folder: Path, arrays, gz_keys=("train_images", "test_labels")):
    """Write the fake set, some files gzipped and some raw, since either form is accepted."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, a in arrays.items():
        data = idx_bytes(a)
        if key in gz_keys:
            (folder / f"{NAMES[key]}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / NAMES[key]).write_bytes(data)


def served(arrays):
    """A fetch(url) that serves the fake set as the mirrors would, recording the urls asked."""
    files = {f"{NAMES[k]}.gz": gzip.compress(idx_bytes(a)) for k, a in arrays.items()}
    asked = []

    def fetch(url):
        asked.append(url)
        return files[url.rsplit("/", 1)[-1]]

    return fetch, asked


def offline(url):
    raise OSError(f"network disabled in tests: {url}")


# ---- IDX ----


@pytest.mark.parametrize("shape", [(5,), (3, 4, 2)])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrips_raw_and_gzipped(tmp_path, shape, gz):
    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = idx_bytes(a)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path)
    assert got.dtype == np.uint8 and got.shape == shape
    np.testing.assert_array_equal(got, a)
    got[...] = 0  # the result is an ordinary writable array


@pytest.mark.parametrize("cut, word", [(-1, "truncated"), (1, "trailing")])
def test_read_idx_rejects_wrong_payload_length_naming_file_and_sizes(tmp_path, cut, word):
    data = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data[:cut] if cut < 0 else data + b"\x00" * cut)
    with pytest.raises(ValueError, match=word) as e:
        read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "expected 34 bytes" in msg and f"got {34 + cut} bytes" in msg


def test_read_idx_rejects_bad_magic_and_dtype(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00\x0d\x01" + (2).to_bytes(4, "big") + b"\x00" * 8)  # float32 code
    with pytest.raises(ValueError, match="magic number"):
        read_idx(path)
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="0x00000803"):
        read_idx(path, ndim=3)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:-12])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


# ---- lookup, download, verification ----


def test_load_mnist_from_data_dir_accepts_raw_and_gz(tmp_path):
    arrays = fake_mnist(np.random.default_rng(1))
    write_mnist(tmp_path, arrays)
    m = load_mnist(data_dir=tmp_path, verify=False, fetch=offline)
    for key, a in arrays.items():
        np.testing.assert_array_equal(getattr(m, key), a)


def test_verify_rejects_files_that_are_not_mnist(tmp_path):
    write_mnist(tmp_path, fake_mnist(np.random.default_rng(2)))
    with pytest.raises(ValueError, match="expected MD5"):
        load_mnist(data_dir=tmp_path, fetch=offline)


def test_missing_file_in_data_dir_lists_it_and_never_downloads(tmp_path):
    write_mnist(tmp_path, fake_mnist(np.random.default_rng(3)))
    (tmp_path / f"{NAMES['test_labels']}.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(data_dir=tmp_path, verify=False, fetch=offline)
    msg = str(e.value)
    assert str(tmp_path) in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert "train-images-idx3-ubyte" not in msg  # only what is missing is listed
    assert isinstance(e.value, FileNotFoundError)


def test_offline_without_files_says_which_files_go_where(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(cache_dir=tmp_path, download=False, fetch=offline)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg and "--data-dir" in msg
    assert all(f"{name}.gz" in msg for name in NAMES.values())


def test_every_mirror_failing_reports_each_failure(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(cache_dir=tmp_path, fetch=offline, mirrors=("https://a/", "https://b/"))
    msg = str(e.value)
    assert "https://a/train-images-idx3-ubyte.gz" in msg and "https://b/" in msg
    assert "network disabled" in msg
    assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())


def test_download_once_into_cache_then_reuse(tmp_path, monkeypatch):
    monkeypatch.setenv("BPTT_CACHE_DIR", str(tmp_path))
    arrays = fake_mnist(np.random.default_rng(4))
    fetch, asked = served(arrays)
    first = load_mnist(verify=False, fetch=fetch)
    assert len(asked) == 4 and all(u.startswith("https://") for u in asked)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        f"{n}.gz" for n in NAMES.values()
    )  # no temp files left behind
    second = load_mnist(verify=False, fetch=offline)
    for key, a in arrays.items():
        np.testing.assert_array_equal(getattr(first, key), a)
        np.testing.assert_array_equal(getattr(second, key), a)


def test_download_falls_back_to_next_mirror(tmp_path):
    fetch_ok, _ = served(fake_mnist(np.random.default_rng(5)))

    def fetch(url):
        if url.startswith("https://down/"):
            raise OSError("connection refused")
        return fetch_ok(url)

    m = load_mnist(
        cache_dir=tmp_path, verify=False, fetch=fetch, mirrors=("https://down/", "https://up/")
    )
    assert m.train_images.shape == (6, 28, 28)


def test_download_with_wrong_checksum_is_rejected_and_not_cached(tmp_path):
    fetch, _ = served(fake_mnist(np.random.default_rng(6)))
    with pytest.raises(DatasetNotFoundError, match="expected MD5 f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        load_mnist(cache_dir=tmp_path, fetch=fetch)
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_image_label_count_mismatch_is_an_error(tmp_path):
    arrays = fake_mnist(np.random.default_rng(7))
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match="6 images and 5 labels"):
        load_mnist(data_dir=tmp_path, verify=False)


def test_default_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BPTT_CACHE_DIR", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("BPTT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "bptt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "bptt"


def test_real_mnist_loads_with_md5_verification():
    if not REAL_MNIST.is_dir():
        skip_or_fail_in_ci(
            f"the real MNIST files are not in {REAL_MNIST}", "CI has ../shared beside the checkout"
        )
    m = load_mnist(data_dir=REAL_MNIST, verify=True, fetch=offline)
    assert m.train_images.shape == (60000, 28, 28) and m.test_images.shape == (10000, 28, 28)
    assert m.train_labels.shape == (60000,) and m.test_labels.shape == (10000,)
    assert m.train_images.dtype == np.uint8
    for labels in (m.train_labels, m.test_labels):
        assert labels.min() == 0 and labels.max() == 9
        assert np.bincount(labels).min() > len(labels) // 20  # every digit well represented
    raw = gzip.decompress((REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == "27ae3e4e09519cfbb04c329615203637"
    xs, ys = mnist_sequences(m.test_images[:3], m.test_labels[:3], "rows")
    assert xs.shape == (28, 3, 28) and 0.99 < xs.max() <= 1.0


# ---- sequence views and split ----


def test_sequence_views_shapes_and_pixel_order():
    rng = np.random.default_rng(8)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5).astype(np.uint8)
    rows, y = mnist_sequences(images, labels, "rows")
    assert rows.shape == (28, 5, 28) and rows.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(rows[3, 2], images[2, 3] / 255.0, rtol=1e-6)
    pixels, _ = mnist_sequences(images, labels, "pixels")
    assert pixels.shape == (784, 5, 1)
    np.testing.assert_allclose(pixels[28 * 3 + 7, 2, 0], images[2, 3, 7] / 255.0, rtol=1e-6)
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0


def test_permuted_view_is_a_fixed_seeded_permutation():
    rng = np.random.default_rng(9)
    images = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    labels = np.arange(4)
    pixels, _ = mnist_sequences(images, labels, "pixels")
    p0, _ = mnist_sequences(images, labels, "permuted", permutation_seed=0)
    p0_again, _ = mnist_sequences(images[::-1].copy(), labels, "permuted", permutation_seed=0)
    p1, _ = mnist_sequences(images, labels, "permuted", permutation_seed=1)
    perm = np.random.default_rng(0).permutation(784)
    np.testing.assert_array_equal(p0, pixels[perm])
    np.testing.assert_array_equal(p0_again, p0[:, ::-1])  # same order for every image
    assert not np.array_equal(p0, p1)


def test_sequence_view_errors():
    images = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="rows"):
        mnist_sequences(images, np.zeros(2, np.int64), "columns")
    with pytest.raises(TypeError, match="uint8"):
        mnist_sequences(images.astype(np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        mnist_sequences(images, np.zeros(3, np.int64))


def test_train_validation_split_is_a_seeded_partition():
    train, val = train_validation_split(100, 15, np.random.default_rng(0))
    assert len(val) == 15 and len(train) == 85
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    again, val_again = train_validation_split(100, 15, np.random.default_rng(0))
    np.testing.assert_array_equal(val, val_again)
    _, val_other = train_validation_split(100, 15, np.random.default_rng(1))
    assert not np.array_equal(val, val_other)
    with pytest.raises(ValueError, match="validation_size"):
        train_validation_split(10, 10, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        train_validation_split(10, 2, 0)
