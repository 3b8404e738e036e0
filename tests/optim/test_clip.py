"""Gradient clipping: torch.nn.utils.clip_grad_norm_ / clip_grad_value_ on a grads dict."""

import math

import numpy as np
import pytest

from bptt.optim import clip_grad_norm, clip_grad_value, global_norm

SHAPES = {"weight_ih_l0": (8, 3), "bias_ih_l0": (8,), "fc.weight": (2, 4)}


def make_grads(rng, dtype, scale=1.0):
    return {k: (rng.standard_normal(s) * scale).astype(dtype) for k, s in SHAPES.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clips, and does not
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    torch = pytest.importorskip("torch")
    grads = make_grads(np.random.default_rng(0), dtype, scale=3.0)
    tensors = [
        torch.nn.Parameter(torch.zeros(s, dtype=torch.from_numpy(grads[k]).dtype))
        for k, s in SHAPES.items()
    ]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    total_norm = clip_grad_norm(grads, max_norm, norm_type=norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert isinstance(total_norm, float)
    assert total_norm == pytest.approx(float(expected_norm), rel=rtol)
    for t, g in zip(tensors, grads.values(), strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=0)


def test_clipped_norm_is_max_norm_and_direction_is_kept():
    grads = make_grads(np.random.default_rng(1), np.float64, scale=10.0)
    before = {k: v.copy() for k, v in grads.items()}
    total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(global_norm(before))
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)
    assert global_norm(grads) <= 1.0
    for k in grads:
        np.testing.assert_allclose(grads[k] * total / global_norm(grads), before[k], rtol=1e-12)


def test_gradients_below_max_norm_are_left_bit_for_bit():
    grads = make_grads(np.random.default_rng(2), np.float32)
    before = {k: v.copy() for k, v in grads.items()}
    total = clip_grad_norm(grads, 100.0)
    assert total < 100.0
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


def test_global_norm_is_the_norm_of_all_entries_together():
    grads = make_grads(np.random.default_rng(3), np.float64)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    assert global_norm(grads) == pytest.approx(np.linalg.norm(flat), rel=1e-14)
    assert global_norm({}) == 0.0


def test_norm_is_summed_in_float64_so_huge_float32_gradients_stay_finite():
    grads = {"w": np.full(4, 1e20, np.float32)}
    total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(2e20, rel=1e-6)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_non_finite_norm_is_returned_and_leaves_grads_alone():
    grads = {"w": np.array([1.0, np.nan]), "b": np.array([5.0])}
    total = clip_grad_norm(grads, 1.0)
    assert math.isnan(total)
    assert grads["b"][0] == 5.0
    grads = {"w": np.array([np.inf, 2.0])}
    assert clip_grad_norm(grads, 1.0) == math.inf
    np.testing.assert_array_equal(grads["w"], [np.inf, 2.0])


def test_empty_grads_have_zero_norm():
    assert clip_grad_norm({}, 1.0) == 0.0
    assert clip_grad_norm({"w": np.zeros((0, 3))}, 1.0, norm_type=math.inf) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    grads = make_grads(np.random.default_rng(4), dtype, scale=2.0)
    tensors = [torch.from_numpy(g.copy()) for g in grads.values()]
    params = [torch.nn.Parameter(torch.zeros_like(t)) for t in tensors]
    for p, t in zip(params, tensors, strict=True):
        p.grad = t
    torch.nn.utils.clip_grad_value_(params, 0.7)
    assert clip_grad_value(grads, 0.7) is None
    for p, g in zip(params, grads.values(), strict=True):
        np.testing.assert_array_equal(g, p.grad.numpy())
        assert np.abs(g).max() <= np.array(0.7, dtype)
    assert any(np.any(np.abs(g) == np.array(0.7, dtype)) for g in grads.values())


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda g: clip_grad_norm(g, -1.0),
            ValueError,
            r"max_norm: expected a number >= 0, got -1",
        ),
        (lambda g: clip_grad_norm(g, float("nan")), ValueError, r"max_norm: "),
        (lambda g: clip_grad_norm(g, "1"), TypeError, r"max_norm: expected a number"),
        (lambda g: clip_grad_norm(g, 1.0, norm_type=0), ValueError, r"norm_type: .*got 0"),
        (lambda g: clip_grad_norm(g, 1.0, norm_type="two"), TypeError, r"norm_type: "),
        (lambda g: clip_grad_value(g, -0.5), ValueError, r"clip_value: .*got -0\.5"),
        (lambda g: clip_grad_norm([g["w"]], 1.0), TypeError, r"grads: expected a dict"),
        (lambda g: global_norm({"w": [1.0]}), TypeError, r"grads\['w'\]: expected numpy\.ndarray"),
        (lambda g: global_norm({"w": np.ones(2, int)}), TypeError, r"grads\['w'\]: .*float32"),
    ],
)
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call({"w": np.ones(3)})


def test_norm_type_accepts_the_string_inf_like_torch():
    grads = {"w": np.array([3.0, -4.0])}
    assert clip_grad_norm(grads, 10.0, norm_type="inf") == 4.0
