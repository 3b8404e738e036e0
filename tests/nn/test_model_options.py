"""The model options people port classics with, each against a reference: the sigmoid heads
(finite differences and torch), the summed loss and one-hot input (a hand-written min-char-rnn
step), tied weights and the dropouts (finite differences), init and forget bias."""

import numpy as np
import pytest

from bptt.insight import assert_gradients_close
from bptt.nn import Batch, SequenceClassifier, SequenceTagger

F64 = np.float64
T, N, D, H, V = 5, 3, 4, 6, 7


def bits_batch(rng, C=1):
    x = rng.standard_normal((T, N, D))
    y = rng.integers(0, 2, (T, N) if C == 1 else (T, N, C))
    return Batch(x, y)


def fd(model, batch, seed=0, reset_rng=None):
    """Finite differences of every parameter; with reset_rng the dropout masks repeat."""

    def loss():
        if reset_rng is not None:
            model.rnn.rng = np.random.default_rng(reset_rng)
        return model.loss_and_grads(batch)[0]

    if reset_rng is not None:
        model.rnn.rng = np.random.default_rng(reset_rng)
    _, grads, _, _ = model.loss_and_grads(batch)
    assert_gradients_close(
        loss, model.params, grads, entries_per_array=3, rng=np.random.default_rng(seed)
    )
    return grads


