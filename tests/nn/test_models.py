"""Models: loss_and_grads against finite differences and against the same network in PyTorch,
state carried across calls, live parameters, load_state_dict and the constructors' errors.

Every model is checked with 2 layers and ragged lengths, one and two directions, each cell:

    classifier         floats (T, N, D) -> one class per sequence from h_n of the last layer
    classifier_tokens  the same behind an Embedding
    tagger             token ids (T, N) -> one class per step, with a (T, N) mask
    regressor_last     floats -> O real outputs per sequence
    regressor_every    floats -> O real outputs per step
"""

import itertools

import numpy as np
import pytest

from bptt import GRU, LSTM, RNN
from bptt.insight import assert_gradients_close
from bptt.nn import (
    CELLS,
    Batch,
    SequenceClassifier,
    SequenceRegressor,
    SequenceTagger,
    make_recurrent,
    mean_squared_error,
    softmax_cross_entropy,
)
from torch_rnn import make_torch_rnn, run_torch_rnn

D, H, T, N, C, O, V = 3, 4, 5, 3, 4, 2, 7
LENGTHS = np.array([5, 2, 4])  # unsorted, so enforce_sorted=False matters in PyTorch
KINDS = ["classifier", "classifier_tokens", "tagger", "regressor_last", "regressor_every"]
# rnn_relu and rnn_sigmoid run in the torch matrix here; their gradients are checked in
# tests/nn/gradients
SOME_CELLS = [c for c in CELLS if c not in ("rnn_relu", "rnn_sigmoid")]


def build(kind, cell, bidirectional=False, num_layers=2, seed=0):
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64)
    kw["rng"] = np.random.default_rng(seed)
    if kind == "classifier":
        return SequenceClassifier(cell, D, H, C, **kw)
    if kind == "classifier_tokens":
        return SequenceClassifier(cell, D, H, C, vocab_size=V, **kw)
    if kind == "tagger":
        return SequenceTagger(cell, D, H, C, vocab_size=V, **kw)
    return SequenceRegressor(cell, D, H, O, readout=kind.split("_")[1], **kw)


def make_batch(kind, rng, lengths=LENGTHS, steps=T):
    tokens = kind in ("classifier_tokens", "tagger")
    inputs = rng.integers(0, V, (steps, N)) if tokens else rng.standard_normal((steps, N, D))
    mask = None
    if kind.startswith("classifier"):
        targets = rng.integers(0, C, N)
    elif kind == "tagger":
        targets = rng.integers(0, C, (steps, N))
        mask = rng.random((steps, N)) < 0.7
        mask[0] = True  # every sequence keeps its first step
    elif kind == "regressor_last":
        targets = rng.standard_normal((N, O))
    else:
        targets = rng.standard_normal((steps, N, O))
    return Batch(inputs, targets, lengths, mask)


def steps_with_loss(batch):
    """(T, N) bool: the batch's mask and its lengths together."""
    keep = np.ones(batch.inputs.shape[:2], dtype=bool)
    if batch.mask is not None:
        keep &= batch.mask
    if batch.lengths is not None:
        keep &= np.arange(keep.shape[0])[:, None] < batch.lengths[None, :]
    return keep


MATRIX = list(itertools.product(KINDS, SOME_CELLS, [False, True]))
MATRIX_IDS = [f"{k}-{c}-{'bi' if b else 'uni'}" for k, c, b in MATRIX]


