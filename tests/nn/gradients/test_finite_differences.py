"""Every gradient of RNN/LSTM/GRU agrees with central finite differences in float64.

The matrix: cell x bias x num_layers x direction x ragged lengths x batch_first. The loss
weights every output, final h (and final c for LSTM) by fixed random arrays, so each of them
carries gradient:  loss = sum(out * W_out) + sum(h_n * W_h) [+ sum(c_n * W_c)].
"""

import itertools

import numpy as np
import pytest

from bptt.insight import check_gradients
from bptt.nn import CELLS, make_recurrent
from helpers import backends_for, require

D, H, T, N = 3, 4, 5, 3
LENGTHS = np.array([5, 2, 4])


def make_model(cell, rng, backend, **kwargs):
    require(backend)
    return make_recurrent(cell, D, H, dtype=np.float64, rng=rng, backend=backend, **kwargs)


MATRIX = [
    (cell, *rest, backend)
    for cell, *rest in itertools.product(
        list(CELLS), [True, False], [1, 2], [False, True], [False, True], [False, True]
    )
    for backend in backends_for(cell)
]


@pytest.mark.parametrize(
    "cell, bias, num_layers, bidirectional, ragged, batch_first, backend",
    MATRIX,
    ids=[
        f"{c}-{'bias' if b else 'nobias'}-L{L}-{'bi' if bi else 'uni'}-"
        f"{'ragged' if r else 'full'}-{'bf' if bf else 'tm'}-{be}"
        for c, b, L, bi, r, bf, be in MATRIX
    ],
)
def test_every_gradient_matches_finite_differences(
    cell, bias, num_layers, bidirectional, ragged, batch_first, backend
):
    rng = np.random.default_rng(0)
    model = make_model(
        cell,
        rng,
        backend,
        num_layers=num_layers,
        bias=bias,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )
    K = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    h0 = rng.standard_normal((num_layers * K, N, H))
    c0 = rng.standard_normal((num_layers * K, N, H))
    is_lstm = cell == "lstm"
    state0 = (h0, c0) if is_lstm else h0
    lengths = LENGTHS if ragged else None

    out, _, cache = model.forward(x, state0, lengths)
    W_out = rng.standard_normal(out.shape)
    W_h = rng.standard_normal(h0.shape)
    W_c = rng.standard_normal(c0.shape)

    def loss():
        out, state, _ = model.forward(x, state0, lengths)
        h_n, c_n = state if is_lstm else (state, None)
        total = np.sum(out * W_out) + np.sum(h_n * W_h)
        return total + np.sum(c_n * W_c) if is_lstm else total

    d_x, d_state0, grads = model.backward(W_out, cache, (W_h, W_c) if is_lstm else W_h)
    arrays = {**model.params, "x": x, "h0": h0}
    analytic = {**grads, "x": d_x, "h0": d_state0[0] if is_lstm else d_state0}
    if is_lstm:
        arrays["c0"], analytic["c0"] = c0, d_state0[1]

    report = check_gradients(
        loss, arrays, analytic, tol=1e-6, entries_per_array=3, rng=np.random.default_rng(1)
    )
    assert report.ok, str(report)
    assert set(report.checks) == set(arrays)
