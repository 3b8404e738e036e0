"""Benchmark, not a test: data-parallel training throughput over MPI, and a ring all-reduce
projection to more ranks.

Runs ``bptt.train.Trainer`` (SGD, float32, no evaluation) on random data at the mnist and
charlm shapes of ``step_time.py`` (its ``CONFIGS``: a SequenceClassifier reading the last
step, a SequenceTagger with a loss on every step), each run in a fresh process:

    1p x 2t       1 process, BLAS and numba on 2 threads, global batch N
    1p x 1t       1 process on 1 thread, batch N            (and batch N/4, for the model)
    2r x 1t       mpiexec -n 2, 1 thread per rank, global batch N        strong scaling
    2r x 1t weak  mpiexec -n 2, 1 thread per rank, global batch 2N       weak scaling

    samples/s        global batch x timed steps / their wall time (after the warm-up steps)
    strong eff.      rate(2r, N) / (2 rate(1p x 1t, N))
    weak eff.        rate(2r, 2N) / (2 rate(1p x 1t, N))
    all-reduce share time in the gradients' Allreduce / step time, per rank (the larger
                     rank's is reported): it includes waiting for the slower rank;
    transfer share   each step's smaller time over the ranks (the last rank to arrive waits
                     for no one), so without the waiting, over the longer rank's run: at
                     most either rank's all-reduce share; "isolated" is one
                     Allreduce of the same buffer after a Barrier
    max |dw|         largest difference of any parameter after the run, 2r against 1p x 1t
                     (and 1p x 2t against 1p x 1t, the envelope of BLAS's own round-off)

Projection, on paper: ring all-reduce of the float32 gradient buffer (B bytes) over p ranks

    t_comm(p) = 2 (p-1)/p * B / beta + 2 (p-1) alpha

with the compute time of a step at per-rank batch b fitted as t(b) = a + c b through the
1-thread runs at N/4 and N (measured here), no overlap of communication with the backward:

    weak scaling (b = N per rank)    efficiency t(N) / (t(N) + t_comm(p))
    strong scaling (global N)        efficiency t(N) / (p (t(N/p) + t_comm(p))), N/p >= 1
    communication dominates below    b* = (t_comm(p) - a) / c   (t(b*) = t_comm(p))

    python benchmarks/distributed.py                      # mnist and charlm, LSTM
    python benchmarks/distributed.py --configs mnist --steps 20 --json out.json
    python benchmarks/distributed.py --smoke              # tiny sizes, seconds, for CI
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from machine import machine_info, set_threads
from step_time import CELLS, CONFIGS, SMOKE_SIZES, Config

from bptt.io import atomic_write_json

HERE = Path(__file__).resolve().parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE")
# assumed networks: (name, alpha seconds per message, beta bytes per second)
NETWORKS = (
    ("10 Gb/s Ethernet", 20e-6, 10e9 / 8),  # TCP: ~20 us MPI latency
    ("100 Gb/s InfiniBand", 2e-6, 100e9 / 8),  # RDMA: ~2 us MPI latency
)
RANKS = (8, 64, 512)
ISOLATED_REPEATS = 20


# ----- one run, in a fresh process (under mpiexec or not) ----------------------------------


def build(job: dict):
    """The model and its data: M = batch x (warm-up + timed steps) random sequences."""
    from bptt.nn import SequenceClassifier, SequenceTagger
    from bptt.train import ArrayBatches

    cfg, cell = Config(**job["config"]), job["cell"]
    rng = np.random.default_rng(job["seed"])
    B, steps = job["batch"], job["warmup"] + job["steps"]
    M = B * steps
    x = rng.standard_normal((cfg.T, M, cfg.D), dtype=np.float32)  # (T, M, D)
    model_rng = np.random.default_rng(job["seed"] + 1)
    if cfg.every_step:
        y = rng.integers(0, cfg.C, (cfg.T, M))  # (T, M)
        model = SequenceTagger(cell, cfg.D, cfg.H, cfg.C, rng=model_rng)
        data = ArrayBatches(x, y, B, per_step_targets=True)
    else:
        y = rng.integers(0, cfg.C, M)  # (M,)
        model = SequenceClassifier(cell, cfg.D, cfg.H, cfg.C, rng=model_rng)
        data = ArrayBatches(x, y, B)
    return model, data, steps


def child(job: dict) -> None:
    """Train ``warmup + steps`` steps, timing each step and each gradient all-reduce."""
    from bptt.train import Communicator, TrainConfig, Trainer

    set_threads(job["threads"])
    comm = Communicator() if job["ranks"] > 1 else None
    model, data, steps = build(job)
    config = TrainConfig(epochs=1, max_steps=steps, optimizer="sgd", lr=1e-3, seed=job["seed"])
    trainer = Trainer(model, config, data, progress=False, quiet=True, comm=comm)
    stamps, reduce_s = [], []
    if comm is not None:
        allreduce = comm.allreduce_

        def timed_allreduce(buf):
            start = time.perf_counter()
            out = allreduce(buf)
            if buf is trainer.reduce.buf:  # the gradients, not a vote
                reduce_s.append(time.perf_counter() - start)
            return out

        comm.allreduce_ = timed_allreduce
    update = trainer._update

    def timed_update(*a):
        out = update(*a)
        stamps.append(time.perf_counter())
        return out

    trainer._update = timed_update
    start = time.perf_counter()
    trainer.fit()
    stamps.insert(0, start)
    step_s = np.diff(stamps)[job["warmup"] :]  # (steps,)
    result = {"seconds": float(step_s.sum()), "median_step_s": float(np.median(step_s))}
    result["param_count"] = int(sum(p.size for p in model.params.values()))
    if comm is None:
        result["allreduce_share"] = [0.0]
    else:
        mine = {"reduce": reduce_s[job["warmup"] :], "steps": float(step_s.sum())}
        every = comm.allgather_json(mine)  # each rank's shares on its own clock
        result["allreduce_share"] = [sum(r["reduce"]) / r["steps"] for r in every]
        # the last rank to arrive does not wait: its time is the transfer's
        least = np.min([r["reduce"] for r in every], axis=0)  # (steps,)
        result["transfer_share"] = float(least.sum() / max(r["steps"] for r in every))
        result["isolated_allreduce_s"] = isolated_allreduce(comm, trainer.reduce.buf)
        result["buffer_bytes"] = int(trainer.reduce.buf.nbytes)
        result["mpi"] = comm.MPI.Get_library_version().strip().splitlines()[0]
    if comm is None or comm.rank == 0:
        np.savez(job["params_out"], **model.params)
        with open(job["out"], "w") as f:
            json.dump(result, f)


def isolated_allreduce(comm, buf: np.ndarray) -> float:
    """Median over repeats of one in-place Allreduce of ``buf``'s size, each after a Barrier."""
    work, times = buf.copy(), []
    for _ in range(ISOLATED_REPEATS):
        comm.comm.Barrier()
        start = time.perf_counter()
        comm.allreduce_(work)
        times.append(time.perf_counter() - start)
    return float(np.median(comm.allgather_json(float(np.median(times)))))


