"""How much of a forward pass to keep for backward under a memory budget (Gruslys et al. 2016).

Full BPTT keeps every step's states and gate activations. Under a budget the forward keeps only
the states at some unit boundaries (checkpoints); backward recomputes each unit of steps from
the nearest checkpoint, with its activations, and runs its step-backwards in reverse.

Units: the T steps are cut into n units of about T / n steps (``bounds``). The policy is
Gruslys et al.'s BPTT-HSM dynamic program over units. With the start state of a range of n
units held and m free checkpoint slots, the fewest unit forwards that backpropagate it:

    F(1, m) = 1                           recompute the unit with its activations
    F(n, 0) = n (n + 1) / 2               recompute from the start for every unit
    F(n, m) = min_y  y + F(n - y, m - 1) + F(y, m)
              (advance y units and store a checkpoint there, do the right part with one slot
               less, free it, then the left part with all m)

The forward pass stores the first checkpoints for free, so the whole sequence costs

    R(1, m) = 1     R(n, 0) = F(n, 0)     R(n, m) = min_y  R(n - y, m - 1) + F(y, m)

Every-k checkpointing (k ~ sqrt(T), Chen et al.) is the plan with n = ceil(T / k) units of k
steps and m = n - 1: every unit recomputed once, T steps. Memory of a plan, per layer and
direction: (m + 1) checkpoints (the initial state included) of ``state_bytes`` each; during
backward one unit's full cache, ``step_bytes`` a step; plus fixed buffers.

    memory_plan(T, cell, N, H, budget) -> MemoryPlan      inspect without running
    MemoryPlan.program()                -> (spine, ops)    what forward stores, what backward does
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bptt.nn.cells import Cell, make_cell
from bptt.nn.scan import block_steps

MAX_UNITS = 160  # the DP's tables: n <= MAX_UNITS units (units grow with T beyond that)
POLICIES = ("dp", "every_k")


@lru_cache(maxsize=1)
def dp_tables() -> tuple[np.ndarray, ...]:
    """F, R (MAX_UNITS+1, MAX_UNITS) costs in unit forwards; their splits y (0: no slot used,
    -1: as with one slot less). Row n, column m."""
    U = MAX_UNITS
    n_all = np.arange(U + 1)
    F = np.zeros((U + 1, U), dtype=np.int64)
    R = np.zeros_like(F)
    F_y = np.zeros_like(F)
    R_y = np.zeros_like(F)
    F[:, 0] = R[:, 0] = n_all * (n_all + 1) // 2
    F[1, :] = R[1, :] = 1
    for m in range(1, U):
        for n in range(2, U + 1):
            ys = np.arange(1, n)
            f = ys + F[n - ys, m - 1] + F[ys, m]
            r = R[n - ys, m - 1] + F[ys, m]
            k, j = int(np.argmin(f)), int(np.argmin(r))
            F[n, m], F_y[n, m] = (f[k], k + 1) if f[k] < F[n, m - 1] else (F[n, m - 1], -1)
            R[n, m], R_y[n, m] = (r[j], j + 1) if r[j] < R[n, m - 1] else (R[n, m - 1], -1)
    return F, R, F_y, R_y


def unit_bounds(T: int, n: int) -> tuple[int, ...]:
    """n units of T steps, lengths differing by at most one: (n+1,) boundaries 0 .. T."""
    return tuple(int(b) for b in np.linspace(0, T, n + 1).round().astype(int))


@dataclass(frozen=True)
class MemoryPlan:
    """The policy chosen for T steps and its predicted cost, per layer and direction."""

    policy: str  # "full", "dp" or "every_k"
    T: int
    bounds: tuple[int, ...]  # unit boundaries, 0 .. T (one unit of T steps for "full")
    slots: int  # m: checkpoints beyond the initial state, per layer and direction
    recomputed_steps: int  # forward steps backward recomputes, per layer and direction
    kept_bytes: int  # what forward keeps for backward (cache.nbytes), the whole stack
    peak_bytes: int  # kept + backward's recomputation buffers
    full_bytes: int  # what full BPTT keeps
    budget: int | None
    directions: int  # layers * directions the budget spans
    blocks: tuple[int, int] = (0, 0)  # steps per input projection, per weight-gradient GEMM

    @property
    def units(self) -> int:
        return len(self.bounds) - 1

    @property
    def segment(self) -> int:
        """The longest unit: the steps whose activations backward holds at once."""
        return max(b - a for a, b in zip(self.bounds, self.bounds[1:]))

    def program(self) -> tuple[tuple[int, ...], tuple[tuple, ...]]:
        """(spine, ops): the units whose start state forward keeps, and backward's actions:
        ("leaf", c, k) recompute unit k from the checkpoint of unit c, with activations;
        ("store", c, p) advance from checkpoint c to unit p and store it; ("free", p)."""
        return _program(self.policy, self.units, self.slots)

    def describe(self) -> str:
        """One line for logs: the policy, its units, slots, recomputation and bytes."""
        if self.policy == "full":
            return f"full BPTT, keeps {_mib(self.kept_bytes)} (T={self.T})"
        return (
            f"{self.policy}: T={self.T} in {self.units} units of <= {self.segment} steps, "
            f"{self.slots + 1} checkpoints per layer and direction, "
            f"{self.recomputed_steps} steps recomputed ({self.recomputed_steps / self.T:.2f} T), "
            f"keeps {_mib(self.kept_bytes)}, peak {_mib(self.peak_bytes)} "
            f"of {_mib(self.budget)} (full BPTT keeps {_mib(self.full_bytes)})"
        )


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


@lru_cache(maxsize=256)
def _program(policy: str, n: int, m: int):
    if policy == "full":
        return (0,), ()
    if policy == "every_k":  # every unit's start stored by forward; each unit recomputed once
        return tuple(range(n)), tuple(("leaf", k, k) for k in reversed(range(n)))
    F, R, F_y, R_y = dp_tables()
    spine, ops = [0], []

    def used(split, n, m):  # follow "as with one slot less" down to the split really used
        while m > 0 and split[n, m] == -1:
            m -= 1
        return m

    def back(i: int, j: int, m: int) -> None:  # the start state of unit i is held
        m = used(F_y, j - i, m)
        if j - i == 1 or m == 0:
            ops.extend(("leaf", i, k) for k in reversed(range(i, j)))
            return
        y = int(F_y[j - i, m])
        ops.append(("store", i, i + y))
        back(i + y, j, m - 1)
        ops.append(("free", i + y))
        back(i, i + y, m)

    def root(i: int, j: int, m: int) -> None:  # as back, the checkpoints stored by forward
        m = used(R_y, j - i, m)
        if j - i == 1 or m == 0:
            back(i, j, 0)
            return
        y = int(R_y[j - i, m])
        spine.append(i + y)
        root(i + y, j, m - 1)
        ops.append(("free", i + y))
        back(i, i + y, m)

    root(0, n, m)
    return tuple(spine), tuple(ops)


def recomputed(bounds: tuple[int, ...], ops) -> int:
    """Forward steps the ops run: advancing to stored checkpoints and recomputing units."""
    steps = 0
    for op in ops:
        if op[0] == "leaf":
            steps += bounds[op[2] + 1] - bounds[op[1]]
        elif op[0] == "store":
            steps += bounds[op[2]] - bounds[op[1]]
    return steps


def held_max(spine, ops) -> int:
    """The most checkpoints one layer and direction holds at once during its backward."""
    held = most = len(spine)
    for op in ops:
        held += {"store": 1, "free": -1}.get(op[0], 0)
        most = max(most, held)
    return most


def memory_plan(
    T: int,
    cell: Cell | str,
    N: int,
    H: int,
    budget: int | None,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dtype=np.float32,
    policy: str = "dp",
    k: int | None = None,
    input_size: int | None = None,
) -> MemoryPlan:
    """The plan for T steps of ``cell`` (N batch, H hidden) in ``budget`` bytes for the stack.

    ``policy`` "dp" (Gruslys et al.'s, the fewest recomputed steps that fit) or "every_k"
    (a checkpoint every ``k`` steps, default ceil(sqrt(T))). ``budget`` None, or at least what
    full BPTT keeps: full BPTT. A budget below the plan's need: ValueError saying the minimum.
    """
    cell, sizes = _sizes(T, cell, N, H, num_layers, bidirectional, dtype, policy, input_size)
    if budget is not None and (not isinstance(budget, int | np.integer) or budget <= 0):
        raise ValueError(f"memory_budget: expected a positive number of bytes, got {budget!r}")
    if budget is None or budget >= sizes.full:
        return MemoryPlan(
            "full",
            T,
            (0, T),
            T,
            0,
            sizes.full,
            sizes.full,
            sizes.full,
            budget,
            sizes.LK,
            sizes.full_blocks(),
        )
    feasible = [p for p in _candidates(sizes, policy, k, budget) if p.peak_bytes <= budget]
    if not feasible:
        need = _minimum(sizes, policy, k)
        raise ValueError(
            f"memory_budget: expected at least {need} bytes ({_mib(need)}) for T={T}, "
            f"{cell.name}, N={N}, H={H} with policy {policy!r}, got {budget} bytes "
            f"({_mib(budget)}); full BPTT keeps {sizes.full} bytes"
        )
    return min(feasible, key=lambda p: (p.recomputed_steps, p.peak_bytes))


def minimum_budget(
    T: int,
    cell: Cell | str,
    N: int,
    H: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dtype=np.float32,
    policy: str = "dp",
    k: int | None = None,
    input_size: int | None = None,
) -> int:
    """The smallest budget ``memory_plan`` accepts for these arguments, in bytes."""
    _, sizes = _sizes(T, cell, N, H, num_layers, bidirectional, dtype, policy, input_size)
    return _minimum(sizes, policy, k)


def _minimum(sizes, policy: str, k: int | None) -> int:
    """The smallest peak of any plan of the policy, or full BPTT's bytes when less."""
    return min(min(p.peak_bytes for p in _candidates(sizes, policy, k, 0)), sizes.full)


def every_k_plan(
    T: int,
    cell: Cell | str,
    N: int,
    H: int,
    k: int | None = None,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dtype=np.float32,
    input_size: int | None = None,
) -> MemoryPlan:
    """Every-k checkpointing (k default ceil(sqrt(T))) whatever it costs, to compare with."""
    _, sizes = _sizes(T, cell, N, H, num_layers, bidirectional, dtype, "every_k", input_size)
    return _candidates(sizes, "every_k", k, 2**62)[0]


def _sizes(T, cell, N, H, num_layers, bidirectional, dtype, policy, input_size):
    if policy not in POLICIES:
        raise ValueError(f"policy: expected one of {POLICIES}, got {policy!r}")
    cell = make_cell(cell) if isinstance(cell, str) else cell
    K = 2 if bidirectional else 1
    D = max(input_size or H, K * H if num_layers > 1 else 0)  # the widest layer input
    return cell, _Sizes(T, cell, N, H, num_layers, K, np.dtype(dtype), D)


def _candidates(sizes: _Sizes, policy: str, k: int | None, budget: int) -> list[MemoryPlan]:
    """The plans of one policy, each with as many slots as ``budget`` leaves (at least 0)."""
    T = sizes.T
    if policy == "every_k":
        k = k or math.isqrt(T - 1) + 1
        return [_plan(sizes, "every_k", tuple(range(0, T, k)) + (T,), budget)]
    return [_plan(sizes, "dp", unit_bounds(T, n), budget) for n in _unit_counts(T)]


def _unit_counts(T: int) -> range:
    return range(1, min(T, MAX_UNITS) + 1)


@dataclass(frozen=True)
class _Sizes:
    """Bytes of the pieces of a plan; see the module docstring."""

    T: int
    cell: Cell
    N: int
    H: int
    L: int
    K: int
    dtype: np.dtype
    D: int  # the widest input of a layer (its W_ih has G*H x D entries)

    @property
    def LK(self) -> int:
        return self.L * self.K

    @property
    def state_bytes(self) -> int:  # one checkpoint: every state of one step
        return self.cell.num_states * self.N * self.H * self.dtype.itemsize

    @property
    def act_bytes(self) -> int:  # one step's saved activations
        return sum(self.cell.act_widths(self.H)) * self.N * self.dtype.itemsize

    @property
    def inputs(self) -> int:  # the inputs of layers above the first, kept by both
        return (self.L - 1) * self.T * self.N * self.K * self.H * self.dtype.itemsize

    @property
    def full(self) -> int:
        per = (self.T + 1) * self.state_bytes + self.T * self.act_bytes
        return self.inputs + self.LK * per

    def full_blocks(self) -> tuple[int, int]:
        """Full BPTT's blocks: steps of the input projection, of the weight gradients."""
        G, item, row = self.cell.num_gates, self.dtype.itemsize, self.N * self.H
        return block_steps(self.T, row * G * item), block_steps(self.T, self.grads_row)

    @property
    def grads_row(self) -> int:  # one step's gate gradients
        G, item = self.cell.num_gates, self.dtype.itemsize
        return self.N * self.H * G * item * (2 if self.cell.separate_hidden_grads else 1)

    def buffers(self, segment: int, blocks: tuple[int, int]) -> int:
        """Backward's buffers: one unit's states and activations, the input projection of
        one forward block, the gate gradients and h_{t-1} of one weight-gradient block, the
        weight gradients of one block and their sum."""
        G, item, row = self.cell.num_gates, self.dtype.itemsize, self.N * self.H
        unit = (segment + 1) * self.state_bytes + segment * self.act_bytes
        B_forward, B_backward = blocks
        weights = G * self.H * (self.D + self.H + 2) * item
        blocks = B_forward * row * G * item + B_backward * (self.grads_row + row * item)
        return unit + blocks + 2 * weights


def _plan(sizes: _Sizes, policy: str, bounds: tuple[int, ...], budget: int) -> MemoryPlan:
    """The plan on these units with as many slots as the budget leaves (at least none).

    Its blocks are full BPTT's (the same products, the same bits) when they fit, else blocks
    no longer than a unit (the same gradients to round-off)."""
    n = len(bounds) - 1
    segment = max(b - a for a, b in zip(bounds, bounds[1:]))
    blocks = sizes.full_blocks()
    least = n if policy == "every_k" else 1  # checkpoints it keeps at the least (every-k: all)
    if (
        sizes.inputs + sizes.buffers(segment, blocks) + sizes.LK * least * sizes.state_bytes
        > budget
    ):
        blocks = tuple(min(b, segment) for b in blocks)
    fixed = sizes.inputs + sizes.buffers(segment, blocks)
    m = (budget - fixed) // (sizes.LK * sizes.state_bytes) - 1
    m = n - 1 if policy == "every_k" else int(max(0, min(n - 1, m)))
    spine, ops = _program(policy, n, m)
    s = sizes.state_bytes
    kept = sizes.inputs + sizes.LK * len(spine) * s
    peak = kept + (held_max(spine, ops) - len(spine)) * s + sizes.buffers(segment, blocks)
    steps = recomputed(bounds, ops)
    return MemoryPlan(
        policy, sizes.T, bounds, m, steps, kept, peak, sizes.full, budget, sizes.LK, blocks
    )
