"""Working in blocks of steps (the input projection in forward, the weight gradients in
backward) gives the same outputs and gradients as one block over the whole sequence, for every
cell, with ragged lengths and two directions."""

import numpy as np
import pytest

from bptt.nn import make_recurrent, scan

D, H, T, N = 3, 4, 7, 3
LENGTHS = np.array([7, 2, 5])


def make_model(cell, backend):
    return make_recurrent(
        cell,
        D,
        H,
        num_layers=2,
        bidirectional=True,
        dtype=np.float64,
        rng=np.random.default_rng(0),
        backend=backend,
    )


def run(model, block_bytes, monkeypatch):
    monkeypatch.setattr(scan, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, N, D))
    out, _, cache = model.forward(x, lengths=LENGTHS)
    return (out, *model.backward(rng.standard_normal(out.shape), cache))


@pytest.mark.parametrize("steps_per_block", [1, 2, 3])
@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_blocks_of_steps_give_the_same_outputs_and_gradients(cell, steps_per_block, monkeypatch):
    model = make_model(cell, "numpy")
    G = {"rnn_tanh": 1, "lstm": 4, "gru": 3}[cell]
    row_bytes = N * G * H * 8 * (2 if cell == "gru" else 1)
    out, d_x, d_state0, grads = run(model, steps_per_block * row_bytes, monkeypatch)
    assert scan.block_steps(T, row_bytes) == steps_per_block
    out_1, d_x_1, d_state0_1, grads_1 = run(model, 2**40, monkeypatch)  # one block
    np.testing.assert_allclose(out, out_1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_x, d_x_1, rtol=1e-12, atol=1e-14)
    for a, b in zip(
        d_state0 if cell == "lstm" else (d_state0,), d_state0_1 if cell == "lstm" else (d_state0_1,)
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert grads.keys() == grads_1.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], grads_1[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_block_size_follows_the_memory_budget():
    assert scan.block_steps(28, 128 * 512 * 4) == 16  # 4 MiB of (128, 512) float32 rows
    assert scan.block_steps(5, 128 * 512 * 4) == 5  # never more than T
    assert scan.block_steps(28, 2**30) == 1  # at least one step


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (63, 7), (64, 3), (130, 65), (2048, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_transposed_copy_is_a_contiguous_transpose(shape, dtype, order):
    """The tiled copy prepare_weights makes of W_hh^T holds exactly a.T, C-contiguous."""
    a = np.asarray(np.random.default_rng(0).standard_normal(shape), dtype=dtype, order=order)
    t = scan.transposed_copy(a)
    assert t.flags.c_contiguous and t.dtype == dtype and t.shape == shape[::-1]
    np.testing.assert_array_equal(t, a.T)
    assert not np.shares_memory(t, a)
