"""Property-based checks over random shapes: what must hold for every size and ragged batch."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bptt import GRU, LSTM, RNN

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@st.composite
def ragged_batches(draw):
    T = draw(st.integers(1, 7))
    N = draw(st.integers(1, 4))
    lengths = np.array(draw(st.lists(st.integers(1, T), min_size=N, max_size=N)))
    return {
        "cell": draw(st.sampled_from(sorted(LAYERS))),
        "T": T,
        "N": N,
        "D": draw(st.integers(1, 4)),
        "H": draw(st.integers(1, 5)),
        "layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "lengths": lengths,
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=40, deadline=None)
@given(ragged_batches())
def test_a_ragged_batch_equals_each_sequence_run_alone(case):
    """pack_padded semantics: sequence n of a batch is the same as that sequence by itself."""
    rng = np.random.default_rng(case["seed"])
    layer = LAYERS[case["cell"]](
        case["D"],
        case["H"],
        num_layers=case["layers"],
        bidirectional=case["bidirectional"],
        dtype=np.float64,
        rng=rng,
    )
    x = rng.standard_normal((case["T"], case["N"], case["D"]))
    out, state, cache = layer.forward(x, None, case["lengths"])
    d_out = rng.standard_normal(out.shape)
    d_x, _, _ = layer.backward(d_out, cache)
    h_n = state[0] if isinstance(state, tuple) else state
    for n, length in enumerate(case["lengths"]):
        alone = x[:length, n : n + 1]  # (length, 1, D)
        out_n, state_n, cache_n = layer.forward(alone)
        np.testing.assert_allclose(out[:length, n : n + 1], out_n, atol=1e-12)
        assert not out[length:, n].any()  # padding stays zero
        h_alone = state_n[0] if isinstance(state_n, tuple) else state_n
        np.testing.assert_allclose(h_n[:, n : n + 1], h_alone, atol=1e-12)
        d_alone, _, _ = layer.backward(d_out[:length, n : n + 1], cache_n)
        np.testing.assert_allclose(d_x[:length, n : n + 1], d_alone, atol=1e-12)
        assert not d_x[length:, n].any()  # gradients ignore the padding
