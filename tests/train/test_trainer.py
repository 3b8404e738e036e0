"""The training loop: determinism, optimizers, schedules and clipping, early stopping,
non-finite failures, the run directory's files, the progress bar. Resuming (bit-exact, after
Ctrl-C, inside a batch of windows) is in test_resume.py."""

import dataclasses
import json
import math

import numpy as np
import pytest

from bptt.data import adding_problem, binary_addition
from bptt.io import load_weights, read_jsonl
from bptt.nn import SequenceRegressor
from bptt.train import ArrayBatches, NonFiniteError, TrainConfig, Trainer, evaluate, load_checkpoint
from helpers import F64, addition_data, addition_model, assert_same_params, train, train_losses

# ----- determinism ------------------------------------------------------------------------------


def _events_without_time(run_dir):
    return [
        {k: v for k, v in e.items() if k != "seconds"}
        for e in read_jsonl(run_dir / "metrics.jsonl")
    ]


def test_the_same_seed_gives_the_same_metrics_and_another_seed_does_not(tmp_path):
    def run(name, seed, init_seed=0):
        config = TrainConfig(epochs=2, lr=0.05, seed=seed)
        train(
            addition_model(init_seed),
            config,
            addition_data(),
            addition_data(seed=1),
            tmp_path / name,
        )
        return _events_without_time(tmp_path / name)

    first, again = run("a", 0), run("b", 0)
    assert first == again
    assert all(
        "seconds" in e
        for e in read_jsonl(tmp_path / "a" / "metrics.jsonl")
        if e["event"] == "train"
    )
    other_shuffle = run("c", 1)  # same initial weights, another order of the batches
    losses = [e["loss"] for e in first if e["event"] == "train"]
    assert losses != [e["loss"] for e in other_shuffle if e["event"] == "train"]
    assert losses[0] != [e["loss"] for e in run("d", 1, init_seed=1) if e["event"] == "train"][0]


# ----- optimizers, schedules, clipping ----------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_trains(tmp_path, optimizer):
    model = addition_model()
    before = model.state_dict()
    config = TrainConfig(epochs=3, optimizer=optimizer, lr=0.05, momentum=0.5)
    trainer, summary = train(model, config, addition_data(), None, tmp_path)
    assert summary["status"] == "completed" and summary["steps"] == 3 * 4
    assert all(not np.array_equal(before[k], v) for k, v in model.params.items())
    assert type(trainer.optimizer).__name__.lower() == optimizer
    losses = list(train_losses(tmp_path).values())
    assert all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])  # the last epoch fits better than the first
    assert load_checkpoint(tmp_path).optimizer_state["meta"]["class"].lower() == optimizer


@pytest.mark.parametrize(
    "schedule, options, expected",
    [
        ("constant", {}, lambda t: 0.1),
        ("step", {"step_size": 3, "gamma": 0.5}, lambda t: 0.1 * 0.5 ** (t // 3)),
        ("exponential", {"gamma": 0.9}, lambda t: 0.1 * 0.9**t),
        (
            "cosine_warmup",
            {"warmup_steps": 2, "min_lr": 0.01},
            # total steps = 2 epochs * 4 batches
            lambda t: (
                0.1 * (t + 1) / 3
                if t < 2
                else 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * (t - 2) / 6))
            ),
        ),
    ],
)
def test_every_schedule_sets_the_lr_of_each_step(tmp_path, schedule, options, expected):
    config = TrainConfig(epochs=2, optimizer="sgd", lr=0.1, schedule=schedule, **options)
    train(addition_model(), config, addition_data(), None, tmp_path)
    events = [e for e in read_jsonl(tmp_path / "metrics.jsonl") if e["event"] == "train"]
    assert [e["step"] for e in events] == list(range(1, 9))
    for e in events:  # step s is taken with the lr of s - 1 steps already taken
        assert e["lr"] == pytest.approx(expected(e["step"] - 1), rel=1e-12)


def _first_update(tmp_path, name, **options):
    """Params before and after one SGD step, and the logged event."""
    model = addition_model()
    before = model.state_dict()
    config = TrainConfig(epochs=1, max_steps=1, optimizer="sgd", lr=0.1, **options)
    train(model, config, addition_data(), None, tmp_path / name)
    (event,) = [e for e in read_jsonl(tmp_path / name / "metrics.jsonl") if e["event"] == "train"]
    delta = {k: model.params[k] - before[k] for k in before}
    return delta, event


