"""The fused numba kernels (bptt.nn.kernels) agree with the NumPy reference, and backends resolve.

The gradient suites (finite differences, torch, steps-equal-sequence, stability) run every
LSTM and GRU case on both backends; this file pins down what is particular to the kernels:
the accuracy of their float32 tanh, agreement with the NumPy pointwise functions at ordinary
and extreme inputs, and how ``backend`` is chosen and checked.
"""

import numpy as np
import pytest

from bptt.nn import GRU, LSTM, RNN, kernels
from bptt.nn.cells import gru as gru_reference
from bptt.nn.cells import lstm as lstm_reference
from helpers import require_numba

numba = require_numba()

from bptt.nn.kernels import gru as gru_fused  # noqa: E402
from bptt.nn.kernels import lstm as lstm_fused  # noqa: E402
from bptt.nn.kernels.approx import sigmoid, tanh  # noqa: E402


@numba.njit
def fused_tanh(a, out):
    for j in range(a.shape[0]):
        out[j] = tanh(a[j])


@numba.njit
def fused_sigmoid(a, out):
    for j in range(a.shape[0]):
        out[j] = sigmoid(a[j])


def ulps(approx, exact):
    return np.abs(approx - exact) / np.spacing(np.abs(exact).astype(np.float32))


def test_float32_tanh_is_within_its_documented_bound_everywhere():
    x = np.concatenate(
        [np.linspace(-12, 12, 2_000_001, dtype=np.float32), np.float32([1e-30, -1e-20, 0.0])]
    )
    out = np.empty_like(x)
    fused_tanh(x, out)
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(out - exact).max() <= 4e-7
    assert ulps(out, exact).max() <= 7
    assert np.array_equal(out[x >= 0], -fused_tanh_of(-x[x >= 0]))  # odd, bit for bit


def fused_tanh_of(x):
    out = np.empty_like(x)
    fused_tanh(x, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_and_sigmoid_saturate_at_plus_minus_1000_and_infinity(dtype):
    x = np.array([-np.inf, -1000.0, -50.0, 50.0, 1000.0, np.inf], dtype=dtype)
    t, s = np.empty_like(x), np.empty_like(x)
    fused_tanh(x, t)
    fused_sigmoid(x, s)
    ulp = np.finfo(dtype).eps
    np.testing.assert_allclose(t, np.sign(x), rtol=0, atol=ulp)
    np.testing.assert_allclose(s, (np.sign(x) + 1) / 2, rtol=0, atol=ulp)


def test_float64_kernels_use_exact_tanh():
    x = np.linspace(-20, 20, 100_001)
    np.testing.assert_allclose(
        fused_tanh_of(x), np.tanh(x), rtol=4 * np.finfo(np.float64).eps, atol=0
    )  # libm's tanh and NumPy's may differ in the last bits


def random_lstm_step(rng, dtype, N=7, H=33, scale=3.0):
    """Arguments of the LSTM pointwise functions; H = 33 is not a multiple of any vector width."""
    gates = (scale * rng.standard_normal((N, 4 * H))).astype(dtype)
    ax = (scale * rng.standard_normal((N, 4 * H))).astype(dtype)
    c_prev = (scale * rng.standard_normal((N, H))).astype(dtype)
    return gates, ax, c_prev


TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-13, 1e-14)}


def assert_round_off_close(ours, reference, dtype, input_scale):
    """Relative to each entry, or absolute in proportion to the inputs' size: with inputs of
    size s a difference of nearly equal terms (c = f c_prev + i g, or dc * s(1 - s) near
    saturation) is exact only to round-off times s, in either implementation."""
    rtol, atol = TOL[dtype]
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol * 4 * input_scale)


