"""Bad input raises ValueError/TypeError whose message names what was expected and what was got."""

import re

import numpy as np
import pytest

from bptt import GRU, LSTM, RNN

D, H, T, N = 3, 4, 5, 2


def lstm(**kwargs):
    return LSTM(D, H, dtype=np.float64, rng=np.random.default_rng(0), **kwargs)


def gru(**kwargs):
    return GRU(D, H, dtype=np.float64, rng=np.random.default_rng(0), **kwargs)


def x_of(shape, dtype=np.float64):
    return np.random.default_rng(1).standard_normal(shape).astype(dtype)


# ----- x --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(T, D), (T, N, D, 1)])
def test_x_with_wrong_number_of_dims(shape):
    ndim = len(shape)
    with pytest.raises(ValueError, match=rf"x: expected a 3-D array .* got {ndim}-D"):
        gru().forward(x_of(shape))


def test_x_that_is_not_an_array():
    with pytest.raises(TypeError, match="x: expected a numpy.ndarray .*got list"):
        gru().forward([[[0.0] * D]])


def test_x_with_wrong_feature_size():
    with pytest.raises(ValueError, match=f"x: expected input_size {D} features, got {D + 2}"):
        gru().forward(x_of((T, N, D + 2)))


def test_x_dtype_different_from_parameters():
    model = GRU(D, H, dtype=np.float32, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="x: expected dtype float32 .*got float64"):
        model.forward(x_of((T, N, D), np.float64))


@pytest.mark.parametrize("batch_first", [False, True])
def test_zero_length_sequence(batch_first):
    shape = (N, 0, D) if batch_first else (0, N, D)
    with pytest.raises(ValueError, match=r"expected at least one time step.*got .*\b0\b"):
        gru(batch_first=batch_first).forward(x_of(shape))


# ----- initial state --------------------------------------------------------------------------


def test_gru_h0_of_wrong_shape():
    with pytest.raises(
        ValueError,
        match=re.escape(f"h0: expected shape (1, {N}, {H})") + rf".*got \(1, {N + 1}, {H}\)",
    ):
        gru().forward(x_of((T, N, D)), np.zeros((1, N + 1, H)))


def test_bidirectional_h0_needs_num_layers_times_two():
    model = RNN(
        D, H, num_layers=2, bidirectional=True, dtype=np.float64, rng=np.random.default_rng(0)
    )
    with pytest.raises(
        ValueError, match=re.escape(f"h0: expected shape (4, {N}, {H})") + rf".*got \(2, {N}, {H}\)"
    ):
        model.forward(x_of((T, N, D)), np.zeros((2, N, H)))


def test_lstm_h0_and_c0_are_checked_separately():
    x, good = x_of((T, N, D)), np.zeros((1, N, H))
    bad = np.zeros((1, N, H + 1))
    with pytest.raises(
        ValueError, match=rf"h0: expected shape \(1, {N}, {H}\).*got \(1, {N}, {H + 1}\)"
    ):
        lstm().forward(x, (bad, good))
    with pytest.raises(
        ValueError, match=rf"c0: expected shape \(1, {N}, {H}\).*got \(1, {N}, {H + 1}\)"
    ):
        lstm().forward(x, (good, bad))
    with pytest.raises(TypeError, match="c0: expected dtype float64 .*got float32"):
        lstm().forward(x, (good, good.astype(np.float32)))


def test_lstm_state_that_is_not_a_pair():
    with pytest.raises(TypeError, match=r"state0: expected a tuple \(h0, c0\) for LSTM, got"):
        lstm().forward(x_of((T, N, D)), np.zeros((1, N, H)))


# ----- lengths --------------------------------------------------------------------------------


def test_lengths_of_wrong_count():
    with pytest.raises(ValueError, match=rf"lengths: expected .*shape \({N},\), got shape \(3,\)"):
        gru().forward(x_of((T, N, D)), None, np.array([T, T, T]))


@pytest.mark.parametrize("bad", [0, T + 1])
def test_lengths_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"lengths: expected values in \[1, {T}\].*got min"):
        gru().forward(x_of((T, N, D)), None, np.array([T, bad]))


