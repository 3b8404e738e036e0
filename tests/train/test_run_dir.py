"""Run directories never clobber what is not theirs: unique new folders, one writer at a time,
pruning that touches only bptt's own checkpoints, a tidy resume; and a diverging run says
honestly what it leaves behind."""

import json
import os

import numpy as np
import pytest

from bptt.train import (
    NonFiniteError,
    RunDirError,
    RunLock,
    TrainConfig,
    Trainer,
    cut_metrics,
    new_run_dir,
    remove_stray_temps,
    save_checkpoint,
)
from bptt.train import run_dir as run_dirs
from helpers import addition_data, addition_model, stream_data, stream_model


def _save(run, step, keep_last=2):
    return save_checkpoint(
        run,
        step,
        params={"w": np.full(3, float(step))},
        optimizer_state={"meta": {}, "arrays": {}},
        rng_state=np.random.default_rng(0).bit_generator.state,
        counters={"step": step},
        config={},
        keep_last=keep_last,
    )


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dirs.time, "strftime", lambda fmt: "20260101-000000")
    made = [new_run_dir(None, "adding", root=tmp_path / "runs") for _ in range(3)]
    assert [p.name for p in made] == [
        "adding-20260101-000000",
        "adding-20260101-000000-2",
        "adding-20260101-000000-3",
    ]


def test_a_non_empty_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty and not a bptt run.*notes.txt"):
        new_run_dir(tmp_path, "adding")
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunDirError, match="already holds a run; use --resume"):
        new_run_dir(tmp_path, "adding")
    with pytest.raises(RunDirError, match="empty path"):
        run_dirs.check_new_run_dir("")


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunDirError, match=f"in use by process {os.getpid()}"):
            RunLock(tmp_path)
    RunLock(tmp_path).release()  # free again once the first let go


def test_pruning_never_deletes_a_folder_bptt_did_not_write(tmp_path):
    mine = tmp_path / "checkpoints" / "step-000001"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("the user's")
    edited = _save(tmp_path, 2)
    (edited / "extra.txt").write_text("added by hand")
    for step in range(3, 7):
        _save(tmp_path, step)
    assert (mine / "notes.txt").read_text() == "the user's"
    assert (edited / "extra.txt").read_text() == "added by hand"
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["latest.json", "step-000001", "step-000002", "step-000005", "step-000006"]


def test_saving_over_a_foreign_step_folder_is_refused(tmp_path):
    foreign = tmp_path / "checkpoints" / "step-000004"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("the user's")
    with pytest.raises(ValueError, match="not a checkpoint bptt wrote"):
        _save(tmp_path, 4)
    assert (foreign / "notes.txt").read_text() == "the user's"


def test_resume_tidies_temporary_files_and_cuts_metrics_back(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    strays = [
        tmp_path / ".summary.json.0123456789ab.tmp",
        tmp_path / "checkpoints" / ".latest.json.ba9876543210.tmp",
    ]
    for p in strays:
        p.write_text("half")
    (tmp_path / "checkpoints" / ".step-000003.tmp-00aa11bb22cc").mkdir()
    keep = tmp_path / "user.tmp"
    keep.write_text("not ours")
    assert len(remove_stray_temps(tmp_path)) == 3
    assert not any(p.exists() for p in strays) and keep.exists()

    events = [{"event": "train", "step": s} for s in (1, 2, 3, 4)] + [{"event": "eval", "step": 4}]
    text = "".join(json.dumps(e) + "\n" for e in events) + '{"event": "tra'
    (tmp_path / "metrics.jsonl").write_text(text)
    assert cut_metrics(tmp_path, 2) == 4
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


# ----- divergence -------------------------------------------------------------------------------


def test_a_nan_validation_loss_stops_cleanly_and_names_no_checkpoint_that_is_absent(tmp_path):
    model = addition_model()
    trainer = Trainer(model, TrainConfig(epochs=2), addition_data(), addition_data(seed=1),
                      run_dir=tmp_path, progress=False)  # fmt: skip
    original = model.loss

    def nan_loss(batch, state=None):
        loss, final, m = original(batch, state)
        return float("nan"), final, m

    model.loss = nan_loss
    with pytest.raises(NonFiniteError, match="validation loss is nan; no checkpoint has been"):
        trainer.fit()


def test_a_loss_far_above_the_first_is_divergence_unless_turned_off(tmp_path):
    def run(factor):
        config = TrainConfig(epochs=3, lr=1e6, optimizer="sgd", divergence_factor=factor)
        trainer = Trainer(stream_model(), config, stream_data(), progress=False)
        return trainer.fit()

    with pytest.raises(NonFiniteError, match="over 100 times the run's best loss"):
        run(100.0)
    assert run(0.0)["status"] == "completed"  # off: the run "completes", as before the check


@pytest.mark.parametrize(
    "option",
    [
        {"clip_norm": -1.0},
        {"clip_norm": float("nan")},
        {"clip_value": float("inf")},
        {"keep_checkpoints": 0},
        {"max_steps": -1},
        {"patience": -1},
        {"eval_every": -1},
        {"lr": float("nan")},
        {"divergence_factor": 0.5},
        {"warmup_steps": -5},
        {"step_size": 0},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
def test_nonsense_options_are_refused_when_the_config_is_made(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        TrainConfig(**option)


def test_accuracy_cannot_pick_the_best_model_of_a_regressor():
    from bptt.nn import SequenceRegressor

    model = SequenceRegressor("rnn_tanh", 2, 3, 1, dtype=np.float64, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="early_stopping_metric: expected 'loss' for a regressor"):
        Trainer(model, TrainConfig(early_stopping_metric="accuracy"), addition_data())


def test_a_checkpoint_missing_its_counters_is_refused_by_name(tmp_path):
    from bptt.train import CheckpointError

    _save(tmp_path, 1)  # counters {"step": 1} only
    trainer = Trainer(addition_model(), TrainConfig(epochs=1), addition_data(), progress=False)
    with pytest.raises(CheckpointError, match=r"state\.json: expected the non-negative integer"):
        trainer.restore(tmp_path)
