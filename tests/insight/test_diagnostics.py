"""Recording BPTT step by step: per-step weight-gradient contributions sum to the gradient,
states and gates are the ones the cell computed, dL/dh_t and the Jacobian norms agree with
finite differences, spectra of W_hh. The trainer's gradient-flow events (bptt.train.flow) are
in tests/train/test_flow.py."""

import itertools

import numpy as np
import pytest

from bptt.data import binary_addition
from bptt.insight import (
    jacobian_norms,
    numerical_gradient,
    record,
    record_model,
    recurrent_spectra,
)
from bptt.nn import CELLS, Batch, SequenceTagger, make_recurrent

F64 = np.float64
D, H, T, N = 3, 4, 6, 3
LENGTHS = np.array([6, 2, 4])


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def layer_and_input(cell, seed=0, **kw):
    rng = np.random.default_rng(seed)
    layer = make_recurrent(cell, D, H, dtype=F64, rng=rng, **kw)
    return layer, rng.standard_normal((T, N, D)), rng


# ----- per-step contributions ---------------------------------------------------------------

MATRIX = list(itertools.product(list(CELLS), [1, 2], [False, True]))


@pytest.mark.parametrize(
    "cell, num_layers, bidirectional",
    MATRIX,
    ids=[f"{c}-L{L}-{'bi' if b else 'uni'}" for c, L, b in MATRIX],
)
def test_per_step_contributions_sum_to_the_gradient(cell, num_layers, bidirectional):
    layer, x, rng = layer_and_input(cell, num_layers=num_layers, bidirectional=bidirectional)
    K = 2 if bidirectional else 1
    h0 = rng.standard_normal((num_layers * K, N, H))
    state0 = (h0, rng.standard_normal(h0.shape)) if cell == "lstm" else h0
    d_out = rng.standard_normal((T, N, K * H))
    rec = record(layer, x, d_out, state0=state0, lengths=LENGTHS)

    assert list(rec.layers) == [
        f"l{l}" + s for l in range(num_layers) for s in ("", "_reverse")[:K]
    ]
    seen = set()
    for step in rec.layers.values():
        for name, per_step in step.contributions.items():
            assert per_step.shape == (T, *rec.grads[name].shape)
            np.testing.assert_allclose(per_step.sum(axis=0), rec.grads[name], rtol=0, atol=1e-12)
            busy = np.abs(per_step).reshape(T, -1).max(axis=1) > 1e-8
            assert busy.sum() >= 2  # the gradient really is spread over several steps
            seen.add(name)
    assert seen == set(layer.params)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_states_and_gates_are_what_the_cell_computed_in_natural_order(cell):
    """Recompute every gate from h_prev, x_t and the weights, for both directions."""
    layer, x, _ = layer_and_input(cell, bidirectional=True)
    rec = record(layer, x, np.ones((T, N, 2 * H)), lengths=LENGTHS)
    for name, step in rec.layers.items():
        W_ih, W_hh = layer.params[f"weight_ih_{name}"], layer.params[f"weight_hh_{name}"]
        b_ih, b_hh = layer.params[f"bias_ih_{name}"], layer.params[f"bias_hh_{name}"]
        np.testing.assert_array_equal(step.xs, x)  # natural order: x_t is x[t]
        for n, L in enumerate(LENGTHS):
            for t in range(L):
                x_t, h_prev = x[t, n], step.h_prev[t, n]
                ax, ah = W_ih @ x_t + b_ih, W_hh @ h_prev + b_hh
                if cell == "lstm":
                    a = ax + ah
                    expected = {
                        "i": sigmoid(a[:H]),
                        "f": sigmoid(a[H : 2 * H]),
                        "g": np.tanh(a[2 * H : 3 * H]),
                        "o": sigmoid(a[3 * H :]),
                    }
                else:
                    r = sigmoid(ax[:H] + ah[:H])
                    z = sigmoid(ax[H : 2 * H] + ah[H : 2 * H])
                    expected = {"r": r, "z": z, "n": np.tanh(ax[2 * H :] + r * ah[2 * H :])}
                for gate, value in expected.items():
                    np.testing.assert_allclose(step.gates[gate][t, n], value, atol=1e-12)
        # h_t is the layer's output at t (each direction's half), within each length
        half = slice(0, H) if name == "l0" else slice(H, 2 * H)
        for n, L in enumerate(LENGTHS):
            np.testing.assert_allclose(step.h[:L, n], rec.output[:L, n, half], atol=1e-15)
    forward, reverse = rec.layers["l0"], rec.layers["l0_reverse"]
    np.testing.assert_array_equal(forward.h_prev[1:4, 0], forward.h[0:3, 0])  # h_{t-1}
    np.testing.assert_array_equal(reverse.h_prev[0:3, 0], reverse.h[1:4, 0])  # h_{t+1}


