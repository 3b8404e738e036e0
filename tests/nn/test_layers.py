"""Linear and Embedding: finite differences in float64, PyTorch with copied weights, bad input.

The loss weights every output by a fixed random array, so every output carries gradient:
loss = sum(y * W_y), hence dL/dy = W_y.
"""

import numpy as np
import pytest

from bptt.insight import assert_gradients_close
from bptt.nn import Embedding, Linear

D, O, T, N = 4, 3, 5, 2
V, E = 6, 3


def linear_input(rng, batched_in_time):
    return rng.standard_normal((T, N, D) if batched_in_time else (N, D))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("batched_in_time", [False, True], ids=["ND", "TND"])
def test_linear_gradients_match_finite_differences(bias, batched_in_time):
    rng = np.random.default_rng(0)
    layer = Linear(D, O, bias=bias, dtype=np.float64, rng=rng)
    x = linear_input(rng, batched_in_time)
    y, cache = layer.forward(x)
    W_y = rng.standard_normal(y.shape)
    d_x, grads = layer.backward(W_y, cache)

    assert d_x.shape == x.shape
    assert grads.keys() == layer.params.keys()
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in layer.params.items()}

    def loss():
        return np.sum(layer.forward(x)[0] * W_y)

    assert_gradients_close(
        loss, {**layer.params, "x": x}, {**grads, "x": d_x}, rng=np.random.default_rng(1)
    )


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("batched_in_time", [False, True], ids=["ND", "TND"])
def test_linear_matches_torch(bias, batched_in_time):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    layer = Linear(D, O, bias=bias, dtype=np.float64, rng=rng)
    ref = torch.nn.Linear(D, O, bias=bias).double()
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in layer.params.items()})
    x = linear_input(rng, batched_in_time)
    y, cache = layer.forward(x)
    W_y = rng.standard_normal(y.shape)
    d_x, grads = layer.backward(W_y, cache)

    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    y_t = ref(x_t)
    (y_t * torch.from_numpy(W_y)).sum().backward()

    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(d_x, x_t.grad.numpy(), rtol=0, atol=1e-10)
    torch_grads = {name: p.grad.numpy() for name, p in ref.named_parameters()}
    assert grads.keys() == torch_grads.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], torch_grads[name], rtol=0, atol=1e-10)


def test_linear_parameters_are_live_and_keep_the_dtype():
    rng = np.random.default_rng(3)
    layer = Linear(D, O, rng=rng)
    x = rng.standard_normal((N, D)).astype(np.float32)
    y_before, _ = layer.forward(x)
    assert y_before.dtype == np.float32
    assert all(p.dtype == np.float32 for p in layer.params.values())
    layer.params["bias"] += 1.0
    y_after, _ = layer.forward(x)
    np.testing.assert_allclose(y_after, y_before + 1.0, rtol=1e-6)


def test_linear_rejects_wrong_features_and_dtype():
    layer = Linear(D, O, dtype=np.float64, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=rf"expected {D} features.*\(2, {D + 1}\)"):
        layer.forward(np.zeros((2, D + 1)))
    with pytest.raises(TypeError, match="expected dtype float64.*got float32"):
        layer.forward(np.zeros((2, D), dtype=np.float32))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        layer.forward([[0.0] * D])
    with pytest.raises(ValueError, match="in_features: expected a positive integer"):
        Linear(0, O)


# Repeated ids: 1 appears three times, 4 twice, so their rows must accumulate.
IDS = np.array([[1, 4, 1], [0, 1, 4]])  # (T, N) with T=2, N=3


def test_embedding_repeated_ids_accumulate():
    rng = np.random.default_rng(4)
    emb = Embedding(V, E, dtype=np.float64, rng=rng)
    v, cache = emb.forward(IDS)
    assert v.shape == IDS.shape + (E,)
    np.testing.assert_array_equal(v, emb.params["weight"][IDS])
    dv = rng.standard_normal(v.shape)
    d_ids, grads = emb.backward(dv, cache)
    assert d_ids is None
    assert grads.keys() == {"weight"}
    for k in range(V):
        expected = dv[IDS == k].sum(axis=0)  # zeros for ids that never occur
        np.testing.assert_allclose(grads["weight"][k], expected, rtol=0, atol=1e-14)
    assert np.abs(grads["weight"][1]).sum() > 0


def test_embedding_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    emb = Embedding(V, E, dtype=np.float64, rng=rng)
    v, cache = emb.forward(IDS)
    W_v = rng.standard_normal(v.shape)
    _, grads = emb.backward(W_v, cache)

    def loss():
        return np.sum(emb.forward(IDS)[0] * W_v)

    assert_gradients_close(
        loss, emb.params, grads, entries_per_array=6, rng=np.random.default_rng(6)
    )


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    emb = Embedding(V, E, dtype=np.float64, rng=rng)
    ref = torch.nn.Embedding(V, E).double()
    ref.load_state_dict({"weight": torch.from_numpy(emb.params["weight"].copy())})
    v, cache = emb.forward(IDS)
    W_v = rng.standard_normal(v.shape)
    _, grads = emb.backward(W_v, cache)

    v_t = ref(torch.from_numpy(IDS))
    (v_t * torch.from_numpy(W_v)).sum().backward()
    np.testing.assert_allclose(v, v_t.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(grads["weight"], ref.weight.grad.numpy(), rtol=0, atol=1e-10)


def test_embedding_rejects_out_of_range_and_float_ids():
    emb = Embedding(V, E, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=rf"\[0, {V}\).*max {V}"):
        emb.forward(np.array([0, V]))
    with pytest.raises(ValueError, match=rf"\[0, {V}\).*min -1"):
        emb.forward(np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer indices.*float64"):
        emb.forward(np.array([0.0, 1.0]))


def test_linear_and_embedding_state_dicts_load_into_torch_and_back():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for ours, theirs in (
        (Linear(3, 2, dtype=np.float64, rng=rng), torch.nn.Linear(3, 2, dtype=torch.float64)),
        (Embedding(5, 4, dtype=np.float64, rng=rng), torch.nn.Embedding(5, 4, dtype=torch.float64)),
    ):
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
        fresh = type(ours)(*((3, 2) if isinstance(ours, Linear) else (5, 4)), dtype=np.float64)
        fresh.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        for name, value in ours.state_dict().items():
            np.testing.assert_array_equal(fresh.params[name], value)
        copy = ours.state_dict()
        copy["weight"][...] = 7  # a copy: the layer is unchanged
        assert not (ours.params["weight"] == 7).any()


def test_load_state_dict_converts_dtypes_as_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    wide = {"weight": rng.standard_normal((2, 3)), "bias": rng.standard_normal(2)}  # float64
    layer = Linear(3, 2, dtype=np.float32)
    weight = layer.params["weight"]
    layer.load_state_dict(wide)
    assert layer.params["weight"] is weight and weight.dtype == np.float32  # in place
    t = torch.nn.Linear(3, 2)  # float32
    t.load_state_dict({k: torch.from_numpy(v) for k, v in wide.items()})
    np.testing.assert_array_equal(layer.params["weight"], t.weight.detach().numpy())
    narrow = Linear(3, 2, dtype=np.float64)
    narrow.load_state_dict({k: v.astype(np.float32) for k, v in wide.items()})
    np.testing.assert_array_equal(narrow.params["bias"], wide["bias"].astype(np.float32))
    with pytest.raises(ValueError, match="expected real numbers"):
        narrow.load_state_dict({"weight": wide["weight"].astype(complex), "bias": wide["bias"]})
