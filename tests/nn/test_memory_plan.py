"""The memory policy: Gruslys et al.'s dynamic program against an exhaustive search, its
predictions against what the time loop does, every-k checkpointing, and the budget's errors."""

import heapq
import itertools
import tracemalloc

import numpy as np
import pytest

from bptt.nn import GRU, LSTM, LSTMCell, Recurrent, memory_plan, minimum_budget
from bptt.nn.memory_plan import dp_tables


def cheapest_backward(n: int, m: int, free_start: bool) -> int:
    """Fewest unit forwards that backpropagate n units holding at most m + 1 states at once,
    by Dijkstra over (states held, units left): advance from a held state and keep the one
    reached, drop a state, or backpropagate the last unit: advance to it from a held state
    without keeping anything, then recompute it (its length in forwards).
    ``free_start``: the forward pass may first keep any m + 1 states, 0 included, for free."""
    starts = [frozenset([0])]
    if free_start:
        starts = [
            frozenset((0, *rest))
            for r in range(m + 1)
            for rest in itertools.combinations(range(1, n), r)
        ]
    frontier = [(0, tuple(sorted(s)), n) for s in starts]
    done = set()
    while frontier:
        cost, held, left = heapq.heappop(frontier)
        if left == 0:
            return cost
        if (held, left) in done:
            continue
        done.add((held, left))
        moves = []
        for s in held:  # backpropagate unit left-1, advancing to it from s in the unit's buffer
            moves.append((cost + left - s, tuple(h for h in held if h < left - 1), left - 1))
            moves.append((cost, tuple(h for h in held if h != s), left))
            if len(held) <= m:
                for p in range(s + 1, left):
                    if p not in held:
                        moves.append((cost + p - s, tuple(sorted((*held, p))), left))
        for move in moves:
            if (move[1], move[2]) not in done:
                heapq.heappush(frontier, move)
    raise AssertionError("no schedule")


@pytest.mark.parametrize("n, m", [(n, m) for n in range(1, 8) for m in range(0, 4)])
def test_dynamic_program_equals_exhaustive_search(n, m):
    F, R, _, _ = dp_tables()
    assert F[n, m] == cheapest_backward(n, m, free_start=False)
    assert R[n, m] == cheapest_backward(n, m, free_start=True)


