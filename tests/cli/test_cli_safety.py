"""``bptt train`` never loses a user's files or a run: a run directory of its own, options and
data checked before anything is written, one writer, a resume from anywhere a run can stop,
SIGTERM handled like Ctrl-C, and honest messages when training diverges."""

import json
import os
import shutil
import signal

import pytest

from bptt.train import RunLock
from helpers import assert_usage_error, read_metrics, signal_a_training_run, train_steps

SMALL = ["--train-size", 64, "--test-size", 20, "--hidden-size", 4, "--batch-size", 16]


def _train(cli, run, *more):
    rc, out, err = cli("train", "addition", *SMALL, "--run-dir", run, *more)
    assert rc == 0, err
    return out, err


def _no_duplicate_steps(run):
    steps = train_steps(run)
    assert steps == list(range(1, len(steps) + 1)), steps


# ----- files lost ---------------------------------------------------------------------------


def test_an_empty_run_dir_is_refused_and_the_current_folder_is_untouched(tmp_path, cli):
    (tmp_path / "model.safetensors").write_bytes(b"the user's")
    rc, _, err = cli("train", "addition", *SMALL, "--run-dir", "")
    assert_usage_error(rc, err, "--run-dir", "empty path")
    assert (tmp_path / "model.safetensors").read_bytes() == b"the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_a_folder_that_is_not_a_run_is_refused_and_left_as_it_was(tmp_path, cli):
    folder = tmp_path / "mine"
    (folder / "checkpoints" / "step-000001").mkdir(parents=True)
    (folder / "checkpoints" / "step-000001" / "notes.txt").write_text("notes")
    (folder / "summary.json").write_text("mine")
    rc, _, err = cli("train", "addition", *SMALL, "--run-dir", folder)
    assert_usage_error(rc, err, "not empty and not a bptt run", "checkpoints")
    assert (folder / "checkpoints" / "step-000001" / "notes.txt").read_text() == "notes"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoints", "summary.json"]


def test_a_second_writer_of_a_run_is_refused_naming_the_holder(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run)
    before = (run / "metrics.jsonl").read_bytes()
    with RunLock(run):  # another bptt train --resume holds it
        rc, _, err = cli("train", "--resume", run, "--epochs", 3)
    assert_usage_error(rc, err, "in use by process", str(os.getpid()))
    assert (run / "metrics.jsonl").read_bytes() == before


# ----- dead ends ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["addition", "--clip-norm", "-1"], ["clip_norm"]),
        (["addition", "--clip-norm", "nan"], ["clip_norm", "finite"]),
        (["addition", "--keep-checkpoints", "0"], ["keep_checkpoints"]),
        (["addition", "--max-steps", "-1"], ["max_steps"]),
        (["addition", "--patience", "-1"], ["patience"]),
        (["addition", "--eval-every", "-1"], ["eval_every"]),
        (["adding", "--early-stopping-metric", "accuracy"], ["regressor"]),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, cli, argv, words):
    rc, _, err = cli("train", *argv, *SMALL, "--run-dir", tmp_path / "r")
    assert_usage_error(rc, err, *words)
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_a_run_stopped_before_its_first_checkpoint_resumes_as_a_fresh_start(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run)
    shutil.rmtree(run / "checkpoints")  # as if killed during the first epoch
    (run / "summary.json").unlink()
    rc, out, err = cli("train", "--resume", run)
    assert rc == 0, err
    assert "no checkpoint saved yet; starting the run afresh" in err
    _no_duplicate_steps(run)
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


def test_resume_cuts_metrics_back_to_the_checkpoint_and_removes_stray_temps(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run, "--epochs", 1)
    steps = len(train_steps(run))
    with open(run / "metrics.jsonl", "a") as f:  # steps logged after the checkpoint, then killed
        f.write(json.dumps({"event": "train", "step": steps + 1, "loss": 1.0}) + "\n")
    stray = run / ".model.safetensors.0123456789ab.tmp"
    stray.write_bytes(b"half a file")
    rc, _, err = cli("train", "--resume", run, "--epochs", 2)
    assert rc == 0, err
    assert not stray.exists()
    _no_duplicate_steps(run)
    assert len(train_steps(run)) == 2 * steps


