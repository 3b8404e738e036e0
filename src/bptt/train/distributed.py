"""Data-parallel training over MPI: K ranks, one global batch, one all-reduce per step.

Every rank holds the same weights and reads the same batches in the same (seed, epoch) order;
rank r of K takes its ``share`` of every batch's n rows (np.array_split's: the first n mod K
ranks one row more), computes the mean-loss gradient g_r over its M_r items (M: the loss's
denominator, ``metrics["items"]`` where the model gives it, else ``metrics["count"]``), and

    g = sum_r M_r g_r / sum_r M_r          (reduction "sum": g = sum_r g_r)

is the single-process gradient of the whole batch. One in-place Allreduce(SUM) of one flat
contiguous buffer per step carries it, with the figures the step needs:

    [ M_r g_r of every parameter, flattened | M_r loss_r | M_r | correct_r | count_r |
      has_correct_r | stop_r ]

so clipping, the optimizer and the schedule then run on identical numbers on every rank and
the weights stay identical without a broadcast. ``stop_r`` is 1 on a rank that caught
SIGINT or SIGTERM: every rank learns of it at the same step and stops there.

mpi4py is imported here only, when a ``Communicator`` is made (``pip install "bptt[mpi]"``).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

# set by the launchers in each process: MPICH's hydra (and Slurm's PMI), Open MPI
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def launched_world_size(environ=None) -> int:
    """How many processes the MPI launcher started alongside this one (1: not under one)."""
    environ = os.environ if environ is None else environ
    sizes = [environ.get(k, "") for k in WORLD_SIZE_VARIABLES]
    return max([int(s) for s in sizes if s.strip().isdigit()] or [1])


def share(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows [lo, hi) of n that rank ``rank`` of ``size`` takes (np.array_split's split)."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def rank_generator(rng: np.random.Generator, rank: int) -> np.random.Generator:
    """Rank r's dropout stream: ``rng``'s bit generator jumped r times (2^127 draws each for
    PCG64), so the ranks' masks differ and each is reproducible from the seed."""
    if rank == 0:
        return rng
    if not hasattr(rng.bit_generator, "jumped"):
        raise ValueError(
            "rng: expected a bit generator with jumped() (PCG64, PCG64DXSM, MT19937, Philox) "
            f"for distributed dropout, got {type(rng.bit_generator).__name__}"
        )
    return np.random.Generator(rng.bit_generator.jumped(rank))


