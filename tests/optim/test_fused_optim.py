"""The fused update loops (bptt.optim.fused) give the per-parameter NumPy rules' results.

The NumPy rules are the reference (``opt.fused = False``); with numba installed the fused
loop is the default, and its parameters and state must equal the reference's bit for bit.
"""

import importlib

import numpy as np
import pytest

from bptt.optim import SGD, Adam, AdamW
from helpers import require_numba

CASES = [
    (SGD, {}),
    (SGD, {"momentum": 0.9}),
    (SGD, {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2}),
    (SGD, {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    (Adam, {}),
    (Adam, {"weight_decay": 0.1, "amsgrad": True}),
    (AdamW, {}),
    (AdamW, {"amsgrad": True, "betas": (0.8, 0.99), "eps": 1e-6}),
]


def params_of(dtype, rng, fortran: bool = False):
    W = rng.standard_normal((40, 24)).astype(dtype)  # (G*H, D)
    return {
        "W": np.asfortranarray(W) if fortran else W,
        "b": rng.standard_normal(40).astype(dtype),  # (G*H,)
    }


def run_both(cls, kwargs, dtype, fortran=False, steps=5):
    rng = np.random.default_rng(0)
    fused_params = params_of(dtype, rng, fortran)
    ref_params = {k: v.copy(order="K") for k, v in fused_params.items()}
    fused, ref = cls(fused_params, lr=0.05, **kwargs), cls(ref_params, lr=0.05, **kwargs)
    ref.fused = False
    for _ in range(steps):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in ref_params.items()}
        fused.step(grads)
        ref.step(grads)
    return fused, ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cls", "kwargs"), CASES)
def test_fused_step_equals_the_numpy_rule_bit_for_bit(cls, kwargs, dtype):
    require_numba()
    fused, ref = run_both(cls, kwargs, dtype)
    assert fused.fused and not ref.fused
    for name in ref.params:
        np.testing.assert_array_equal(fused.params[name], ref.params[name])
    got, expected = fused.state_dict(), ref.state_dict()
    assert got["meta"] == expected["meta"]
    assert got["arrays"].keys() == expected["arrays"].keys()
    for key, value in expected["arrays"].items():
        np.testing.assert_array_equal(got["arrays"][key], value)


def test_a_non_contiguous_parameter_takes_the_numpy_rule_and_is_still_updated():
    require_numba()
    fused, ref = run_both(Adam, {"amsgrad": True}, np.float32, fortran=True)
    assert not fused.params["W"].flags.c_contiguous
    for name in ref.params:
        np.testing.assert_array_equal(fused.params[name], ref.params[name])
    assert not np.array_equal(
        fused.params["W"], params_of(np.float32, np.random.default_rng(0))["W"]
    )


def test_without_fused_the_rule_is_numpy_only():
    opt = SGD({"w": np.zeros(3, np.float32)}, lr=0.1)
    opt.fused = False
    opt.step({"w": np.ones(3, np.float32)})
    np.testing.assert_array_equal(opt.params["w"], np.full(3, -0.1, np.float32))


@pytest.mark.parametrize(("cls", "kwargs"), [CASES[3], CASES[5], CASES[7]])
def test_a_big_parameter_equals_the_numpy_rule(cls, kwargs):
    require_numba()
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(2**20 + 3).astype(np.float32)  # (P,) a large model's W_hh
    fused, ref = cls({"w": theta.copy()}, lr=0.05, **kwargs), cls({"w": theta}, lr=0.05, **kwargs)
    ref.fused = False
    for _ in range(3):
        grads = {"w": rng.standard_normal(theta.shape).astype(np.float32)}
        fused.step(grads)
        ref.step(grads)
    np.testing.assert_array_equal(fused.params["w"], ref.params["w"])


@pytest.mark.parametrize(("cls", "kwargs"), [CASES[1], CASES[5]])
def test_many_parameters_of_two_dtypes_in_groups_equal_the_numpy_rule(cls, kwargs):
    """More parameters than one compiled group holds, float32 and float64 mixed, a 0-d one,
    and a Fortran-ordered one (which falls back to NumPy) in the middle of the groups."""
    require_numba()
    fused_module = importlib.import_module("bptt.optim.fused")
    rng = np.random.default_rng(2)
    shapes = [(7, 3), (5,), (), (4, 2, 3), (1,)] * (fused_module.GROUP // 2 + 1)
    params = {}
    for i, shape in enumerate(shapes):
        dtype = np.float32 if i % 3 else np.float64
        params[f"p{i}"] = rng.standard_normal(shape).astype(dtype)  # shape
    params["fortran"] = np.asfortranarray(rng.standard_normal((6, 5)).astype(np.float32))
    ref_params = {k: v.copy(order="K") for k, v in params.items()}
    fused, ref = cls(params, lr=0.05, **kwargs), cls(ref_params, lr=0.05, **kwargs)
    ref.fused = False
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
        fused.step(grads)
        ref.step(grads)
    for name in ref.params:
        np.testing.assert_array_equal(fused.params[name], ref.params[name])
    for key, value in ref.state_dict()["arrays"].items():
        np.testing.assert_array_equal(fused.state_dict()["arrays"][key], value)
    group = fused_module._sgd_group if cls is SGD else fused_module._adam_group
    assert len(group.signatures) <= 2  # one per dtype, however many parameters


def test_a_parameter_array_replaced_by_the_caller_is_updated_not_its_old_view():
    require_numba()
    params = {"w": np.zeros(4, np.float32)}
    opt = SGD(params, lr=0.5)
    opt.step({"w": np.ones(4, np.float32)})
    opt.params["w"] = replacement = np.full(4, 10.0, np.float32)
    opt.step({"w": np.ones(4, np.float32)})
    np.testing.assert_array_equal(replacement, np.full(4, 9.5, np.float32))
    np.testing.assert_array_equal(params["w"], np.full(4, -0.5, np.float32))