def test_clip_norm_shrinks_the_update_and_the_logged_norm_is_before_clipping(tmp_path):
    data = addition_data()
    model = addition_model()
    first_batch = next(data.epoch(0, 0))
    _, grads, _, _ = model.loss_and_grads(first_batch)
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    assert norm > 0.01

    plain, plain_event = _first_update(tmp_path, "plain")
    clipped, clipped_event = _first_update(tmp_path, "clipped", clip_norm=0.01)

    def update_norm(delta):
        return math.sqrt(sum(float((d * d).sum()) for d in delta.values()))

    assert plain_event["grad_norm"] == pytest.approx(norm, rel=1e-12)
    assert clipped_event["grad_norm"] == pytest.approx(norm, rel=1e-12)  # before clipping
    coef = 0.01 / (norm + 1e-6)  # torch's rule: the norm ends just under max_norm
    assert update_norm(plain) == pytest.approx(0.1 * norm, rel=1e-9)
    assert update_norm(clipped) == pytest.approx(0.1 * norm * coef, rel=1e-9)
    assert update_norm(clipped) <= 0.1 * 0.01
    # clipping the norm scales the whole update, so its direction is unchanged
    for k in plain:
        np.testing.assert_allclose(clipped[k] / coef, plain[k], rtol=1e-9, atol=1e-15)


def test_clip_value_bounds_every_entry_of_the_update(tmp_path):
    plain, _ = _first_update(tmp_path, "plain")
    clipped, _ = _first_update(tmp_path, "clipped", clip_value=0.01)
    assert max(np.abs(d).max() for d in plain.values()) > 0.1 * 0.01
    assert max(np.abs(d).max() for d in clipped.values()) <= 0.1 * 0.01 * (1 + 1e-12)


# ----- early stopping ---------------------------------------------------------------------------


def test_early_stopping_keeps_the_best_weights(tmp_path):
    # with a learning rate this small the predictions never change, so the accuracy of the first
    # evaluation is never beaten, while the weights still move (float64)
    config = TrainConfig(
        epochs=20,
        lr=1e-12,
        eval_every=2,
        early_stopping_metric="accuracy",
        patience=2,
        keep_checkpoints=100,
    )
    model = addition_model()
    trainer, summary = train(model, config, addition_data(), addition_data(seed=1), tmp_path)
    assert summary["status"] == "early_stopped"
    assert summary["best_step"] == 2 and summary["steps"] == 2 + 2 * 2
    evals = [e for e in read_jsonl(tmp_path / "metrics.jsonl") if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4, 6]
    assert len({e["accuracy"] for e in evals}) == 1
    assert summary["best"]["accuracy"] == evals[0]["accuracy"]

    best = load_weights(tmp_path / "model.safetensors")
    assert_same_params(best, load_checkpoint(tmp_path / "checkpoints" / "step-000002").params)
    final = load_checkpoint(tmp_path).params
    assert load_checkpoint(tmp_path).step == 6
    assert_same_params(final, model.params)
    assert any(not np.array_equal(best[k], final[k]) for k in best)


def test_early_stopping_on_loss_with_patience(tmp_path):
    # validation targets flipped: learning the sums makes the validation loss worse
    xs, ys, _, _ = binary_addition(32, np.random.default_rng(0), 5, dtype=F64)
    train_data = ArrayBatches(xs, ys, 8, per_step_targets=True)
    flipped = ArrayBatches(xs, 1 - ys, 8, per_step_targets=True)
    config = TrainConfig(epochs=30, optimizer="sgd", lr=0.5, eval_every=1, patience=3)
    _, summary = train(addition_model(), config, train_data, flipped, tmp_path)
    assert summary["status"] == "early_stopped"
    evals = [e for e in read_jsonl(tmp_path / "metrics.jsonl") if e["event"] == "eval"]
    best = min(e["loss"] for e in evals)
    assert summary["best"]["loss"] == best
    assert evals[-4]["loss"] == best and all(e["loss"] >= best for e in evals[-3:])


# ----- non-finite values ------------------------------------------------------------------------


def _plant(model, on_call, plant):
    """Wrap model.loss_and_grads so that ``plant(params, grads)`` runs around call ``on_call``."""
    original, calls = model.loss_and_grads, [0]

    def loss_and_grads(batch, state=None):
        calls[0] += 1
        if calls[0] == on_call:
            plant(model.params, None)
        loss, grads, state, metrics = original(batch, state)
        if calls[0] == on_call:
            plant(None, grads)
        return loss, grads, state, metrics

    model.loss_and_grads = loss_and_grads


def test_a_non_finite_loss_stops_training_and_the_last_checkpoint_stays_loadable(tmp_path):
    model = addition_model()

    def nan_weight(params, grads):
        if params is not None:
            params["rnn.weight_hh_l0"][0, 0] = np.nan

    _plant(model, 4, nan_weight)
    config = TrainConfig(epochs=3, lr=0.05, eval_every=1)  # a checkpoint after every step
    with pytest.raises(NonFiniteError, match=r"step 4: the loss is nan"):
        train(model, config, addition_data(), None, tmp_path)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.step == 3
    assert all(np.isfinite(p).all() for p in ckpt.params.values())
    trainer = Trainer(addition_model(), config, addition_data(), None, run_dir=tmp_path)
    trainer.restore(tmp_path)
    assert trainer.counters["step"] == 3


