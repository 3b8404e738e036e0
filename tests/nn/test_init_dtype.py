"""Parameters are drawn in their own dtype: no float64 copy at construction, float64 unchanged."""

import tracemalloc

import numpy as np
import pytest

from bptt.nn import GRU, LSTM, RNN, Embedding, Linear


def peak_bytes(make) -> tuple[int, object]:
    make()  # the first construction may import and compile the numba backend
    tracemalloc.start()
    try:
        layer = make()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, layer


def param_bytes(layer) -> int:
    return sum(p.nbytes for p in layer.params.values())


@pytest.mark.parametrize(
    "make",
    [
        lambda: Linear(1000, 2000, dtype=np.float32, rng=np.random.default_rng(0)),
        lambda: Embedding(4000, 500, dtype=np.float32, rng=np.random.default_rng(0)),
        lambda: LSTM(500, 500, dtype=np.float32, rng=np.random.default_rng(0)),
        lambda: GRU(300, 300, num_layers=2, dtype=np.float32, rng=np.random.default_rng(0)),
    ],
    ids=["linear", "embedding", "lstm", "gru"],
)
def test_float32_construction_peaks_at_the_parameters_own_bytes(make):
    peak, layer = peak_bytes(make)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    # a float64 draw cast to float32 peaks at 3x the largest parameter on top of the others
    assert peak < 1.1 * param_bytes(layer) + 64 * 1024, (peak, param_bytes(layer))


def test_float64_draws_are_numpys_draws_bit_for_bit():
    rng = np.random.default_rng(3)
    lin = Linear(7, 5, dtype=np.float64, rng=np.random.default_rng(3))
    b = 1 / np.sqrt(7)
    assert np.array_equal(lin.params["weight"], rng.uniform(-b, b, (5, 7)))
    assert np.array_equal(lin.params["bias"], rng.uniform(-b, b, (5,)))
    emb = Embedding(6, 4, dtype=np.float64, rng=np.random.default_rng(4))
    assert np.array_equal(emb.params["weight"], np.random.default_rng(4).standard_normal((6, 4)))
    rnn = RNN(3, 4, dtype=np.float64, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert np.array_equal(rnn.params[name], rng.uniform(-0.5, 0.5, rnn.params[name].shape))


def test_float32_draws_stay_in_range_and_are_seeded():
    a = LSTM(20, 30, dtype=np.float32, rng=np.random.default_rng(1))
    b = LSTM(20, 30, dtype=np.float32, rng=np.random.default_rng(1))
    bound = np.float32(1 / np.sqrt(30))
    for name, p in a.params.items():
        assert np.array_equal(p, b.params[name])
        assert -bound <= p.min() and p.max() <= bound
        assert p.std() > 0.5 * bound  # U(-b, b) has std b / sqrt(3)
    z = Embedding(2000, 50, rng=np.random.default_rng(2)).params["weight"]
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
