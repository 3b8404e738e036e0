"""Divergence is judged against the best training loss so far, not the first one; counters of
checkpoints written before the best was kept still load."""

import hashlib
import json

import numpy as np
import pytest

from bptt.train import NonFiniteError, TrainConfig, Trainer
from bptt.train.divergence import check_update
from helpers import addition_data, addition_model


def scripted(model, losses):
    """The model's training losses replaced by ``losses``, one per update (gradients real)."""
    original, it = model.loss_and_grads, iter(losses)

    def loss_and_grads(batch, state=None, **kw):
        _, grads, final, metrics = original(batch, state, **kw)
        return next(it), grads, final, metrics

    model.loss_and_grads = loss_and_grads


def rewrite_counters(run, edit):
    """Edit the counters of the run's one checkpoint, resealed in its manifest; -> first_loss."""
    [state_path] = run.glob("checkpoints/step-*/state.json")
    state = json.loads(state_path.read_text())
    edit(state["counters"])
    data = json.dumps(state).encode()
    state_path.write_bytes(data)
    manifest_path = state_path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["state.json"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    manifest_path.write_text(json.dumps(manifest))
    return state["counters"]["first_loss"]


def test_a_run_that_learned_and_then_blew_up_has_diverged(tmp_path):
    model = addition_model()
    # 2.3 -> 0.01, then 5: 500 times the best, and worse than the untrained model's 2.3;
    # against the first loss (the old reference) 5 is nowhere near 100 * 2.3
    scripted(model, [2.3, 1.0, 0.1, 0.01, 5.0] + [0.01] * 100)
    trainer = Trainer(model, TrainConfig(epochs=100, lr=1e-3), addition_data(), progress=False)
    with pytest.raises(NonFiniteError, match=r"step 5: .*over 100 times the run's best loss"):
        trainer.fit()


def test_a_batch_far_above_a_lucky_best_but_below_the_untrained_loss_is_not_divergence():
    model = addition_model()
    scripted(model, [2.3, 0.001, 0.5, 0.2] * 10)  # 0.5 is 500 times the best, but < 2.3
    config = TrainConfig(epochs=2, lr=1e-3)
    assert Trainer(model, config, addition_data(), progress=False).fit()["status"] == "completed"


def test_check_update_reference_is_the_best_loss():
    grads = {"w": np.zeros(2)}
    check_update(150.0, grads, 3, 2.0, 2.0, 100.0, None)  # 75 times the best: fine
    with pytest.raises(NonFiniteError, match="best loss so far 1"):
        check_update(150.0, grads, 3, 1.0, 2.0, 100.0, None)
    check_update(150.0, grads, 3, 1.0, 2.0, 0.0, None)  # off
    check_update(150.0, grads, 3, None, None, 100.0, None)  # the first update: no reference


def test_an_old_checkpoint_with_only_first_loss_resumes_with_it_as_the_best(tmp_path):
    config = TrainConfig(epochs=1, lr=1e-3)
    Trainer(addition_model(), config, addition_data(), run_dir=tmp_path, progress=False).fit()
    first = rewrite_counters(tmp_path, lambda c: c.pop("best_loss"))  # as before the best
    trainer = Trainer(addition_model(), TrainConfig(epochs=2, lr=1e-3), addition_data(),
                      run_dir=tmp_path, progress=False)  # fmt: skip
    trainer.restore(tmp_path)
    assert trainer.counters["best_loss"] == first == trainer.counters["first_loss"]
    assert trainer.fit()["status"] == "completed"


def test_a_checkpoint_whose_loss_counters_are_not_numbers_is_refused(tmp_path):
    from bptt.train import CheckpointError

    config = TrainConfig(epochs=1, lr=1e-3)
    Trainer(addition_model(), config, addition_data(), run_dir=tmp_path, progress=False).fit()
    rewrite_counters(tmp_path, lambda c: c.update(best_loss="low"))
    trainer = Trainer(addition_model(), config, addition_data(), run_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="best_loss to be numbers or null, got 'low'"):
        trainer.restore(tmp_path)
