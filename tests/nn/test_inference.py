"""Inference forward passes (``for_backward=False``, ``Model.loss``) compute the same values."""

import numpy as np
import pytest

from bptt import GRU, LSTM, RNN
from bptt.nn import Batch, SequenceClassifier, SequenceRegressor, SequenceTagger

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_inference_forward_equals_training_forward(name, bidirectional):
    rng = np.random.default_rng(0)
    layer = LAYERS[name](3, 5, num_layers=2, bidirectional=bidirectional, rng=rng)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    lengths = np.array([6, 2, 5, 1])
    out, state, _ = layer.forward(x, None, lengths)
    out_i, state_i, _ = layer.forward(x, None, lengths, for_backward=False)
    np.testing.assert_array_equal(out_i, out)
    for s_i, s in zip(
        state_i if name == "lstm" else (state_i,), state if name == "lstm" else (state,)
    ):
        np.testing.assert_array_equal(s_i, s)


def test_backward_refuses_an_inference_cache():
    layer = LSTM(3, 5, rng=np.random.default_rng(0))
    x = np.zeros((4, 2, 3), dtype=np.float32)
    out, _, cache = layer.forward(x, for_backward=False)
    with pytest.raises(ValueError, match="for_backward=True"):
        layer.backward(np.ones_like(out), cache)


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_model_loss_equals_the_loss_of_loss_and_grads(cell):
    rng = np.random.default_rng(1)
    T, N = 7, 3
    lengths = np.array([7, 3, 5])
    cases = [
        (
            SequenceClassifier(cell, 2, 4, 3, rng=rng),
            Batch(
                rng.standard_normal((T, N, 2)).astype(np.float32), rng.integers(0, 3, N), lengths
            ),
        ),
        (
            SequenceTagger(cell, 4, 4, 5, vocab_size=6, rng=rng),
            Batch(rng.integers(0, 6, (T, N)), rng.integers(0, 5, (T, N)), lengths),
        ),
        (
            SequenceRegressor(cell, 2, 4, 1, readout="every", rng=rng),
            Batch(
                rng.standard_normal((T, N, 2)).astype(np.float32),
                rng.standard_normal((T, N, 1)).astype(np.float32),
            ),
        ),
    ]
    for model, batch in cases:
        loss, _, state, metrics = model.loss_and_grads(batch)
        loss_i, state_i, metrics_i = model.loss(batch)
        assert loss_i == loss and metrics_i == metrics
        h, h_i = (state[0], state_i[0]) if cell == "lstm" else (state, state_i)
        np.testing.assert_array_equal(h_i, h)