# ----- the parent: launch the runs, derive, project ----------------------------------------


def launch(job: dict, args, workdir: Path) -> dict:
    """One run in a fresh process (under ``mpiexec -n ranks`` for ranks > 1), killed after
    ``--timeout`` seconds; -> its result, with the parameters it ended with."""
    tag = f"{job['name']}-{job['label']}-b{job['batch']}".replace(" ", "")
    job = {**job, "out": str(workdir / f"{tag}.json"), "params_out": str(workdir / f"{tag}.npz")}
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env.update({k: str(job["threads"]) for k in (*THREAD_VARIABLES, "NUMBA_NUM_THREADS")})
    command = [sys.executable, str(HERE / "distributed.py"), "--child", json.dumps(job)]
    if job["ranks"] > 1:
        command = [args.mpiexec, "-n", str(job["ranks"]), *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"run {tag} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    result = json.loads(Path(job["out"]).read_text())
    result["samples_s"] = job["batch"] * job["steps"] / result["seconds"]
    result["params"] = dict(np.load(job["params_out"]))
    return result


def max_difference(a: dict, b: dict) -> float:
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def ring_allreduce_s(p: int, nbytes: float, alpha: float, beta: float) -> float:
    return 2 * (p - 1) / p * nbytes / beta + 2 * (p - 1) * alpha


def project(t_small: float, t_full: float, N: int, nbytes: int) -> dict:
    """Ring all-reduce projection with t(b) = a + c b through (N/4, t_small), (N, t_full)."""
    b_small = max(N // 4, 1)
    c = (t_full - t_small) / (N - b_small) if N > b_small else t_full / N
    c = max(c, 1e-12)  # a noisy fit must not give a negative slope
    a = max(t_full - c * N, 0.0)
    out = {"a_s": a, "c_s_per_row": c, "networks": {}}
    for name, alpha, beta in NETWORKS:
        rows = {}
        for p in RANKS:
            comm_s = ring_allreduce_s(p, nbytes, alpha, beta)
            strong = None
            if N // p >= 1:
                strong = t_full / (p * (a + c * N / p + comm_s))
            rows[p] = {
                "allreduce_s": comm_s,
                "weak_efficiency": t_full / (t_full + comm_s),
                "strong_efficiency": strong,
                "comm_dominates_below_batch": max((comm_s - a) / c, 0.0),
            }
        out["networks"][name] = {"alpha_s": alpha, "beta_bytes_s": beta, "ranks": rows}
    return out


RUNS = (  # label, ranks, threads, global batch as a multiple of N
    ("1p x 2t", 1, 2, 1),
    ("1p x 1t", 1, 1, 1),
    ("2r x 1t", 2, 1, 1),
    ("2r x 1t weak", 2, 1, 2),
)


def bench_config(cfg: Config, cell: str, args, workdir: Path) -> dict:
    base = {"name": cfg.name, "config": asdict(cfg), "cell": cell, "seed": args.seed}
    base.update(steps=args.steps, warmup=args.warmup)
    tries = {label: [] for label, *_ in RUNS}
    for _ in range(args.repeats):  # interleaved, so a burst of load hits every run alike
        for label, ranks, threads, times in RUNS:
            job = {**base, "label": label, "ranks": ranks, "threads": threads}
            tries[label].append(launch({**job, "batch": times * cfg.N}, args, workdir))
    runs = {}
    for label, results in tries.items():  # the run of median throughput
        results.sort(key=lambda r: r["samples_s"])
        runs[label] = {
            **results[len(results) // 2],
            "tries_samples_s": [r["samples_s"] for r in results],
        }
        print(f"  {cfg.name:<7} {cell:<8} {label:<13} {runs[label]['samples_s']:9.1f} samples/s")
    small = {**base, "label": "1p x 1t", "ranks": 1, "threads": 1, "batch": max(cfg.N // 4, 1)}
    t_small = float(
        np.median([launch(small, args, workdir)["median_step_s"] for _ in range(args.repeats)])
    )
    one, two = runs["1p x 1t"], runs["2r x 1t"]
    row = {"config": cfg.name, "cell": cell, "sizes": asdict(cfg), "N": cfg.N}
    row["runs"] = {
        label: {k: v for k, v in r.items() if k != "params"} for label, r in runs.items()
    }
    row["strong_efficiency"] = two["samples_s"] / (2 * one["samples_s"])
    row["weak_efficiency"] = runs["2r x 1t weak"]["samples_s"] / (2 * one["samples_s"])
    row["ranks_over_threads"] = two["samples_s"] / runs["1p x 2t"]["samples_s"]
    row["max_param_diff_2r_vs_1p"] = max_difference(two["params"], one["params"])
    row["max_param_diff_2t_vs_1t"] = max_difference(runs["1p x 2t"]["params"], one["params"])
    row["step_s_1t"] = {"N/4": t_small, "N": one["median_step_s"]}
    row["projection"] = project(t_small, one["median_step_s"], cfg.N, two["buffer_bytes"])
    return row


def format_row(row: dict) -> list[str]:
    r = row["runs"]
    lines = [f"{row['config']} ({row['cell']}, N={row['N']}, {r['1p x 1t']['param_count']} params)"]
    lines.append("  run            batch  samples/s  step ms  all-reduce  transfer  isolated ms")
    for label, run in r.items():
        batch = row["N"] * (2 if "weak" in label else 1)
        share, transfer = max(run["allreduce_share"]), run.get("transfer_share", 0.0)
        iso = run.get("isolated_allreduce_s")
        lines.append(
            f"  {label:<13} {batch:6d} {run['samples_s']:10.1f} {1e3 * run['median_step_s']:8.2f}"
            f" {share:11.3f} {transfer:9.3f} {'-' if iso is None else f'{1e3 * iso:.3f}':>12}"
        )
    lines.append(
        f"  strong eff. {row['strong_efficiency']:.3f}  weak eff. {row['weak_efficiency']:.3f}"
        f"  2r x 1t / 1p x 2t {row['ranks_over_threads']:.3f}"
        f"  max|dw| 2r-1p {row['max_param_diff_2r_vs_1p']:.2e}"
        f" (2t-1t {row['max_param_diff_2t_vs_1t']:.2e})"
    )
    proj = row["projection"]
    lines.append(
        f"  projection: t(b) = {1e3 * proj['a_s']:.3f} ms + {1e3 * proj['c_s_per_row']:.4f} ms"
        f" x b, buffer {r['2r x 1t']['buffer_bytes']} bytes"
    )
    lines.append("    network               ranks  all-reduce ms  weak eff.  strong eff.  b*")
    for name, net in proj["networks"].items():
        for p, v in net["ranks"].items():
            strong = v["strong_efficiency"]
            lines.append(
                f"    {name:<21} {p:5d} {1e3 * v['allreduce_s']:14.3f} {v['weak_efficiency']:10.3f}"
                f" {'-' if strong is None else f'{strong:.3f}':>12}"
                f" {v['comm_dominates_below_batch']:7.1f}"  # b*: per-rank rows
            )
    return lines


def header(args) -> tuple[dict, list[str]]:
    info = machine_info(None)
    versions = {}
    for package in ("numba", "mpi4py", "mpich"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    info.update(versions=versions, load_before=os.getloadavg())
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# {info['date']}: {info['cpu']}, {info['usable_cores']} usable cores",
        f"# numpy {info['numpy']}, BLAS: {info['blas']}",
        f"# {', '.join(f'{k} {v}' for k, v in versions.items())}; mpiexec {args.mpiexec}",
        f"# load average before: {' '.join(f'{x:.2f}' for x in info['load_before'])}",
        f"# steps {args.steps} timed after {args.warmup} warm-up, SGD, float32, cells "
        f"{' '.join(args.cells)}",
        "# networks assumed: "
        + "; ".join(f"{n}: alpha {a * 1e6:g} us, beta {b / 1e9:g} GB/s" for n, a, b in NETWORKS),
    ]
    return info, lines


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = p.add_argument
    add("--configs", nargs="+", choices=("mnist", "charlm"), default=["mnist", "charlm"])
    add("--cells", nargs="+", choices=CELLS, default=["lstm"], help="cells")
    add("--steps", type=int, default=30, help="timed training steps per run")
    add("--warmup", type=int, default=3, help="untimed steps first")
    add("--repeats", type=int, default=3, help="runs of each kind; the median one is shown")
    add("--seed", type=int, default=0, help="seed of the weights and data")
    add("--timeout", type=float, default=600.0, help="seconds before a run is killed")
    add("--mpiexec", default=shutil.which("mpiexec"), help="the MPI launcher")
    add("--smoke", action="store_true", help="tiny sizes, 3 steps, for CI")
    add("--json", metavar="PATH", default=None, help="write results as JSON here, atomically")
    add("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        return args
    if args.steps < 1 or args.warmup < 0 or args.repeats < 1:
        p.error(
            "--steps, --warmup, --repeats: expected >= 1, >= 0, >= 1, "
            f"got {args.steps}, {args.warmup}, {args.repeats}"
        )
    if args.timeout <= 0:
        p.error(f"--timeout: expected a positive number of seconds, got {args.timeout}")
    if args.mpiexec is None or shutil.which(args.mpiexec) is None:
        p.error(
            f'--mpiexec: expected an MPI launcher (pip install "bptt[mpi]"), got {args.mpiexec}'
        )
    if args.smoke:
        args.steps, args.warmup, args.repeats = 3, 1, 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        child(json.loads(args.child))
        return 0
    info, lines = header(args)
    print("\n".join(lines), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bptt-distributed-") as tmp:
        for name in args.configs:
            cfg = replace(CONFIGS[name], **SMOKE_SIZES) if args.smoke else CONFIGS[name]
            for cell in args.cells:
                rows.append(bench_config(cfg, cell, args, Path(tmp)))
                print("\n".join(format_row(rows[-1])), flush=True)
    info["load_after"] = os.getloadavg()
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in info['load_after'])}")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "child")}
        atomic_write_json(args.json, {"machine": info, "settings": settings, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
