"""Checkpoints: exact round trips, pruning, the latest pointer, and refusing broken files."""

import json
import os

import numpy as np
import pytest

from bptt import LSTM
from bptt.train import (
    Checkpoint,
    CheckpointError,
    find_checkpoint,
    generator_from_state,
    generator_state,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def training_state(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    model = LSTM(3, 4, num_layers=2, dtype=dtype, rng=rng)
    moments = {
        f"m.{k}": rng.standard_normal(v.shape).astype(dtype) for k, v in model.params.items()
    }
    moments["m.weight_hh_l0"][0, :3] = [np.nan, -0.0, np.inf]
    rng.random(5)  # the state saved is mid-stream, not a fresh seed
    return {
        "params": model.params,
        "optimizer_state": {
            "meta": {"name": "adam", "t": 7, "lr": 1e-3, "betas": [0.9, 0.999]},
            "arrays": moments,
        },
        "rng_state": generator_state(rng),
        "counters": {"tokens_seen": 12345, "epoch": 2, "best_val_loss": 1.25},
        "config": {"model": {"cell": "lstm", "hidden_size": 4}, "seed": seed},
        "vocabulary": {"itos": ["\n", " ", "a", "é"]},
    }


def save(run_dir, step, keep_last=3, **overrides):
    kwargs = training_state() | overrides
    return save_checkpoint(run_dir, step, keep_last=keep_last, **kwargs)


def steps(run_dir):
    return [int(p.name.split("-")[1]) for p in list_checkpoints(run_dir)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    state = training_state(dtype)
    path = save_checkpoint(tmp_path, 123, **state)
    assert path == tmp_path / "checkpoints" / "step-000123"
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.step == 123 and ckpt.path == path
    assert sorted(ckpt.params) == sorted(state["params"])
    for k, v in state["params"].items():
        assert same_bits(ckpt.params[k], v), k
    arrays = state["optimizer_state"]["arrays"]
    assert sorted(ckpt.optimizer_state["arrays"]) == sorted(arrays)
    for k, v in arrays.items():
        assert same_bits(ckpt.optimizer_state["arrays"][k], v), k
    assert ckpt.optimizer_state["meta"] == state["optimizer_state"]["meta"]
    assert ckpt.counters == state["counters"]
    assert ckpt.config == state["config"]
    assert ckpt.vocabulary == state["vocabulary"]
    assert ckpt.rng_state == state["rng_state"]


def test_checkpoint_directory_layout_and_manifest(tmp_path):
    path = save(tmp_path, 5)
    assert sorted(os.listdir(path)) == [
        "manifest.json",
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["step"] == 5
    assert sorted(manifest["files"]) == ["model.safetensors", "optimizer.safetensors", "state.json"]
    for name, entry in manifest["files"].items():
        assert entry["size"] == (path / name).stat().st_size
        assert len(entry["sha256"]) == 64
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["latest.json", "step-000005"]


@pytest.mark.parametrize("bit_generator", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_restored_generator_draws_the_same_numbers(tmp_path, bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(42))
    rng.standard_normal(3)
    rng.integers(0, 10, dtype=np.uint32)  # leaves a buffered half word in some generators
    save(tmp_path, 1, rng_state=generator_state(rng))
    restored = load_checkpoint(tmp_path).rng()
    assert np.array_equal(restored.random(8), rng.random(8))
    assert np.array_equal(
        restored.integers(0, 2**32, 5, dtype=np.uint32), rng.integers(0, 2**32, 5, dtype=np.uint32)
    )


def test_raw_bit_generator_state_with_arrays_is_accepted(tmp_path):
    rng = np.random.Generator(np.random.MT19937(3))
    save(tmp_path, 1, rng_state=rng.bit_generator.state)  # holds a numpy key array
    assert np.array_equal(load_checkpoint(tmp_path).rng().random(4), rng.random(4))


def test_generator_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="expected a numpy.random.Generator, got RandomState"):
        generator_state(np.random.RandomState(0))
    with pytest.raises(ValueError, match="'bit_generator' one of"):
        generator_from_state({"bit_generator": "os.system"})
    with pytest.raises(ValueError, match="not a valid PCG64 state"):
        generator_from_state({"bit_generator": "PCG64", "state": "nope"})


def test_keep_last_prunes_the_oldest(tmp_path):
    for step in range(1, 6):
        save(tmp_path, step, keep_last=2)
    assert steps(tmp_path) == [4, 5]
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [
        "latest.json",
        "step-000004",
        "step-000005",
    ]


def test_keep_last_never_deletes_the_checkpoint_just_written(tmp_path):
    for step in (10, 20, 30):
        save(tmp_path, step, keep_last=3)
    save(tmp_path, 15, keep_last=2)  # a resumed run writing below older, higher steps
    assert steps(tmp_path) == [15, 30]
    save(tmp_path, 5, keep_last=1)
    assert steps(tmp_path) == [5]
    assert load_checkpoint(tmp_path).step == 5


def test_keep_last_none_keeps_everything_and_zero_is_refused(tmp_path):
    for step in range(4):
        save(tmp_path, step, keep_last=None)
    assert steps(tmp_path) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="keep_last: expected a positive integer or None, got 0"):
        save(tmp_path, 9, keep_last=0)


def test_latest_pointer_names_the_newest_save(tmp_path):
    save(tmp_path, 7)
    save(tmp_path, 3)
    latest = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert latest == {"path": "step-000003", "step": 3}
    assert load_checkpoint(tmp_path).step == 3


def test_run_dir_falls_back_to_the_highest_complete_step(tmp_path):
    for step in (1, 2, 3):
        save(tmp_path, step, keep_last=None)
    root = tmp_path / "checkpoints"
    assert find_checkpoint(tmp_path) == root / "step-000003"
    (root / "latest.json").unlink()
    assert load_checkpoint(tmp_path).step == 3
    (root / "step-000003" / "manifest.json").unlink()  # an incomplete checkpoint is skipped
    assert load_checkpoint(tmp_path).step == 2
    (root / "latest.json").write_text('{"path": "step-000009", "step": 9}\n')  # stale pointer
    assert load_checkpoint(tmp_path).step == 2
    assert load_checkpoint(root / "step-000001").step == 1


def test_resolution_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="found neither"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        load_checkpoint(tmp_path)


def test_saving_the_same_step_again_replaces_it(tmp_path):
    save(tmp_path, 4)
    save(tmp_path, 4, counters={"tokens_seen": 1})
    assert load_checkpoint(tmp_path).counters == {"tokens_seen": 1}
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["latest.json", "step-000004"]


def break_truncate_model(path):
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    return r"model\.safetensors: \d+ bytes, but manifest\.json says \d+"


def break_flip_optimizer_byte(path):
    data = bytearray((path / "optimizer.safetensors").read_bytes())
    data[-5] ^= 0x01  # inside the array data: still a valid safetensors file
    (path / "optimizer.safetensors").write_bytes(bytes(data))
    return r"optimizer\.safetensors: sha256 .* does not match manifest\.json"


def break_edit_state(path):
    text = (path / "state.json").read_text()
    (path / "state.json").write_text(text.replace('"epoch": 2', '"epoch": 9'))
    return r"state\.json: sha256 .* does not match"


def break_remove_optimizer(path):
    (path / "optimizer.safetensors").unlink()
    return r"optimizer\.safetensors: missing \(listed in manifest\.json\)"


def break_remove_manifest(path):
    (path / "manifest.json").unlink()
    return r"manifest\.json: missing; the checkpoint is incomplete"


def break_garble_manifest(path):
    (path / "manifest.json").write_text('{"format": "bptt-checkpoint", ')
    return r"manifest\.json: not valid JSON"


def break_manifest_path_escape(path):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["../../secret"] = {"sha256": "0" * 64, "size": 1}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return r"manifest\.json: lists an invalid file name '\.\./\.\./secret'"


@pytest.mark.parametrize(
    "damage",
    [
        break_truncate_model,
        break_flip_optimizer_byte,
        break_edit_state,
        break_remove_optimizer,
        break_remove_manifest,
        break_garble_manifest,
        break_manifest_path_escape,
    ],
)
def test_damaged_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path, damage):
    path = save(tmp_path, 1)
    match = damage(path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path)  # latest.json names it, so no silent fall back to another


def test_bad_input_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"state\.json.*non-finite.*\['counters'\]\['best'\]"):
        save(tmp_path, 1, counters={"best": float("inf")})
    with pytest.raises(ValueError, match=r"optimizer_state: expected exactly the keys"):
        save(tmp_path, 1, optimizer_state={"arrays": {}})
    with pytest.raises(TypeError, match="pass generator_state"):
        save(tmp_path, 1, rng_state=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"arrays\['w'\]: expected a numpy.ndarray"):
        save(tmp_path, 1, params={"w": [1.0]})
    with pytest.raises(ValueError, match="step: expected a non-negative integer, got -1"):
        save(tmp_path, -1)
    with pytest.raises(TypeError, match="step: expected a non-negative integer, got bool"):
        save(tmp_path, True)
    assert not (tmp_path / "checkpoints").exists() or os.listdir(tmp_path / "checkpoints") == []


def test_a_crash_before_the_rename_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    save(tmp_path, 1)
    real_replace = os.replace

    def crash_on_directories(src, dst):
        if os.path.isdir(src):
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_directories)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path, 2)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["latest.json", "step-000001"]
    assert load_checkpoint(tmp_path).step == 1


def test_model_weights_load_into_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    state = training_state(np.float64)
    path = save_checkpoint(tmp_path, 1, **state)
    tensors = st_torch.load_file(str(path / "model.safetensors"))
    lstm = torch.nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    lstm.load_state_dict(tensors)  # strict: exactly PyTorch's names and shapes
    for name, value in lstm.state_dict().items():
        assert same_bits(value.numpy(), state["params"][name]), name
