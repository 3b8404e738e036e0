"""Truncated BPTT(k2; k1): the special cases it must reduce to, a brute-force reference built
from explicitly truncated sums of Jacobian products, state flow across windows and calls, and
the errors it raises."""

import numpy as np
import pytest

from bptt.nn import Batch, SequenceClassifier, SequenceRegressor, SequenceTagger
from bptt.train import TruncatedBPTT

F64 = np.float64


def _tagger(cell, D=3, H=4, C=3, seed=0, **kw):
    return SequenceTagger(cell, D, H, C, dtype=F64, rng=np.random.default_rng(seed), **kw)


def _tagging_batch(T, N, D=3, C=3, seed=1):
    rng = np.random.default_rng(seed)
    return Batch(rng.standard_normal((T, N, D)), rng.integers(0, C, size=(T, N)))


def _regression_batch(T, N, D=3, O=2, seed=1):
    rng = np.random.default_rng(seed)
    return Batch(rng.standard_normal((T, N, D)), rng.standard_normal((T, N, O)))


def _collect(tbptt, model, batch, state=None):
    """All (loss, grads, metrics) of one batch, without applying the updates."""
    return [(loss, dict(grads), m) for loss, grads, m in tbptt.updates(model, batch, state)]


def _assert_grads_equal(got, expected):
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def _assert_grads_close(got, expected, atol):
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=atol, err_msg=name)


# ----- the special cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_model, make_batch",
    [
        (lambda: _tagger("lstm"), lambda: _tagging_batch(7, 2)),
        (lambda: _tagger("gru"), lambda: _tagging_batch(7, 2)),
        (
            lambda: SequenceRegressor(
                "rnn_tanh", 3, 4, 2, readout="every", dtype=F64, rng=np.random.default_rng(0)
            ),
            lambda: _regression_batch(7, 2),
        ),
    ],
    ids=["tagger-lstm", "tagger-gru", "regressor-every"],
)
@pytest.mark.parametrize("k2", [7, 11], ids=["k2=T", "k2>T"])
def test_k1_equal_to_T_is_full_bptt_exactly(make_model, make_batch, k2):
    model, batch = make_model(), make_batch()
    full_loss, full_grads, full_state, _ = model.loss_and_grads(batch)
    tbptt = TruncatedBPTT(7, k2)
    updates = _collect(tbptt, model, batch)
    assert len(updates) == 1
    loss, grads, _ = updates[0]
    assert loss == full_loss
    _assert_grads_equal(grads, full_grads)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("T, k", [(12, 4), (11, 4), (5, 1), (3, 5)])
def test_k1_equal_to_k2_is_training_on_chunks_with_the_state_carried(cell, T, k):
    model, batch = _tagger(cell), _tagging_batch(T, 3)
    updates = _collect(TruncatedBPTT(k, k), model, batch)
    starts = list(range(0, T, k))
    assert len(updates) == len(starts)
    state = None
    for (loss, grads, metrics), a in zip(updates, starts):
        chunk = Batch(batch.inputs[a : a + k], batch.targets[a : a + k])
        ref_loss, ref_grads, state, ref_metrics = model.loss_and_grads(chunk, state)
        assert loss == pytest.approx(ref_loss, rel=1e-13, abs=0)
        assert metrics["count"] == ref_metrics["count"] == 3 * len(chunk.inputs)
        _assert_grads_close(grads, ref_grads, atol=1e-13)


# ----- k2 > k1 against a brute-force reference ---------------------------------------------------