@pytest.mark.parametrize("output", ["sigmoid_mse", "sigmoid_bce"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("cell", ["rnn_sigmoid", "lstm"])
def test_sigmoid_heads_pass_finite_differences(output, reduction, cell):
    rng = np.random.default_rng(1)
    model = SequenceTagger(cell, D, H, 1, dtype=F64, rng=rng, output=output, reduction=reduction)
    fd(model, bits_batch(rng))
    classifier = SequenceClassifier(cell, D, H, 3, dtype=F64, rng=rng, output=output)
    fd(classifier, Batch(rng.standard_normal((T, N, D)), rng.integers(0, 2, (N, 3))))


@pytest.mark.parametrize("output", ["sigmoid_mse", "sigmoid_bce"])
def test_sigmoid_heads_match_torch(output):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    model = SequenceTagger("rnn_tanh", D, H, 1, dtype=F64, rng=rng, output=output, bias=False)
    batch = bits_batch(rng)
    loss, grads, _, _ = model.loss_and_grads(batch)
    z = torch.from_numpy(model.logits(batch.inputs)[0]).requires_grad_()
    y = torch.from_numpy(batch.targets[..., None].astype(F64))
    if output == "sigmoid_mse":
        ref = torch.nn.functional.mse_loss(torch.sigmoid(z), y)
    else:
        ref = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    # the head's weight gradient is d_logits summed against the features: compare d_logits
    out, _, _ = model.rnn.forward(batch.inputs, for_backward=False)
    g = z.grad.numpy().reshape(-1, 1)
    np.testing.assert_allclose(grads["head.weight"], g.T @ out.reshape(-1, H), rtol=1e-10)


def test_sigmoid_bce_is_finite_at_extreme_logits():
    from bptt.nn import sigmoid_binary_cross_entropy, sigmoid_squared_error

    z = np.array([[-1000.0], [1000.0], [0.0]])
    y = np.array([1, 0, 1])
    loss, d = sigmoid_binary_cross_entropy(z, y, reduction="sum")
    assert loss == pytest.approx(2000 + np.log(2)) and np.isfinite(d).all()
    loss, d = sigmoid_squared_error(z, y, reduction="sum")
    assert loss == pytest.approx(2.25) and np.isfinite(d).all()


def test_sigmoid_heads_reject_non_bits():
    rng = np.random.default_rng(3)
    model = SequenceTagger("rnn_tanh", D, H, 1, dtype=F64, rng=rng, output="sigmoid_mse")
    with pytest.raises(ValueError, match="bits"):
        model.loss_and_grads(Batch(rng.standard_normal((T, N, D)), np.full((T, N), 2)))
    with pytest.raises(ValueError, match="output: expected one of"):
        SequenceTagger("rnn_tanh", D, H, 1, output="sigmoid")


def min_char_rnn_step(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """Karpathy's min-char-rnn lossFun, verbatim but for names (one-hot, tanh, summed loss)."""
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((Wxh.shape[1], 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def test_sum_reduction_and_one_hot_input_are_min_char_rnns_step():
    rng = np.random.default_rng(4)
    model = SequenceTagger(
        "rnn_tanh",
        0,
        H,
        V,
        vocab_size=V,
        dtype=F64,
        rng=rng,
        reduction="sum",
        init="normal",
        init_scale=0.01,
    )
    assert model.embedding is None and model.rnn.input_size == V
    p = {k: v.copy() for k, v in model.params.items()}
    assert not p["rnn.bias_ih_l0"].any() and abs(p["rnn.weight_hh_l0"]).max() < 0.1
    p["rnn.bias_ih_l0"][:] = rng.standard_normal(H)  # torch's two biases are one bh here
    model.load_state_dict(p)
    ids = rng.integers(0, V, 26)
    inputs, targets = ids[:-1], ids[1:]
    h0 = rng.standard_normal((1, 1, H))
    loss, grads, h_n, _ = model.loss_and_grads(Batch(inputs[:, None], targets[:, None]), h0)
    ref = min_char_rnn_step(
        inputs,
        targets,
        h0[0].T,
        p["rnn.weight_ih_l0"],
        p["rnn.weight_hh_l0"],
        p["head.weight"],
        (p["rnn.bias_ih_l0"] + p["rnn.bias_hh_l0"])[:, None],
        p["head.bias"][:, None],
    )
    assert loss == pytest.approx(ref[0], rel=1e-12)
    for name, want in zip(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "head.weight"], ref[1:4]):
        np.testing.assert_allclose(grads[name], want, rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(grads["rnn.bias_ih_l0"], ref[4][:, 0], rtol=1e-10)
    np.testing.assert_allclose(grads["rnn.bias_hh_l0"], ref[4][:, 0], rtol=1e-10)
    np.testing.assert_allclose(grads["head.bias"], ref[5][:, 0], rtol=1e-10)
    np.testing.assert_allclose(h_n[0, 0], ref[6][:, 0], rtol=1e-12)
    # the mean is the sum over the 25 steps divided by 25
    mean = SequenceTagger("rnn_tanh", 0, H, V, vocab_size=V, dtype=F64, rng=rng)
    mean.load_state_dict(p)
    assert mean.loss(Batch(inputs[:, None], targets[:, None]), h0)[0] == pytest.approx(loss / 25)


def test_tied_weights_share_one_matrix_and_pass_finite_differences():
    rng = np.random.default_rng(5)
    model = SequenceTagger("lstm", H, H, V, vocab_size=V, dtype=F64, rng=rng, tie_weights=True)
    assert "head.weight" not in model.params and "head.bias" in model.params
    assert model.head.params["weight"] is model.params["embedding.weight"]
    ids = rng.integers(0, V, (T + 1, N))
    fd(model, Batch(ids[:-1], ids[1:]), seed=5)
    with pytest.raises(ValueError, match="embedding_dim = hidden_size"):
        SequenceTagger("lstm", 3, H, V, vocab_size=V, tie_weights=True)
    with pytest.raises(ValueError, match="with an embedding"):
        SequenceTagger("lstm", D, H, V, tie_weights=True)


def test_embedding_and_output_dropout_pass_finite_differences_and_vanish_in_eval():
    rng = np.random.default_rng(6)
    kw = dict(vocab_size=V, dtype=F64, rng=rng, embedding_dropout=0.4, output_dropout=0.3)
    model = SequenceTagger("gru", D, H, V, **kw)
    ids = rng.integers(0, V, (T + 1, N))
    batch = Batch(ids[:-1], ids[1:])
    fd(model, batch, seed=6, reset_rng=11)
    model.rnn.rng = np.random.default_rng(11)
    dropped = model.loss(batch)[0]
    model.rnn.rng = np.random.default_rng(12)
    assert model.loss(batch)[0] != dropped  # other masks, another loss
    model.eval()
    assert model.loss(batch)[0] == model.loss(batch)[0]
    plain = SequenceTagger("gru", D, H, V, vocab_size=V, dtype=F64, rng=np.random.default_rng(0))
    plain.load_state_dict(model.state_dict())
    assert model.loss(batch)[0] == plain.eval().loss(batch)[0]


def test_uniform_init_without_biases_and_forget_bias():
    model = SequenceTagger(
        "rnn_sigmoid",
        2,
        16,
        1,
        bias=False,
        init="uniform",
        init_scale=1.0,
        rng=np.random.default_rng(7),
        output="sigmoid_mse",
    )
    assert sorted(model.params) == ["head.weight", "rnn.weight_hh_l0", "rnn.weight_ih_l0"]
    w = np.concatenate([p.ravel() for p in model.params.values()])
    assert -1 <= w.min() < -0.9 and 0.9 < w.max() < 1
    lstm = SequenceClassifier("lstm", 3, 4, 2, forget_bias=1.0, rng=np.random.default_rng(8))
    b = lstm.params["rnn.bias_ih_l0"] + lstm.params["rnn.bias_hh_l0"]
    np.testing.assert_allclose(b[4:8], 1.0)
    assert not np.allclose(b[:4], 1.0)
    with pytest.raises(ValueError, match="init: expected one of"):
        SequenceTagger("gru", D, H, V, init="xavier")