def test_dh_and_dc_match_finite_differences(cell):
    """dL/dh_t (and dL/dc_t with h_t held fixed) by rerunning the layer from a perturbed state."""
    layer, x, rng = layer_and_input(cell)
    w = rng.standard_normal((T, N, H))
    rec = record(layer, x, w)
    step = rec.layers["l0"]

    def tail_loss(t, state):
        h_t = state[0] if isinstance(state, tuple) else state
        loss = float((h_t[0] * w[t]).sum())
        if t + 1 < T:
            loss += float((layer.forward(x[t + 1 :], state)[0] * w[t + 1 :]).sum())
        return loss

    for t in range(T):
        h_t = step.h[t][None].copy()
        c_t = None if step.c is None else step.c[t][None].copy()

        def loss(t=t, h_t=h_t, c_t=c_t):
            return tail_loss(t, h_t if c_t is None else (h_t, c_t))

        num_h = numerical_gradient(loss, h_t)
        if c_t is not None:
            np.testing.assert_allclose(step.dc[t], numerical_gradient(loss, c_t)[0], atol=1e-8)
        np.testing.assert_allclose(step.dh[t], num_h[0], atol=1e-8)


def test_the_reverse_direction_is_a_forward_layer_on_reversed_time(cell):
    bi, x, rng = layer_and_input(cell, bidirectional=True)
    uni = make_recurrent(cell, D, H, dtype=F64, rng=rng)
    uni.load_state_dict({k.replace("_reverse", ""): v for k, v in bi.params.items() if "rev" in k})
    d_out = rng.standard_normal((T, N, 2 * H))
    d_out[:, :, :H] = 0.0
    rev = record(bi, x, d_out).layers["l0_reverse"]
    fwd = record(uni, x[::-1].copy(), d_out[::-1, :, H:].copy()).layers["l0"]
    np.testing.assert_allclose(rev.dh, fwd.dh[::-1], atol=1e-13)
    np.testing.assert_allclose(rev.h, fwd.h[::-1], atol=1e-13)
    for name, value in rev.contributions.items():
        np.testing.assert_allclose(value, fwd.contributions[name.replace("_reverse", "")][::-1])

    _, _, bi_cache = bi.forward(x)
    _, _, uni_cache = uni.forward(x[::-1].copy())
    np.testing.assert_allclose(
        jacobian_norms(bi, bi_cache, "l0_reverse"), jacobian_norms(uni, uni_cache, "l0")
    )


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_record_model_sums_to_the_models_gradient(cell):
    xs, ys, _, _ = binary_addition(4, np.random.default_rng(0), 5, dtype=F64)
    model = SequenceTagger(
        cell, 2, 3, 2, num_layers=2, bidirectional=True, dtype=F64, rng=np.random.default_rng(1)
    )
    batch = Batch(xs, ys, np.array([5, 3, 4, 2]))
    rec = record_model(model, batch)
    assert rec.loss == model.eval().loss_and_grads(batch)[0]
    for step in rec.layers.values():
        for name, per_step in step.contributions.items():
            np.testing.assert_allclose(per_step.sum(axis=0), rec.grads[f"rnn.{name}"], atol=1e-12)


# ----- vanishing and exploding --------------------------------------------------------------


