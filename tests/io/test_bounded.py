"""Every reader takes only a regular file and reads no more than its format allows: a FIFO or a
device is a clear error at once (never a hang), an oversized or lying file is refused before
its bytes are read, and a gzip bomb is refused without the memory it asks for."""

import gzip
import os
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt.bounded import open_regular, read_bounded
from bptt.data import load_text, read_idx
from bptt.io import CorruptFileError, json_from_bytes, load_weights, read_json, save_weights
from bptt.train import CheckpointError, load_checkpoint, save_checkpoint

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


@contextmanager
def deadline(seconds: float = 5.0):
    """Fail instead of hanging: a reader that blocks is a test failure after ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s: the reader hangs")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


READERS = {
    "json": read_json,
    "weights": load_weights,
    "text": load_text,
    "idx": read_idx,
    "bounded": lambda p: read_bounded(p, 100),
}


@posix_only
@pytest.mark.parametrize("reader", list(READERS))
def test_a_fifo_is_refused_at_once(fifo, reader):
    with deadline(), pytest.raises(ValueError, match="expected a regular file, got a FIFO"):
        READERS[reader](fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("reader", list(READERS))
def test_dev_zero_is_refused_without_reading(reader):
    with deadline(), pytest.raises(ValueError, match="got a character device"):
        READERS[reader]("/dev/zero")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="got a directory"):
        read_json(tmp_path)


def test_a_file_over_its_limit_is_refused_from_its_size(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b"0," * 100 + b"0]")
    with pytest.raises(ValueError, match="at most 50 bytes, got a file of 203 bytes"):
        read_json(path, limit=50)
    assert read_json(path, limit=203) == [0] * 101


def test_deeply_nested_json_is_a_clear_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        json_from_bytes(b"[" * 100_000 + b"]" * 100_000, "state.json")


def test_text_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abc" * 100)
    with pytest.raises(ValueError, match="t.txt: expected at most 100 bytes"):
        load_text(path, limit=100)


def _header(n: int, rest: bytes) -> bytes:
    return n.to_bytes(8, "little") + rest


@pytest.mark.parametrize(
    "data",
    [
        _header(10**12, b"{}"),  # a header far larger than the file
        _header(200_000_000, b"x" * 64),  # over safetensors' 100 MB limit
        _header(2, b"{}") + b"\x00" * 10,  # trailing bytes past the last offset
        _header(60, b'{"a":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}'),  # short
    ],
)
def test_a_lying_safetensors_header_is_refused_before_the_data_is_read(tmp_path, data):
    path = tmp_path / "w.safetensors"
    path.write_bytes(data)
    with pytest.raises(CorruptFileError, match="w.safetensors: not a readable safetensors"):
        load_weights(path)


def test_weights_still_round_trip(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(0)}
    got = load_weights(save_weights(tmp_path / "w.safetensors", arrays))
    assert sorted(got) == ["a", "b"] and np.array_equal(got["a"], arrays["a"])


def test_a_gzip_bomb_is_refused_at_the_first_byte_past_its_announced_size(tmp_path):
    # 64 announced labels, then 64 MiB of zeros: 65 KB on disk
    header = b"\x00\x00\x08\x01" + (64).to_bytes(4, "big")
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header + bytes(64))
        for _ in range(64):
            f.write(bytes(1 << 20))
    with deadline(), pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path)


def test_an_idx_header_announcing_too_much_is_refused_before_reading(tmp_path):
    header = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (10**6, 28, 28))
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header))
    with deadline(), pytest.raises(ValueError, match=r"at most .* bytes, got a header announcing"):
        read_idx(path)


def test_open_regular_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        open_regular(tmp_path / "nothing-here")


# ----- fuzzing: arbitrary bytes give a clean error or a value, never anything else ------------

CLEAN = (ValueError, TypeError)  # CorruptFileError and CheckpointError are ValueErrors
fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(st.binary(max_size=300))
def test_fuzzed_json_bytes(data):
    try:
        json_from_bytes(data, "fuzzed.json")
    except ValueError as e:
        assert "fuzzed.json" in str(e)


@fuzz
@given(st.binary(max_size=300))
def test_fuzzed_weights_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("w") / "w.safetensors"
    path.write_bytes(data)
    with pytest.raises(CorruptFileError):
        load_weights(path)


@fuzz
@given(st.binary(max_size=200), st.booleans())
def test_fuzzed_idx_files(tmp_path_factory, data, packed):
    path = tmp_path_factory.mktemp("idx") / ("x.gz" if packed else "x")
    path.write_bytes(gzip.compress(data) if packed else data)
    try:
        read_idx(path)
    except ValueError as e:
        assert str(path) in str(e)


@fuzz
@given(
    st.sampled_from(["model.safetensors", "state.json", "manifest.json"]), st.binary(max_size=200)
)
def test_fuzzed_checkpoint_files(tmp_path_factory, name, data):
    run = tmp_path_factory.mktemp("run")
    ckpt = save_checkpoint(
        run,
        1,
        params={"w": np.ones(3)},
        optimizer_state={"meta": {}, "arrays": {}},
        rng_state=np.random.default_rng(0).bit_generator.state,
        counters={"step": 1},
        config={},
    )
    (ckpt / name).write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(run)
