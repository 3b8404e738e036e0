"""A d_out of the wrong shape is refused by every backward with the expected and the got
shapes, before any work (no tape recorded, no gradient returned)."""

import numpy as np
import pytest

from bptt.nn import GRU, LSTM, RNN, Linear

T, N, D, H = 20, 2, 3, 4
# between the least each plan needs and what full BPTT keeps: a recomputing cache
BUDGETS = {RNN: 3000, LSTM: 8000, GRU: 7000}


@pytest.mark.parametrize("layer", [RNN, LSTM, GRU], ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tm", "bf"])
@pytest.mark.parametrize("budgeted", [False, True], ids=["full", "budget"])
def test_recurrent_backward_refuses_a_d_out_of_the_wrong_shape(layer, batch_first, budgeted):
    budget = BUDGETS[layer] if budgeted else None
    rnn = layer(D, H, num_layers=2, batch_first=batch_first, dtype=np.float64,
                memory_budget=budget, rng=np.random.default_rng(0))  # fmt: skip
    x = np.random.default_rng(1).standard_normal((N, T, D) if batch_first else (T, N, D))
    out, _, cache = rnn.forward(x)
    for wrong in [out.shape[:-1] + (H + 1,), out.shape[::-1], (out.shape[0] + 1,) + out.shape[1:]]:
        tapes: list = []
        with pytest.raises(ValueError) as info:
            rnn.backward(np.zeros(wrong), cache, tapes=tapes)
        message = str(info.value)
        assert f"expected shape {out.shape}" in message and f"got {wrong}" in message, message
        assert tapes == []  # refused before the time loop ran
    rnn.backward(np.zeros(out.shape), cache)  # the cache is still good


def test_linear_backward_refuses_a_dy_of_the_wrong_shape_or_dtype():
    lin = Linear(D, H, dtype=np.float64, rng=np.random.default_rng(0))
    x = np.ones((T, N, D))
    y, cache = lin.forward(x)
    # (N*T, H) holds as many numbers as (T, N, H): once reshaped silently, now refused
    for wrong in [(N * T, H), (T, N, H + 1), (T, N)]:
        with pytest.raises(ValueError, match=rf"dy: expected shape \({T}, {N}, {H}\).*got"):
            lin.backward(np.zeros(wrong), cache)
    with pytest.raises(TypeError, match="dy: expected dtype float64.*got float32"):
        lin.backward(np.zeros(y.shape, np.float32), cache)
    with pytest.raises(TypeError, match="x: expected the cache"):
        lin.backward(np.zeros(y.shape), None)
    dx, grads = lin.backward(np.ones(y.shape), cache)
    assert dx.shape == x.shape and grads["weight"].shape == (H, D)