def test_non_integer_lengths():
    with pytest.raises(TypeError, match="lengths: expected integers, got dtype float64"):
        gru().forward(x_of((T, N, D)), None, np.array([5.0, 2.5]))


# ----- constructor ----------------------------------------------------------------------------


def test_unknown_nonlinearity():
    with pytest.raises(
        ValueError, match=r"expected one of \['relu', 'sigmoid', 'tanh'\], got 'gelu'"
    ):
        RNN(D, H, nonlinearity="gelu")


@pytest.mark.parametrize("name", ["input_size", "hidden_size", "num_layers"])
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_sizes(name, value):
    kwargs = dict(input_size=D, hidden_size=H, num_layers=1)
    kwargs[name] = value
    with pytest.raises(ValueError, match=rf"{name}: expected a positive integer, got {value}"):
        LSTM(**kwargs)


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_dropout_outside_zero_one(dropout):
    with pytest.raises(
        ValueError,
        match=rf"dropout: expected a probability in \[0, 1\), got "
        rf"{dropout}",
    ):
        GRU(D, H, num_layers=2, dropout=dropout)


def test_non_float_dtype():
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got int64"):
        GRU(D, H, dtype=np.int64)


# ----- backward -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
def test_d_output_of_wrong_shape(batch_first):
    model = gru(bidirectional=True, batch_first=batch_first)
    x = x_of((N, T, D) if batch_first else (T, N, D))
    out, _, cache = model.forward(x)
    assert out.shape[-1] == 2 * H
    wrong = out.shape[:-1] + (H,)  # one direction's width instead of both
    with pytest.raises(ValueError, match="d_output") as info:
        model.backward(np.zeros(wrong), cache)
    assert f"expected shape {out.shape}" in str(info.value), str(info.value)
    assert f"got {wrong}" in str(info.value), str(info.value)
    with pytest.raises(ValueError, match="d_output: expected a 3-D array .*got 2-D"):
        model.backward(np.zeros(out.shape[1:]), cache)


def test_d_state_of_wrong_shape():
    model = lstm()
    out, _, cache = model.forward(x_of((T, N, D)))
    with pytest.raises(ValueError, match=rf"d_c_n: expected shape \(1, {N}, {H}\).*got"):
        model.backward(None, cache, (None, np.zeros((2, N, H))))


# ----- load_state_dict ------------------------------------------------------------------------


def test_load_state_dict_reports_every_problem_at_once():
    model = lstm()
    state = model.state_dict()
    before = model.state_dict()
    del state["bias_hh_l0"]
    state["weight_ih_l7"] = np.zeros((4 * H, D))
    state["weight_hh_l0"] = np.zeros((4 * H, H + 1))
    state["bias_ih_l0"] = state["bias_ih_l0"].astype(str)  # float32 would convert, as torch
    state["weight_ih_l0"] = state["weight_ih_l0"] + 1.0  # a valid change that must not land

    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)

    message = str(info.value)
    assert "missing key 'bias_hh_l0'" in message
    assert "unexpected key 'weight_ih_l7'" in message
    assert f"weight_hh_l0: expected shape ({4 * H}, {H}), got ({4 * H}, {H + 1})" in message
    assert "bias_ih_l0: expected real numbers to convert, got dtype <U" in message
    for name, value in before.items():
        assert np.array_equal(model.params[name], value), f"{name} changed by a failed load"


def test_lstm_d_state_must_be_a_pair():
    model = lstm()
    out, _, cache = model.forward(x_of((T, N, D)))
    with pytest.raises(TypeError, match=r"d_state: expected a tuple \(d_h_n, d_c_n\)"):
        model.backward(None, cache, np.zeros((1, N, H), dtype=np.float32))


def test_backward_rejects_a_foreign_cache():
    model = gru(bidirectional=True)
    _, _, cache = gru().forward(x_of((T, N, D)))
    with pytest.raises(TypeError, match="cache: expected the RecurrentCache"):
        model.backward(None, cache)


def test_dropout_accepts_numpy_floats():
    assert GRU(D, H, num_layers=2, dropout=np.float32(0.5)).dropout == 0.5
