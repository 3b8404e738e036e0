"""Dropout acts only in training mode and only between layers; its backward is exact.

The layer draws its dropout masks from ``layer.rng``, so re-seeding that Generator before a
forward reproduces the same masks: that holds the mask fixed for finite differences.
"""

import numpy as np
import pytest

from bptt import GRU, LSTM, RNN
from bptt.insight import check_gradients

D, H, T, N = 3, 4, 5, 3


def make_model(cell, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    if cell.startswith("rnn"):
        return RNN(D, H, nonlinearity=cell[4:], dtype=np.float64, rng=rng, **kwargs)
    return {"lstm": LSTM, "gru": GRU}[cell](D, H, dtype=np.float64, rng=rng, **kwargs)


def inputs(seed=1):
    return np.random.default_rng(seed).standard_normal((T, N, D))  # (T, N, D)


def test_dropout_changes_train_mode_outputs_only_and_eval_equals_no_dropout(cell):
    model = make_model(cell, num_layers=2, dropout=0.5)
    plain = make_model(cell, seed=99, num_layers=2, dropout=0.0)
    plain.load_state_dict(model.state_dict())
    x = inputs()

    assert model.training
    first, _, _ = model.forward(x)
    second, _, _ = model.forward(x)
    assert not np.allclose(first, second)  # a fresh mask each call
    if cell != "rnn_relu":  # relu makes its own zeros
        assert np.all(first != 0)  # the last layer's output is never dropped

    assert model.eval() is model and not model.training
    a, state_a, cache = model.forward(x)
    b, state_b, _ = model.forward(x)
    reference, state_ref, _ = plain.forward(x)
    assert np.array_equal(a, b)
    assert np.array_equal(a, reference)
    for s, s_ref in zip(
        state_a if cell == "lstm" else (state_a,), state_ref if cell == "lstm" else (state_ref,)
    ):
        assert np.array_equal(s, s_ref)
    assert all(mask is None for mask in cache.dropout_masks)

    model.train()
    assert model.training
    assert not np.array_equal(model.forward(x)[0], reference)


def test_dropout_with_one_layer_warns_and_does_nothing():
    with pytest.warns(UserWarning, match="dropout acts between layers only"):
        model = make_model("gru", num_layers=1, dropout=0.5)
    plain = make_model("gru", num_layers=1)
    x = inputs()
    assert np.array_equal(model.forward(x)[0], plain.forward(x)[0])


def test_dropout_mask_is_scaled_to_keep_the_expected_value():
    model = make_model("rnn_tanh", num_layers=2, dropout=0.25)
    _, _, cache = model.forward(inputs())
    mask = cache.dropout_masks[0]
    assert set(np.unique(mask)) <= {0.0, 1.0 / 0.75}
    assert cache.dropout_masks[1] is None


@pytest.mark.parametrize("bidirectional", [False, True])
def test_backward_with_dropout_matches_finite_differences_with_the_mask_held(cell, bidirectional):
    model = make_model(cell, num_layers=3, dropout=0.5, bidirectional=bidirectional)
    K = 2 if bidirectional else 1
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((3 * K, N, H))
    c0 = rng.standard_normal((3 * K, N, H))
    is_lstm = cell == "lstm"
    state0 = (h0, c0) if is_lstm else h0
    lengths = np.array([5, 2, 4])

    def forward():
        model.rng = np.random.default_rng(123)  # the same masks on every call
        return model.forward(x, state0, lengths)

    out, _, cache = forward()
    assert all(m is not None for m in cache.dropout_masks[:-1])
    W_out = rng.standard_normal(out.shape)
    W_h = rng.standard_normal(h0.shape)

    def loss():
        out, state, _ = forward()
        return np.sum(out * W_out) + np.sum((state[0] if is_lstm else state) * W_h)

    d_x, d_state0, grads = model.backward(W_out, cache, (W_h, None) if is_lstm else W_h)
    arrays = {**model.params, "x": x, "h0": h0}
    analytic = {**grads, "x": d_x, "h0": d_state0[0] if is_lstm else d_state0}
    if is_lstm:
        arrays["c0"], analytic["c0"] = c0, d_state0[1]
    report = check_gradients(loss, arrays, analytic, rng=np.random.default_rng(3))
    assert report.ok, str(report)