class Communicator:
    """The few collectives the trainer needs, over an mpi4py communicator (default: WORLD)."""

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(
                '--distributed needs mpi4py and an MPI library: pip install "bptt[mpi]" '
                f"(mpi4py and the mpich wheel), then launch with mpiexec -n K; ({e})"
            ) from None
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def allreduce_(self, buf: np.ndarray) -> np.ndarray:
        """Sum ``buf`` (contiguous) over the ranks, in place; every rank gets the sums."""
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        return buf

    def all_true(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on every rank."""
        votes = self.allreduce_(np.array([0 if flag else 1], dtype=np.int64))
        return int(votes[0]) == 0

    def allgather_json(self, obj) -> list:
        """Every rank's JSON-able ``obj``, in rank order, on every rank (nothing pickled)."""
        data = np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8)
        sizes = np.zeros(self.size, dtype=np.int64)
        self.comm.Allgather(np.array([data.size], dtype=np.int64), sizes)
        out = np.empty(int(sizes.sum()), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.comm.Allgatherv(data, [out, sizes, offsets, self.MPI.BYTE])
        return [json.loads(out[o : o + s].tobytes()) for o, s in zip(offsets, sizes)]

    def gather_columns(self, a: np.ndarray, width_of: list[int]) -> np.ndarray | None:
        """The ranks' column blocks of ``a`` (axis 1, ``width_of[r]`` columns on rank r) side
        by side, on rank 0 (None elsewhere): a sum of zero-padded copies, which is exact."""
        lo = sum(width_of[: self.rank])
        full = np.zeros((a.shape[0], sum(width_of), *a.shape[2:]), dtype=a.dtype)
        full[:, lo : lo + a.shape[1]] = a
        out = np.empty_like(full) if self.rank == 0 else None
        self.comm.Reduce(full, out, op=self.MPI.SUM, root=0)
        return out

    def abort(self, message: str, code: int = 1) -> None:
        """End every rank now (mpiexec's abort): a rank that fails alone must not leave the
        others waiting forever in a collective."""
        print(f"bptt: rank {self.rank} of {self.size}: {message}", file=sys.stderr, flush=True)
        self.comm.Abort(code)


def agreed(comm: Communicator | None, fn):
    """``fn()`` on every rank; if it raises on any rank, every rank raises (the failing ones
    their own error), so no rank goes on to wait for one that stopped."""
    if comm is None or comm.size == 1:
        return fn()
    try:
        result, error = fn(), None
    except Exception as e:  # re-raised below, on every rank
        result, error = None, e
    if comm.all_true(error is None):
        return result
    if error is not None:
        raise error
    raise RuntimeError("another rank failed while setting up (its error is printed above)")


class GradientAllreduce:
    """One step's figures summed over the ranks through one flat buffer, allocated once."""

    TAIL = ("loss", "items", "correct", "count", "has_correct", "stop")

    def __init__(self, comm: Communicator, params: dict[str, np.ndarray], reduction: str):
        self.comm, self.mean = comm, reduction == "mean"
        self.layout, offset = {}, 0  # name -> (offset, size, shape)
        for name, p in params.items():
            self.layout[name] = (offset, p.size, p.shape)
            offset += p.size
        dtype = np.result_type(*params.values())
        self.buf = np.empty(offset + len(self.TAIL), dtype=dtype)  # (P + 6,)
        self.P = offset

    def __call__(self, loss: float, grads: dict, metrics: dict, stop: bool):
        """-> (loss, grads, metrics, stop) of the whole global batch, the same on every rank.
        The returned grads are views of the buffer, valid until the next call."""
        buf, P = self.buf, self.P
        w = float(metrics.get("items", metrics["count"])) if self.mean else 1.0
        for name, (o, n, _) in self.layout.items():
            np.multiply(grads[name].reshape(-1), w, out=buf[o : o + n])
        tail = (loss * w, w, metrics.get("correct", 0), metrics["count"], "correct" in metrics)
        buf[P:] = (*tail, bool(stop))
        self.comm.allreduce_(buf)
        total_loss, W, correct, count, has_correct, stop = (float(v) for v in buf[P:])
        scale = (1.0 / W if W > 0 else 0.0) if self.mean else 1.0
        buf[:P] *= scale
        grads = {name: buf[o : o + n].reshape(shape) for name, (o, n, shape) in self.layout.items()}
        reduced = {"loss": total_loss * scale, "count": round(count)}
        if has_correct:
            reduced["correct"] = round(correct)
        return total_loss * scale, grads, reduced, stop > 0


def gather_stream(comm: Communicator, stream: dict[str, np.ndarray]) -> dict | None:
    """The carried states and truncated-BPTT context of every rank's streams (axis 1),
    joined in rank order, on rank 0 (None elsewhere). A rank without an array (its share of
    the batch was empty) adds no columns."""
    meta = {
        k: [v.shape[1], str(v.dtype), list(v.shape[:1] + v.shape[2:])] for k, v in stream.items()
    }
    every = comm.allgather_json(meta)
    joined = {}
    for key in sorted({k for m in every for k in m}):
        kind = next(m[key] for m in every if key in m)
        widths = [m[key][0] if key in m else 0 for m in every]
        rows, rest = kind[2][0], tuple(kind[2][1:])
        local = stream.get(key)
        if local is None:
            local = np.zeros((rows, 0, *rest), dtype=kind[1])
        as_int = local.dtype == np.bool_  # MPI sums numbers, not bools
        full = comm.gather_columns(local.astype(np.uint8) if as_int else local, widths)
        if full is not None:
            joined[key] = full.astype(np.bool_) if as_int else full
    return joined if comm.rank == 0 else None


def stream_share(stream: dict[str, np.ndarray], rank: int, size: int) -> dict:
    """This rank's columns (axis 1) of every saved stream array."""
    out = {}
    for key, a in stream.items():
        lo, hi = share(a.shape[1], rank, size)
        out[key] = np.ascontiguousarray(a[:, lo:hi])
    return out