def _rnn_forward(W_ih, W_hh, b_ih, b_hh, xs, h_start):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) for one sequence: hs (T, H)."""
    hs, h = [], h_start
    for x in xs:
        h = np.tanh(W_ih @ x + b_ih + W_hh @ h + b_hh)
        hs.append(h)
    return np.array(hs)


def _truncated_gradient_reference(p, xs, ys, h_start, k1, M):
    """d/dtheta of (1/M) sum over the last k1 steps tau of CE(head(h_tau), y_tau), each term
    written as the explicit sum over s in [0, tau] of

        dL_tau/dh_tau . J_tau J_{tau-1} ... J_{s+1} . dh_s/dtheta (direct)
        with J_r = dh_r/dh_{r-1} = diag(1 - h_r^2) W_hh,

    for ONE sequence of the window xs (Tw, D), with the window's start state h_start constant.
    """
    W_ih, W_hh, b_ih, b_hh = (
        p[f"rnn.{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    W, b = p["head.weight"], p["head.bias"]
    hs = _rnn_forward(W_ih, W_hh, b_ih, b_hh, xs, h_start)  # (Tw, H)
    h_prev = np.vstack([h_start[None], hs[:-1]])  # (Tw, H) the state each step starts from
    Tw, H = hs.shape
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    loss = 0.0
    for tau in range(Tw - k1, Tw):
        z = W @ hs[tau] + b
        logp = z - z.max() - np.log(np.exp(z - z.max()).sum())
        loss -= logp[ys[tau]] / M
        e = np.exp(logp)
        e[ys[tau]] -= 1.0
        e /= M  # dL/dz_tau
        grads["head.weight"] += np.outer(e, hs[tau])
        grads["head.bias"] += e
        dL_dh_tau = e @ W  # (H,)
        for s in range(tau + 1):
            product = np.eye(H)
            for r in range(tau, s, -1):
                J_r = np.diag(1.0 - hs[r] ** 2) @ W_hh  # dh_r / dh_{r-1}
                product = product @ J_r
            dL_dh_s = dL_dh_tau @ product  # (H,)
            a = dL_dh_s * (1.0 - hs[s] ** 2)  # through tanh at step s
            grads["rnn.weight_ih_l0"] += np.outer(a, xs[s])
            grads["rnn.weight_hh_l0"] += np.outer(a, h_prev[s])
            grads["rnn.bias_ih_l0"] += a
            grads["rnn.bias_hh_l0"] += a
    return loss, grads


def _reference_update(model, batch, k1, k2, u):
    """The brute-force loss and grads of update u: loss on the new steps [a, e), a = u*k1,
    backpropagated through the window [a - (k2 - k1), e) (= [e - k2, e) unless the last run of
    new steps is shorter than k1: the context stays k2 - k1 steps long)."""
    T, N, _ = batch.inputs.shape
    a, e = u * k1, min((u + 1) * k1, T)
    w0 = max(0, a - (k2 - k1))
    p = model.params
    W_ih, W_hh, b_ih, b_hh = (
        p[f"rnn.{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    M = N * (e - a)  # the mean runs over the new steps of every sequence
    loss, grads = 0.0, {name: np.zeros_like(v) for name, v in p.items()}
    for n in range(N):
        xs = batch.inputs[:, n]
        h_start = np.zeros(W_hh.shape[0])
        if w0 > 0:  # the window's start state: a forward pass from zero, held as a constant
            h_start = _rnn_forward(W_ih, W_hh, b_ih, b_hh, xs[:w0], h_start)[-1]
        loss_n, grads_n = _truncated_gradient_reference(
            p, xs[w0:e], batch.targets[w0:e, n], h_start, e - a, M
        )
        loss += loss_n
        for name in grads:
            grads[name] += grads_n[name]
    return loss, grads, w0


@pytest.mark.parametrize("k1, k2, T", [(2, 5, 10), (3, 4, 11), (2, 3, 9)])
def test_k2_greater_than_k1_matches_the_brute_force_truncated_sums(k1, k2, T):
    model = _tagger("rnn_tanh", D=2, H=3, C=3, seed=4)
    batch = _tagging_batch(T, 2, D=2, C=3, seed=5)
    updates = _collect(TruncatedBPTT(k1, k2), model, batch)
    assert len(updates) == -(-T // k1)
    context_filled = 0
    for u, (loss, grads, _) in enumerate(updates):
        ref_loss, ref_grads, w0 = _reference_update(model, batch, k1, k2, u)
        context_filled += w0 > 0
        assert abs(loss - ref_loss) < 1e-10
        _assert_grads_close(grads, ref_grads, atol=1e-10)
    assert context_filled >= 2  # windows that start inside the sequence, from a carried state


def test_the_longer_window_changes_the_gradient():
    model = _tagger("rnn_tanh", D=2, H=3, C=3, seed=4)
    batch = _tagging_batch(10, 2, D=2, C=3, seed=5)
    long = _collect(TruncatedBPTT(2, 6), model, batch)
    short = _collect(TruncatedBPTT(2, 2), model, batch)
    for u in (2, 3):  # updates whose window reaches back into the context
        assert long[u][0] == pytest.approx(short[u][0], rel=1e-12)  # same forward, same loss
        rnn_diff = np.abs(long[u][1]["rnn.weight_hh_l0"] - short[u][1]["rnn.weight_hh_l0"])
        assert rnn_diff.max() > 1e-6
        # the head sees only the new steps' outputs, which both windows compute alike
        np.testing.assert_allclose(
            long[u][1]["head.weight"], short[u][1]["head.weight"], rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("k1, k2", [(3, 3), (2, 5), (3, 4), (4, 13)])
def test_the_state_flows_exactly_through_all_windows(cell, k1, k2):
    model = _tagger(cell)
    batch = _tagging_batch(14, 2)
    tbptt = TruncatedBPTT(k1, k2)
    _collect(tbptt, model, batch)
    _, full_final, _ = model.rnn.forward(batch.inputs)
    # the carried state sits before the kept context; running over the context ends where a
    # single forward over the whole sequence ends
    carried = tbptt.state
    if tbptt.context is not None:
        assert len(tbptt.context.inputs) == min(k2 - k1, 14)
        carried = model.advance_state(tbptt.context.inputs, carried)
    else:
        assert k1 == k2
    for got, expected in zip(_as_tuple(carried), _as_tuple(full_final)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


# ----- streams: the context crosses calls ----------------------------------------------------


@pytest.mark.parametrize("k1, k2", [(2, 2), (2, 5), (3, 4), (2, 9)])
def test_a_stream_split_across_calls_trains_as_one_batch(k1, k2):
    T, N, V = 12, 2, 5
    ids = np.random.default_rng(7).integers(0, V, size=(2 * T + 1, N))
    whole = Batch(ids[:-1], ids[1:])
    halves = [Batch(ids[a : a + T], ids[a + 1 : a + T + 1]) for a in (0, T)]

    def run(batches):
        model = SequenceTagger(
            "gru", 3, 4, V, vocab_size=V, dtype=F64, rng=np.random.default_rng(8)
        )
        tbptt, losses = TruncatedBPTT(k1, k2), []
        for batch in batches:
            for loss, grads, _ in tbptt.updates(model, batch):
                losses.append(loss)
                for name, g in grads.items():  # plain SGD: each window uses the new weights
                    model.params[name] -= 0.5 * g
        return np.array(losses), model

    split_losses, split_model = run(halves)
    whole_losses, whole_model = run([whole])
    assert len(split_losses) == len(whole_losses) == 2 * T // k1
    np.testing.assert_allclose(split_losses, whole_losses, rtol=1e-12, atol=0)
    for name in whole_model.params:
        np.testing.assert_allclose(
            split_model.params[name], whole_model.params[name], rtol=0, atol=1e-12
        )
    # and the losses really moved: the updates were applied between windows
    assert not np.allclose(
        whole_losses[: len(whole_losses) // 2], whole_losses[len(whole_losses) // 2 :]
    )


def test_reset_forgets_the_stream_and_a_given_state_seeds_it():
    model, batch = _tagger("lstm"), _tagging_batch(6, 2)
    tbptt = TruncatedBPTT(3, 5)
    _collect(tbptt, model, batch)
    assert tbptt.context is not None
    tbptt.reset()
    assert tbptt.context is None and tbptt.state is None
    state = model.advance_state(batch.inputs)
    first = _collect(tbptt, model, batch, state)[0]
    chunk = Batch(batch.inputs[:3], batch.targets[:3])
    ref_loss, ref_grads, _, _ = model.loss_and_grads(chunk, state)
    assert first[0] == pytest.approx(ref_loss, rel=1e-13)
    _assert_grads_close(first[1], ref_grads, atol=1e-13)


# ----- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "k1, k2, match",
    [
        (4, 3, r"k2: expected k2 >= k1 = 4.*got 3"),
        (0, None, r"k1: expected a positive number of steps, got 0"),
        (-2, 3, r"k1: expected a positive number of steps, got -2"),
        (2, 0, r"k2: expected a positive number of steps, got 0"),
        (2.0, None, r"k1: expected a positive number of steps, got 2.0"),
        (True, None, r"k1: expected a positive number of steps, got True"),
    ],
)
def test_bad_window_lengths_are_rejected_with_a_message(k1, k2, match):
    with pytest.raises(ValueError, match=match):
        TruncatedBPTT(k1, k2)


def test_lengths_are_rejected():
    model, batch = _tagger("lstm"), _tagging_batch(6, 2)
    ragged = Batch(batch.inputs, batch.targets, lengths=np.array([6, 3]))
    with pytest.raises(ValueError, match=r"lengths: .*expected lengths=None"):
        next(TruncatedBPTT(2).updates(model, ragged))


@pytest.mark.parametrize(
    "model",
    [
        SequenceClassifier("lstm", 3, 4, 3, dtype=F64, rng=np.random.default_rng(0)),
        SequenceRegressor("gru", 3, 4, 1, readout="last", dtype=F64, rng=np.random.default_rng(0)),
    ],
    ids=["classifier", "regressor-last"],
)
def test_a_model_without_per_step_loss_is_rejected(model):
    batch = Batch(np.zeros((6, 2, 3)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"needs a loss at every step, got Sequence\w+"):
        next(TruncatedBPTT(2).updates(model, batch))
