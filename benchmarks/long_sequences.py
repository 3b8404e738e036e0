"""Benchmark, not a test: one training step of a long sequence under memory budgets, bptt
against torch's full autograd (Gruslys et al. 2016, "Memory-Efficient BPTT").

The step: forward of one recurrent layer over x (T, N, D) and backward of the loss
sum(output), to every weight's gradient (x is data: no input gradient), float32.

    bptt full          forward keeps every step (memory_budget=None)
    bptt dp, B         Gruslys et al.'s BPTT-HSM plan in B bytes (bptt.nn.memory_plan)
    bptt every_k, B    a checkpoint every k steps: k = ceil(sqrt(T)) when that plan fits in B,
                       else the k whose plan needs least (it fits or the row says what it needs)
    torch              nn.LSTM / nn.GRU, full autograd

Budgets: "min" (the least the DP plan accepts, bptt.nn.memory_plan.minimum_budget), sizes
such as 16MiB, and "full" (None). Rows that would run the same plan (a budget above what full
BPTT keeps; every_k's sqrt(T) plan at two budgets) are measured once and say so.

Each distinct measurement runs in a fresh process: a warm-up of T=32 steps, with full BPTT
and with a plan of the same policy (numba's kernels compiled for the layouts they will see,
one-time set-up done; the memory it freed given back to the system by malloc_trim), then
VmHWM (peak RSS) reset to the current RSS, then up to --repeats timed steps (no more once
--max-seconds of timed steps have run), then the growth of peak RSS, then one more step
under tracemalloc (the peak of numpy's allocations; skipped when one step took longer than
--max-seconds). The caller's x and d_output (a stride-0 view of ones, like torch's
expanded gradient of a sum) are made before the reset; the output (T, N, H), which any
library returns, is counted in both peaks. cache.nbytes is what forward kept for backward.

    python benchmarks/long_sequences.py --threads 1                  # T = 1,000 4,000 16,000
    python benchmarks/long_sequences.py --cells lstm --lengths 1000 --budgets min 64MiB full
    python benchmarks/long_sequences.py --json out.json --plot       # docs/long_sequences.png
    python benchmarks/long_sequences.py --from-json a.json b.json --plot   # saved runs again
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from long_report import header_lines, plot, row_line, summary_lines
from machine import machine_info, peak_rss_bytes, set_threads, tracemalloc_peak

from bptt.checks import parse_bytes
from bptt.io import atomic_write_json, read_json
from bptt.nn import BACKENDS, GRU, LSTM, memory_plan, minimum_budget, resolve_backend

CELLS = ("lstm", "gru")
POLICIES = ("dp", "every_k")
SIZES = {"N": 32, "D": 64, "H": 256}
WARM = 32  # steps of the warm-up before measuring
DEFAULT_BUDGETS = ("min", "16MiB", "64MiB", "256MiB", "full")
PLOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "long_sequences.png")


def plan_for(cell: str, T: int, policy: str, budget: int | None, sizes: dict):
    """(plan, None) for the row, or (None, the least bytes the policy needs) when nothing fits."""
    N, D, H = sizes["N"], sizes["D"], sizes["H"]
    if budget is None:
        return memory_plan(T, cell, N, H, None, input_size=D), None
    if policy == "dp":
        need = minimum_budget(T, cell, N, H, input_size=D)
        return (
            (None, need)
            if need > budget
            else (memory_plan(T, cell, N, H, budget, input_size=D), None)
        )
    k = math.isqrt(T - 1) + 1
    if minimum_budget(T, cell, N, H, policy="every_k", k=k, input_size=D) > budget:
        needs = {j: minimum_budget(T, cell, N, H, policy="every_k", k=j, input_size=D)
                 for j in range(1, T + 1)}  # fmt: skip
        k = min(needs, key=needs.get)
        if needs[k] > budget:
            return None, needs[k]
    return memory_plan(T, cell, N, H, budget, policy="every_k", k=k, input_size=D), None


def plan_key(plan) -> tuple:
    return (plan.policy, plan.bounds, plan.slots, plan.blocks)


def plan_fields(plan) -> dict:
    return {
        "policy": plan.policy,
        "units": plan.units,
        "segment": plan.segment,
        "checkpoints": plan.slots + 1 if plan.policy != "full" else 0,
        "recomputed_steps": plan.recomputed_steps,
        "predicted_kept_bytes": plan.kept_bytes,
        "predicted_peak_bytes": plan.peak_bytes,
        "full_bytes": plan.full_bytes,
        "describe": plan.describe(),
    }


# ----- the fresh process -------------------------------------------------------------------


def child(payload: str) -> None:
    job = json.loads(payload)
    T, N, D, H = job["T"], job["N"], job["D"], job["H"]
    torch = None
    if job["lib"] == "torch":
        import torch
    if job["threads"] is not None:
        set_threads(job["threads"], torch)
    rng = np.random.default_rng(job["seed"])
    x = rng.standard_normal((T, N, D), dtype=np.float32)  # (T, N, D)
    nbytes = []
    if torch is None:
        layer = {"lstm": LSTM, "gru": GRU}[job["cell"]](D, H, rng=rng, backend=job["backend"])
        plan = None
        if job["budget"] is not None:
            plan, _ = plan_for(job["cell"], T, job["policy"], job["budget"], job)
        ones = np.ones((1, 1, H), dtype=np.float32)

        def step(xs, budget):
            out, _, cache = layer.forward(xs, memory_budget=budget)  # (T, N, H)
            nbytes.append(cache.nbytes)
            layer.backward(np.broadcast_to(ones, out.shape), cache, input_grad=False)

        run = lambda: step(x, plan)  # noqa: E731
        short = x[:WARM].copy()  # (WARM, N, D): the kernels compiled for these layouts
        step(short, None)
        if plan is not None:  # and the recomputation's, on a plan of the same policy
            Tw = len(short)
            low = minimum_budget(Tw, job["cell"], N, H, policy=job["policy"], input_size=D)
            step(short, plan_for(job["cell"], Tw, job["policy"], low, job)[0])
    else:
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[job["cell"]](D, H)
        tx = torch.from_numpy(x)

        def step(xs, _):
            rnn.zero_grad(set_to_none=True)
            out, _ = rnn(xs)  # (T, N, H)
            out.sum().backward()

        run = lambda: step(tx, None)  # noqa: E731
        step(tx[:WARM].clone(), None)
    trim()  # the warm-up's freed memory back to the system: the steps must not reuse it
    before = peak_rss_bytes(reset=True)
    times: list[float] = []
    while len(times) < job["repeats"] and sum(times) < job["max_seconds"]:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    result = {"times_s": times, "rss_growth_bytes": peak_rss_bytes() - before}
    result["cache_nbytes"] = nbytes[-1] if nbytes else None
    result["tracemalloc_peak_bytes"] = (
        tracemalloc_peak(run) if torch is None and min(times) <= job["max_seconds"] else None
    )
    print(json.dumps(result))


def trim() -> None:
    """glibc's malloc_trim(0), where there is one: free heap memory returned to the system."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(job: dict) -> dict:
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement {job} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----- the rows ----------------------------------------------------------------------------


