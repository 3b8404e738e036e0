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
def test_the_parallel_loop_of_big_parameters_equals_the_numpy_rule(cls, kwargs):
    require_numba()
    fused_module = importlib.import_module("bptt.optim.fused")  # numba is there: it loads
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(fused_module.PARALLEL_MIN + 3).astype(np.float32)  # (P,)
    fused, ref = cls({"w": theta.copy()}, lr=0.05, **kwargs), cls({"w": theta}, lr=0.05, **kwargs)
    ref.fused = False
    for _ in range(3):
        grads = {"w": rng.standard_normal(theta.shape).astype(np.float32)}
        fused.step(grads)
        ref.step(grads)
    np.testing.assert_array_equal(fused.params["w"], ref.params["w"])