@pytest.mark.parametrize("kind, cell, bidirectional", MATRIX, ids=MATRIX_IDS)
def test_every_gradient_matches_finite_differences(kind, cell, bidirectional):
    model = build(kind, cell, bidirectional)
    batch = make_batch(kind, np.random.default_rng(1))
    loss, grads, _, _ = model.loss_and_grads(batch)

    assert grads.keys() == model.params.keys()
    for name, p in model.params.items():
        assert grads[name].shape == p.shape and grads[name].dtype == p.dtype, name
    assert_gradients_close(
        lambda: model.loss_and_grads(batch)[0],
        model.params,
        grads,
        entries_per_array=2,
        rng=np.random.default_rng(2),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_the_loss_of_the_forward_pass(kind):
    model = build(kind, "gru", bidirectional=True)
    batch = make_batch(kind, np.random.default_rng(3))
    loss, _, _, metrics = model.loss_and_grads(batch)
    if kind.startswith("classifier"):
        logits = model.logits(batch.inputs, batch.lengths)
        expected = softmax_cross_entropy(logits, batch.targets)[0]
        assert metrics["count"] == N
        assert metrics["correct"] == int((logits.argmax(axis=1) == batch.targets).sum())
    elif kind == "tagger":
        logits, _ = model.logits(batch.inputs, batch.lengths)
        keep = steps_with_loss(batch)
        expected = softmax_cross_entropy(logits, batch.targets, keep)[0]
        assert metrics["count"] == int(keep.sum())
        hits = (logits.argmax(axis=2) == batch.targets) & keep
        assert metrics["correct"] == int(hits.sum())
    else:
        pred = model.predict(batch.inputs, batch.lengths)
        keep = None
        if kind == "regressor_every":
            keep = np.broadcast_to(steps_with_loss(batch)[..., None], pred.shape)
        expected = mean_squared_error(pred, batch.targets, keep)[0]
    assert loss == pytest.approx(expected, rel=1e-12)
    assert metrics["loss"] == loss


def test_an_untrained_character_model_scores_about_ln_v_per_step(cell):
    """min-char-rnn's free check: before training, every next character is about equally
    likely, so the mean cross-entropy per step is about ln V. A loss summed over the T x N
    steps would be 200 times that; a softmax over the wrong axis would give ln N or ln T;
    logits taken for log-probabilities, a log in another base or a missing minus sign would
    be far off too."""
    vocab, steps, batch = 50, 25, 8  # ln 50 = 3.91; ln 8 = 2.08 and ln 25 = 3.22 are far off
    model = SequenceTagger(
        cell, 16, 32, vocab, vocab_size=vocab, dtype=np.float64, rng=np.random.default_rng(0)
    )
    ids = np.random.default_rng(1).integers(0, vocab, (steps + 1, batch))
    loss, _, _, metrics = model.loss_and_grads(Batch(ids[:-1], ids[1:]))
    assert metrics["count"] == steps * batch
    assert loss == pytest.approx(np.log(vocab), rel=0.05)


# ----- PyTorch with copied weights ------------------------------------------------------------


def torch_twin(torch, model, cell):
    """The same network in PyTorch, submodules named like ours, so the dotted names load as-is."""
    nn = torch.nn
    twin = nn.Module()
    if model.embedding is not None:
        twin.embedding = nn.Embedding(V, D)
    kw = dict(num_layers=model.rnn.num_layers, bidirectional=model.rnn.bidirectional)
    twin.rnn = make_torch_rnn(torch, cell, D, H, **kw)
    twin.head = nn.Linear(model.rnn.num_directions * H, model.head.out_features)
    twin.double()
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    return twin


def torch_loss(torch, twin, kind, batch):
    F = torch.nn.functional
    x = torch.from_numpy(batch.inputs)
    if hasattr(twin, "embedding"):
        x = twin.embedding(x)
    out, state = run_torch_rnn(twin.rnn, x, None, batch.lengths)
    h_n = state[0] if isinstance(state, tuple) else state  # (L*K, N, H)
    K = 2 if twin.rnn.bidirectional else 1
    feats = torch.cat(list(h_n[-K:]), dim=1)  # last layer, forward then reverse: (N, K*H)
    targets = torch.from_numpy(batch.targets)
    keep = torch.from_numpy(steps_with_loss(batch))
    if kind.startswith("classifier"):
        return F.cross_entropy(twin.head(feats), targets)
    if kind == "tagger":
        return F.cross_entropy(twin.head(out)[keep], targets[keep])
    if kind == "regressor_last":
        return F.mse_loss(twin.head(feats), targets)
    return F.mse_loss(twin.head(out)[keep], targets[keep])


TORCH_MATRIX = list(itertools.product(KINDS, list(CELLS), [False, True], [True, False]))


@pytest.mark.parametrize(
    "kind, cell, bidirectional, ragged",
    TORCH_MATRIX,
    ids=[
        f"{k}-{c}-{'bi' if b else 'uni'}-{'ragged' if r else 'full'}" for k, c, b, r in TORCH_MATRIX
    ],
)
def test_loss_and_every_gradient_match_torch(kind, cell, bidirectional, ragged):
    torch = pytest.importorskip("torch")
    model = build(kind, cell, bidirectional, seed=4)
    twin = torch_twin(torch, model, cell)
    batch = make_batch(kind, np.random.default_rng(5), LENGTHS if ragged else None)

    loss, grads, _, _ = model.loss_and_grads(batch)
    ref = torch_loss(torch, twin, kind, batch)
    ref.backward()

    assert abs(loss - ref.item()) <= 1e-10
    torch_grads = {name: p.grad.numpy() for name, p in twin.named_parameters()}
    assert torch_grads.keys() == grads.keys()
    for name, g in grads.items():
        np.testing.assert_allclose(g, torch_grads[name], rtol=0, atol=1e-10, err_msg=name)


# ----- state carried across calls -------------------------------------------------------------


def states_equal(a, b):
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return len(a) == len(b) and all(np.allclose(x, y, rtol=0, atol=1e-12) for x, y in zip(a, b))


def copy_state(s):
    return tuple(x.copy() for x in s) if isinstance(s, tuple) else s.copy()


def halves(batch, cut):
    first = Batch(batch.inputs[:cut], batch.targets[:cut], None, None)
    second = Batch(batch.inputs[cut:], batch.targets[cut:], None, None)
    return first, second


@pytest.mark.parametrize("cell", SOME_CELLS)
@pytest.mark.parametrize("kind", ["tagger", "regressor_every"])
def test_per_step_loss_streams_with_the_state_carried(kind, cell):
    """Equal halves: the mean of the two half losses is the loss of the whole sequence."""
    model = build(kind, cell)
    whole = make_batch(kind, np.random.default_rng(6), lengths=None, steps=6)
    whole.mask = None
    first, second = halves(whole, 3)

    loss, _, state, _ = model.loss_and_grads(whole)
    loss_1, _, state_1, _ = model.loss_and_grads(first)
    carried = copy_state(state_1)
    loss_2, grads_2, state_2, _ = model.loss_and_grads(second, state_1)

    assert (loss_1 + loss_2) / 2 == pytest.approx(loss, rel=1e-12)
    assert states_equal(state_2, state)
    assert states_equal(state_1, carried), "loss_and_grads must not overwrite the state it gets"
    fresh = model.loss_and_grads(second)[0]
    assert abs(fresh - loss_2) > 1e-6, "the carried state made no difference"
    assert_gradients_close(
        lambda: model.loss_and_grads(second, carried)[0],
        model.params,
        grads_2,
        entries_per_array=1,
        rng=np.random.default_rng(7),
    )


@pytest.mark.parametrize("cell", SOME_CELLS)
@pytest.mark.parametrize("kind", ["classifier", "regressor_last"])
def test_readout_at_the_end_streams_with_the_state_carried(kind, cell):
    """The loss read from h_n after the second half, state carried, is the whole sequence's."""
    model = build(kind, cell)
    whole = make_batch(kind, np.random.default_rng(8), lengths=None, steps=6)
    first = Batch(whole.inputs[:2], whole.targets)
    second = Batch(whole.inputs[2:], whole.targets)

    loss, _, state, _ = model.loss_and_grads(whole)
    _, _, state_1, _ = model.loss_and_grads(first)
    carried = copy_state(state_1)
    loss_2, grads_2, state_2, _ = model.loss_and_grads(second, state_1)

    assert loss_2 == pytest.approx(loss, rel=1e-12)
    assert states_equal(state_2, state)
    assert states_equal(state_1, carried)
    assert_gradients_close(
        lambda: model.loss_and_grads(second, carried)[0],
        model.params,
        grads_2,
        entries_per_array=1,
        rng=np.random.default_rng(9),
    )


# ----- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["classifier", "tagger"])
def test_params_are_the_layers_own_arrays(kind):
    model = build(kind, "lstm", bidirectional=True)
    for name, value in model.params.items():
        prefix, layer_name = name.split(".", 1)
        assert value is getattr(model, prefix).params[layer_name], name
    batch = make_batch(kind, np.random.default_rng(10))
    before = model.loss_and_grads(batch)[0]
    model.params["rnn.weight_hh_l1_reverse"] *= 1.5  # in place, as an optimizer updates
    assert model.loss_and_grads(batch)[0] != before


def test_updating_the_head_bias_in_place_shifts_every_logit():
    model = build("tagger", "gru")
    batch = make_batch("tagger", np.random.default_rng(11))
    logits, _ = model.logits(batch.inputs, batch.lengths)
    model.params["head.bias"] += 0.25
    shifted, _ = model.logits(batch.inputs, batch.lengths)
    np.testing.assert_allclose(shifted, logits + 0.25, rtol=0, atol=1e-12)


def test_state_dict_round_trips_into_a_fresh_model():
    model = build("tagger", "lstm", bidirectional=True, seed=0)
    other = build("tagger", "lstm", bidirectional=True, seed=1)
    batch = make_batch("tagger", np.random.default_rng(12))
    arrays_before = dict(other.params)
    state = model.state_dict()
    other.load_state_dict(state)
    assert other.loss_and_grads(batch)[0] == model.loss_and_grads(batch)[0]
    assert all(other.params[k] is arrays_before[k] for k in arrays_before)  # copied in place
    state["head.bias"] += 1.0  # a state_dict is a copy
    assert not np.array_equal(state["head.bias"], model.params["head.bias"])


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    model = build("tagger", "gru")
    before = model.state_dict()
    bad = model.state_dict()
    del bad["rnn.weight_hh_l0"]
    bad["rnn.weight_hh_l7"] = np.zeros((3 * H, H))
    bad["head.bias"] = np.zeros(C + 1)
    bad["head.weight"] = bad["head.weight"] + 1  # a good key too: nothing may be loaded
    bad["embedding.weight"] += 1.0  # a good key, which must not be loaded either
    with pytest.raises(ValueError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "missing key 'rnn.weight_hh_l0'" in message
    assert "unexpected key 'rnn.weight_hh_l7'" in message
    assert "head.bias" in message and f"({C + 1},)" in message and f"({C},)" in message
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


# ----- constructors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, layer_type, nonlinearity",
    [
        ("rnn_tanh", RNN, "tanh"),
        ("rnn_relu", RNN, "relu"),
        ("rnn_sigmoid", RNN, "sigmoid"),
        ("lstm", LSTM, None),
        ("gru", GRU, None),
    ],
)
def test_make_recurrent_builds_each_cell(cell, layer_type, nonlinearity):
    layer = make_recurrent(cell, D, H, num_layers=2, bidirectional=True, dtype=np.float64)
    assert type(layer) is layer_type
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (D, H, 2)
    assert layer.bidirectional and layer.dtype == np.float64
    if nonlinearity is not None:
        assert layer.nonlinearity == nonlinearity


def test_make_recurrent_rejects_an_unknown_cell_listing_the_known_ones():
    with pytest.raises(ValueError) as info:
        make_recurrent("elman", D, H)
    message = str(info.value)
    assert "'elman'" in message
    for known in CELLS:
        assert repr(known) in message
    with pytest.raises(ValueError, match="'LSTM'"):
        SequenceClassifier("LSTM", D, H, C)


def test_regressor_rejects_an_unknown_readout():
    with pytest.raises(ValueError, match="readout: expected 'last' or 'every', got 'mean'"):
        SequenceRegressor("gru", D, H, O, readout="mean")


def test_tagger_rejects_a_mask_of_the_wrong_shape():
    model = build("tagger", "gru")
    batch = make_batch("tagger", np.random.default_rng(13))
    batch.mask = np.ones((N, T), dtype=bool)
    with pytest.raises(ValueError, match=rf"mask: expected shape \({T}, {N}\).*\({N}, {T}\)"):
        model.loss_and_grads(batch)
