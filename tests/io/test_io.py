"""Atomic writes, JSON / JSONL files and safetensors weights."""

import json
import os
import stat
import sys

import numpy as np
import pytest

from bptt.io import (
    CorruptFileError,
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    load_weights,
    read_json,
    read_jsonl,
    save_weights,
)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_atomic_write_bytes_creates_parents_and_leaves_only_the_target(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, bytearray(b"second"))
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["file.bin"]


def test_atomic_write_bytes_keeps_old_content_and_no_temp_file_when_the_write_fails(
    tmp_path, monkeypatch
):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_bytes_gives_new_files_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = atomic_write_bytes(tmp_path / "f", b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_bytes_rejects_text(tmp_path):
    with pytest.raises(TypeError, match="expected bytes, got str"):
        atomic_write_bytes(tmp_path / "f", "text")


def test_json_file_has_sorted_keys_indent_2_and_a_trailing_newline(tmp_path):
    obj = {"b": [1, 2.5, None], "a": {"z": True, "y": "é"}, "big": 2**100}
    path = atomic_write_json(tmp_path / "x.json", obj)
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(obj, sort_keys=True, indent=2) + "\n"
    assert read_json(path) == obj


def test_json_writes_numpy_scalars_as_plain_numbers(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"n": np.int64(3), "x": np.float32(0.5)})
    assert read_json(path) == {"n": 3, "x": 0.5}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_json_refuses_non_finite_numbers_and_keeps_the_old_file(tmp_path, bad):
    path = atomic_write_json(tmp_path / "x.json", {"ok": 1})
    with pytest.raises(ValueError, match=r"non-finite.*\$\['metrics'\]\['loss'\]"):
        atomic_write_json(path, {"metrics": {"loss": bad}})
    assert read_json(path) == {"ok": 1}
    assert os.listdir(tmp_path) == ["x.json"]


def test_json_serialization_failure_midway_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"ok": 1})
    with pytest.raises(TypeError, match=r"x\.json.*type object at \$\['b'\]\[1\]"):
        atomic_write_json(path, {"a": list(range(1000)), "b": [1, object()]})
    assert read_json(path) == {"ok": 1}
    assert os.listdir(tmp_path) == ["x.json"]


def test_read_json_names_the_file_on_malformed_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"a": 1,\n "b": }\n')
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON.*line 2"):
        read_json(path)
    path.write_text('{"a": NaN}')
    with pytest.raises(ValueError, match=r"broken\.json.*NaN is not standard JSON"):
        read_json(path)


def test_jsonl_appends_one_object_per_line(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    records = [{"step": i, "loss": 1.0 / (i + 1)} for i in range(3)]
    for r in records:
        append_jsonl(path, r)
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert read_jsonl(path) == records
    with pytest.raises(TypeError, match="expected a dict"):
        append_jsonl(path, [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        append_jsonl(path, {"loss": float("nan")})
    assert read_jsonl(path) == records


def test_jsonl_line_cut_short_by_a_crash_is_skipped_then_repaired(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1})
    with open(path, "ab") as f:
        f.write(b'{"step": 2, "lo')
    assert read_jsonl(path) == [{"step": 1}]
    append_jsonl(path, {"step": 3})
    assert read_jsonl(path) == [{"step": 1}, {"step": 3}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2"):
        read_jsonl(path)


def some_arrays(rng):
    w = rng.standard_normal((5, 4))
    return {
        "weight_f32": w.astype(np.float32),
        "weight_f64": w,
        "transposed": w.T,  # not C-contiguous
        "strided": w[::2, 1:],
        "big_endian": w.astype(">f8"),
        "scalar": np.array(-0.0),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "special": np.array([np.nan, np.inf, -np.inf, 1e-45], dtype=np.float32),
        "ints": rng.integers(-(2**62), 2**62, size=7),
        "mask": rng.random(6) < 0.5,
        "half": w[0].astype(np.float16),
    }


def test_weights_round_trip_is_bit_identical(tmp_path):
    arrays = some_arrays(np.random.default_rng(0))
    path = save_weights(tmp_path / "w.safetensors", arrays, metadata={"format": "pt"})
    loaded = load_weights(path)
    assert sorted(loaded) == sorted(arrays)
    for name, a in arrays.items():
        expected = a.astype(a.dtype.newbyteorder("="))
        assert same_bits(loaded[name], expected), name
        assert loaded[name].flags.writeable and loaded[name].flags.c_contiguous
    loaded["weight_f32"] += 1  # loaded arrays are independent copies
    assert same_bits(load_weights(path)["weight_f32"], arrays["weight_f32"])
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_weights_metadata_is_stored_in_the_header(tmp_path):
    path = save_weights(tmp_path / "w.safetensors", {"a": np.zeros(2)}, {"format": "pt", "n": "7"})
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    assert header["__metadata__"] == {"format": "pt", "n": "7"}
    assert header["a"]["dtype"] == "F64" and header["a"]["shape"] == [2]


@pytest.mark.parametrize(
    "arrays, metadata, error, match",
    [
        ({"a": [1.0, 2.0]}, None, TypeError, r"arrays\['a'\]: expected a numpy.ndarray, got list"),
        ({"a": np.array(["x"])}, None, TypeError, r"arrays\['a'\].*got <U1"),
        ({"a": np.zeros(2, np.complex128)}, None, TypeError, "got complex128"),
        ({"__metadata__": np.zeros(2)}, None, ValueError, "other than '__metadata__'"),
        ({"a": np.zeros(2)}, {"step": 3}, TypeError, r"metadata: expected a dict of str -> str"),
    ],
)
def test_save_weights_rejects_bad_input_and_writes_nothing(
    tmp_path, arrays, metadata, error, match
):
    with pytest.raises(error, match=match):
        save_weights(tmp_path / "w.safetensors", arrays, metadata)
    assert os.listdir(tmp_path) == []


def test_truncated_or_garbage_weights_raise_checkpoint_error_naming_the_file(tmp_path):
    path = save_weights(tmp_path / "w.safetensors", some_arrays(np.random.default_rng(1)))
    data = path.read_bytes()
    for cut in (0, 5, 40, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CorruptFileError, match=r"w\.safetensors: not a readable safetensors"):
            load_weights(path)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header!!!}")
    with pytest.raises(CorruptFileError, match=r"w\.safetensors"):
        load_weights(path)
    assert issubclass(CorruptFileError, ValueError)


def test_weights_load_in_torch_with_identical_values(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    arrays = some_arrays(np.random.default_rng(2))
    path = save_weights(tmp_path / "w.safetensors", arrays)
    tensors = st_torch.load_file(str(path))
    assert sorted(tensors) == sorted(arrays)
    for name, a in arrays.items():
        t = tensors[name]
        assert isinstance(t, torch.Tensor)
        assert same_bits(t.numpy(), a.astype(a.dtype.newbyteorder("="))), name


def test_missing_safetensors_gives_an_install_hint(tmp_path, monkeypatch):
    (tmp_path / "w.safetensors").write_bytes(b"\0" * 16)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r'pip install "bptt\[train\]"'):
        save_weights(tmp_path / "w.safetensors", {"a": np.zeros(2)})
    with pytest.raises(ImportError, match=r'pip install "bptt\[train\]"'):
        load_weights(tmp_path / "w.safetensors")


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_refused_atomic_write_names_the_target_and_keeps_its_errno(tmp_path, monkeypatch, call):
    import errno

    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, call, full)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"new content")
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["file.bin"]
