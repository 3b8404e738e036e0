"""Optimizers: torch.optim's trajectories, bit-for-bit resume, and loud errors.

Every case runs the same 10 random gradients through our optimizer and torch's (parameters
copied in), in float64 and float32, and compares the parameters after every step.
"""

import io
import json

import numpy as np
import pytest

from bptt.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, make_optimizer

SHAPES = {"rnn.weight_ih_l0": (8, 3), "rnn.bias_hh_l0": (8,), "fc.weight": (2, 4, 3)}
NUM_STEPS = 10

CASES = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.1, "weight_decay": 0.1}),
    ("adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9}),
    ("rmsprop", {"lr": 0.01, "centered": True}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.0}),
    ("adamw", {"lr": 0.01, "amsgrad": True}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]
CASE_IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]
TORCH_NAMES = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}


def make_params(rng, dtype):
    return {name: rng.uniform(-1, 1, shape).astype(dtype) for name, shape in SHAPES.items()}


def make_grads(rng, dtype, num_steps=NUM_STEPS):
    # spread over three orders of magnitude so the adaptive optimizers' denominators matter
    return [
        {
            name: (rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 1)).astype(dtype)
            for name, shape in SHAPES.items()
        }
        for _ in range(num_steps)
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_trajectory_matches_torch_optim(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    params = make_params(rng, dtype)
    torch_params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    ours = make_optimizer(name, params, **kwargs)
    theirs = getattr(torch.optim, TORCH_NAMES[name])(list(torch_params.values()), **kwargs)
    # float64 agrees to ~1e-13. In float32 the order of roundings differs from torch's (fused
    # multiply-adds), so entries that pass near zero are compared relative to the array's scale.
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    for step, grads in enumerate(make_grads(rng, dtype), start=1):
        for k, p in torch_params.items():
            p.grad = torch.from_numpy(grads[k].copy())
        theirs.step()
        ours.step(grads)
        for k, p in torch_params.items():
            expected = p.detach().numpy()
            atol = 0.0 if dtype == np.float64 else 1e-6 * np.max(np.abs(expected))
            np.testing.assert_allclose(
                params[k],
                expected,
                rtol=rtol,
                atol=atol,
                err_msg=f"{name} {kwargs} {np.dtype(dtype)}: {k} after step {step}",
            )


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_changing_lr_each_step_matches_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    params = make_params(rng, np.float64)
    torch_params = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in params.values()]
    kwargs = {"lr": 0.1, "momentum": 0.9} if name != "adam" else {"lr": 0.1}
    ours = make_optimizer(name, params, **kwargs)
    theirs = getattr(torch.optim, TORCH_NAMES[name])(torch_params, **kwargs)
    for step, grads in enumerate(make_grads(rng, np.float64)):
        lr = 0.1 * 0.7**step
        ours.lr = lr
        theirs.param_groups[0]["lr"] = lr
        for p, g in zip(torch_params, grads.values(), strict=True):
            p.grad = torch.from_numpy(g.copy())
        theirs.step()
        ours.step(grads)
    for p, ref in zip(params.values(), torch_params, strict=True):
        np.testing.assert_allclose(p, ref.detach().numpy(), rtol=1e-10)


def test_step_updates_the_callers_arrays_in_place_and_leaves_grads_alone():
    rng = np.random.default_rng(2)
    params = make_params(rng, np.float64)
    arrays_before = dict(params)
    values_before = {k: v.copy() for k, v in params.items()}
    grads = make_grads(rng, np.float64, 1)[0]
    grads_before = {k: v.copy() for k, v in grads.items()}
    AdamW(params, lr=0.1, weight_decay=0.1).step(grads)
    for k in params:
        assert params[k] is arrays_before[k]
        assert not np.array_equal(params[k], values_before[k])
        np.testing.assert_array_equal(grads[k], grads_before[k])


def save_and_reload(state):
    """Through JSON and np.savez/np.load(allow_pickle=False), as a checkpoint would."""
    meta = json.loads(json.dumps(state["meta"]))
    buffer = io.BytesIO()
    np.savez(buffer, **state["arrays"])
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return {"meta": meta, "arrays": arrays}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_resumes_bit_for_bit(name, kwargs, dtype):
    rng = np.random.default_rng(3)
    params = make_params(rng, dtype)
    grads = make_grads(rng, dtype)
    continuing = make_optimizer(name, params, **kwargs)
    for g in grads[:5]:
        continuing.step(g)
    continuing.lr = continuing.lr * 0.5  # a schedule's change must survive the round trip too
    state = save_and_reload(continuing.state_dict())

    resumed_params = {k: v.copy() for k, v in params.items()}
    resumed = make_optimizer(name, resumed_params, **kwargs)
    resumed.load_state_dict(state)
    assert resumed.step_count == 5 and resumed.lr == continuing.lr
    for g in grads[5:]:
        continuing.step(g)
        resumed.step(g)
    for k in params:
        np.testing.assert_array_equal(resumed_params[k], params[k])