@pytest.mark.parametrize("scale", [1.0, 50.0, 1000.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_kernels_agree_with_numpy(dtype, scale):
    rng = np.random.default_rng(0)
    gates, ax, c_prev = random_lstm_step(rng, dtype, scale=scale)
    N, H = c_prev.shape
    dh, dc_next = rng.standard_normal((2, N, H)).astype(dtype)
    results = []
    for module in (lstm_reference, lstm_fused):
        g = gates.copy()
        c, tanh_c, h = (np.empty((N, H), dtype) for _ in range(3))
        module.forward_pointwise(g, ax, c_prev, c, tanh_c, h)
        d_ax, dc_prev = np.empty((N, 4 * H), dtype), np.empty((N, H), dtype)
        module.backward_pointwise(dh, dc_next, g, c_prev, tanh_c, d_ax, dc_prev)
        results.append((g, c, tanh_c, h, d_ax, dc_prev))
    for ours, reference in zip(results[1], results[0]):
        assert_round_off_close(ours, reference, dtype, scale)


@pytest.mark.parametrize("scale", [1.0, 50.0, 1000.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gru_kernels_agree_with_numpy(dtype, scale):
    rng = np.random.default_rng(0)
    N, H = 7, 33
    gates = (scale * rng.standard_normal((N, 3 * H))).astype(dtype)
    ax = (scale * rng.standard_normal((N, 3 * H))).astype(dtype)
    b_hn = rng.standard_normal(H).astype(dtype)
    h_prev = rng.uniform(-1, 1, (N, H)).astype(dtype)
    dh = rng.standard_normal((N, H)).astype(dtype)
    results = []
    for module in (gru_reference, gru_fused):
        g = gates.copy()
        hn, h = np.empty((N, H), dtype), np.empty((N, H), dtype)
        module.forward_pointwise(g, ax, b_hn, h_prev, hn, h)
        d_ax, d_ah = np.empty((N, 3 * H), dtype), np.empty((N, 3 * H), dtype)
        dh_direct = np.empty((N, H), dtype)
        module.backward_pointwise(dh, g, hn, h_prev, d_ax, d_ah, dh_direct)
        results.append((g, hn, h, d_ax, d_ah, dh_direct))
    for ours, reference in zip(results[1], results[0]):
        assert_round_off_close(ours, reference, dtype, scale)


@pytest.mark.parametrize("layer", [LSTM, GRU])
def test_float32_layers_agree_across_backends_over_a_long_sequence(layer):
    """50 steps of recurrence: the float32 round-off of the two backends does not grow apart."""
    T, N, D, H = 50, 8, 5, 16
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    d_out = rng.standard_normal((T, N, 2 * H)).astype(np.float32)
    results = []
    for backend in ("numpy", "numba"):
        model = layer(
            D, H, num_layers=2, bidirectional=True, rng=np.random.default_rng(1), backend=backend
        )
        out, _, cache = model.forward(x, lengths=np.array([50, 3, 20, 49, 50, 1, 7, 50]))
        d_x, _, grads = model.backward(d_out, cache)
        results.append((out, d_x, grads))
    (out0, dx0, g0), (out1, dx1, g1) = results
    np.testing.assert_allclose(out1, out0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx1, dx0, rtol=1e-4, atol=1e-5)
    for name in g0:
        scale = np.abs(g0[name]).max()
        np.testing.assert_allclose(g1[name], g0[name], rtol=1e-4, atol=1e-5 * scale, err_msg=name)


def test_auto_backend_is_numba_for_float32_and_numpy_for_float64():
    assert LSTM(3, 4).backend == "numba"
    assert GRU(3, 4, dtype=np.float64).backend == "numpy"
    assert RNN(3, 4, backend="numba").backend == "numba"


def test_the_numba_backend_swaps_in_the_kernels_and_leaves_the_reference_alone():
    model = LSTM(3, 4, backend="numba")
    assert model.cell.pointwise.forward is lstm_fused.forward_pointwise
    assert LSTM(3, 4, backend="numpy").cell.pointwise.forward is lstm_reference.forward_pointwise


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match=r"backend: expected one of .*'numba'.*got 'cuda'"):
        GRU(3, 4, backend="cuda")


def test_numba_backend_without_numba_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "bptt\[fast\]"'):
        LSTM(3, 4, backend="numba")
    assert LSTM(3, 4).backend == "numpy"  # auto falls back quietly


def test_kernels_compile_without_a_writable_cache_directory(monkeypatch):
    from numba.core import caching

    from bptt.nn.kernels.compile import kernel

    for locator in vars(caching).values():
        if isinstance(locator, type) and issubclass(locator, caching._CacheLocator):
            monkeypatch.setattr(locator, "from_function", classmethod(lambda cls, *a: None))

    def add_one(a):
        return a + 1

    assert kernel(add_one)(np.float32(1)) == 2


def test_the_disk_cache_key_covers_the_tanh_the_kernels_inline():
    """numba alone keys a cached kernel by its own bytecode: editing approx.py would keep
    serving the old machine code. The key must carry the digest of approx.py too."""
    from bptt.nn.kernels import compile

    x = np.zeros((2, 4), np.float32)
    lstm_fused.forward_pointwise(
        x.repeat(4, axis=1), x.repeat(4, axis=1), x, x.copy(), x.copy(), x.copy()
    )
    dispatcher = lstm_fused.forward_pointwise
    assert type(dispatcher._cache).__name__ == "DependentCache"
    sig = dispatcher.signatures[0]
    key = dispatcher._cache._index_key(sig, dispatcher.targetctx.codegen())
    assert compile.SOURCES_DIGEST in key[-1]
