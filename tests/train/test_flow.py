"""The gradient-flow monitor (bptt.train.flow): per-step norms of dL/dh that leave out
finished sequences, a profile naming every layer and direction, and the trainer's diagnostics
events (every N steps, no tapes when off, bit-identical training either way, the --diagnostics
flag of ``bptt train``)."""

import dataclasses
import math

import numpy as np
import pytest

from bptt.data import binary_addition
from bptt.io import read_json, read_jsonl
from bptt.nn import SequenceTagger, make_recurrent
from bptt.train import (
    ArrayBatches,
    StreamBatches,
    TrainConfig,
    Trainer,
    gradient_flow_profile,
    mean_row_norms,
)

F64 = np.float64
D, H, T, N = 3, 4, 6, 3


def layer_and_input(cell, seed=0, **kw):
    rng = np.random.default_rng(seed)
    layer = make_recurrent(cell, D, H, dtype=F64, rng=rng, **kw)
    return layer, rng.standard_normal((T, N, D)), rng


# ----- the profile ----------------------------------------------------------------------------


def test_mean_dh_norm_leaves_out_sequences_that_have_ended():
    d = np.zeros((3, 2, 2))
    d[:, 0] = [3.0, 4.0]  # norm 5 at every step
    assert mean_row_norms(d) == [2.5, 2.5, 2.5]
    assert mean_row_norms(d, lengths=np.array([3, 1])) == [2.5, 5.0, 5.0]


def test_gradient_flow_profile_names_every_layer_and_direction():
    layer, x, rng = layer_and_input("lstm", num_layers=2, bidirectional=True)
    _, _, cache = layer.forward(x)
    tapes = []
    _, _, grads = layer.backward(rng.standard_normal((T, N, 2 * H)), cache, tapes=tapes)
    profile = gradient_flow_profile(tapes, grads, num_directions=2)
    names = ["l0", "l0_reverse", "l1", "l1_reverse"]
    assert list(profile["dh_norms"]) == names and list(profile["dc_norms"]) == names
    assert all(len(v) == T for v in profile["dh_norms"].values())
    assert profile["grad_norms"]["weight_hh_l1"] == pytest.approx(
        np.linalg.norm(grads["weight_hh_l1"])
    )
    with pytest.raises(ValueError, match="num_directions"):
        gradient_flow_profile(tapes[:3], grads, num_directions=2)


# ----- the trainer's diagnostics events -----------------------------------------------------


def addition_data(n=32, batch_size=8):
    xs, ys, _, _ = binary_addition(n, np.random.default_rng(0), 5, dtype=F64)
    return ArrayBatches(xs, ys, batch_size, per_step_targets=True)


def tagger(cell="lstm", **kw):
    return SequenceTagger(cell, 2, 4, 2, dtype=F64, rng=np.random.default_rng(0), **kw)


def fit(model, config, run_dir, data=None):
    trainer = Trainer(model, config, data or addition_data(), None, run_dir=run_dir, progress=False)
    return trainer.fit()


def events(run_dir, kind):
    return [e for e in read_jsonl(run_dir / "metrics.jsonl") if e["event"] == kind]


def spy_on_tapes(model) -> list:
    """Record the ``tapes`` argument of every backward of the model's recurrent layer."""
    calls, backward = [], model.rnn.backward

    def spy(*args, tapes=None, **kw):
        calls.append(tapes)
        return backward(*args, tapes=tapes, **kw)

    model.rnn.backward = spy
    return calls


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm"])
def test_diagnostics_events_every_n_steps(tmp_path, cell):
    model = tagger(cell, num_layers=2, bidirectional=True)
    calls = spy_on_tapes(model)
    summary = fit(model, TrainConfig(epochs=2, lr=0.05, diagnostics_every=3), tmp_path)
    assert summary["steps"] == 8
    found = events(tmp_path, "diagnostics")
    assert [e["step"] for e in found] == [3, 6]
    assert [e["epoch"] for e in found] == [0, 1]
    assert sum(c is not None for c in calls) == 2  # tapes only on the recorded steps
    names = ["l0", "l0_reverse", "l1", "l1_reverse"]
    T_batch = len(addition_data().inputs)
    for e in found:
        keys = {"event", "step", "epoch", "dh_norms", "grad_norms", "update_ratios"}
        assert set(e) == keys | ({"dc_norms"} if cell == "lstm" else set())
        assert list(e["dh_norms"]) == names
        for norms in [*e["dh_norms"].values(), *e.get("dc_norms", {}).values()]:
            assert len(norms) == T_batch and all(math.isfinite(v) and v >= 0 for v in norms)
        assert set(e["grad_norms"]) == set(model.params) == set(e["update_ratios"])
        assert all(math.isfinite(v) and v > 0 for v in e["update_ratios"].values())


