"""Learning-rate schedules: torch's StepLR/ExponentialLR values and the cosine warm-up shape."""

import dataclasses
import math

import numpy as np
import pytest

from bptt.optim import (
    SGD,
    ConstantLR,
    CosineWarmup,
    ExponentialLR,
    StepLR,
    make_schedule,
)


def torch_lrs(make_scheduler, lr, num_steps):
    """The lr torch uses for each of num_steps optimizer steps, scheduler stepped after each."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=lr)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (7, 0.1), (10, 0.9)])
def test_step_lr_matches_torch(step_size, gamma):
    expected = torch_lrs(lambda s, o: s.StepLR(o, step_size=step_size, gamma=gamma), 0.3, 60)
    schedule = StepLR(0.3, step_size=step_size, gamma=gamma)
    np.testing.assert_allclose([schedule(t) for t in range(60)], expected, rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.95, 0.5, 1.01])
def test_exponential_lr_matches_torch(gamma):
    expected = torch_lrs(lambda s, o: s.ExponentialLR(o, gamma=gamma), 0.1, 60)
    schedule = ExponentialLR(0.1, gamma=gamma)
    np.testing.assert_allclose([schedule(t) for t in range(60)], expected, rtol=1e-12)


def test_cosine_without_warmup_matches_torch_cosine_annealing():
    expected = torch_lrs(lambda s, o: s.CosineAnnealingLR(o, T_max=40, eta_min=0.01), 0.2, 41)
    schedule = CosineWarmup(0.2, total_steps=40, min_lr=0.01)
    np.testing.assert_allclose([schedule(t) for t in range(41)], expected, rtol=1e-9)


@pytest.mark.parametrize("warmup_steps", [1, 5, 30])
def test_cosine_warmup_shape(warmup_steps):
    lr, min_lr, total = 0.5, 0.05, 100
    schedule = CosineWarmup(lr, total_steps=total, warmup_steps=warmup_steps, min_lr=min_lr)
    lrs = np.array([schedule(t) for t in range(total + 20)])
    warmup, decay = lrs[: warmup_steps + 1], lrs[warmup_steps : total + 1]
    assert 0 < lrs[0] <= lr / 2
    assert np.all(np.diff(warmup) > 0)
    assert np.allclose(np.diff(warmup), lr / (warmup_steps + 1))  # linear
    assert lrs[warmup_steps] == lr
    assert lrs.max() == lr
    assert np.all(np.diff(decay) < 0)
    assert lrs[total] == pytest.approx(min_lr, abs=1e-15)
    assert np.all(lrs[total:] == lrs[total])
    # half way through the cosine the lr is half way between lr and min_lr
    if (total - warmup_steps) % 2 == 0:
        mid = warmup_steps + (total - warmup_steps) // 2
        assert lrs[mid] == pytest.approx((lr + min_lr) / 2)


def test_cosine_without_warmup_starts_at_lr():
    assert CosineWarmup(0.1, total_steps=10)(0) == 0.1
    assert CosineWarmup(0.1, total_steps=10)(10) == 0.0


def test_constant_lr_is_constant():
    schedule = ConstantLR(0.03)
    assert {schedule(t) for t in range(0, 1000, 37)} == {0.03}


def test_schedules_are_frozen_and_return_floats():
    schedule = StepLR(1, step_size=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.lr = 0.5
    assert isinstance(schedule(np.int64(3)), float)


def test_schedule_drives_an_optimizer():
    params = {"w": np.zeros(2)}
    opt = SGD(params, lr=1.0)
    schedule = ExponentialLR(1.0, gamma=0.5)
    for t in range(4):
        opt.lr = schedule(t)
        opt.step({"w": np.ones(2)})
    np.testing.assert_allclose(params["w"], -(1 + 0.5 + 0.25 + 0.125))


def test_make_schedule_builds_each_and_lists_known_names():
    assert make_schedule("constant", 0.1) == ConstantLR(0.1)
    assert make_schedule("step", 0.1, step_size=3) == StepLR(0.1, 3)
    assert make_schedule("exponential", 0.1, gamma=0.9) == ExponentialLR(0.1, 0.9)
    assert make_schedule("cosine_warmup", 0.1, total_steps=9, warmup_steps=2) == CosineWarmup(
        0.1, 9, 2
    )
    with pytest.raises(ValueError, match=r"\['constant', 'cosine_warmup', 'exponential', 'step'\]"):
        make_schedule("linear", 0.1)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: ConstantLR(-0.1), ValueError, r"lr: expected a finite number >= 0\.0, got -0\.1"),
        (lambda: ConstantLR(math.inf), ValueError, r"lr: "),
        (lambda: ConstantLR("0.1"), TypeError, r"lr: expected a number"),
        (lambda: StepLR(0.1, step_size=0), ValueError, r"step_size: expected an int >= 1, got 0"),
        (lambda: StepLR(0.1, step_size=2.5), TypeError, r"step_size: expected an int"),
        (lambda: StepLR(0.1, step_size=2, gamma=0.0), ValueError, r"gamma: .*> 0\.0, got 0\.0"),
        (lambda: ExponentialLR(0.1, gamma=-0.5), ValueError, r"gamma: "),
        (lambda: CosineWarmup(0.1, total_steps=0), ValueError, r"total_steps: "),
        (
            lambda: CosineWarmup(0.1, total_steps=10, warmup_steps=10),
            ValueError,
            r"warmup_steps: expected fewer than total_steps=10, got 10",
        ),
        (lambda: CosineWarmup(0.1, total_steps=10, warmup_steps=-1), ValueError, r"warmup_steps"),
        (
            lambda: CosineWarmup(0.1, total_steps=10, min_lr=0.2),
            ValueError,
            r"min_lr: expected at most lr=0\.1, got 0\.2",
        ),
    ],
)
def test_bad_schedule_arguments_raise(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("step, error", [(-1, ValueError), (1.0, TypeError), (True, TypeError)])
def test_bad_step_raises(step, error):
    with pytest.raises(error, match=r"step: "):
        ConstantLR(0.1)(step)