def test_dynamic_program_closed_forms_and_monotone_in_slots():
    F, R, _, _ = dp_tables()
    n = np.arange(1, 60)
    assert np.array_equal(F[n, 0], n * (n + 1) // 2)
    assert np.array_equal([F[k, k - 1] for k in n], 2 * n - 1)  # a slot per unit
    assert np.array_equal([R[k, k - 1] for k in n], n)  # forward stores them all
    assert (np.diff(F[1:60, :40], axis=1) <= 0).all() and (np.diff(R[1:60, :40], axis=1) <= 0).all()


class CountingLSTM(LSTMCell):
    """An LSTM cell that counts its forward steps."""

    calls = 0

    def step_forward(self, *args):
        CountingLSTM.calls += 1
        super().step_forward(*args)


@pytest.mark.parametrize("slack", [0, 2, 8, 30])
def test_predicted_recomputation_and_bytes_are_what_the_loop_does(slack):
    T, N, D, H = 37, 2, 3, 4
    layer = Recurrent(CountingLSTM(), D, H, num_layers=2, bidirectional=True, dtype=np.float64,
                      rng=np.random.default_rng(0), backend="numpy")  # fmt: skip
    budget = minimum_budget(T, layer.cell, N, H, num_layers=2, bidirectional=True,
                            dtype=np.float64) + slack * 2 * N * H * 8  # fmt: skip
    plan = layer.memory_plan(T, N, budget)
    x = np.random.default_rng(1).standard_normal((T, N, D))
    CountingLSTM.calls = 0
    out, _, cache = layer.forward(x, memory_budget=budget)
    assert CountingLSTM.calls == 4 * T  # forward runs every step once
    assert cache.nbytes == plan.kept_bytes <= plan.peak_bytes <= budget
    CountingLSTM.calls = 0
    layer.backward(np.ones_like(out), cache)
    assert CountingLSTM.calls == 4 * plan.recomputed_steps
    assert plan.policy == "dp" and plan.recomputed_steps >= T


@pytest.mark.parametrize("T", [1000, 5000])
def test_dp_recomputes_no_more_than_every_k_at_its_budget(T):
    N, H = 32, 64  # blocks of 170 steps: below T, so every-k fits below full BPTT
    budget = minimum_budget(T, "gru", N, H, policy="every_k")
    every_k = memory_plan(T, "gru", N, H, budget, policy="every_k")
    assert every_k.policy == "every_k" and every_k.recomputed_steps == T
    for more in (0, budget // 4, budget):
        dp = memory_plan(T, "gru", N, H, budget + more)
        assert dp.recomputed_steps <= every_k.recomputed_steps
        assert dp.peak_bytes <= budget + more
    assert minimum_budget(T, "gru", N, H) < budget  # and the DP goes lower


def test_more_budget_never_costs_more_recomputation():
    T, N, H = 600, 32, 32
    low, full = minimum_budget(T, "lstm", N, H), memory_plan(T, "lstm", N, H, None).full_bytes
    budgets = [int(b) for b in np.geomspace(low, full, 12)][:-1] + [full]
    costs = [memory_plan(T, "lstm", N, H, b).recomputed_steps for b in budgets]
    assert costs == sorted(costs, reverse=True)
    assert costs[-1] == 0 and costs[0] > 2 * T and T in costs


def test_a_budget_too_small_says_the_minimum():
    need = minimum_budget(50, "lstm", 4, 8, input_size=3)
    with pytest.raises(ValueError, match=f"expected at least {need} bytes.*got {need - 1} bytes"):
        memory_plan(50, "lstm", 4, 8, need - 1, input_size=3)
    layer = LSTM(3, 8, rng=np.random.default_rng(0))
    x = np.zeros((50, 4, 3), np.float32)
    with pytest.raises(ValueError, match="memory_budget: expected at least"):
        layer.forward(x, memory_budget=need - 1)
    with pytest.raises(ValueError, match="memory_budget: expected a positive number of bytes"):
        layer.forward(x, memory_budget="64MB")


def test_a_budget_of_full_bptt_or_more_is_full_bptt():
    T, N, H = 600, 32, 32  # blocks of 256 steps: below T
    layer = LSTM(3, H, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((T, N, 3)).astype(np.float32)
    _, _, full = layer.forward(x)
    plan = layer.memory_plan(T, N, full.nbytes)
    assert plan.policy == "full" and plan.recomputed_steps == 0 and plan.kept_bytes == full.nbytes
    _, _, cache = layer.forward(x, memory_budget="1GiB")
    assert cache.plan is None and cache.nbytes == full.nbytes
    _, _, cache = layer.forward(x, memory_budget=full.nbytes - 1)
    assert cache.plan is not None and cache.nbytes < full.nbytes / 10


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_forward_and_backward_hold_about_what_the_plan_predicts(cls):
    """tracemalloc's peak over forward and backward: near the plan's, far below full BPTT's."""
    T, N, D, H = 400, 16, 8, 32
    layer = cls(D, H, dtype=np.float64, rng=np.random.default_rng(0), backend="numpy")
    x = np.random.default_rng(1).standard_normal((T, N, D))
    d_out = np.ones((T, N, H))
    out_bytes = 2 * d_out.nbytes  # the output and its gradient, the caller's
    peaks = {}
    for budget in (None, layer.memory_plan(T, N).full_bytes // 10):
        tracemalloc.start()
        _, _, cache = layer.forward(x, memory_budget=budget)
        layer.backward(d_out, cache, input_grad=False)
        peaks[budget] = tracemalloc.get_traced_memory()[1] - out_bytes
        tracemalloc.stop()
        del cache
    (full, low), (_, plan) = peaks.values(), (0, layer.memory_plan(T, N, budget))
    assert plan.peak_bytes <= budget
    assert low <= 2 * plan.peak_bytes
    assert low <= full / 4


@pytest.mark.parametrize("k", [20, 32, 45])
def test_every_k_fits_every_budget_above_its_minimum(k):
    # a budget that would hold full BPTT's blocks but not with every checkpoint too shrinks
    # the blocks, as at the minimum: feasibility never stops as the budget grows
    T, N, H = 1000, 32, 256
    low = minimum_budget(T, "lstm", N, H, policy="every_k", k=k, input_size=64)
    for budget in (low, low + 2**20, int(1.5 * low), 2 * low, 4 * low):
        plan = memory_plan(T, "lstm", N, H, budget, policy="every_k", k=k, input_size=64)
        assert plan.policy == "every_k" and plan.peak_bytes <= budget
        assert plan.recomputed_steps == T
