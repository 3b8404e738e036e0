"""``--resume RUN/checkpoints/step-N`` rolls a run back; the checkpoints newer than step N
belong to the abandoned future: they are moved aside and kept, never taken for the latest,
overwritten by the steps redone, or deleted by pruning."""

import hashlib

from bptt.train import find_checkpoint, load_checkpoint

SMALL = ["--train-size", 64, "--test-size", 20, "--hidden-size", 4, "--batch-size", 16]


def _digest(ckpt_dir):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ckpt_dir.iterdir()}


def _steps(folder):
    return sorted(p.name for p in folder.glob("step-*"))


def test_a_roll_back_keeps_the_newer_checkpoints_aside_and_never_uses_them(tmp_path, cli):
    run = tmp_path / "run"
    rc, _, err = cli("train", "addition", *SMALL, "--epochs", 3, "--run-dir", run)
    assert rc == 0, err
    root = run / "checkpoints"
    assert _steps(root) == ["step-000004", "step-000008", "step-000012"]
    newer = {n: _digest(root / n) for n in ("step-000008", "step-000012")}

    rc, _, err = cli("train", "--resume", root / "step-000004", "--epochs", 2)
    assert rc == 0, err
    aside = root / "rolled-back-1"
    assert "step-000008, step-000012" in err and str(aside) in err, err
    assert {n: _digest(aside / n) for n in _steps(aside)} == newer  # kept, byte for byte
    assert _steps(root) == ["step-000004", "step-000008"]  # this run's own
    (root / "latest.json").unlink()  # a lost pointer falls back to this run's checkpoints only
    assert find_checkpoint(run) == root / "step-000008"
    assert load_checkpoint(find_checkpoint(run)).counters["epoch"] == 2

    rc, _, err = cli("train", "--resume", run, "--epochs", 6)  # pruning runs at every save
    assert rc == 0, err
    assert _steps(root) == ["step-000016", "step-000020", "step-000024"]
    assert {n: _digest(aside / n) for n in _steps(aside)} == newer


def test_a_second_roll_back_uses_a_new_folder(tmp_path, cli):
    run = tmp_path / "run"
    rc, _, err = cli("train", "addition", *SMALL, "--epochs", 2, "--run-dir", run)
    assert rc == 0, err
    root = run / "checkpoints"
    for _ in range(2):
        rc, _, err = cli("train", "--resume", root / "step-000004", "--epochs", 2)
        assert rc == 0, err
    assert _steps(root / "rolled-back-1") == _steps(root / "rolled-back-2") == ["step-000008"]


def test_resuming_from_the_latest_checkpoint_moves_nothing(tmp_path, cli):
    run = tmp_path / "run"
    rc, _, err = cli("train", "addition", *SMALL, "--epochs", 2, "--run-dir", run)
    assert rc == 0, err
    root = run / "checkpoints"
    rc, _, err = cli("train", "--resume", root / "step-000008", "--epochs", 3)
    assert rc == 0, err
    assert not list(root.glob("rolled-back-*")) and "rolled back" not in err
