"""The gradient checker itself: it passes correct gradients and catches planted errors."""

import numpy as np
import pytest

from bptt import LSTM
from bptt.insight import (
    assert_gradients_close,
    check_gradients,
    numerical_gradient,
    relative_error,
)


def lstm_problem(seed=0):
    """A small float64 LSTM, its loss as a closure, the arrays it reads and their gradients."""
    rng = np.random.default_rng(seed)
    model = LSTM(3, 4, num_layers=2, dtype=np.float64, rng=rng)
    x = rng.standard_normal((5, 2, 3))  # (T, N, D)
    h0, c0 = rng.standard_normal((2, 2, 2, 4))  # each (L, N, H)
    out, _, cache = model.forward(x, (h0, c0))
    W_out, W_h = rng.standard_normal(out.shape), rng.standard_normal(h0.shape)

    def loss():
        out, (h_n, _), _ = model.forward(x, (h0, c0))
        return np.sum(out * W_out) + np.sum(h_n * W_h)

    d_x, (d_h0, d_c0), grads = model.backward(W_out, cache, (W_h, None))
    arrays = {**model.params, "x": x, "h0": h0, "c0": c0}
    analytic = {**grads, "x": d_x, "h0": d_h0, "c0": d_c0}
    return loss, arrays, analytic


def test_numerical_gradient_of_a_known_function_and_array_restored_exactly():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))
    B = rng.standard_normal((3, 4))
    before = A.copy()

    def f():
        return np.sum(np.sin(A) * B)

    numeric = numerical_gradient(f, A)
    assert numeric.shape == A.shape
    np.testing.assert_allclose(numeric, np.cos(A) * B, rtol=0, atol=1e-9)
    assert np.array_equal(A, before)

    some = numerical_gradient(f, A, indices=[(0, 1), (2, 3)])
    assert some.shape == (2,)
    np.testing.assert_allclose(
        some, [np.cos(A[0, 1]) * B[0, 1], np.cos(A[2, 3]) * B[2, 3]], rtol=0, atol=1e-9
    )


def test_numerical_gradient_works_on_a_non_contiguous_view():
    base = np.random.default_rng(0).standard_normal((4, 6))
    view = base[:, ::2]  # perturbed through the view, so f must see the change

    numeric = numerical_gradient(lambda: np.sum(base**2), view)
    np.testing.assert_allclose(numeric, 2 * view, rtol=0, atol=1e-8)


def test_checker_passes_correct_lstm_gradients():
    loss, arrays, analytic = lstm_problem()
    report = assert_gradients_close(loss, arrays, analytic)
    assert report.ok
    assert set(report.checks) == set(arrays)
    assert max(report.max_rel_errors.values()) <= 1e-6
    assert "ok" in str(report).splitlines()[0]


def test_checker_catches_one_entry_off_by_1e_minus_3_relative():
    loss, arrays, analytic = lstm_problem()
    name = "weight_hh_l1"
    g = analytic[name]
    worst = np.unravel_index(np.argmax(np.abs(g)), g.shape)
    g[worst] *= 1 + 1e-3

    report = check_gradients(loss, arrays, analytic)

    assert report.failed == [name]
    direction = report.checks[name].comparisons[0]
    assert direction.index is None and direction.rel_error > 1e-6  # found without sampling it
    with pytest.raises(AssertionError, match=name):
        assert_gradients_close(loss, arrays, analytic)


def test_checker_catches_a_flipped_sign():
    loss, arrays, analytic = lstm_problem()
    analytic["bias_ih_l0"] = -analytic["bias_ih_l0"]

    report = check_gradients(loss, arrays, analytic)

    assert report.failed == ["bias_ih_l0"]
    assert report.checks["bias_ih_l0"].max_rel_error > 0.5
    assert "FAILED for bias_ih_l0" in str(report)


def test_checker_catches_a_gradient_that_ignores_the_initial_state():
    loss, arrays, analytic = lstm_problem()
    analytic["c0"] = np.zeros_like(analytic["c0"])

    assert check_gradients(loss, arrays, analytic).failed == ["c0"]


def test_refuses_float32_arrays_and_gradients():
    A = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(TypeError, match="expected dtype float64, got float32"):
        numerical_gradient(lambda: float(np.sum(A)), A)
    with pytest.raises(TypeError, match="A: expected dtype float64, got float32"):
        check_gradients(lambda: float(np.sum(A)), {"A": A}, {"A": np.ones((2, 2))})
    B = np.ones((2, 2))
    with pytest.raises(TypeError, match=r"grads\['B'\]: expected dtype float64, got float32"):
        check_gradients(lambda: float(np.sum(B)), {"B": B}, {"B": A})


def test_refuses_mismatched_keys_shapes_and_non_scalar_losses():
    A = np.ones((2, 3))
    with pytest.raises(
        ValueError, match=r"expected exactly the keys of arrays \['A'\], got \['B'\]"
    ):
        check_gradients(lambda: np.sum(A), {"A": A}, {"B": A.copy()})
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\), got \(3, 2\)"):
        check_gradients(lambda: np.sum(A), {"A": A}, {"A": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"expected a scalar, got an array of shape \(2, 3\)"):
        check_gradients(lambda: A * 2, {"A": A}, {"A": A.copy()})


def test_array_is_restored_when_the_loss_raises():
    A = np.arange(4.0)
    calls = []

    def f():
        calls.append(A.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return np.sum(A)

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, A)
    assert np.array_equal(A, np.arange(4.0))


def test_relative_error_uses_the_floor_for_near_zero_values():
    assert relative_error(1.0, 1.0 + 1e-9) == pytest.approx(1e-9, rel=1e-6)
    assert relative_error(0.0, 1e-12, floor=1e-3) == pytest.approx(1e-9)
    assert relative_error(0.0, 1e-12, floor=1e-20) == pytest.approx(1.0)