def test_resume_from_an_older_checkpoint_rolls_back(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run, "--epochs", 3)
    straight = [(e["step"], e["loss"]) for e in read_metrics(run) if e["event"] == "train"]
    first = sorted((run / "checkpoints").glob("step-*"))[0]
    rc, _, err = cli("train", "--resume", first)
    assert rc == 0, err
    _no_duplicate_steps(run)
    again = [(e["step"], e["loss"]) for e in read_metrics(run) if e["event"] == "train"]
    assert again == straight  # the same steps redone exactly, logged once


def test_a_corrupt_latest_checkpoint_names_the_intact_older_ones(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run, "--epochs", 1, "--eval-every", 1)
    *older, latest = sorted((run / "checkpoints").glob("step-*"))
    (latest / "model.safetensors").write_bytes(b"garbage")
    rc, _, err = cli("train", "--resume", run, "--epochs", 2)
    assert_usage_error(rc, err, "intact checkpoints", older[-1].name, "--resume")


def test_another_runs_checkpoint_is_refused(tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    _train(cli, a, "--epochs", 1)
    _train(cli, b, "--epochs", 1, "--lr", "0.5")
    shutil.rmtree(b / "checkpoints")
    shutil.copytree(a / "checkpoints", b / "checkpoints")
    rc, _, err = cli("train", "--resume", b, "--epochs", 2)
    assert_usage_error(rc, err, "copied from another run")


def test_sigterm_finishes_the_step_saves_and_exits_143(tmp_path):
    run = tmp_path / "run"
    returncode, err = signal_a_training_run(run, signal.SIGTERM, timeout=10.0)
    assert returncode == 143, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert (run / "checkpoints" / f"step-{summary['steps']:06d}" / "manifest.json").is_file()


# ----- divergence and silent wrong inputs -----------------------------------------------------


def test_a_diverging_run_exits_1_and_names_the_checkpoint_honestly(tmp_path, cli):
    run = tmp_path / "run"
    rc, _, err = cli("train", "addition", *SMALL, "--lr", "1e6", "--run-dir", run)
    assert rc == 1, err
    assert "diverged" in err or "loss is nan" in err or "non-finite" in err, err
    has_checkpoint = (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir())
    assert ("the last checkpoint is" in err) == has_checkpoint, err
    assert "Traceback" not in err


def test_a_relative_text_is_stored_absolute_and_checked_later(tmp_path, cli, monkeypatch):
    (tmp_path / "med.txt").write_text("to be or not to be, that is the question. " * 40)
    run = tmp_path / "run"
    tiny = ["--hidden-size", 8, "--num-layers", 1, "--seq-len", 10, "--batch-size", 4]
    rc, _, err = cli("train", "text", "--text", "med.txt", *tiny, "--epochs", 1, "--run-dir", run)
    assert rc == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["options"]["text"] == str(tmp_path / "med.txt")
    assert saved["data"]["text"]["size"] == (tmp_path / "med.txt").stat().st_size
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "med.txt").write_text("something else entirely")
    monkeypatch.chdir(elsewhere)
    rc, _, err = cli("eval", run)
    assert rc == 0, err
    (tmp_path / "med.txt").write_text("changed " * 200)
    rc, _, err = cli("eval", run)
    assert_usage_error(rc, err, "med.txt", "has changed since")


@pytest.mark.parametrize(
    "config", [{}, {"task": "addition"}, [1, 2], {"task": "nope", "options": {}}]
)
def test_a_config_without_task_or_options_is_a_clear_error(tmp_path, cli, config):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config))
    for argv in (
        ["eval", run],
        ["predict", run, 1, 2],
        ["sample", run],
        ["train", "--resume", run],
    ):
        rc, _, err = cli(*argv)
        assert_usage_error(rc, err, "config.json")


def test_a_toml_config_that_is_not_utf8_or_nested_too_deeply_is_named(tmp_path, cli):
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000)
    for name, words in (("bad.toml", "not UTF-8"), ("deep.toml", "nested too deeply")):
        rc, _, err = cli("train", "addition", "--config", tmp_path / name)
        assert_usage_error(rc, err, name, words)


def test_resume_refuses_fewer_epochs_than_the_checkpoint_has_done(tmp_path, cli):
    run = tmp_path / "run"
    _train(cli, run, "--epochs", 2)
    before = (run / "config.json").read_bytes()
    rc, _, err = cli("train", "--resume", run, "--epochs", 1)
    last = err.strip().splitlines()[-1]  # after the "resumed from" line of the log
    assert_usage_error(rc, last, "--resume", "epoch 2", "--epochs")
    assert (run / "config.json").read_bytes() == before
