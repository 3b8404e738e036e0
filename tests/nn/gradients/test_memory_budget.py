"""Under a memory budget, forward keeps checkpoints and backward recomputes: every output,
gradient and tape equals full BPTT's (1e-12 relative in float64, 1e-6 in float32), bit for
bit when the plan's blocks are full BPTT's; and a finite-difference check of one plan.

The matrix: cell x backend x dtype x (one layer | two bidirectional layers, ragged lengths,
batch_first, dropout, tapes) x plan (the smallest budget: no slot beyond the initial state;
a middle budget: the DP with slots; every-k checkpointing).
"""

import dataclasses

import numpy as np
import pytest

from bptt.insight import check_gradients
from bptt.nn import CELLS, every_k_plan, make_recurrent, memory_plan, minimum_budget
from bptt.nn.recompute import CheckpointCache
from bptt.train import TrainConfig
from helpers import backends_for, require, stream_data, train

D, H, T, N = 3, 4, 13, 3
LENGTHS = np.array([13, 6, 9])
RTOL = {np.float64: 1e-12, np.float32: 1e-6}

MATRIX = [
    (cell, backend, dtype, rich)
    for cell in CELLS
    for backend in backends_for(cell)
    for dtype in (np.float64, np.float32)
    for rich in (False, True)
]


def make_layer(cell, backend, dtype, rich):
    require(backend)
    kwargs = dict(num_layers=2, bidirectional=True, dropout=0.4, batch_first=True) if rich else {}
    rng = np.random.default_rng(0)
    return make_recurrent(cell, D, H, dtype=dtype, rng=rng, backend=backend, **kwargs)


def plans(layer, dtype) -> dict:
    """The plans of the matrix for this layer, by name."""
    args = (T, layer.cell, N, H)
    kw = dict(num_layers=layer.num_layers, bidirectional=layer.bidirectional, dtype=dtype)
    low = minimum_budget(*args, input_size=D, **kw)
    full = memory_plan(*args, None, **kw).full_bytes
    every_k = every_k_plan(*args, 4, input_size=D, **kw)
    between = [memory_plan(*args, int(b), input_size=D, **kw) for b in np.linspace(low, full, 30)]
    # a plan that also stores checkpoints during backward
    middle = next(p for p in between if any(op[0] == "store" for op in p.program()[1]))
    return {"smallest": between[0], "middle": middle, "every_k": every_k}


def run(layer, x, state0, lengths, d_out, d_state, budget):
    """forward and backward from the same dropout draws -> (outputs, gradients, tapes)."""
    layer.rng = np.random.default_rng(7)
    out, state, cache = layer.forward(x, state0, lengths, memory_budget=budget)
    tapes = []
    d_x, d_state0, grads = layer.backward(d_out, cache, d_state, tapes=tapes)
    arrays = {"out": out, "d_x": d_x, **grads}
    for name, s in (("state", state), ("d_state0", d_state0)):
        for k, a in enumerate(s if isinstance(s, tuple) else (s,)):
            arrays[f"{name}{k}"] = a
    for i, tape in enumerate(tapes):
        for k, d in enumerate(tape.d_states):
            arrays[f"tape{i}.d_state{k}"] = d
        arrays[f"tape{i}.d_ax"], arrays[f"tape{i}.d_ah"] = tape.d_ax, tape.d_ah
    return arrays, cache


def inputs(layer, dtype, rich):
    rng = np.random.default_rng(1)
    K, L = layer.num_directions, layer.num_layers
    x = rng.standard_normal((N, T, D) if rich else (T, N, D)).astype(dtype)
    h0 = rng.standard_normal((L * K, N, H)).astype(dtype)
    lstm = layer.cell.num_states == 2
    state0 = (h0, rng.standard_normal(h0.shape).astype(dtype)) if lstm else h0
    d_out = rng.standard_normal((N, T, K * H) if rich else (T, N, K * H)).astype(dtype)
    d_h = rng.standard_normal(h0.shape).astype(dtype)
    d_state = (d_h, rng.standard_normal(h0.shape).astype(dtype)) if lstm else d_h
    return x, state0, LENGTHS if rich else None, d_out, d_state


