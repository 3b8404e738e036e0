"""backward(..., input_grad=False) skips dL/dx and changes nothing else; models skip it for
data inputs and keep it when an embedding needs it."""

import numpy as np
import pytest

from bptt import GRU, LSTM, RNN
from bptt.nn import Batch, SequenceClassifier, SequenceTagger

D, H, T, N = 3, 4, 6, 2


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layer", [RNN, LSTM, GRU])
def test_skipping_the_input_gradient_leaves_every_other_gradient_unchanged(layer, batch_first):
    model = layer(
        D,
        H,
        num_layers=2,
        bidirectional=True,
        batch_first=batch_first,
        dtype=np.float64,
        rng=np.random.default_rng(0),
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    out, state, cache = model.forward(x, lengths=np.array([6, 3]))
    d_out = rng.standard_normal(out.shape)
    d_x, d_s0, grads = model.backward(d_out, cache, state)
    no_x, d_s0_b, grads_b = model.backward(d_out, cache, state, input_grad=False)
    assert d_x.shape == x.shape and no_x is None
    for a, b in zip(d_s0 if layer is LSTM else (d_s0,), d_s0_b if layer is LSTM else (d_s0_b,)):
        np.testing.assert_array_equal(a, b)
    assert grads.keys() == grads_b.keys()
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads_b[name], err_msg=name)


def test_models_skip_the_input_gradient_only_without_an_embedding(monkeypatch):
    seen = []
    original = LSTM.backward

    def spy(self, *args, **kwargs):
        seen.append(kwargs["input_grad"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LSTM, "backward", spy)
    rng = np.random.default_rng(0)
    floats = SequenceClassifier("lstm", D, H, 3, rng=rng)
    floats.loss_and_grads(
        Batch(rng.standard_normal((T, N, D)).astype(np.float32), np.array([0, 2]))
    )
    tokens = SequenceTagger("lstm", D, H, 5, vocab_size=5, rng=rng)
    ids = rng.integers(0, 5, (T, N))
    _, grads, *_ = tokens.loss_and_grads(Batch(ids, ids))
    assert seen == [False, True]
    assert np.abs(grads["embedding.weight"]).sum() > 0
