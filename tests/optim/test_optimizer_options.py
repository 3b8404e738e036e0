"""Adagrad's eps inside the square root (min-char-rnn's form) and its starting accumulator
against the formulas; every optimizer option reaches the optimizer from TrainConfig."""

import numpy as np
import pytest

from bptt.optim import Adagrad
from bptt.train import TrainConfig
from bptt.train.optimizer_options import optimizer_kwargs


def test_adagrad_eps_inside_sqrt_is_min_char_rnns_update():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((4, 3))
    params = {"w": theta.copy()}
    opt = Adagrad(params, lr=0.1, eps=1e-8, eps_inside_sqrt=True)
    mem, ref = np.zeros_like(theta), theta.copy()
    for _ in range(5):
        dparam = rng.standard_normal(theta.shape) * 1e-3  # small: eps's place matters
        opt.step({"w": dparam})
        mem += dparam * dparam  # min-char-rnn, verbatim
        ref += -0.1 * dparam / np.sqrt(mem + 1e-8)
    np.testing.assert_allclose(params["w"], ref, rtol=1e-13)
    torch_form = {"w": theta.copy()}
    other = Adagrad(torch_form, lr=0.1, eps=1e-8)
    other.step({"w": np.full(theta.shape, 1e-5)})
    assert not np.allclose(torch_form["w"], theta - 0.1 * 1e-5 / np.sqrt(1e-10 + 1e-8))


def test_adagrad_initial_accumulator_starts_the_sum():
    params = {"w": np.ones(3)}
    opt = Adagrad(params, lr=1.0, initial_accumulator_value=3.0, eps=0.0)
    opt.step({"w": np.ones(3)})
    np.testing.assert_allclose(params["w"], 1 - 1 / np.sqrt(4.0))


def test_adagrad_state_saved_in_torchs_form_omits_the_option():
    opt = Adagrad({"w": np.ones(2)})
    assert "eps_inside_sqrt" not in opt.state_dict()["meta"]["hyperparameters"]
    inside = Adagrad({"w": np.ones(2)}, eps_inside_sqrt=True)
    with pytest.raises(ValueError, match="eps_inside_sqrt"):
        inside.load_state_dict(opt.state_dict())


@pytest.mark.parametrize(
    "optimizer, expected",
    [
        ("sgd", {"weight_decay": 0.0, "momentum": 0.5}),
        ("adam", {"weight_decay": 0.0, "eps": 1e-6}),
        ("rmsprop", {"weight_decay": 0.0, "momentum": 0.5, "eps": 1e-6}),
        (
            "adagrad",
            {
                "weight_decay": 0.0,
                "eps": 1e-6,
                "initial_accumulator_value": 0.1,
                "eps_inside_sqrt": True,
            },
        ),
    ],
)
def test_train_config_passes_each_optimizer_its_options(optimizer, expected):
    config = TrainConfig(
        optimizer=optimizer, momentum=0.5, eps=1e-6, initial_accumulator=0.1, eps_inside_sqrt=True
    )
    assert optimizer_kwargs(config) == expected
    assert "eps" not in optimizer_kwargs(TrainConfig(optimizer="adam"))  # torch's default
