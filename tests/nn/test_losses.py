"""softmax_cross_entropy and mean_squared_error: values and gradients against PyTorch, masks,
the sum reduction, stability at logits of +-1000 with floating point errors raised, bad input.

A mask is checked against PyTorch's loss over the unmasked items only (boolean selection),
which is what the mean over M unmasked items means.
"""

import numpy as np
import pytest

from bptt.insight import assert_gradients_close
from bptt.nn import mean_squared_error, softmax_cross_entropy

T, N, C = 4, 3, 5
SHAPES = {"NC": (N,), "TNC": (T, N)}  # item shape; logits add the class axis


def random_problem(rng, item_shape, scale=1.0):
    logits = scale * rng.standard_normal(item_shape + (C,))
    targets = rng.integers(0, C, size=item_shape)
    mask = rng.random(item_shape) < 0.6
    mask.flat[0] = True  # at least one item carries loss
    return logits, targets, mask


def torch_cross_entropy(torch, logits, targets, mask, reduction):
    """PyTorch's loss over the selected items and its gradient scattered back: (loss, d_logits)."""
    z = torch.from_numpy(logits.copy()).requires_grad_(True)
    y = torch.from_numpy(targets.astype(np.int64))
    keep = torch.ones(targets.shape, dtype=torch.bool) if mask is None else torch.from_numpy(mask)
    loss = torch.nn.functional.cross_entropy(z[keep], y[keep], reduction=reduction)
    loss.backward()
    return loss.item(), z.grad.numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_cross_entropy_matches_torch(shape, masked, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, targets, mask = random_problem(rng, SHAPES[shape], scale=3.0)
    mask = mask if masked else None
    loss, d_logits = softmax_cross_entropy(logits, targets, mask, reduction=reduction)
    ref_loss, ref_d = torch_cross_entropy(torch, logits, targets, mask, reduction)
    assert isinstance(loss, float)
    assert d_logits.shape == logits.shape and d_logits.dtype == np.float64
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    np.testing.assert_allclose(d_logits, ref_d, rtol=0, atol=1e-10)
    if masked:
        assert np.all(d_logits[~mask] == 0.0)


def test_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits, targets, mask = random_problem(rng, (T, N))
    _, d_logits = softmax_cross_entropy(logits, targets, mask)
    assert_gradients_close(
        lambda: softmax_cross_entropy(logits, targets, mask)[0],
        {"logits": logits},
        {"logits": d_logits},
        entries_per_array=6,
        rng=np.random.default_rng(2),
    )


def test_cross_entropy_mean_is_sum_over_unmasked_count():
    rng = np.random.default_rng(3)
    logits, targets, mask = random_problem(rng, (T, N))
    mean, d_mean = softmax_cross_entropy(logits, targets, mask)
    total, d_total = softmax_cross_entropy(logits, targets, mask, reduction="sum")
    M = int(mask.sum())
    assert mean == pytest.approx(total / M, rel=1e-12)
    np.testing.assert_allclose(d_mean, d_total / M, rtol=1e-12, atol=0)
    # the mask only removes items: it equals the loss of the selected items alone
    alone, _ = softmax_cross_entropy(logits[mask], targets[mask], reduction="sum")
    assert total == pytest.approx(alone, rel=1e-12)


def test_cross_entropy_of_an_all_masked_batch_is_zero():
    rng = np.random.default_rng(4)
    logits, targets, _ = random_problem(rng, (T, N))
    loss, d_logits = softmax_cross_entropy(logits, targets, np.zeros((T, N), dtype=bool))
    assert loss == 0.0
    assert not d_logits.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_exact_at_logits_of_plus_minus_1000(dtype):
    logits = np.array([[1000.0, -1000.0], [1000.0, -1000.0]], dtype=dtype)
    with np.errstate(all="raise"):
        right, d_right = softmax_cross_entropy(logits[:1], np.array([0]))
        wrong, d_wrong = softmax_cross_entropy(logits[1:], np.array([1]))
        both, d_both = softmax_cross_entropy(logits, np.array([0, 1]))
    assert right == 0.0
    assert wrong == pytest.approx(2000.0, rel=1e-6)
    assert both == pytest.approx(1000.0, rel=1e-6)  # mean of 0 and 2000
    for d in (d_right, d_wrong, d_both):
        assert d.dtype == dtype and np.all(np.isfinite(d))
    np.testing.assert_array_equal(d_right, [[0.0, 0.0]])
    np.testing.assert_array_equal(d_wrong, [[1.0, -1.0]])  # softmax - onehot
    np.testing.assert_array_equal(d_both, [[0.0, 0.0], [0.5, -0.5]])


def test_cross_entropy_matches_torch_at_extreme_logits():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    logits, targets, mask = random_problem(rng, (T, N))
    logits += rng.choice([-1000.0, 1000.0], size=logits.shape)
    with np.errstate(all="raise"):
        loss, d_logits = softmax_cross_entropy(logits, targets, mask)
    ref_loss, ref_d = torch_cross_entropy(torch, logits, targets, mask, "mean")
    assert np.isfinite(loss) and np.all(np.isfinite(d_logits))
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    np.testing.assert_allclose(d_logits, ref_d, rtol=0, atol=1e-10)


def test_cross_entropy_tolerates_probabilities_that_round_to_subnormals():
    """exp(-740) is subnormal in float64; scaling it by 1/M underflows, which is not an error."""
    torch = pytest.importorskip("torch")
    logits = np.array([[0.0, -740.0], [0.0, 0.0], [-740.0, 0.0]])
    targets = np.array([0, 1, 0])
    with np.errstate(all="raise"):
        loss, d_logits = softmax_cross_entropy(logits, targets)
    ref_loss, ref_d = torch_cross_entropy(torch, logits, targets, None, "mean")
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(d_logits, ref_d, rtol=0, atol=1e-12)


def test_cross_entropy_rejects_bad_input():
    logits = np.zeros((T, N, C))
    targets = np.zeros((T, N), dtype=np.int64)
    with pytest.raises(ValueError, match=rf"\[0, {C}\).*max {C}"):
        softmax_cross_entropy(logits, np.full((T, N), C))
    with pytest.raises(ValueError, match=rf"\[0, {C}\).*min -1"):
        softmax_cross_entropy(logits, np.full((T, N), -1))
    with pytest.raises(ValueError, match=rf"targets: expected shape \({T}, {N}\).*\({N}, {T}\)"):
        softmax_cross_entropy(logits, np.zeros((N, T), dtype=np.int64))
    with pytest.raises(ValueError, match="targets: expected shape"):
        softmax_cross_entropy(logits, np.zeros((T, N, C), dtype=np.int64))
    with pytest.raises(TypeError, match="integer class indices.*float64"):
        softmax_cross_entropy(logits, targets.astype(np.float64))
    with pytest.raises(ValueError, match=rf"mask: expected shape \({T}, {N}\).*\({T}, {N}, 1\)"):
        softmax_cross_entropy(logits, targets, np.ones((T, N, 1), dtype=bool))
    with pytest.raises(ValueError, match="reduction: expected one of.*'none'"):
        softmax_cross_entropy(logits, targets, reduction="none")
    with pytest.raises(TypeError, match="logits: expected a numpy.ndarray"):
        softmax_cross_entropy(logits.tolist(), targets)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_mean_squared_error_matches_torch(masked, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    p = rng.standard_normal((T, N, 2))
    q = rng.standard_normal((T, N, 2))
    mask = rng.random(p.shape) < 0.6 if masked else None
    loss, d_p = mean_squared_error(p, q, mask, reduction=reduction)

    p_t = torch.from_numpy(p.copy()).requires_grad_(True)
    keep = torch.ones(p.shape, dtype=torch.bool) if mask is None else torch.from_numpy(mask)
    ref = torch.nn.functional.mse_loss(p_t[keep], torch.from_numpy(q)[keep], reduction=reduction)
    ref.backward()
    assert isinstance(loss, float)
    assert abs(loss - ref.item()) <= 1e-10 * max(1.0, abs(ref.item()))
    np.testing.assert_allclose(d_p, p_t.grad.numpy(), rtol=0, atol=1e-10)


def test_mean_squared_error_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    p = rng.standard_normal((T, N, 2))
    q = rng.standard_normal((T, N, 2))
    mask = rng.random(p.shape) < 0.6
    _, d_p = mean_squared_error(p, q, mask)
    assert_gradients_close(
        lambda: mean_squared_error(p, q, mask)[0],
        {"p": p},
        {"p": d_p},
        rng=np.random.default_rng(8),
    )


def test_mean_squared_error_keeps_the_predictions_dtype():
    p = np.ones((N, 2), dtype=np.float32)
    loss, d_p = mean_squared_error(p, np.zeros((N, 2)))
    assert d_p.dtype == np.float32
    assert loss == pytest.approx(1.0)


def test_mean_squared_error_rejects_bad_input():
    p = np.zeros((T, N))
    with pytest.raises(ValueError, match=rf"targets: expected shape \({T}, {N}\).*\({N}, {T}\)"):
        mean_squared_error(p, np.zeros((N, T)))
    with pytest.raises(ValueError, match=rf"mask: expected shape \({T}, {N}\).*\({T},\)"):
        mean_squared_error(p, np.zeros((T, N)), np.ones(T, dtype=bool))
    with pytest.raises(ValueError, match="reduction: expected one of"):
        mean_squared_error(p, np.zeros((T, N)), reduction="max")
    with pytest.raises(TypeError, match="predictions: expected a numpy.ndarray, got list"):
        mean_squared_error(p.tolist(), np.zeros((T, N)))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize(
    "loss", ["softmax_cross_entropy", "mean_squared_error", "sigmoid_binary_cross_entropy"]
)
def test_negative_or_non_finite_mask_weights_are_refused(loss, bad):
    import bptt.nn as nn

    rng = np.random.default_rng(0)
    logits, targets, _ = random_problem(rng, (T, N))
    args = {
        "softmax_cross_entropy": (logits, targets),
        "mean_squared_error": (logits[..., 0], logits[..., 1]),
        "sigmoid_binary_cross_entropy": (logits, (logits > 0).astype(np.float64)),
    }[loss]
    mask = np.ones(args[0].shape if loss != "softmax_cross_entropy" else (T, N))
    mask.flat[3] = bad
    with pytest.raises(ValueError, match=r"mask: expected finite non-negative weights.*1 entr"):
        getattr(nn, loss)(*args, mask)
    mask.flat[3] = 0.5  # a fractional weight is a weight, accepted
    getattr(nn, loss)(*args, mask)


def test_a_mask_of_strings_is_a_type_error():
    logits, targets, _ = random_problem(np.random.default_rng(0), (N,))
    with pytest.raises(TypeError, match="mask: expected bools or real weights, got dtype <U1"):
        softmax_cross_entropy(logits, targets, np.array(["a"] * N))
