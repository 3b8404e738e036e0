"""Resuming is bit-exact: from an epoch boundary, from a checkpoint inside an epoch, after
Ctrl-C (in-process and as a real ``bptt train`` process), and after --max-steps stopped
truncated BPTT between two windows of one batch."""

import dataclasses
import json
import signal

import numpy as np
import pytest

from bptt.train import TrainConfig, Trainer, list_checkpoints, load_checkpoint
from helpers import (
    addition_data,
    addition_model,
    assert_same_params,
    resumed,
    signal_a_training_run,
    stream_data,
    stream_model,
    train,
    train_losses,
)

# ----- resuming is bit-exact ------------------------------------------------------------------


RESUME_CASES = {
    "addition": (addition_model, addition_data, {}),
    "two-layer-dropout": (
        lambda seed=0: addition_model(seed, cell="lstm", num_layers=2, dropout=0.4),
        addition_data,
        {},
    ),
    "stream-k1-k2": (stream_model, stream_data, {"k1": 2, "k2": 5, "optimizer": "sgd", "lr": 0.3}),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resuming_at_an_epoch_boundary_is_bit_exact(tmp_path, case):
    make_model, make_data, options = RESUME_CASES[case]
    config = TrainConfig(epochs=2, **{"lr": 0.05, **options})
    straight, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    model_a = make_model()
    train(model_a, config, make_data(), make_data(seed=1), straight)

    first = dataclasses.replace(config, epochs=1)
    train(make_model(), first, make_data(), make_data(seed=1), resumed_dir)
    model_b = make_model(seed=99)  # different initial weights: restore must replace them all
    _, summary = resumed(model_b, config, make_data(), make_data(seed=1), resumed_dir, resumed_dir)

    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert_same_params(model_a.params, model_b.params)
    assert train_losses(straight) == train_losses(resumed_dir)
    assert len(train_losses(straight)) == summary["steps"]


def test_resuming_without_the_dropout_rng_state_would_differ(tmp_path):
    """The check above has teeth: dropout draws really depend on the checkpointed RNG."""
    make_model, make_data, _ = RESUME_CASES["two-layer-dropout"]
    config = TrainConfig(epochs=2, lr=0.05)
    model_a = make_model()
    train(model_a, config, make_data(), None, tmp_path / "a")
    train(make_model(), dataclasses.replace(config, epochs=1), make_data(), None, tmp_path / "b")
    model_b = make_model()
    trainer = Trainer(model_b, config, make_data(), None, run_dir=tmp_path / "b", progress=False)
    trainer.restore(tmp_path / "b")
    model_b.rnn.rng = np.random.default_rng(12345)
    trainer.fit()
    assert not np.array_equal(model_a.params["head.weight"], model_b.params["head.weight"])


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resuming_from_a_mid_epoch_checkpoint_is_bit_exact(tmp_path, case):
    make_model, make_data, options = RESUME_CASES[case]
    steps_per_batch = 3 if "k1" in options else 1  # seq_len 6 in windows of k1 = 2
    config = TrainConfig(
        epochs=2,
        **{"lr": 0.05, **options},
        eval_every=3 * steps_per_batch,
        keep_checkpoints=100,
    )
    straight = tmp_path / "straight"
    model_a = make_model()
    train(model_a, config, make_data(), make_data(seed=1), straight)
    batches = len(make_data())
    mid = [
        p for p in list_checkpoints(straight) if 0 < load_checkpoint(p).counters["batch"] < batches
    ]
    assert mid, "expected a checkpoint inside an epoch"
    ckpt = load_checkpoint(mid[0])

    model_b = make_model(seed=99)
    _, summary = resumed(model_b, config, make_data(), make_data(seed=1), tmp_path / "b", mid[0])
    assert summary["steps"] == len(train_losses(straight))
    assert_same_params(model_a.params, model_b.params)
    later = {s: v for s, v in train_losses(straight).items() if s > ckpt.step}
    assert train_losses(tmp_path / "b") == later


# ----- Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(tmp_path):
    config = TrainConfig(epochs=2, lr=0.05)
    model_a = addition_model()
    train(model_a, config, addition_data(), addition_data(seed=1), tmp_path / "straight")

    model = addition_model()
    trainer = Trainer(
        model,
        config,
        addition_data(),
        addition_data(seed=1),
        run_dir=tmp_path / "b",
        progress=False,
    )
    original, calls = model.loss_and_grads, [0]

    def loss_and_grads(batch, state=None):
        calls[0] += 1
        if calls[0] == 3:
            trainer._on_signal(signal.SIGINT, None)
        return original(batch, state)

    model.loss_and_grads = loss_and_grads
    summary = trainer.fit()
    assert summary["status"] == "interrupted" and summary["steps"] == 3
    assert load_checkpoint(tmp_path / "b").step == 3
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is not trainer._on_signal  # the handler is put back

    model_c = addition_model(seed=7)
    _, summary = resumed(
        model_c, config, addition_data(), addition_data(seed=1), tmp_path / "b", tmp_path / "b"
    )
    assert summary["status"] == "completed" and summary["steps"] == 8
    assert_same_params(model_a.params, model_c.params)
    assert train_losses(tmp_path / "straight") == train_losses(tmp_path / "b")


def test_sigint_to_the_command_line_exits_130_with_a_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    returncode, err = signal_a_training_run(run_dir, signal.SIGINT, timeout=8.0)
    assert returncode == 130, err
    ckpt = load_checkpoint(run_dir)
    assert ckpt.step >= 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == ckpt.step


# ----- --max-steps between two windows of one batch ---------------------------------------------


TBPTT_STOP_CASES = {
    "stream-k2>k1": (stream_model, stream_data, {"k1": 2, "k2": 5}),
    "stream-k2=k1": (stream_model, stream_data, {"k1": 2, "k2": 2}),
    "independent-k2>k1": (
        lambda seed=0: addition_model(seed, cell="gru"),
        addition_data,
        {"k1": 2, "k2": 3},
    ),
    "independent-k2=k1": (
        lambda seed=0: addition_model(seed, cell="gru"),
        addition_data,
        {"k1": 2, "k2": 2},
    ),
}


@pytest.mark.parametrize("case", TBPTT_STOP_CASES)
def test_max_steps_inside_a_batch_of_windows_resumes_with_the_next_window(tmp_path, case):
    """--max-steps can stop truncated BPTT between two windows of one batch; the resumed run
    must go on with the next window of that batch, exactly as the straight run does."""
    make_model, make_data, options = TBPTT_STOP_CASES[case]
    config = TrainConfig(epochs=2, optimizer="sgd", lr=0.3, **options)
    model_a = make_model()
    _, straight = train(model_a, config, make_data(), make_data(seed=1), tmp_path / "a")

    windows = 3  # per batch: 6 stream steps or 5 bits, in windows of k1 = 2
    stop = windows + 1  # one window into the second batch
    first = dataclasses.replace(config, max_steps=stop)
    _, summary = train(make_model(), first, make_data(), make_data(seed=1), tmp_path / "b")
    assert summary["status"] == "max_steps" and summary["steps"] == stop
    model_b = make_model(seed=99)
    _, resumed_summary = resumed(
        model_b, config, make_data(), make_data(seed=1), tmp_path / "b", tmp_path / "b"
    )
    assert resumed_summary["steps"] == straight["steps"]
    assert_same_params(model_a.params, model_b.params)
    assert train_losses(tmp_path / "b") == train_losses(tmp_path / "a")
