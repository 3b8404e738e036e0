"""Extreme inputs (+-50, +-1000) give finite forward and backward values with no floating
point warning, and the stable elementwise functions are exact there."""

import math

import numpy as np
import pytest

from bptt.nn import make_recurrent
from bptt.nn.functional import log_softmax, sigmoid
from helpers import require

D, H, T, N = 3, 4, 6, 3


def make_model(cell, dtype, rng, backend, **kwargs):
    require(backend)
    return make_recurrent(cell, D, H, dtype=dtype, rng=rng, backend=backend, **kwargs)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [50.0, 1000.0])
def test_forward_and_backward_stay_finite_at_extreme_inputs(cell, scale, dtype, backend):
    rng = np.random.default_rng(0)
    model = make_model(cell, dtype, rng, backend, num_layers=2, bidirectional=True)
    signs = rng.choice([-1.0, 1.0], size=(T, N, D))
    x = (scale * signs * rng.uniform(0.5, 1.0, size=(T, N, D))).astype(dtype)  # (T, N, D)
    is_lstm = cell == "lstm"
    h0 = rng.uniform(-1, 1, (4, N, H)).astype(dtype)
    state0 = (h0, (scale * rng.uniform(-1, 1, (4, N, H))).astype(dtype)) if is_lstm else h0

    with np.errstate(all="raise"):
        out, state, cache = model.forward(x, state0, np.array([T, 2, 5]))
        d_out = rng.standard_normal(out.shape).astype(dtype)
        d_x, d_state0, grads = model.backward(d_out, cache, state)

    values = [out, d_x, *(state if is_lstm else (state,)), *(d_state0 if is_lstm else (d_state0,))]
    values += list(grads.values())
    for v in values:
        assert v.dtype == dtype
        assert np.isfinite(v).all()
    if cell != "rnn_relu":
        assert np.abs(out).max() <= 1.0  # tanh-bounded outputs did not blow up


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_at_plus_minus_1000(dtype):
    a = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with np.errstate(all="raise"):
        s = sigmoid(a)
    assert s.dtype == dtype
    assert s[0] == 0.0 and s[2] == 0.5 and s[3] == 1.0 and s[4] == 1.0
    assert 0.0 <= s[1] < 1e-20


def test_sigmoid_is_accurate_to_rounding_everywhere_in_between():
    a = np.linspace(-60, 60, 2401)
    reference = np.array(
        [1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v)) for v in a]
    )
    np.testing.assert_allclose(sigmoid(a), reference, rtol=0, atol=2.3e-16)


LOGITS = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [50.0, -50.0, 1000.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_is_exact_at_plus_minus_1000(dtype):
    with np.errstate(all="raise"):
        lp = log_softmax(LOGITS.astype(dtype))
    rtol = np.finfo(dtype).eps
    assert lp.dtype == dtype
    assert np.array_equal(lp[0], [0.0, -2000.0, -1000.0])
    np.testing.assert_allclose(lp[1], np.full(3, -np.log(3.0)), rtol=rtol)
    assert np.array_equal(lp[2], [-950.0, -1050.0, 0.0])
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1.0, rtol=rtol)