def test_state_dict_holds_copies_with_torch_style_keys():
    rng = np.random.default_rng(4)
    params = make_params(rng, np.float32)
    opt = Adam(params, amsgrad=True)
    opt.step(make_grads(rng, np.float32, 1)[0])
    state = opt.state_dict()
    expected = {f"{s}.{k}" for s in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") for k in SHAPES}
    assert set(state["arrays"]) == expected
    assert state["meta"] == {
        "class": "Adam",
        "hyperparameters": {
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": True,
        },
        "lr": 1e-3,
        "step": 1,
    }
    for key, a in state["arrays"].items():
        assert a.dtype == np.float32 and a.shape == SHAPES[key.split(".", 1)[1]]
    saved = state["arrays"]["exp_avg.fc.weight"].copy()
    opt.step(make_grads(rng, np.float32, 1)[0])
    np.testing.assert_array_equal(state["arrays"]["exp_avg.fc.weight"], saved)


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    rng = np.random.default_rng(5)
    params = make_params(rng, np.float64)
    source = Adam(params, lr=0.01)
    source.step(make_grads(rng, np.float64, 1)[0])
    state = source.state_dict()
    arrays = dict(state["arrays"])
    del arrays["exp_avg.rnn.bias_hh_l0"]
    arrays["exp_avg.no.such"] = np.zeros(3)
    arrays["exp_avg_sq.fc.weight"] = np.zeros((3, 4))
    arrays["exp_avg.fc.weight"] = arrays["exp_avg.fc.weight"].astype(np.float32)
    bad = {"meta": dict(state["meta"], step=-1), "arrays": arrays}

    target = Adam(make_params(rng, np.float64), lr=0.01, eps=1e-7)
    before = target.state_dict()
    with pytest.raises(ValueError) as info:
        target.load_state_dict(bad)
    message = str(info.value)
    for fragment in [
        "'eps'",
        "step",
        "missing array 'exp_avg.rnn.bias_hh_l0'",
        "unexpected array 'exp_avg.no.such'",
        "'exp_avg_sq.fc.weight'",
        "(2, 4, 3)",
        "float32",
    ]:
        assert fragment in message
    after = target.state_dict()
    assert after["meta"] == before["meta"]
    for k in before["arrays"]:
        np.testing.assert_array_equal(after["arrays"][k], before["arrays"][k])


def test_load_state_dict_refuses_another_optimizer_class():
    rng = np.random.default_rng(6)
    params = make_params(rng, np.float64)
    state = Adam(params).state_dict()
    with pytest.raises(ValueError, match=r"class: expected 'AdamW', got 'Adam'"):
        AdamW(params, weight_decay=0.0).load_state_dict(state)
    with pytest.raises(ValueError, match=r"expected a dict with keys"):
        Adam(params).load_state_dict(state["arrays"])


def test_load_state_dict_refuses_different_options():
    rng = np.random.default_rng(7)
    params = make_params(rng, np.float64)
    state = SGD(params, lr=0.1, momentum=0.9).state_dict()
    expected = r"hyperparameter 'momentum'.*unexpected array 'momentum_buffer\.fc\.weight'"
    with pytest.raises(ValueError, match=expected):
        SGD(params, lr=0.1).load_state_dict(state)


@pytest.mark.parametrize(
    "cls, kwargs, error, match",
    [
        (SGD, {"lr": -0.1}, ValueError, r"lr: expected a finite number >= 0\.0, got -0\.1"),
        (SGD, {"lr": float("nan")}, ValueError, r"lr: .*got nan"),
        (SGD, {"lr": "0.1"}, TypeError, r"lr: expected a number, got '0\.1'"),
        (SGD, {"lr": 0.1, "momentum": -0.5}, ValueError, r"momentum: .*got -0\.5"),
        (SGD, {"lr": 0.1, "weight_decay": -1}, ValueError, r"weight_decay: .*got -1"),
        (SGD, {"lr": 0.1, "nesterov": True}, ValueError, r"Nesterov momentum needs momentum > 0"),
        (
            SGD,
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
            ValueError,
            r"dampening == 0.*dampening=0\.1",
        ),
        (SGD, {"lr": 0.1, "nesterov": 1}, TypeError, r"nesterov: expected True or False"),
        (Adagrad, {"lr_decay": -1.0}, ValueError, r"lr_decay: .*got -1\.0"),
        (Adagrad, {"initial_accumulator_value": -1.0}, ValueError, r"initial_accumulator_value"),
        (Adagrad, {"eps": -1e-10}, ValueError, r"eps: "),
        (RMSprop, {"alpha": -0.1}, ValueError, r"alpha: "),
        (RMSprop, {"momentum": -0.1}, ValueError, r"momentum: "),
        (RMSprop, {"centered": "yes"}, TypeError, r"centered: expected True or False"),
        (Adam, {"betas": (1.0, 0.999)}, ValueError, r"betas\[0\]: expected .* in \[0\.0, 1\.0\)"),
        (Adam, {"betas": (0.9, -0.1)}, ValueError, r"betas\[1\]: .*got -0\.1"),
        (Adam, {"betas": 0.9}, TypeError, r"betas: expected a pair"),
        (Adam, {"eps": -1.0}, ValueError, r"eps: "),
        (AdamW, {"weight_decay": -0.01}, ValueError, r"weight_decay: "),
        (AdamW, {"amsgrad": None}, TypeError, r"amsgrad: expected True or False"),
    ],
)
def test_bad_hyperparameters_raise_with_the_name_and_value(cls, kwargs, error, match):
    params = make_params(np.random.default_rng(8), np.float64)
    with pytest.raises(error, match=match):
        cls(params, **kwargs)


def test_lr_attribute_is_validated_when_set():
    opt = Adam(make_params(np.random.default_rng(9), np.float64))
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match=r"lr: .*got -1\.0"):
        opt.lr = -1.0


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda g: g.pop("fc.weight"), r"missing gradient 'fc\.weight'"),
        (lambda g: g.update(extra=np.zeros(2)), r"unexpected gradient 'extra'"),
        (
            lambda g: g.update({"rnn.bias_hh_l0": np.zeros(7)}),
            r"'rnn\.bias_hh_l0': expected shape \(8,\), got \(7,\)",
        ),
        (
            lambda g: g.update({"fc.weight": np.zeros((2, 4, 3), np.float32)}),
            r"'fc\.weight': expected dtype float64, got float32",
        ),
        (lambda g: g.update({"fc.weight": [[0.0]]}), r"'fc\.weight': expected numpy\.ndarray"),
    ],
)
def test_mismatched_grads_raise_naming_the_key_and_change_nothing(edit, match):
    rng = np.random.default_rng(10)
    params = make_params(rng, np.float64)
    before = {k: v.copy() for k, v in params.items()}
    opt = Adam(params)
    grads = make_grads(rng, np.float64, 1)[0]
    edit(grads)
    with pytest.raises(ValueError, match=match):
        opt.step(grads)
    assert opt.step_count == 0
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_mismatched_grads_report_every_problem_at_once():
    params = make_params(np.random.default_rng(11), np.float64)
    grads = {"rnn.weight_ih_l0": np.zeros((3, 8)), "extra": np.zeros(1)}
    with pytest.raises(ValueError) as info:
        SGD(params, lr=0.1).step(grads)
    message = str(info.value)
    assert "'rnn.bias_hh_l0'" in message and "'fc.weight'" in message
    assert "'extra'" in message and "expected shape (8, 3), got (3, 8)" in message


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({}, ValueError, r"empty dict"),
        ([np.zeros(3)], TypeError, r"params: expected a dict"),
        ({"w": [1.0, 2.0]}, TypeError, r"'w': expected numpy\.ndarray, got list"),
        ({"w": np.zeros(3, np.int64)}, TypeError, r"'w': expected dtype float32 or float64"),
    ],
)
def test_bad_params_raise(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_make_optimizer_builds_each_class_and_lists_known_names():
    params = make_params(np.random.default_rng(12), np.float64)
    for name, cls in [
        ("sgd", SGD),
        ("adagrad", Adagrad),
        ("rmsprop", RMSprop),
        ("adam", Adam),
        ("adamw", AdamW),
    ]:
        opt = make_optimizer(name, params, lr=0.05)
        assert type(opt) is cls and isinstance(opt, Optimizer) and opt.lr == 0.05
    assert make_optimizer("adamw", params).weight_decay == 1e-2
    with pytest.raises(
        ValueError, match=r"\['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\].*'lbfgs'"
    ):
        make_optimizer("lbfgs", params)


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    params = make_params(np.random.default_rng(13), np.float64)
    p = [torch.nn.Parameter(torch.zeros(1))]
    for name in ["adagrad", "rmsprop", "adam", "adamw"]:
        ours = make_optimizer(name, params)
        theirs = getattr(torch.optim, TORCH_NAMES[name])(p).defaults
        assert ours.lr == theirs["lr"]
        for key, value in ours.hyperparameters().items():
            assert value == (list(theirs[key]) if key == "betas" else theirs[key]), (name, key)