def rows_for(cell: str, T: int, args, measured: dict, show=print) -> list[dict]:
    """The rows of one cell and T, each shown as soon as it is measured (full BPTT first:
    the others are given as ratios of it)."""
    sizes = {**SIZES, "T": T}
    base = {"cell": cell, "T": T, **SIZES, "threads": args.threads, "seed": args.seed}
    base.update(backend=args.backend, repeats=args.repeats, max_seconds=args.max_seconds)
    rows, full = [], None
    labels = sorted(args.budgets, key=lambda label: label != "full")
    for label in labels:
        if label == "min":
            budget = minimum_budget(T, cell, SIZES["N"], SIZES["H"], input_size=SIZES["D"])
        else:
            budget = None if label == "full" else parse_bytes("--budgets", label)
        for policy in POLICIES if budget is not None else ("full",):
            row = {"lib": "bptt", "cell": cell, "T": T, "budget": label, "budget_bytes": budget}
            row["policy"] = policy
            plan, needs = plan_for(cell, T, policy, budget, sizes)
            if plan is None:
                row.update(fits=False, needs=needs)
            else:
                row.update(fits=True, plan=plan_fields(plan))
                key = (cell, T, plan_key(plan))
                if key in measured:
                    row.update(measured[key][1], same_as=measured[key][0])
                else:
                    job = {**base, "lib": "bptt", "policy": policy, "budget": budget}
                    measured[key] = (f"{label}/{policy}", measure(job))
                    row.update(measured[key][1])
                full = row if policy == "full" else full
            rows.append(_with_ratios(row, full))
            show(row_line(row))
    if args.torch:
        row = {"lib": "torch", "cell": cell, "T": T, "budget": "full", "policy": "autograd"}
        row.update(measure({**base, "lib": "torch", "budget": None, "policy": None}))
        rows.append(_with_ratios(row, full))
        show(row_line(row))
    return rows