def test_diagnostics_are_off_by_default_and_request_no_tapes(tmp_path):
    assert TrainConfig().diagnostics_every is None
    model = tagger()
    calls = spy_on_tapes(model)
    fit(model, TrainConfig(epochs=1), tmp_path / "none")
    fit(tagger(), TrainConfig(epochs=1, diagnostics_every=0), tmp_path / "zero")
    assert calls and all(c is None for c in calls)
    assert not events(tmp_path / "none", "diagnostics")
    assert not events(tmp_path / "zero", "diagnostics")
    with pytest.raises(ValueError, match="diagnostics_every"):
        TrainConfig(diagnostics_every=-1)


@pytest.mark.parametrize("tbptt", [False, True])
def test_recording_does_not_change_training(tmp_path, tbptt):
    """Bit-identical weights and losses with diagnostics on and off (dropout draws included)."""
    if tbptt:
        ids = np.random.default_rng(0).integers(0, 5, size=80)
        data = StreamBatches(ids, 2, 8)

        def make():
            return SequenceTagger(
                "gru", 3, 4, 5, vocab_size=5, num_layers=2, dropout=0.3, dtype=F64,
                rng=np.random.default_rng(0),
            )  # fmt: skip

        config = TrainConfig(epochs=2, lr=0.1, optimizer="sgd", k1=3, k2=5, clip_norm=0.5)
    else:
        data = addition_data()

        def make():
            return tagger("lstm", num_layers=2, dropout=0.3)

        config = TrainConfig(epochs=2, lr=0.05, clip_norm=0.5)
    off, on = make(), make()
    fit(off, config, tmp_path / "off", data)
    fit(on, dataclasses.replace(config, diagnostics_every=2), tmp_path / "on", data)
    for name in off.params:
        assert np.array_equal(off.params[name], on.params[name]), name

    def losses(run):
        return [(e["step"], e["loss"]) for e in events(run, "train")]

    assert losses(tmp_path / "off") == losses(tmp_path / "on")
    steps = len(losses(tmp_path / "on"))
    recorded = events(tmp_path / "on", "diagnostics")
    assert [e["step"] for e in recorded] == list(range(2, steps + 1, 2))
    if tbptt:  # each update's window: k1 = 3 new steps, up to k2 = 5 with context
        assert {len(e["dh_norms"]["l1"]) for e in recorded} <= {2, 3, 4, 5}


def test_update_ratio_and_gradient_norm_are_measured_around_the_step(tmp_path):
    """Plain SGD: ||delta theta|| = lr ||g||, and the ratio divides by ||theta before||."""
    config = TrainConfig(epochs=1, optimizer="sgd", lr=0.3, max_steps=3, diagnostics_every=3)
    before = tagger()
    fit(before, dataclasses.replace(config, max_steps=2), tmp_path / "two")
    after = tagger()
    fit(after, config, tmp_path / "three")
    (event,) = events(tmp_path / "three", "diagnostics")
    for name, p in after.params.items():
        delta = np.linalg.norm(p - before.params[name])
        assert event["update_ratios"][name] == pytest.approx(
            delta / np.linalg.norm(before.params[name]), rel=1e-9
        )
        assert event["grad_norms"][name] == pytest.approx(delta / 0.3, rel=1e-9)


@pytest.mark.parametrize("flag", ["--diagnostics", "--diagnostics-every"])
def test_train_command_records_diagnostics(tmp_path, capsys, flag):
    from bptt.cli import main

    run = tmp_path / "adding"
    argv = ["train", "adding", "--length", "10", "--train-size", "64", "--test-size", "32"]
    argv += ["--hidden-size", "4", "--batch-size", "16", "--epochs", "1", flag, "2"]
    assert main([*argv, "--run-dir", str(run)]) == 0
    capsys.readouterr()
    found = events(run, "diagnostics")
    assert [e["step"] for e in found] == [2, 4]
    assert len(found[0]["dh_norms"]["l0"]) == 10 and len(found[0]["dc_norms"]["l0"]) == 10
    assert read_json(run / "config.json")["options"]["diagnostics_every"] == 2


def test_train_help_shows_the_diagnostics_option(capsys):
    from bptt.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--diagnostics-every" in out and "--diagnostics N for short" in out