def test_jacobian_norms_match_finite_differences(cell):
    layer, x, _ = layer_and_input(cell, seed=1)
    lengths = np.array([6, 3, 5])
    _, _, cache = layer.forward(x, None, lengths)
    spectral = jacobian_norms(layer, cache)
    frobenius = jacobian_norms(layer, cache, norm="fro")
    assert spectral.shape == (T + 1, N)
    np.testing.assert_allclose(spectral[0], 1.0)
    scan = cache.scans[0]
    for n, L in enumerate(lengths):
        assert np.isnan(spectral[L + 1 :, n]).all() and not np.isnan(spectral[: L + 1, n]).any()
        for t in range(L):
            state = tuple(s[t, n : n + 1][None].copy() for s in scan.states)

            def h_final(state=state, t=t, n=n, L=L):
                start = state if cell == "lstm" else state[0]
                return layer.forward(x[t:L, n : n + 1].copy(), start)[1]

            J = np.empty((H, H))
            for j in range(H):

                def component(j=j):
                    final = h_final()
                    return float((final[0] if cell == "lstm" else final)[0, 0, j])

                J[j] = numerical_gradient(component, state[0])[0, 0]
            lag = L - t
            # abs: a sigmoid cell's Jacobians shrink to 1e-6 over a few steps, where the
            # central difference's own round-off (about 1e-12) is no longer below rel=1e-7
            assert spectral[lag, n] == pytest.approx(np.linalg.norm(J, 2), rel=1e-7, abs=1e-10)
            assert frobenius[lag, n] == pytest.approx(np.linalg.norm(J, "fro"), rel=1e-7, abs=1e-10)


def test_a_tanh_rnn_with_small_weights_vanishes_and_the_norm_is_bounded():
    """||dh_T/dh_t||_2 <= ||W_hh||_2^lag for tanh (|tanh'| <= 1): a real bound, checked."""
    rng = np.random.default_rng(0)
    layer = make_recurrent("rnn_tanh", D, H, dtype=F64, rng=rng)
    layer.params["weight_hh_l0"] *= 0.5
    x = rng.standard_normal((30, 2, D))
    _, _, cache = layer.forward(x)
    norms = jacobian_norms(layer, cache)
    sigma = recurrent_spectra(layer.params)["weight_hh_l0"]["spectral_norm"]
    lags = np.arange(31)[:, None]
    assert (norms <= sigma**lags * (1 + 1e-12)).all()
    assert norms[30].max() < 1e-6 * norms[1].min()


def test_recurrent_spectra_of_known_matrices():
    rng = np.random.default_rng(0)
    rnn = make_recurrent("rnn_tanh", 2, 2, dtype=F64, rng=rng)
    rnn.params["weight_hh_l0"][...] = [[0.0, 1.0], [0.0, 0.0]]  # nilpotent: rho 0, norm 1
    s = recurrent_spectra(rnn.params)["weight_hh_l0"]
    assert s["spectral_radius"] == pytest.approx(0.0, abs=1e-12)
    assert s["spectral_norm"] == pytest.approx(1.0)
    assert s["gates"] == {}

    lstm = make_recurrent("lstm", 2, 3, num_layers=2, dtype=F64, rng=rng)
    lstm.params["weight_hh_l1"][3:6] = np.diag([0.1, -0.7, 0.3])  # the forget gate's block
    spectra = recurrent_spectra({f"rnn.{k}": v for k, v in lstm.params.items()})
    assert set(spectra) == {"rnn.weight_hh_l0", "rnn.weight_hh_l1"}
    entry = spectra["rnn.weight_hh_l1"]
    assert list(entry["gates"]) == ["i", "f", "g", "o"] and entry["spectral_radius"] is None
    assert entry["gates"]["f"]["spectral_radius"] == pytest.approx(0.7)
    assert entry["gates"]["f"]["spectral_norm"] == pytest.approx(0.7)
    assert entry["spectral_norm"] >= max(g["spectral_norm"] for g in entry["gates"].values())
    assert list(recurrent_spectra(make_recurrent("gru", 2, 3).params)["weight_hh_l0"]["gates"]) == [
        "r",
        "z",
        "n",
    ]