def _with_ratios(row: dict, full: dict | None) -> dict:
    if "times_s" not in row:
        return row
    row["step_s"] = statistics.median(row["times_s"])
    if full is not None:
        row["time_ratio"] = row["step_s"] / full["step_s"]
        row["rss_ratio"] = row["rss_growth_bytes"] / max(full["rss_growth_bytes"], 1)
        if row["cache_nbytes"] is not None:
            row["kept_ratio"] = row["cache_nbytes"] / full["cache_nbytes"]
    return row


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = p.add_argument
    add("--cells", nargs="+", choices=CELLS, default=list(CELLS), help="cells")
    add("--lengths", nargs="+", type=int, default=[1000, 4000, 16000], help="values of T")
    add("--budgets", nargs="+", default=list(DEFAULT_BUDGETS), help="min, full or sizes")
    add("--repeats", type=int, default=3, help="timed steps per row (median)")
    add("--max-seconds", type=float, default=60.0, help="no more timed steps after this")
    add("--seed", type=int, default=0, help="seed of the weights and data")
    add("--no-torch", dest="torch", action="store_false", help="bptt only")
    add("--backend", choices=BACKENDS, default="auto", help="bptt's elementwise kernels")
    add("--threads", type=int, default=None, help="threads of BLAS, torch and numba alike")
    add("--json", metavar="PATH", default=None, help="write results as JSON here, atomically")
    add("--plot", nargs="?", const=PLOT, default=None, help="write the picture (PNG) here")
    add("--from-json", nargs="+", metavar="PATH", help="no measuring: rows of saved runs")
    add("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats: expected a positive integer, got {args.repeats}")
    if args.max_seconds <= 0:
        p.error(f"--max-seconds: expected a positive number, got {args.max_seconds}")
    if any(T < 2 for T in args.lengths):
        p.error(f"--lengths: expected integers >= 2, got {args.lengths}")
    for label in args.budgets:
        if label not in ("min", "full"):
            try:
                parse_bytes("--budgets", label)
            except ValueError as error:
                p.error(f"{error} (or min, full)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(args.child)
        return 0
    if args.from_json:
        return replot(args)
    torch_note = "not used (--no-torch)"
    if args.torch:
        try:
            import torch
        except ImportError:
            args.torch, torch_note = False, "not importable: bptt only"
        else:
            if args.threads is not None:
                torch.set_num_threads(args.threads)
            torch_note = f"{torch.__version__}, {torch.get_num_threads()} threads"
    if args.threads is not None:
        set_threads(args.threads)
    backend = resolve_backend(args.backend, np.float32)
    info = machine_info(sys.modules.get("torch"))
    print("\n".join(header_lines(info, args, torch_note, backend, SIZES)), flush=True)
    rows, measured, started = [], {}, time.perf_counter()
    for cell in args.cells:
        for T in args.lengths:
            rows += rows_for(cell, T, args, measured, lambda line: print(line, flush=True))
    print("\n".join(summary_lines(rows)), flush=True)
    print(f"# total {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "child")}
        atomic_write_json(args.json, {"machine": info, "settings": settings, "rows": rows})
    if args.plot:
        plot(rows, args.plot, info)
    return 0


def replot(args) -> int:
    """The rows of saved runs (--json files) again: table, summary, merged JSON, picture."""
    saved = [read_json(path) for path in args.from_json]
    rows = [row for run in saved for row in run["rows"]]
    print(f"# rows of {', '.join(args.from_json)}; machine: {saved[0]['machine']['cpu']}")
    print("\n".join(row_line(row) for row in rows))
    print("\n".join(summary_lines(rows)), flush=True)
    if args.json:
        runs = [{"file": p, "settings": r["settings"]} for p, r in zip(args.from_json, saved)]
        atomic_write_json(args.json, {"machine": saved[0]["machine"], "runs": runs, "rows": rows})
    if args.plot:
        plot(rows, args.plot, saved[0]["machine"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
