"""Running T steps one call at a time, carrying the state, equals one call over all T steps.

Forward: the outputs and the final state agree. Backward: backpropagating through the
per-step calls in reverse order, each step's d_state0 fed as d_state of the step before,
gives the same d_x, d_state0 and (summed) parameter gradients as one backward over the whole
sequence. Unidirectional only: a reverse direction reads the future, which a step-by-step
caller does not have.
"""

import numpy as np
import pytest

from bptt.nn import make_recurrent
from helpers import require

D, H, T, N = 3, 4, 6, 2


def make_model(cell, rng, backend, **kwargs):
    require(backend)
    return make_recurrent(cell, D, H, dtype=np.float64, rng=rng, backend=backend, **kwargs)


def as_tuple(state, is_lstm):
    return state if is_lstm else (state,)


def from_tuple(states, is_lstm):
    return tuple(states) if is_lstm else states[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stepping_one_call_per_step_equals_one_call_over_the_sequence(
    cell, batch_first, num_layers, backend
):
    rng = np.random.default_rng(0)
    model = make_model(cell, rng, backend, num_layers=num_layers, batch_first=batch_first)
    is_lstm = cell == "lstm"
    time_axis = 1 if batch_first else 0
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    state0 = from_tuple(
        [rng.standard_normal((num_layers, N, H)) for _ in range(1 + is_lstm)], is_lstm
    )
    d_out = rng.standard_normal((N, T, H) if batch_first else (T, N, H))
    d_state_n = from_tuple(
        [rng.standard_normal((num_layers, N, H)) for _ in range(1 + is_lstm)], is_lstm
    )

    out, state_n, cache = model.forward(x, state0)
    d_x, d_state0, grads = model.backward(d_out, cache, d_state_n)

    step_outs, caches, state = [], [], state0
    for t in range(T):
        x_t = np.take(x, [t], axis=time_axis)  # one step, keeping the time axis
        out_t, state, cache_t = model.forward(x_t, state)
        step_outs.append(out_t)
        caches.append(cache_t)
    np.testing.assert_allclose(np.concatenate(step_outs, axis=time_axis), out, rtol=0, atol=1e-13)
    for ours, whole in zip(as_tuple(state, is_lstm), as_tuple(state_n, is_lstm)):
        np.testing.assert_allclose(ours, whole, rtol=0, atol=1e-13)

    step_d_x = [None] * T
    summed = {name: np.zeros_like(p) for name, p in model.params.items()}
    d_state = d_state_n
    for t in reversed(range(T)):
        d_out_t = np.take(d_out, [t], axis=time_axis)
        step_d_x[t], d_state, grads_t = model.backward(d_out_t, caches[t], d_state)
        for name, g in grads_t.items():
            summed[name] += g
    np.testing.assert_allclose(np.concatenate(step_d_x, axis=time_axis), d_x, rtol=0, atol=1e-12)
    for ours, whole in zip(as_tuple(d_state, is_lstm), as_tuple(d_state0, is_lstm)):
        np.testing.assert_allclose(ours, whole, rtol=0, atol=1e-12)
    assert summed.keys() == grads.keys()
    for name, g in grads.items():
        np.testing.assert_allclose(summed[name], g, rtol=0, atol=1e-12, err_msg=name)