@pytest.mark.parametrize(
    "cell, backend, dtype, rich",
    MATRIX,
    ids=[f"{c}-{b}-{np.dtype(d).name}-{'rich' if r else 'plain'}" for c, b, d, r in MATRIX],
)
def test_budgeted_gradients_equal_full_bptt(cell, backend, dtype, rich):
    layer = make_layer(cell, backend, dtype, rich)
    args = inputs(layer, dtype, rich)
    full, _ = run(layer, *args, None)
    for name, plan in plans(layer, dtype).items():
        assert plan.policy != "full", name
        got, cache = run(layer, *args, plan)
        assert isinstance(cache.scans[0], CheckpointCache)
        assert got.keys() == full.keys()
        for key, want in full.items():
            err = np.abs(got[key] - want).max() / max(np.abs(want).max(), 1e-30)
            assert err <= RTOL[dtype], (name, key, err)
        # the same blocks as full BPTT: the same products in the same order, the same bits
        same_blocks = dataclasses.replace(plan, blocks=layer.memory_plan(T, N).blocks)
        got, _ = run(layer, *args, same_blocks)
        for key, want in full.items():
            assert np.array_equal(got[key], want), (name, key)


def test_budgeted_lstm_matches_finite_differences():
    layer = make_layer("lstm", "numpy", np.float64, True)
    layer.dropout = 0.0  # finite differences need the same function at every evaluation
    x, state0, lengths, W_out, (W_h, W_c) = inputs(layer, np.float64, True)
    plan = plans(layer, np.float64)["middle"]
    assert plan.slots > 0 and plan.recomputed_steps > T
    out, _, cache = layer.forward(x, state0, lengths, memory_budget=plan)

    def loss():
        out, (h_n, c_n), _ = layer.forward(x, state0, lengths, for_backward=False)
        return np.sum(out * W_out) + np.sum(h_n * W_h) + np.sum(c_n * W_c)

    d_x, (d_h0, d_c0), grads = layer.backward(W_out, cache, (W_h, W_c))
    arrays = {**layer.params, "x": x, "h0": state0[0], "c0": state0[1]}
    analytic = {**grads, "x": d_x, "h0": d_h0, "c0": d_c0}
    report = check_gradients(loss, arrays, analytic, tol=1e-6, rng=np.random.default_rng(2))
    assert report.ok, str(report)


def test_inference_ignores_the_budget_and_a_used_cache_is_refused():
    layer = make_layer("gru", "numpy", np.float64, False)
    x, state0, _, d_out, _ = inputs(layer, np.float64, False)
    budget = plans(layer, np.float64)["smallest"]
    out, state, cache = layer.forward(x, state0, for_backward=False, memory_budget=budget)
    want, want_state, _ = layer.forward(x, state0, for_backward=False)
    assert np.array_equal(out, want) and np.array_equal(state, want_state)
    assert not isinstance(cache.scans[0], CheckpointCache)
    _, _, cache = layer.forward(x, state0, memory_budget=budget)
    layer.backward(d_out, cache)
    with pytest.raises(ValueError, match="used up"):
        layer.backward(d_out, cache)


def test_truncated_bptt_under_a_budget_trains_as_without():
    """The trainer's windows (k1 = 3, k2 = 5) with a budget on the model's layer."""
    from bptt.nn import SequenceTagger

    def model(budget):
        rng = np.random.default_rng(0)
        return SequenceTagger("lstm", 3, 4, 5, vocab_size=5, num_layers=2, dropout=0.3,
                              dtype=np.float64, rng=rng, memory_budget=budget)  # fmt: skip

    budget = minimum_budget(5, "lstm", 2, 4, num_layers=2, dtype=np.float64)
    config = TrainConfig(epochs=1, lr=0.1, optimizer="sgd", k1=3, k2=5)
    plain, budgeted = model(None), model(budget)
    assert budgeted.rnn.memory_plan(5, 2).policy == "dp"
    train(plain, config, stream_data())
    train(budgeted, config, stream_data())
    for name, want in plain.params.items():
        assert np.allclose(budgeted.params[name], want, rtol=1e-12, atol=1e-14), name