def test_a_non_finite_gradient_names_the_parameter(tmp_path):
    model = addition_model()
    before = None

    def inf_gradient(params, grads):
        nonlocal before
        if grads is not None:
            grads["rnn.bias_hh_l0"][1] = np.inf
            before = model.state_dict()

    _plant(model, 3, inf_gradient)
    config = TrainConfig(epochs=3, lr=0.05, eval_every=1)
    with pytest.raises(
        NonFiniteError, match=r"step 3: non-finite gradient in parameter 'rnn.bias_hh_l0'"
    ):
        train(model, config, addition_data(), None, tmp_path)
    assert_same_params(model.params, before)  # the bad update was not applied
    assert load_checkpoint(tmp_path).step == 2


# ----- the run directory ------------------------------------------------------------------------


def test_metrics_events_config_and_summary_have_their_fields(tmp_path):
    config = TrainConfig(epochs=2, lr=0.05)
    _, summary = train(
        addition_model(),
        config,
        addition_data(),
        addition_data(seed=1),
        tmp_path,
        extra_config={"task": "x"},
    )
    events = read_jsonl(tmp_path / "metrics.jsonl")
    train_events = [e for e in events if e["event"] == "train"]
    eval_events = [e for e in events if e["event"] == "eval"]
    assert len(train_events) == 8 and len(eval_events) == 2
    for e in train_events:
        assert set(e) == {
            "event",
            "split",
            "step",
            "epoch",
            "loss",
            "accuracy",
            "grad_norm",
            "lr",
            "seconds",
        }
        assert e["split"] == "train" and 0 <= e["accuracy"] <= 1 and e["seconds"] >= 0
        assert e["grad_norm"] > 0 and e["lr"] == 0.05
    assert [e["epoch"] for e in train_events] == [0] * 4 + [1] * 4
    for e in eval_events:
        assert set(e) == {"event", "split", "step", "epoch", "loss", "accuracy"}
        assert e["split"] == "validation"
    assert [e["step"] for e in eval_events] == [4, 8]

    saved_config = json.loads((tmp_path / "config.json").read_text())
    assert saved_config == {"train": dataclasses.asdict(config), "task": "x"}
    saved_summary = json.loads((tmp_path / "summary.json").read_text())
    assert saved_summary == json.loads(json.dumps(summary))
    assert saved_summary["status"] == "completed" and saved_summary["steps"] == 8
    assert saved_summary["final"] == {k: eval_events[-1][k] for k in ("split", "loss", "accuracy")}
    assert (tmp_path / "model.safetensors").is_file()


def test_a_regressor_logs_no_accuracy(tmp_path):
    xs, ys = adding_problem(16, 6, np.random.default_rng(0), dtype=F64)
    data = ArrayBatches(xs, ys[:, None], 8)
    model = SequenceRegressor("lstm", 2, 3, 1, dtype=F64, rng=np.random.default_rng(0))
    _, summary = train(model, TrainConfig(epochs=1), data, data, tmp_path)
    for e in read_jsonl(tmp_path / "metrics.jsonl"):
        assert "accuracy" not in e and math.isfinite(e["loss"])
    assert set(summary["final"]) == {"split", "loss"}
    assert summary["final"] == {"split": "validation", **evaluate(model, data)}


def test_the_progress_bar_is_off_when_stderr_is_not_a_terminal(tmp_path, capsys):
    config = TrainConfig(epochs=1, lr=0.05)
    Trainer(addition_model(), config, addition_data(), run_dir=tmp_path / "a").fit()
    captured = capsys.readouterr()
    assert captured.out == "" and "batch" not in captured.err  # no bar: the run log's lines
    assert all(
        line.startswith(("step ", "saved checkpoint")) for line in captured.err.split("\n")[:-1]
    )
    Trainer(addition_model(), config, addition_data(), run_dir=tmp_path / "q", quiet=True).fit()
    assert capsys.readouterr().err == ""
    pytest.importorskip("tqdm")
    Trainer(addition_model(), config, addition_data(), run_dir=tmp_path / "b", progress=True).fit()
    assert "batch" in capsys.readouterr().err  # the same run with the bar forced on does draw it


def test_each_checkpoint_is_written_once(tmp_path, monkeypatch):
    """The end of the last epoch saves; fit's final save then has nothing new to write."""
    import bptt.train.checkpoint

    steps = []
    original = bptt.train.checkpoint.save_checkpoint

    def counting(run_dir, step, **kw):
        steps.append(step)
        return original(run_dir, step, **kw)

    monkeypatch.setattr(bptt.train.checkpoint, "save_checkpoint", counting)
    trainer, summary = train(
        addition_model(),
        TrainConfig(epochs=2, lr=0.05),
        addition_data(),
        addition_data(seed=1),
        tmp_path,
    )
    assert summary["status"] == "completed"
    assert steps == [4, 8]  # one per epoch of 4 batches, none twice
    assert trainer.save() == tmp_path / "checkpoints" / "step-000008"
    assert steps == [4, 8]
