"""RNN/LSTM/GRU agree with torch.nn.RNN/LSTM/GRU given the same weights, forward and backward.

Weights are copied through state_dict, so these tests also pin down that parameter names,
shapes and gate order are PyTorch's. Ragged batches are compared with
pack_padded_sequence(enforce_sorted=False) + pad_packed_sequence(total_length=T).
"""

import itertools

import numpy as np
import pytest

from bptt.nn import CELLS, make_recurrent
from helpers import backends_for, require
from torch_rnn import make_torch_rnn, run_torch_rnn

torch = pytest.importorskip("torch")

D, H, T, N = 3, 4, 5, 3
LENGTHS = np.array([5, 2, 4])
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
# float64 agrees to rounding; float32 to a few ulps of the sums over gates, steps and batch
# float32: a bias gradient is a sum of T*N terms of size ~1, so its round-off is ~1e-6 absolute
TOLERANCES = {np.float64: dict(rtol=0, atol=1e-10), np.float32: dict(rtol=1e-5, atol=5e-6)}


def make_pair(cell, dtype, rng, backend="numpy", **kwargs):
    """Our model and a torch model holding the same weights (copied through state_dict)."""
    require(backend)
    ours = make_recurrent(cell, D, H, dtype=dtype, rng=rng, backend=backend, **kwargs)
    theirs = make_torch_rnn(torch, cell, D, H, dtype=TORCH_DTYPE[dtype], **kwargs)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def torch_forward(module, x, state0, lengths, batch_first):
    """torch forward of numpy inputs; lengths go through pack/pad like a real ragged batch."""
    return run_torch_rnn(module, x, state0, lengths, batch_first)


MATRIX = [
    (cell, *rest, backend)
    for cell, *rest in itertools.product(
        list(CELLS),
        [True, False],
        [1, 2],
        [False, True],
        [False, True],
        [False, True],
        [np.float64, np.float32],
    )
    for backend in backends_for(cell)
]


@pytest.mark.parametrize(
    "cell, bias, num_layers, bidirectional, ragged, batch_first, dtype, backend",
    MATRIX,
    ids=[
        f"{c}-{'bias' if b else 'nobias'}-L{L}-{'bi' if bi else 'uni'}-"
        f"{'ragged' if r else 'full'}-{'bf' if bf else 'tm'}-{np.dtype(dt).name}-{be}"
        for c, b, L, bi, r, bf, dt, be in MATRIX
    ],
)
def test_forward_and_backward_match_torch(
    cell, bias, num_layers, bidirectional, ragged, batch_first, dtype, backend
):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair(
        cell,
        dtype,
        rng,
        backend,
        num_layers=num_layers,
        bias=bias,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )
    K = 2 if bidirectional else 1
    is_lstm = cell == "lstm"
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D)).astype(dtype)
    h0 = rng.standard_normal((num_layers * K, N, H)).astype(dtype)
    c0 = rng.standard_normal((num_layers * K, N, H)).astype(dtype)
    lengths = LENGTHS if ragged else None

    out, state, cache = ours.forward(x, (h0, c0) if is_lstm else h0, lengths)
    d_out = rng.standard_normal(out.shape).astype(dtype)
    d_h = rng.standard_normal(h0.shape).astype(dtype)
    d_c = rng.standard_normal(c0.shape).astype(dtype)
    d_x, d_state0, grads = ours.backward(d_out, cache, (d_h, d_c) if is_lstm else d_h)

    x_t, h0_t, c0_t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out_t, state_t = torch_forward(
        theirs, x_t, (h0_t, c0_t) if is_lstm else h0_t, lengths, batch_first
    )
    h_n_t, c_n_t = state_t if is_lstm else (state_t, None)
    loss = (out_t * torch.from_numpy(d_out)).sum() + (h_n_t * torch.from_numpy(d_h)).sum()
    if is_lstm:
        loss = loss + (c_n_t * torch.from_numpy(d_c)).sum()
    loss.backward()

    tol = TOLERANCES[dtype]
    h_n, c_n = state if is_lstm else (state, None)
    d_h0, d_c0 = d_state0 if is_lstm else (d_state0, None)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **tol, err_msg="output")
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), **tol, err_msg="h_n")
    np.testing.assert_allclose(d_x, x_t.grad.numpy(), **tol, err_msg="d_x")
    np.testing.assert_allclose(d_h0, h0_t.grad.numpy(), **tol, err_msg="d_h0")
    if is_lstm:
        np.testing.assert_allclose(c_n, c_n_t.detach().numpy(), **tol, err_msg="c_n")
        np.testing.assert_allclose(d_c0, c0_t.grad.numpy(), **tol, err_msg="d_c0")
    torch_grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    assert grads.keys() == torch_grads.keys()
    for name, g in grads.items():
        assert g.dtype == np.dtype(dtype), name
        np.testing.assert_allclose(g, torch_grads[name], **tol, err_msg=name)


def test_our_state_dict_loads_strictly_into_torch_and_theirs_into_ours(cell):
    rng = np.random.default_rng(1)
    kwargs = dict(num_layers=2, bidirectional=True)
    ours, _ = make_pair(cell, np.float64, rng, **kwargs)
    _, theirs = make_pair(cell, np.float64, np.random.default_rng(2), **kwargs)
    assert not np.array_equal(ours.params["weight_ih_l0"], theirs.weight_ih_l0.detach().numpy())

    theirs.load_state_dict(
        {k: torch.from_numpy(v) for k, v in ours.state_dict().items()}, strict=True
    )
    x = rng.standard_normal((T, N, D))
    out, _, _ = ours.forward(x)
    out_t, _ = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)

    _, fresh = make_pair(cell, np.float64, np.random.default_rng(3), **kwargs)
    ours.load_state_dict({k: v.numpy() for k, v in fresh.state_dict().items()})
    for name, value in fresh.state_dict().items():
        assert np.array_equal(ours.params[name], value.numpy()), name
    out, _, _ = ours.forward(x)
    out_t, _ = fresh(torch.from_numpy(x))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)


def test_dropout_in_eval_mode_matches_torch_in_eval_mode(cell):
    rng = np.random.default_rng(4)
    ours, theirs = make_pair(cell, np.float64, rng, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((T, N, D))
    out, state, _ = ours.forward(x)
    out_t, state_t = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)
    h_n, h_n_t = (state[0], state_t[0]) if cell == "lstm" else (state, state_t)
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), rtol=0, atol=1e-12)
